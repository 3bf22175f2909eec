//! Routing beyond the original (PROTOCOL.md §6–§7): `+` and `#` wildcards
//! and `$` routes, over real sockets to a server on 127.0.0.1:0, with the
//! exact bytes asserted.

mod util;

use std::time::Duration;

use util::{Peer, TestServer};

const SHORT: Duration = Duration::from_millis(150);

/// Publishes each route in turn; every subscriber gets exactly the routes
/// listed for it, in order, and nothing else.
fn check_deliveries(srv: &TestServer, subs: &mut [(Peer, &[&str])], published: &[&str]) {
    let mut publ = srv.peer();
    for route in published {
        publ.call(format!("pub {route}\n{route}!").as_bytes(), b"ACK");
    }
    for (peer, want) in subs.iter_mut() {
        for route in want.iter() {
            peer.expect(format!("pub {route}\n{route}!").as_bytes());
        }
        peer.expect_silence(SHORT);
    }
}

fn subscribed(srv: &TestServer, route: &str) -> Peer {
    let mut p = srv.peer();
    p.sub(route);
    p
}

#[test]
fn plus_and_hash_as_whole_levels() {
    let srv = TestServer::start();
    let published = [
        "a", "a/", "a/b", "a/b/c", "a//c", "a/b/x/c", "ab", "a+", "a/#/b", "a/x/b", "$SYS/x",
        "x/$y",
    ];
    let mut subs: Vec<(Peer, &[&str])> = vec![
        (subscribed(&srv, "a/+/c"), &["a/b/c", "a//c"]),
        (subscribed(&srv, "a/+"), &["a/", "a/b"]),
        (
            subscribed(&srv, "a/#"),
            &[
                "a", "a/", "a/b", "a/b/c", "a//c", "a/b/x/c", "a/#/b", "a/x/b",
            ],
        ),
        // Not whole levels: literal, as in the original.
        (subscribed(&srv, "a+"), &["a+"]),
        (subscribed(&srv, "a/#/b"), &["a/#/b"]),
        // `#` sees everything but `$` routes; `*` sees those too (compat).
        (
            subscribed(&srv, "#"),
            &[
                "a", "a/", "a/b", "a/b/c", "a//c", "a/b/x/c", "ab", "a+", "a/#/b", "a/x/b", "x/$y",
            ],
        ),
        (subscribed(&srv, "*"), &published),
        (subscribed(&srv, "+/x"), &[]),
        (subscribed(&srv, "$SYS/#"), &["$SYS/x"]),
        (subscribed(&srv, "x/+"), &["x/$y"]),
        // Mixed with `*`.
        (
            subscribed(&srv, "a/+/*"),
            &["a/b/c", "a//c", "a/b/x/c", "a/#/b", "a/x/b"],
        ),
    ];
    check_deliveries(&srv, &mut subs, &published);
}

#[test]
fn one_delivery_when_several_patterns_match() {
    let srv = TestServer::start();
    let mut sub = srv.peer();
    sub.sub("s/+/t");
    for p in ["s/#", "#", "s/*", "s/a/t"] {
        sub.call(format!("sub {p}\nadd").as_bytes(), b"ACK");
    }
    let mut publ = srv.peer();
    publ.call(b"pub s/a/t\nonce", b"ACK");
    sub.expect(b"pub s/a/t\nonce");
    sub.expect_silence(SHORT);
    // Unsubscribing one pattern leaves the others in force.
    sub.call(b"unsubscribe #\n", b"ACK");
    sub.call(b"unsubscribe s/#\n", b"ACK");
    publ.call(b"pub s/b/t\ntwice?", b"ACK");
    sub.expect(b"pub s/b/t\ntwice?");
    sub.expect_silence(SHORT);
}

#[test]
fn last_on_plus_and_hash_patterns() {
    let srv = TestServer::start();
    let mut publ = srv.peer();
    for r in ["h/a", "h/b/c", "h", "$h/x", "g/a"] {
        publ.publish(r, r);
    }
    let mut p = srv.peer();
    p.send(b"sub h/#\nlast");
    p.expect(b"pub h\nh");
    p.expect(b"pub h/a\nh/a");
    p.expect(b"pub h/b/c\nh/b/c");
    p.expect_silence(SHORT);
    p.send(b"sub +/a\nlast");
    p.expect(b"pub g/a\ng/a");
    p.expect(b"pub h/a\nh/a");
    p.expect_silence(SHORT);
    p.call(b"sub +/x\nlast", b"ACK");
}
