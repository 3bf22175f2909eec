//! Inputs that crashed or broke the original C ducq, kept as named
//! regression tests: each must be answered and leave the server serving.

mod util;

use std::io::{Read, Write};
use std::net::TcpStream;

use util::{TestServer, WAIT};

#[test]
fn original_crash_websocket_key_of_25_characters() {
    let srv = TestServer::with_setup(Default::default(), |r| {
        r.listen_http("127.0.0.1:0").unwrap();
    });
    let mut s = TcpStream::connect(srv.addrs[1]).unwrap();
    s.set_read_timeout(Some(WAIT)).unwrap();
    s.write_all(
        b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
          Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAAAAAAA\r\n\r\n",
    )
    .unwrap();
    let mut buf = [0u8; 256];
    let n = s.read(&mut buf).unwrap();
    assert!(
        buf[..n].starts_with(b"HTTP/1.1 400"),
        "{}",
        String::from_utf8_lossy(&buf[..n])
    );
    let mut p = srv.peer();
    p.call(b"PING a\n", b"PONG a\n");
}

#[test]
fn original_crash_format_string_in_ping() {
    let srv = TestServer::start();
    let mut p = srv.peer();
    p.call(b"PING %s%s%s%n%n\n%s%x%n", b"PONG %s%s%s%n%n\n%s%x%n");
    p.call(b"%s%n %n\n%s", b"NACK *\n17\ncommand unknown");
    p.call(b"PING a\n", b"PONG a\n");
}

#[test]
fn original_crash_sixty_unknown_commands() {
    let srv = TestServer::start();
    let mut p = srv.peer();
    for i in 0..200 {
        p.call(
            format!("unknown{i} r\npayload").as_bytes(),
            b"NACK *\n17\ncommand unknown",
        );
    }
    p.publish("still", "alive");
}

#[test]
fn original_bug_nack_after_pub_closed_the_connection() {
    let srv = TestServer::start();
    let mut p = srv.peer();
    p.call(b"pub noline", b"NACK *\n15\nmessage invalid");
    p.publish("a", "b");
}

#[test]
fn original_bug_empty_route_reached_unsubscribed_connections() {
    let srv = TestServer::start();
    let mut bystander = srv.peer();
    bystander.call(b"PING x\n", b"PONG x\n");
    let mut p = srv.peer();
    p.call(b"pub \nleak", b"NACK *\n15\nmessage invalid");
    bystander.expect_silence(std::time::Duration::from_millis(200));
}

#[test]
fn original_bug_star_did_not_backtrack() {
    let srv = TestServer::start();
    let mut s = srv.peer();
    s.sub("*/c");
    let mut p = srv.peer();
    p.publish("a/b/c", "x");
    s.expect(b"pub a/b/c\nx");
}
