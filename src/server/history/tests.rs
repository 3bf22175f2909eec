//! Unit tests of the last-message store: bounds, depths, shared bodies.

use super::*;

/// What the byte count should be, recomputed from scratch.
fn recount(l: &LastStore) -> usize {
    l.map.iter().map(|(r, s)| s.size(r)).sum()
}

#[test]
fn last_store_bounds_routes_and_bytes() {
    let mut l = LastStore::new(3, 1 << 20);
    for i in 0..10u8 {
        l.set(&[b'r', i], b"m");
    }
    // The three most recent (1/16 of 3 is no margin), 3 bytes each.
    assert_eq!((l.len(), l.bytes()), (3, 9));
    assert_eq!(l.get(&[b'r', 9]), Some(&b"m"[..]));
    assert_eq!(l.get(&[b'r', 7]), Some(&b"m"[..]));
    assert_eq!(l.get(&[b'r', 6]), None);
    assert_eq!(l.get(&[b'r', 0]), None);

    let mut l = LastStore::new(100, 10);
    l.set(b"a", b"12345");
    l.set(b"b", b"12345");
    // 12 bytes: the older route goes, the newer stays.
    assert_eq!((l.len(), l.bytes()), (1, 6));
    assert_eq!(l.get(b"b"), Some(&b"12345"[..]));
    assert_eq!(l.get(b"a"), None);
    l.set(b"c", b"this one is far too large");
    assert_eq!(l.get(b"c"), None);
    assert_eq!(l.bytes(), recount(&l));
}

#[test]
fn the_depth_one_shortcut_behaves_as_the_general_store() {
    // The same operations on a store that takes the shortcut and on
    // one kept off it by a channel depth rule for a route never used
    // (the same depth of one everywhere): every observable must match
    // after every step, through route and byte evictions.
    let routes: [&[u8]; 6] = [b"a", b"b/c", b"d", b"eeeeeeee", b"f", b"g/h/i"];
    for (max_routes, max_bytes) in [(4, 60), (3, 1000), (100, 25)] {
        let mut fast = LastStore::new(max_routes, max_bytes);
        let mut slow = LastStore::new(max_routes, max_bytes);
        slow.set_route_depths(RouteDepths::new([(&b"zz/never"[..], 1)]));
        let mut x = 0x853c_49e6_748f_ea9bu64;
        for step in 0..5_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let route = routes[(x % 6) as usize];
            let msg = vec![b'0' + (step % 10) as u8; (x >> 8) as usize % 30];
            match (x >> 16) % 10 {
                0 => {
                    let buf = Rc::new(msg.repeat(2));
                    let range = 1..buf.len().max(1);
                    fast.set_shared(route, Rc::clone(&buf), range.clone());
                    slow.set_shared(route, buf, range);
                }
                1 => assert_eq!(fast.remove(route), slow.remove(route)),
                _ => {
                    fast.set(route, &msg);
                    slow.set(route, &msg);
                }
            }
            assert_eq!(
                (fast.len(), fast.bytes()),
                (slow.len(), slow.bytes()),
                "{step}"
            );
            assert_eq!(fast.bytes(), recount(&fast), "{step}");
            assert_eq!(
                fast.matching_counted(b"*"),
                slow.matching_counted(b"*"),
                "{step}"
            );
            assert_eq!(fast.matching_counted(b"*/*"), slow.matching_counted(b"*/*"));
            for r in routes {
                assert_eq!(fast.get(r), slow.get(r), "{step}");
            }
        }
    }
}

#[test]
fn last_store_mixes_own_and_shared_bodies() {
    let mut l = LastStore::new(10, 1000);
    l.set(b"r", b"small");
    let big = Rc::new(b"[shared body]".to_vec());
    l.set_shared(b"r", Rc::clone(&big), 1..12);
    assert_eq!(l.get(b"r"), Some(&b"shared body"[..]));
    assert_eq!(Rc::strong_count(&big), 2);
    assert_eq!(l.bytes(), 1 + 11);
    l.set(b"r", b"again");
    assert_eq!(Rc::strong_count(&big), 1);
    assert_eq!(l.get(b"r"), Some(&b"again"[..]));
    l.set_shared(b"s", big, 1..12);
    assert_eq!(l.bytes(), 1 + 5 + 1 + 11);
    assert_eq!(l.matching(b"*"), vec![&b"again"[..], &b"shared body"[..]]);
}

#[test]
fn last_store_updates_in_place_and_matches_in_order() {
    let mut l = LastStore::new(10, 1000);
    l.set(b"s/b", b"1");
    l.set(b"s/a", b"2");
    l.set(b"s/b", b"3");
    l.set(b"t", b"4");
    let got: Vec<&[u8]> = l.matching(b"s/*");
    assert_eq!(got, vec![&b"2"[..], &b"3"[..]]);
    assert_eq!(l.bytes(), 3 + 1 + 3 + 1 + 1 + 1);
}

#[test]
fn history_keeps_the_last_n_oldest_first() {
    let mut l = LastStore::with_depth(10, 1000, 3);
    for m in ["1", "2", "3", "4", "5"] {
        l.set(b"r", m.as_bytes());
    }
    let all: Vec<&[u8]> = l.history(b"r", 10).collect();
    assert_eq!(all, vec![&b"3"[..], b"4", b"5"]);
    let two: Vec<&[u8]> = l.history(b"r", 2).collect();
    assert_eq!(two, vec![&b"4"[..], b"5"]);
    assert_eq!(l.history(b"r", 0).count(), 0);
    assert_eq!(l.history(b"none", 5).count(), 0);
    assert_eq!(l.get(b"r"), Some(&b"5"[..]));
    assert_eq!(l.bytes(), 1 + 3);
    l.set(b"q/a", b"x");
    l.set(b"q/b", b"y");
    l.set(b"q/a", b"z");
    assert_eq!(l.matching_history(b"q/+", 5), vec![&b"x"[..], b"z", b"y"]);
    assert_eq!(l.matching(b"q/+"), vec![&b"z"[..], b"y"]);
    assert_eq!(l.bytes(), recount(&l));
}

#[test]
fn history_reuses_the_buffer_it_drops() {
    let mut l = LastStore::with_depth(10, 1000, 2);
    l.set(b"r", b"aaaa");
    l.set(b"r", b"bbbb");
    let first = l
        .map
        .get(&b"r"[..])
        .and_then(|s| s.msgs.front())
        .map(|e| e.body.bytes().as_ptr());
    l.set(b"r", b"cccc");
    let newest = l
        .map
        .get(&b"r"[..])
        .and_then(|s| s.msgs.back())
        .map(|e| e.body.bytes().as_ptr());
    assert_eq!(first, newest);
}

#[test]
fn over_the_byte_bound_the_oldest_messages_go_first() {
    // Messages of 10 bytes on routes of 2, within 40 bytes.
    let mut l = LastStore::with_depth(10, 40, 4);
    l.set(b"aa", b"a000000001");
    l.set(b"bb", b"b000000001");
    l.set(b"aa", b"a000000002");
    // 2 + 2 + 30 = 34; the next message makes 44 > 40: the oldest
    // message (a…1) goes, and more down to 15/16 of 40 = 38.
    l.set(b"bb", b"b000000002");
    assert_eq!(l.bytes(), recount(&l));
    // 44 - 10 = 34 is within 38: nothing more goes.
    assert_eq!(l.bytes(), 34);
    let a: Vec<&[u8]> = l.history(b"aa", 4).collect();
    let b: Vec<&[u8]> = l.history(b"bb", 4).collect();
    assert_eq!(a, vec![&b"a000000002"[..]]);
    assert_eq!(b, vec![&b"b000000001"[..], b"b000000002"]);
    // A route whose every message went is gone with its bytes.
    l.set(b"cc", b"c000000001");
    l.set(b"cc", b"c000000002");
    // c…1 makes 46: b…1 goes (36); c…2 makes 46: a…2 goes with its
    // route (34).
    assert_eq!(l.get(b"aa"), None);
    assert_eq!(l.bytes(), recount(&l));
    assert_eq!(l.bytes(), 34);
    let b: Vec<&[u8]> = l.history(b"bb", 4).collect();
    assert_eq!(b, vec![&b"b000000002"[..]]);
}

#[test]
fn the_message_just_stored_is_never_dropped() {
    let mut l = LastStore::with_depth(10, 100, 5);
    l.set(b"a", &[1; 50]);
    l.set(b"b", &[2; 99]);
    assert_eq!(l.get(b"b"), Some(&[2; 99][..]));
    assert_eq!(l.get(b"a"), None);
    assert_eq!(l.bytes(), 100);
    let mut l = LastStore::with_depth(1, 1000, 5);
    l.set(b"a", b"1");
    l.set(b"b", b"2");
    assert_eq!(l.get(b"b"), Some(&b"2"[..]));
    assert_eq!(l.len(), 1);
}

#[test]
fn routes_count_their_publications() {
    let mut l = LastStore::with_depth(10, 1000, 2);
    for m in ["1", "2", "3"] {
        l.set(b"c/a", m.as_bytes());
    }
    l.set(b"c/b", b"x");
    assert_eq!(
        l.matching_counted(b"c/#"),
        vec![(&b"3"[..], 3), (&b"x"[..], 1)]
    );
}

#[test]
fn removing_a_route_frees_its_bytes_and_history() {
    let mut l = LastStore::with_depth(10, 1 << 20, 3);
    l.set(b"a/1", b"pub a/1\nx");
    l.set(b"a/1", b"pub a/1\ny");
    l.set(b"a/2", b"pub a/2\nz");
    l.set(b"b", b"pub b\nw");
    l.set_shared(b"c", Rc::new(b"pub c\nshared".to_vec()), 0..12);
    assert!(l.remove(b"a/1"));
    assert!(!l.remove(b"a/1"));
    assert_eq!(l.history(b"a/1", 3).count(), 0);
    assert_eq!(l.get(b"a/2"), Some(&b"pub a/2\nz"[..]));
    assert_eq!(l.bytes(), recount(&l));
    assert!(l.remove(b"c"));
    assert_eq!(l.bytes(), recount(&l));
    // A pattern clears every route it matches, and only those.
    l.set(b"a/3", b"pub a/3\nv");
    assert_eq!(l.remove_matching(b"a/*"), 2);
    assert_eq!(l.remove_matching(b"a/*"), 0);
    assert_eq!(l.len(), 1);
    assert_eq!(l.get(b"b"), Some(&b"pub b\nw"[..]));
    assert_eq!(l.bytes(), recount(&l));
    // Stored again afterwards like any new route.
    l.set(b"a/1", b"pub a/1\nagain");
    assert_eq!(l.get(b"a/1"), Some(&b"pub a/1\nagain"[..]));
    assert_eq!(l.bytes(), recount(&l));
}

#[test]
fn channel_depths_trim_what_is_stored_and_what_comes() {
    let mut l = LastStore::with_depth(10, 1000, 3);
    assert_eq!(l.depth(), 3);
    for m in ["1", "2", "3"] {
        l.set(b"keep/a", m.as_bytes());
        l.set(b"one/a", m.as_bytes());
        l.set(b"none/a", m.as_bytes());
    }
    l.set_route_depths(RouteDepths::new([
        (&b"one/#"[..], 1),
        (&b"none/#"[..], 0),
        (&b"keep/#"[..], 3),
    ]));
    fn history<'a>(l: &'a LastStore, r: &[u8]) -> Vec<&'a [u8]> {
        l.history(r, 9).collect()
    }
    assert_eq!(history(&l, b"keep/a"), vec![&b"1"[..], b"2", b"3"]);
    assert_eq!(history(&l, b"one/a"), vec![&b"3"[..]]);
    assert_eq!(history(&l, b"none/a"), Vec::<&[u8]>::new());
    assert_eq!(l.len(), 2);
    assert_eq!(l.bytes(), recount(&l));
    l.set(b"one/a", b"4");
    l.set(b"none/a", b"4");
    l.set(b"other", b"x");
    l.set(b"other", b"y");
    assert_eq!(history(&l, b"one/a"), vec![&b"4"[..]]);
    assert_eq!(history(&l, b"none/a"), Vec::<&[u8]>::new());
    assert_eq!(history(&l, b"other"), vec![&b"x"[..], b"y"]);
    assert_eq!(l.bytes(), recount(&l));
}

#[test]
fn the_route_bound_cuts_to_fifteen_sixteenths() {
    // 32 routes: cut to 30 once past it; at it, nothing goes.
    let mut l = LastStore::new(32, 1 << 20);
    for i in 0..32u8 {
        l.set(&[b'r', i], b"m");
    }
    assert_eq!(l.len(), 32);
    assert_eq!(l.get(&[b'r', 0]), Some(&b"m"[..]));
    l.set(b"new", b"m");
    assert_eq!(l.len(), 30);
    // The oldest three went, the newest stayed.
    for i in 0..3u8 {
        assert_eq!(l.get(&[b'r', i]), None);
    }
    assert_eq!(l.get(&[b'r', 3]), Some(&b"m"[..]));
    assert_eq!(l.get(b"new"), Some(&b"m"[..]));
    assert_eq!(l.bytes(), recount(&l));
}

#[test]
fn the_byte_bound_cuts_to_fifteen_sixteenths() {
    // 160 bytes: cut to 150 once past it; at it, nothing goes.
    let mut l = LastStore::with_depth(10, 160, 20);
    for _ in 0..16 {
        l.set(b"r", b"123456789");
    }
    assert_eq!(l.bytes(), 1 + 16 * 9);
    // 145 + 1 + 14 = 160: at the bound.
    l.set(b"s", b"12345678901234");
    assert_eq!(l.bytes(), 160);
    assert_eq!(l.history(b"r", 20).count(), 16);
    // 161: one message (152) is not enough, two (143) are.
    l.set(b"s", b"1");
    assert_eq!(l.bytes(), 143);
    assert_eq!(l.history(b"r", 20).count(), 14);
    assert_eq!(l.bytes(), recount(&l));
}

#[test]
fn depth_zero_stores_nothing() {
    let mut l = LastStore::with_depth(10, 1000, 0);
    l.set(b"r", b"m");
    assert!(l.is_empty());
    assert_eq!(l.bytes(), 0);
    // At depth one the same message is kept.
    let mut l = LastStore::with_depth(10, 1000, 1);
    assert!(l.is_empty());
    l.set(b"r", b"m");
    assert!(!l.is_empty());
    assert_eq!((l.len(), l.bytes()), (1, 2));
}

#[test]
fn a_repeated_set_leaves_what_that_many_sets_would() {
    // Against the same sets one by one: content, bytes, counts, and which
    // route a full store evicts next.
    let mut run = LastStore::new(3, 1 << 20);
    let mut one_by_one = LastStore::new(3, 1 << 20);
    assert!(run.overwrites(b"a"));
    for (route, times) in [(&b"a"[..], 4u64), (b"b", 1), (b"a", 2), (b"c", 3)] {
        run.set(route, b"first");
        run.set_repeated(route, b"newest", times);
        one_by_one.set(route, b"first");
        for _ in 0..times {
            one_by_one.set(route, b"newest");
        }
    }
    for l in [&mut run, &mut one_by_one] {
        l.set(b"d", b"m");
    }
    for l in [&run, &one_by_one] {
        assert_eq!(l.get(b"b"), None, "b, the oldest, evicted");
        assert_eq!(l.bytes(), recount(l));
    }
    assert_eq!(run.bytes(), one_by_one.bytes());
    for route in [&b"a"[..], b"c", b"d"] {
        assert_eq!(
            run.matching_counted(route),
            one_by_one.matching_counted(route)
        );
    }
    assert_eq!(run.matching_counted(b"a"), [(&b"newest"[..], 8)]);
}

#[test]
fn a_repeated_set_too_large_to_store_counts_nothing() {
    let mut l = LastStore::new(10, 16);
    l.set(b"r", b"small");
    l.set_repeated(b"r", &[b'x'; 32], 3);
    assert_eq!(l.matching_counted(b"r"), [(&b"small"[..], 1)]);
    // A deeper store does not overwrite: the run path is never armed.
    assert!(!LastStore::with_depth(10, 1 << 20, 2).overwrites(b"r"));
}
