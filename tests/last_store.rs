//! The last-message store's bounds, exactly (issue 12): a message whose
//! route and body together are exactly the byte limit is kept, one byte
//! more is not; when over a bound, the least recently published routes go
//! first, down to 1/16 below the route bound; the byte count is exact after
//! every update and eviction. Then the route index's hasher, which every
//! publish runs: distinct routes must hash apart. Plain data, public API,
//! no sockets.

use std::collections::HashSet;
use std::hash::BuildHasher;
use std::rc::Rc;

use ducq::server::broker::{LastStore, RouteHasher};

/// `n` bytes of `b`.
fn body(b: u8, n: usize) -> Vec<u8> {
    vec![b; n]
}

/// The routes stored, in order, as text.
fn stored(l: &LastStore) -> Vec<String> {
    l.matching(b"*")
        .iter()
        .map(|m| String::from_utf8_lossy(m).into_owned())
        .collect()
}

#[test]
fn route_and_body_of_exactly_the_byte_limit_are_stored() {
    let mut l = LastStore::new(10, 12);
    l.set(b"ab", &body(b'x', 10));
    assert_eq!(l.get(b"ab"), Some(&body(b'x', 10)[..]));
    assert_eq!((l.len(), l.bytes()), (1, 12));
    // One byte over, on a route of its own: not stored, nothing evicted.
    l.set(b"cd", &body(b'y', 11));
    assert_eq!(l.get(b"cd"), None);
    assert_eq!(l.get(b"ab"), Some(&body(b'x', 10)[..]));
    assert_eq!((l.len(), l.bytes()), (1, 12));
    // The same through the shared path.
    let buf = Rc::new(body(b'z', 20));
    let mut l = LastStore::new(10, 12);
    l.set_shared(b"ab", Rc::clone(&buf), 5..15);
    assert_eq!(l.get(b"ab"), Some(&body(b'z', 10)[..]));
    assert_eq!(l.bytes(), 12);
    l.set_shared(b"cd", Rc::clone(&buf), 0..11);
    assert_eq!(l.get(b"cd"), None);
    assert_eq!((l.len(), l.bytes()), (1, 12));
    // Stored once, not copied: the store holds one more reference.
    assert_eq!(Rc::strong_count(&buf), 2);
}

#[test]
fn a_full_store_exactly_at_the_byte_limit_evicts_nothing() {
    let mut l = LastStore::new(100, 20);
    l.set(b"a", &body(b'1', 9));
    l.set(b"b", &body(b'2', 9));
    assert_eq!((l.len(), l.bytes()), (2, 20));
    // Two bytes more: the oldest route goes, and only it.
    l.set(b"c", b"3");
    assert_eq!(l.get(b"a"), None);
    assert_eq!(l.get(b"b"), Some(&body(b'2', 9)[..]));
    assert_eq!(l.get(b"c"), Some(&b"3"[..]));
    assert_eq!((l.len(), l.bytes()), (2, 12));
}

#[test]
fn the_byte_count_follows_every_replacement() {
    let mut l = LastStore::new(100, 1000);
    l.set(b"route", &body(b'a', 100));
    assert_eq!(l.bytes(), 105);
    l.set(b"route", &body(b'b', 40));
    assert_eq!(l.bytes(), 45);
    let big = Rc::new(body(b'c', 300));
    l.set_shared(b"route", Rc::clone(&big), 0..300);
    assert_eq!(l.bytes(), 305);
    l.set(b"other", b"x");
    assert_eq!(l.bytes(), 305 + 6);
    l.set(b"route", b"small");
    assert_eq!(l.bytes(), 10 + 6);
    // The shared buffer was let go of when replaced.
    assert_eq!(Rc::strong_count(&big), 1);
    assert_eq!(l.get(b"route"), Some(&b"small"[..]));
    // A range outside the buffer is not stored and changes nothing.
    l.set_shared(b"route", Rc::clone(&big), 250..301);
    assert_eq!(l.get(b"route"), Some(&b"small"[..]));
    assert_eq!(l.bytes(), 16);
}

#[test]
fn eviction_by_bytes_drops_the_least_recently_published_first() {
    let mut l = LastStore::new(100, 30);
    l.set(b"a", &body(b'a', 9)); // 10 bytes
    l.set(b"b", &body(b'b', 9)); // 20
    l.set(b"c", &body(b'c', 9)); // 30: at the limit
    l.set(b"a", &body(b'A', 9)); // a published again: now the newest
    assert_eq!((l.len(), l.bytes()), (3, 30));
    l.set(b"d", &body(b'd', 14)); // 45: b (oldest) and then c must go
    assert_eq!(l.get(b"b"), None);
    assert_eq!(l.get(b"c"), None);
    assert_eq!(l.get(b"a"), Some(&body(b'A', 9)[..]));
    assert_eq!(l.get(b"d"), Some(&body(b'd', 14)[..]));
    assert_eq!((l.len(), l.bytes()), (2, 25));
}

#[test]
fn eviction_by_routes_keeps_the_newest_fifteen_sixteenths() {
    // 32 routes: one more drops the three oldest, leaving 30 (32 - 32/16),
    // so the next publications do not each pay for an eviction.
    let mut l = LastStore::new(32, 1 << 20);
    for i in 0..32 {
        l.set(format!("r{i:02}").as_bytes(), format!("m{i:02}").as_bytes());
    }
    assert_eq!((l.len(), l.bytes()), (32, 32 * 6));
    // r00 published again: the oldest are now r01, r02, r03.
    l.set(b"r00", b"m00");
    l.set(b"r32", b"m32");
    let mut want: Vec<String> = (4..33).map(|i| format!("m{i:02}")).collect();
    want.insert(0, "m00".into());
    assert_eq!(stored(&l), want);
    assert_eq!((l.len(), l.bytes()), (30, 30 * 6));
    // Two more fit before the next eviction.
    l.set(b"r33", b"m33");
    l.set(b"r34", b"m34");
    assert_eq!(l.len(), 32);
    l.set(b"r35", b"m35");
    assert_eq!(l.len(), 30);
    assert_eq!(l.get(b"r04"), None);
    assert_eq!(l.get(b"r05"), None);
    assert_eq!(l.get(b"r06"), None);
    assert_eq!(l.get(b"r07"), Some(&b"m07"[..]));
    assert_eq!(l.get(b"r00"), Some(&b"m00"[..]));
}

#[test]
fn a_small_route_bound_evicts_to_the_bound_itself() {
    // Under 16 routes, 1/16 of the bound is nothing: exactly the bound.
    let mut l = LastStore::new(3, 1 << 20);
    for i in 0..10u8 {
        l.set(&[b'r', b'0' + i], &[b'0' + i]);
    }
    assert_eq!(stored(&l), ["7", "8", "9"]);
    assert_eq!((l.len(), l.bytes()), (3, 9));
}

#[test]
fn no_route_bound_stores_nothing() {
    let mut l = LastStore::new(0, 1 << 20);
    l.set(b"r", b"m");
    l.set_shared(b"s", Rc::new(b"m".to_vec()), 0..1);
    assert!(l.is_empty());
    assert_eq!((l.len(), l.bytes()), (0, 0));
    assert_eq!(l.get(b"r"), None);
}

#[test]
fn matching_lists_in_route_order() {
    let mut l = LastStore::new(10, 1000);
    assert!(l.is_empty());
    l.set(b"s/b", b"1");
    l.set(b"t", b"2");
    l.set(b"s/a", b"3");
    assert!(!l.is_empty());
    assert_eq!(l.matching(b"s/*"), [&b"3"[..], &b"1"[..]]);
    assert_eq!(l.matching(b"t"), [&b"2"[..]]);
    assert!(l.matching(b"u/*").is_empty());
}

/// The hash of a route as the route maps compute it (a boxed byte slice).
fn hash(route: &[u8]) -> u64 {
    let key: Box<[u8]> = route.into();
    std::hash::BuildHasherDefault::<RouteHasher>::default().hash_one(&key)
}

#[test]
fn distinct_routes_hash_apart() {
    // Collisions would not make the broker wrong, only slow: every publish
    // looks its route up. Realistic routes of every length around the
    // hasher's 8-byte steps, and every one-byte change of them.
    let mut routes: Vec<Vec<u8>> = Vec::new();
    for i in 0..5000 {
        routes.push(format!("sensors/{i}/temp").into_bytes());
        routes.push(format!("{i}").into_bytes());
    }
    for len in 1..=24 {
        let base: Vec<u8> = (0..len as u8).map(|i| b'a' + i).collect();
        for at in 0..len {
            let mut r = base.clone();
            r[at] ^= 0x20;
            routes.push(r);
        }
        routes.push(base);
    }
    routes.push(Vec::new());
    let unique: HashSet<&Vec<u8>> = routes.iter().collect();
    let hashes: HashSet<u64> = unique.iter().map(|r| hash(r)).collect();
    assert_eq!(hashes.len(), unique.len());
    // The length counts too: a route is not its prefix padded with zeros.
    assert_ne!(hash(b"ab"), hash(b"ab\0"));
}

#[test]
fn similar_routes_spread_over_buckets_and_tags() {
    // The table picks a bucket by the low bits of the hash and filters a
    // bucket's entries by its top 7: both must vary when only a digit in
    // a route's high bytes does. 1024 random values fall in about 647 of
    // 1024 buckets (sd ~10) and in all 128 tags.
    for shape in ["sensors/{}/temp", "room/{}", "bench-x-{}", "{}/state"] {
        let hashes: Vec<u64> = (0..1024)
            .map(|i| hash(shape.replace("{}", &format!("{i:04}")).as_bytes()))
            .collect();
        let buckets: HashSet<u64> = hashes.iter().map(|h| h & 1023).collect();
        let tags: HashSet<u64> = hashes.iter().map(|h| h >> 57).collect();
        assert!(buckets.len() >= 600, "{shape}: {} buckets", buckets.len());
        assert!(tags.len() >= 120, "{shape}: {} tags", tags.len());
    }
}

#[test]
fn distinct_connection_keys_hash_apart() {
    // The subscriptions index connections by slab key with the same hasher.
    let build = std::hash::BuildHasherDefault::<RouteHasher>::default();
    let hashes: HashSet<u64> = (0..10_000usize).map(|k| build.hash_one(k)).collect();
    assert_eq!(hashes.len(), 10_000);
}
