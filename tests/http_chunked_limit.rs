//! Regression: a chunked HTTP body under the server's message limit, sent
//! in small chunks, must get an HTTP answer (accepted, or refused with a
//! 413) — never a silent close. Before the fix the HTTP codec allowed chunk
//! lines worth up to twice the body limit while the reactor stops reading a
//! connection at the message limit plus 16 KiB, so such a request filled
//! the reactor's input buffer first and the connection was dropped without
//! a response. Real sockets on 127.0.0.1 only.

mod util;

use std::io::{Read, Write};
use std::net::TcpStream;

use util::{TestServer, WAIT};

#[test]
fn small_chunks_near_the_limit_get_an_answer() {
    let srv = TestServer::with_setup(Default::default(), |r| {
        r.listen_http("127.0.0.1:0").unwrap();
    });
    // 1 000 000 bytes (under the 1 MiB default) in 50-byte chunks: 120 KB
    // of chunk lines.
    let mut req =
        b"POST /pub/big HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
    for _ in 0..20_000 {
        req.extend_from_slice(b"32\r\n");
        req.extend_from_slice(&[b'x'; 50]);
        req.extend_from_slice(b"\r\n");
    }
    req.extend_from_slice(b"0\r\n\r\n");
    let mut s = TcpStream::connect(srv.addrs[1]).unwrap();
    s.set_read_timeout(Some(WAIT)).unwrap();
    // The server may stop reading once it has answered; a failed write is
    // not the point here, the answer is.
    let _ = s.write_all(&req);
    let mut answer = Vec::new();
    let _ = s.read_to_end(&mut answer);
    let text = String::from_utf8_lossy(&answer);
    assert!(
        text.starts_with("HTTP/1.1 200 ") || text.starts_with("HTTP/1.1 413 "),
        "no HTTP answer: {text:?}"
    );
    // And the server still serves.
    let mut p = srv.peer();
    p.call(b"PING a\n", b"PONG a\n");
}
