//! Regression: a chunked HTTP body under the server's message limit, sent
//! in small chunks, must get an HTTP answer — never a silent close. Before
//! the fix the HTTP codec allowed chunk lines worth up to twice the body
//! limit while the reactor stops reading a connection at the message limit
//! plus 16 KiB, so such a request filled the reactor's input buffer first
//! and the connection was dropped without a response.
//!
//! The rule now (`transport/http/body.rs`): the head, chunk lines and
//! trailers together may take at most the head limit (8 KiB) beyond the
//! body. So the same legal body is refused with a 413 when its chunk lines
//! cost more than that, and accepted whole when they do not. Real sockets
//! on 127.0.0.1 only.

mod util;

use std::io::{Read, Write};
use std::net::TcpStream;

use util::{TestServer, WAIT};

/// A server with its HTTP listener, and a TCP subscriber of `big`.
fn server() -> (TestServer, util::Peer) {
    let srv = TestServer::with_setup(Default::default(), |r| {
        r.listen_http("127.0.0.1:0").unwrap();
    });
    let mut sub = srv.peer();
    sub.sub("big");
    (srv, sub)
}

/// `POST /pub/big` with 1 000 000 bytes (under the 1 MiB default) in
/// chunks of `chunk` bytes.
fn request(chunk: usize) -> Vec<u8> {
    let body = vec![b'x'; 1_000_000];
    let mut req =
        b"POST /pub/big HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
    for c in body.chunks(chunk) {
        req.extend_from_slice(format!("{:x}\r\n", c.len()).as_bytes());
        req.extend_from_slice(c);
        req.extend_from_slice(b"\r\n");
    }
    req.extend_from_slice(b"0\r\n\r\n");
    req
}

/// Sends `req`, then half-closes, while reading until the server closes:
/// everything it answered. Read as it arrives: a server that closes with
/// part of a refused request unread resets the connection, which may drop
/// whatever the client had not read yet.
fn answer_to(srv: &TestServer, req: &[u8]) -> String {
    let mut s = TcpStream::connect(srv.addrs[1]).unwrap();
    s.set_read_timeout(Some(WAIT)).unwrap();
    let mut r = s.try_clone().unwrap();
    let reader = std::thread::spawn(move || {
        let mut answer = Vec::new();
        match r.read_to_end(&mut answer) {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {}
            Err(e) => panic!("not closed after the answer: {e}"),
        }
        answer
    });
    // The server stops reading once it has refused: a failed write is
    // expected then; the answer is what counts.
    let _ = s.write_all(req);
    let _ = s.shutdown(std::net::Shutdown::Write);
    String::from_utf8_lossy(&reader.join().unwrap()).into_owned()
}

#[test]
fn small_chunks_near_the_limit_get_a_413_and_publish_nothing() {
    let (srv, mut sub) = server();
    // 20 000 chunks of 50 bytes: 120 KB of chunk lines, far past 8 KiB.
    let text = answer_to(&srv, &request(50));
    assert_eq!(
        text,
        "HTTP/1.1 413 Content Too Large\r\nContent-Type: application/json\r\n\
         Content-Length: 26\r\nAccess-Control-Allow-Origin: *\r\n\
         Connection: close\r\n\r\n{\"error\":\"body too large\"}"
    );
    // Nothing was published, and the server still serves.
    let mut p = srv.peer();
    p.call(b"PING a\n", b"PONG a\n");
    p.call(b"sub big\nlast", b"ACK");
    sub.call(b"PING b\n", b"PONG b\n");
}

#[test]
fn the_same_body_in_large_chunks_is_published_whole() {
    let (srv, mut sub) = server();
    // 16 chunks of 64 KiB: 16 chunk lines of 7 bytes.
    let text = answer_to(&srv, &request(64 << 10));
    assert_eq!(
        text,
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\
         Content-Length: 11\r\nAccess-Control-Allow-Origin: *\r\n\
         Connection: keep-alive\r\n\r\n{\"ok\":true}"
    );
    let mut want = b"pub big\n".to_vec();
    want.extend_from_slice(&[b'x'; 1_000_000]);
    assert_eq!(sub.recv(), want);
}
