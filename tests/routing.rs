//! Routing beyond the original (PROTOCOL.md §6–§7): `+` and `#` wildcards
//! and `$` routes, over real sockets to a server on 127.0.0.1:0, with the
//! exact bytes asserted.

mod util;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use ducq::client::Client;
use ducq::server::Settings;
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

// History (`--history N`, `sub R\nlast N`, `last R\nN`) -------------------

fn with_history(n: usize) -> TestServer {
    TestServer::with(Settings {
        history: n,
        ..Settings::default()
    })
}

#[test]
fn sub_last_n_returns_the_newest_n_oldest_first_then_live() {
    let srv = with_history(5);
    let mut publ = srv.peer();
    for i in 1..=7 {
        publ.publish("r", &format!("m{i}"));
    }
    let mut sub = srv.peer();
    sub.send(b"sub r\nlast 3");
    for i in 5..=7 {
        sub.expect(format!("pub r\nm{i}").as_bytes());
    }
    sub.expect_silence(SHORT);
    publ.publish("r", "m8");
    sub.expect(b"pub r\nm8");
    // More than stored: all five kept; `last` alone: the newest one.
    let mut all = srv.peer();
    all.send(b"sub r\nlast 100 add");
    for i in 4..=8 {
        all.expect(format!("pub r\nm{i}").as_bytes());
    }
    all.expect_silence(SHORT);
    all.call(b"sub r\nlast", b"pub r\nm8");
    all.call(b"sub r\nlast 0", b"ACK");
    all.call(b"sub none\nlast 4", b"ACK");
}

#[test]
fn last_n_on_a_pattern_gives_each_route_in_route_order() {
    let srv = with_history(3);
    let mut publ = srv.peer();
    for (r, m) in [
        ("s/b", "1"),
        ("s/a", "2"),
        ("s/b", "3"),
        ("s/a", "4"),
        ("s/a", "5"),
    ] {
        publ.publish(r, m);
    }
    publ.publish("s/a", "6");
    let mut p = srv.peer();
    p.send(b"sub s/+\nlast 2");
    for want in ["pub s/a\n5", "pub s/a\n6", "pub s/b\n1", "pub s/b\n3"] {
        p.expect(want.as_bytes());
    }
    p.expect_silence(SHORT);
}

#[test]
fn default_history_is_the_last_message_only() {
    let srv = TestServer::start();
    let mut publ = srv.peer();
    publ.publish("r", "one");
    publ.publish("r", "two");
    let mut p = srv.peer();
    p.send(b"sub r\nlast 10");
    p.expect(b"pub r\ntwo");
    p.expect_silence(SHORT);
}

#[test]
fn last_command_reads_the_store_without_subscribing() {
    let srv = with_history(4);
    let mut publ = srv.peer();
    for i in 1..=3 {
        publ.publish("k/v", &format!("{i}"));
    }
    let mut p = srv.peer();
    p.call(b"last k/v\n", b"pub k/v\n3");
    p.send(b"last k/v\n2");
    p.expect(b"pub k/v\n2");
    p.expect(b"pub k/v\n3");
    p.send(b"last k/#\n 9 ");
    for i in 1..=3 {
        p.expect(format!("pub k/v\n{i}").as_bytes());
    }
    p.call(b"last nothing/here\n", b"ACK");
    p.call(b"last k/v\nlots", b"NACK *\n15\nmessage invalid");
    p.call(b"last k/v", b"NACK *\n15\nmessage invalid");
    p.call(b"last \n", b"NACK *\n15\nmessage invalid");
    // Not subscribed by any of it.
    publ.publish("k/v", "4");
    p.expect_silence(SHORT);
    let list = {
        p.send(b"lsconn");
        p.expect(b"PARTS");
        let mut lines = Vec::new();
        loop {
            let m = p.recv();
            if m == b"END" {
                break lines;
            }
            lines.push(String::from_utf8(m).unwrap());
        }
    };
    assert!(list.contains(&format!("{},\n", p.id())), "{list:?}");
}

/// Publications from another connection go on while `sub R\nlast N` is
/// answered: the subscriber gets every message exactly once, in order,
/// stored ones first and live ones after, with nothing lost between them.
#[test]
fn history_and_live_meet_without_gap_or_duplicate() {
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::Arc;

    let srv = with_history(1_000_000);
    let published = Arc::new(AtomicU64::new(0));
    let stop_at = Arc::new(AtomicU64::new(u64::MAX));
    let publisher = {
        let (published, stop_at) = (Arc::clone(&published), Arc::clone(&stop_at));
        let mut p = srv.peer();
        std::thread::spawn(move || {
            let mut seq = 0u64;
            while seq < stop_at.load(Ordering::SeqCst) {
                p.send(format!("pub seam\n{seq}").as_bytes());
                seq += 1;
                published.store(seq, Ordering::SeqCst);
            }
            for _ in 0..seq {
                p.expect(b"ACK");
            }
            seq
        })
    };
    while published.load(Ordering::SeqCst) < 2_000 {
        std::thread::yield_now();
    }
    let mut sub = srv.peer();
    sub.send(b"sub seam\nlast 1000000");
    let first = sub.recv();
    // Publishing went on while the subscription was handled; let it run a
    // little longer so live messages follow the stored ones.
    let at_reply = published.load(Ordering::SeqCst);
    stop_at.store(at_reply + 2_000, Ordering::SeqCst);
    let total = publisher.join().unwrap();
    assert!(total > at_reply, "publishing had stopped");
    let mut next = 0u64;
    let mut msg = first;
    loop {
        assert_eq!(
            String::from_utf8_lossy(&msg),
            format!("pub seam\n{next}"),
            "message {next} of {total}"
        );
        next += 1;
        if next == total {
            break;
        }
        msg = sub.recv();
    }
    sub.expect_silence(SHORT);
}

// Point-to-point (`to ID\nP`) --------------------------------------------

fn with_http() -> (TestServer, SocketAddr) {
    let srv = TestServer::with_setup(Settings::default(), |r| {
        r.listen_http("127.0.0.1:0").expect("http listener");
    });
    let http = srv.addrs[1];
    (srv, http)
}

/// Reads from `s` until `want` bytes arrived; returns them.
fn read_exactly(s: &mut TcpStream, want: usize) -> Vec<u8> {
    let mut got = vec![0; want];
    s.read_exact(&mut got).expect("read");
    got
}

/// Reads an HTTP response head (up to the blank line).
fn read_head(s: &mut TcpStream) -> String {
    let mut got = Vec::new();
    let mut b = [0u8; 1];
    while !got.ends_with(b"\r\n\r\n") {
        s.read_exact(&mut b).expect("head");
        got.push(b[0]);
    }
    String::from_utf8(got).unwrap()
}

#[test]
fn to_reaches_one_tcp_connection_only() {
    let srv = TestServer::start();
    let (mut a, mut b, mut c) = (srv.peer(), srv.peer(), srv.peer());
    c.sub("#");
    let msg = format!("to {}\nhello\nthere", b.id());
    a.call(msg.as_bytes(), b"ACK");
    b.expect(format!("from {}\nhello\nthere", a.id()).as_bytes());
    // b answers a the same way.
    b.call(format!("to {}\nback", a.id()).as_bytes(), b"ACK");
    a.expect(format!("from {}\nback", b.id()).as_bytes());
    // To oneself: the ACK first, then the message.
    a.send(format!("to {}\nme", a.id()).as_bytes());
    a.expect(b"ACK");
    a.expect(format!("from {}\nme", a.id()).as_bytes());
    c.expect_silence(SHORT);
    b.expect_silence(SHORT);
}

#[test]
fn to_an_unknown_or_closed_id_is_nack_19() {
    let srv = TestServer::start();
    let mut a = srv.peer();
    let gone = {
        let b = srv.peer();
        b.id()
    };
    // Once the server has seen it close (lsconn no longer lists it), however
    // long that takes on a busy machine.
    let deadline = std::time::Instant::now() + util::WAIT;
    let listed = format!("{gone},");
    while util::lsconn(&mut a).iter().any(|l| l.starts_with(&listed)) {
        assert!(std::time::Instant::now() < deadline, "{gone} still listed");
        std::thread::sleep(Duration::from_millis(10));
    }
    for id in [
        gone.as_str(),
        "TCP:127.0.0.1:1",
        "WS:127.0.0.1:1",
        "nonsense",
        "TCP:not-an-address",
    ] {
        a.call(
            format!("to {id}\nx").as_bytes(),
            b"NACK *\n19\nconnection not found",
        );
    }
    // The kind is part of the id.
    let other = srv.peer();
    let wrong_kind = other.id().replacen("TCP:", "WS:", 1);
    a.call(
        format!("to {wrong_kind}\nx").as_bytes(),
        b"NACK *\n19\nconnection not found",
    );
    a.call(b"to \nx", b"NACK *\n15\nmessage invalid");
    a.call(b"to x", b"NACK *\n15\nmessage invalid");
    a.call(b"PING x\ny", b"PONG x\ny");
}

#[test]
fn to_crosses_protocols_tcp_websocket_http_and_sse() {
    let (srv, http) = with_http();
    let mut tcp = srv.peer();
    // A WebSocket client, by the library's client.
    let mut ws = Client::connect_ws(&http.to_string(), util::WAIT).expect("ws");
    let ws_id = ws.id();
    assert!(ws_id.starts_with("WS:127.0.0.1:"), "{ws_id}");
    tcp.call(format!("to {ws_id}\nto ws").as_bytes(), b"ACK");
    assert_eq!(
        ws.receive().unwrap(),
        format!("from {}\nto ws", tcp.id()).into_bytes()
    );
    // And back.
    ws.emit("to", &tcp.id(), b"to tcp").unwrap();
    assert_eq!(ws.receive().unwrap(), b"ACK");
    tcp.expect(format!("from {ws_id}\nto tcp").as_bytes());
    // A plain HTTP request sends one too (`POST /cmd/to/ID`).
    let mut poster = TcpStream::connect(http).unwrap();
    poster.set_read_timeout(Some(util::WAIT)).unwrap();
    let body = "by http";
    assert_eq!(
        http_exchange(
            &mut poster,
            &format!(
                "POST /cmd/to/{ws_id} HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            )
        ),
        (200, r#"{"ok":true}"#.into())
    );
    assert_eq!(
        ws.receive().unwrap(),
        format!("from HTTP:{}\nby http", poster.local_addr().unwrap()).into_bytes()
    );

    // An HTTP event stream.
    let mut sse = TcpStream::connect(http).unwrap();
    sse.set_read_timeout(Some(util::WAIT)).unwrap();
    sse.write_all(b"GET /sub/quiet HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    assert!(read_head(&mut sse).contains("text/event-stream"));
    let sse_id = format!("HTTP:{}", sse.local_addr().unwrap());
    tcp.call(format!("to {sse_id}\nline 1\nline 2").as_bytes(), b"ACK");
    let want = format!("data: from {}\ndata: line 1\ndata: line 2\n\n", tcp.id());
    assert_eq!(
        String::from_utf8(read_exactly(&mut sse, want.len())).unwrap(),
        want
    );

    // A plain HTTP connection between requests cannot take one.
    let mut plain = TcpStream::connect(http).unwrap();
    plain.set_read_timeout(Some(util::WAIT)).unwrap();
    plain
        .write_all(b"GET /lscmd HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let head = read_head(&mut plain);
    let len: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("Content-Length: "))
        .and_then(|v| v.trim().parse().ok())
        .expect("length");
    read_exactly(&mut plain, len);
    let plain_id = format!("HTTP:{}", plain.local_addr().unwrap());
    tcp.call(
        format!("to {plain_id}\nx").as_bytes(),
        b"NACK *\n19\nconnection not found",
    );
}

/// Sends one request on `s` (kept alive) and reads the response: status,
/// body.
fn http_exchange(s: &mut TcpStream, req: &str) -> (u16, String) {
    s.write_all(req.as_bytes()).unwrap();
    let head = read_head(s);
    let status = head[9..12].parse().unwrap();
    let len: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("Content-Length: "))
        .map_or(0, |v| v.trim().parse().unwrap());
    (status, String::from_utf8(read_exactly(s, len)).unwrap())
}

#[test]
fn http_last_with_n_reads_history_without_subscribing() {
    let srv = TestServer::with_setup(
        Settings {
            history: 3,
            ..Settings::default()
        },
        |r| {
            r.listen_http("127.0.0.1:0").expect("http listener");
        },
    );
    let http = srv.addrs[1];
    let mut publ = srv.peer();
    for i in 1..=4 {
        publ.publish("h/r", &i.to_string());
    }
    let mut c = TcpStream::connect(http).unwrap();
    c.set_read_timeout(Some(util::WAIT)).unwrap();
    let get = |path: &str| format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(
        http_exchange(&mut c, &get("/last/h/r?n=2")),
        (
            200,
            r#"[{"route":"h/r","payload":"3"},{"route":"h/r","payload":"4"}]"#.into()
        )
    );
    assert_eq!(
        http_exchange(&mut c, &get("/last/h/%2B?n=10")),
        (
            200,
            r#"[{"route":"h/r","payload":"2"},{"route":"h/r","payload":"3"},{"route":"h/r","payload":"4"}]"#
                .into()
        )
    );
    assert_eq!(http_exchange(&mut c, &get("/last/h/r")), (200, "4".into()));
    assert_eq!(
        http_exchange(&mut c, &get("/last/none?n=5")),
        (200, "[]".into())
    );
    assert_eq!(
        http_exchange(&mut c, &get("/last/h/r?n=two")),
        (400, r#"{"error":"n must be a number"}"#.into())
    );
    // The connection holds no subscription: lsconn lists it without a
    // route, and a publication sends it nothing.
    let id = format!("HTTP:{}", c.local_addr().unwrap());
    let mut p = srv.peer();
    p.send(b"lsconn");
    p.expect(b"PARTS");
    let mut lines = Vec::new();
    loop {
        let m = p.recv();
        if m == b"END" {
            break;
        }
        lines.push(String::from_utf8(m).unwrap());
    }
    assert!(lines.contains(&format!("{id},\n")), "{lines:?}");
    publ.publish("h/r", "5");
    c.set_read_timeout(Some(SHORT)).unwrap();
    let mut byte = [0u8; 1];
    assert!(
        c.read(&mut byte).is_err(),
        "the HTTP connection got a publication"
    );
}
