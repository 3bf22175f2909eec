//! Parked subscriptions (`Transport::park`) on a real server: a codec that
//! keeps its connection's subscriptions after it ends gets each matching
//! publication once (however many of its routes match), drops out when it
//! says so (and its subscriptions with it), and a message it makes later is
//! published from no connection. The codec here is ducq's TCP framing with
//! a recording parked state; MQTT persistent sessions are the real user
//! (tests/mqtt_paho.rs).

mod util;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use ducq::server::Settings;
use ducq::transport::tcp::TcpCodec;
use ducq::transport::{LastMessage, Parked, Step, Transport};
use util::{Peer, TestServer, WAIT};

/// What the parked state saw, shared with the test thread.
type Seen = Arc<Mutex<Vec<Vec<u8>>>>;

struct Keeper {
    tcp: TcpCodec,
    seen: Seen,
}

impl Transport for Keeper {
    fn name(&self) -> &str {
        "KEEP"
    }
    fn decode<'a>(&mut self, input: &'a mut [u8], out: &mut Vec<u8>) -> Step<'a> {
        self.tcp.decode(input, out)
    }
    fn encode(&mut self, msg: &[u8], out: &mut Vec<u8>) {
        self.tcp.encode(msg, out);
    }
    fn park(&mut self) -> Option<Box<dyn Parked>> {
        Some(Box::new(Recorder {
            seen: Arc::clone(&self.seen),
            said: false,
        }))
    }
}

/// Keeps two publications, then wants no more; says one thing once.
struct Recorder {
    seen: Seen,
    said: bool,
}

impl Parked for Recorder {
    fn deliver(&mut self, msg: &[u8], _seq: u64) -> bool {
        let mut seen = self.seen.lock().unwrap();
        seen.push(msg.to_vec());
        seen.len() < 2
    }
    fn due(&mut self, _parked_for: Duration) -> Option<(Vec<u8>, LastMessage)> {
        (!std::mem::replace(&mut self.said, true))
            .then(|| (b"pub parked/said\nhello".to_vec(), LastMessage::Skip))
    }
    fn alive(&mut self, _parked_for: Duration) -> bool {
        true
    }
}

#[test]
fn parked_subscriptions_receive_once_until_they_let_go() {
    let seen: Seen = Arc::default();
    let kept = Arc::clone(&seen);
    let srv = TestServer::with_setup(Settings::default(), move |r| {
        r.listen(
            "127.0.0.1:0",
            Box::new(move || {
                Box::new(Keeper {
                    tcp: TcpCodec::new(1 << 20),
                    seen: Arc::clone(&kept),
                })
            }),
        )
        .expect("listener");
    });
    let mut b = srv.peer();
    b.sub("parked/said");
    let mut a = Peer::connect(srv.addrs[1]);
    a.call(b"sub a/+\nadd", b"ACK");
    a.call(b"sub a/x\nadd", b"ACK");
    drop(a);
    // Its message, dispatched from nobody within the server's next second.
    assert_eq!(b.try_recv(WAIT).unwrap(), b"pub parked/said\nhello");
    // Two of its routes match: one delivery.
    b.publish("a/x", "1");
    b.publish("a/y", "2");
    // It let go after the second: no more, and no subscription left.
    b.publish("a/z", "3");
    // A round trip: every publication before it has been fanned out.
    b.call(b"PING _\nping", b"PONG _\nping");
    // Still subscribed, it would have seen a/z too.
    assert_eq!(
        *seen.lock().unwrap(),
        [b"pub a/x\n1".to_vec(), b"pub a/y\n2".to_vec()]
    );
    // Its `Skip` publication left the store alone.
    b.call(b"last parked/said\n1", b"ACK");
}
