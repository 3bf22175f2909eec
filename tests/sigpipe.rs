//! Writing to a peer that has gone must not raise SIGPIPE in the process
//! that hosts the server. Rust programs ignore that signal, but a C
//! program embedding libducq gets its default action, which kills the
//! program. Its own test binary: it restores that default process-wide.

mod driven;

use driven::Driven;
use ducq::server::Settings;

#[test]
fn writing_to_a_peer_that_has_gone_does_not_kill_the_host() {
    // SAFETY: setting a signal's disposition to its default; no handler
    // runs in this process.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let mut d = Driven::new(Settings {
        max_output: 64 << 20,
        ..Settings::default()
    });
    for round in 0..6 {
        let (gone, key) = d.connect();
        // The peer closes; before the server notices, it has far more
        // queued for it than one write takes: the first write makes the
        // peer's system reset the connection, the next fails on it. Its
        // own replies (one buffer: send), or publications (shared headers
        // and bodies: sendmsg).
        drop(gone);
        let hub = d.reactor.hub_mut();
        hub.subs.subscribe(key, b"r", false);
        let body = vec![b'x'; 1 << 20];
        for _ in 0..32 {
            if round % 2 == 0 {
                assert_eq!(hub.send(key, &body), Ok(()));
            } else {
                assert_eq!(hub.publish(b"r", &body), 1);
            }
        }
        d.until("closed", |r| r.hub().conn(key).is_none());
        d.turn();
        // Still here, and serving.
        let (mut c, _) = d.connect();
        assert_eq!(
            d.call(&mut c, format!("PING {round}\n").as_bytes()),
            format!("PONG {round}\n").as_bytes()
        );
    }
}
