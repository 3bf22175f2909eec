//! The reactor's read path over real sockets: a read that returns less than
//! asked for ends the connection's turn without a confirming `WouldBlock`
//! read, so these check that nothing is left behind by it — data and FIN
//! arriving together, and data arriving while the turn runs.

mod util;

use std::net::Shutdown;
use std::time::{Duration, Instant};

use util::TestServer;

#[test]
fn request_then_fin_in_one_burst_is_answered_then_closed() {
    let srv = TestServer::start();
    for _ in 0..50 {
        let mut p = srv.peer();
        p.raw(b"3\nPOL");
        p.raw(b"9\npub a\nxyz");
        p.stream.shutdown(Shutdown::Write).unwrap();
        let t = Instant::now();
        p.expect(b"NACK *\n17\ncommand unknown");
        p.expect(b"ACK");
        p.expect_closed();
        assert!(t.elapsed() < Duration::from_secs(2));
    }
}

#[test]
fn frames_trickling_in_are_all_handled() {
    let srv = TestServer::start();
    let mut s = srv.peer();
    s.sub("t");
    let mut p = srv.peer();
    for i in 0..300 {
        let body = format!("pub t\n{i}");
        let frame = format!("{}\n{body}", body.len());
        // Split each frame at a different point, sent as separate writes.
        let cut = i % frame.len();
        p.raw(&frame.as_bytes()[..cut]);
        p.raw(&frame.as_bytes()[cut..]);
    }
    for i in 0..300 {
        p.expect(b"ACK");
        s.expect(format!("pub t\n{i}").as_bytes());
    }
}
