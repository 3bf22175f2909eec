//! Bridges between ducq brokers (issue 17), over real sockets: both
//! directions with a prefix rewrite, a cycle of three brokers where every
//! message is delivered once per broker, a remote without bridge support
//! (plain mode), and hostile remotes — garbage and a silent handshake from
//! a fake remote of each kind (ducq, MQTT, NATS), a ducq remote that stops
//! answering — while the local broker keeps serving.

mod util;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ducq::server::bridges::config::BridgeConfig;
use ducq::server::Settings;
use util::{serves, Peer, TestServer, WAIT};

fn bridge(spec: &str) -> BridgeConfig {
    BridgeConfig::parse_flag(spec).expect("bridge spec")
}

/// A broker that accepts bridges and dials `bridges`.
fn broker(bridges: Vec<BridgeConfig>) -> TestServer {
    TestServer::with_setup(Settings::default(), move |r| {
        r.accept_bridges().unwrap();
        for b in bridges {
            r.add_bridge(b).unwrap();
        }
    })
}

/// The `bridges` listing: bridge name → its `key=value` fields.
fn listing(p: &mut Peer) -> (String, BTreeMap<String, BTreeMap<String, String>>) {
    p.send(b"bridges");
    let lines = util::parts(p);
    let head = lines[0].clone();
    let mut out = BTreeMap::new();
    for l in &lines[1..] {
        let mut words = l.split_whitespace();
        let name = words.next().unwrap().to_string();
        let fields = words
            .filter_map(|w| w.split_once('='))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        out.insert(name, fields);
    }
    (head, out)
}

fn field(p: &mut Peer, bridge: &str, key: &str) -> String {
    listing(p).1[bridge][key].clone()
}

/// Waits until bridge `name` of the broker `p` talks to is `open`.
fn wait_open(p: &mut Peer, name: &str) {
    let deadline = Instant::now() + WAIT;
    while field(p, name, "state") != "open" {
        assert!(Instant::now() < deadline, "bridge {name} never opened");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Waits until `n` subscriptions of `route` are listed by `lsconn`.
fn wait_subscribed(p: &mut Peer, route: &str, n: usize) {
    let deadline = Instant::now() + WAIT;
    loop {
        let got = util::lsconn(p)
            .iter()
            .filter(|l| l.trim_end().ends_with(&format!(",{route}")))
            .count();
        if got == n {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{n} subscribers of {route}, got {got}"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn both_directions_with_a_prefix_rewrite() {
    let remote = broker(vec![]);
    let local = broker(vec![bridge(&format!(
        "ducq={},name=up,out=sensors/#,in=cmd/+,local_prefix=home/,remote_prefix=site1/",
        remote.addr
    ))]);
    let mut l = local.peer();
    let mut r = remote.peer();
    wait_open(&mut l, "up");
    // The bridge shows in lsconn with its out pattern, on each side.
    let lines = util::lsconn(&mut l);
    assert!(
        lines
            .iter()
            .any(|x| x == &format!("bridge-up:{},home/sensors/#\n", remote.addr)),
        "{lines:?}"
    );
    wait_subscribed(&mut r, "site1/cmd/+", 1);
    // Out: home/sensors/t at the local broker is site1/sensors/t remotely.
    let mut rs = remote.peer();
    rs.sub("site1/#");
    l.publish("home/sensors/t", "21.5");
    l.publish("home/other", "not forwarded");
    rs.expect(b"pub site1/sensors/t\n21.5");
    // Stored remotely as the route's last message, like any publication.
    r.call(b"last site1/sensors/t\n", b"pub site1/sensors/t\n21.5");
    // In: site1/cmd/door remotely is home/cmd/door here.
    let mut ls = local.peer();
    ls.sub("home/#");
    r.publish("site1/cmd/door", "open");
    r.publish("site1/cmd/a/b", "two levels: not brought in");
    ls.expect(b"pub home/cmd/door\nopen");
    ls.expect_silence(Duration::from_millis(200));
    rs.expect(b"pub site1/cmd/door\nopen");
    rs.expect(b"pub site1/cmd/a/b\ntwo levels: not brought in");
    // Nothing came back the other way: the local subscriber saw it once.
    let (_, bridges) = listing(&mut l);
    let up = &bridges["up"];
    assert_eq!((up["sent"].as_str(), up["confirmed"].as_str()), ("1", "1"));
    assert_eq!(
        (up["received"].as_str(), up["in_flight"].as_str()),
        ("1", "0")
    );
}

#[test]
fn a_cycle_of_three_delivers_each_message_once_per_broker() {
    // C; B dials C; A dials B and C: a cycle A-B-C-A, every bridge carrying
    // everything both ways.
    let c = broker(vec![]);
    let b = broker(vec![bridge(&format!("ducq={},name=bc,out=#,in=#", c.addr))]);
    let a = broker(vec![
        bridge(&format!("ducq={},name=ab,out=#,in=#", b.addr)),
        bridge(&format!("ducq={},name=ac,out=#,in=#", c.addr)),
    ]);
    let (mut pa, mut pb, mut pc) = (a.peer(), b.peer(), c.peer());
    wait_open(&mut pa, "ab");
    wait_open(&mut pa, "ac");
    wait_open(&mut pb, "bc");
    wait_subscribed(&mut pb, "#", 2);
    wait_subscribed(&mut pc, "#", 2);
    let mut subs: Vec<Peer> = [&a, &b, &c].iter().map(|s| s.peer()).collect();
    for s in &mut subs {
        s.sub("t/#");
    }
    pa.publish("t/a", "from a");
    pb.publish("t/b", "from b");
    pc.publish("t/c", "from c");
    for (i, s) in subs.iter_mut().enumerate() {
        let mut got: Vec<String> = (0..3)
            .map(|_| String::from_utf8(s.recv()).unwrap())
            .collect();
        got.sort();
        assert_eq!(
            got,
            ["pub t/a\nfrom a", "pub t/b\nfrom b", "pub t/c\nfrom c"],
            "broker {i}"
        );
        s.expect_silence(Duration::from_millis(300));
    }
    // Each message crossed each bridge at most once each way, and every
    // copy beyond the first at a broker was dropped there.
    let mut copies = 0;
    for (p, names) in [(&mut pa, &["ab", "ac"][..]), (&mut pb, &["bc"][..])] {
        let (_, bridges) = listing(p);
        for n in names {
            let sent: u64 = bridges[*n]["sent"].parse().unwrap();
            let received: u64 = bridges[*n]["received"].parse().unwrap();
            assert!(sent <= 3 && received <= 3, "{n}: {:?}", bridges[*n]);
            copies += sent + received;
        }
    }
    let dups: u64 = [&mut pa, &mut pb, &mut pc]
        .into_iter()
        .map(|p| {
            let (head, _) = listing(p);
            head.trim_end()
                .rsplit("duplicates=")
                .next()
                .unwrap()
                .parse::<u64>()
                .unwrap()
        })
        .sum();
    // 3 messages x 2 brokers each reached = 6 first copies; the rest were
    // duplicates.
    assert_eq!(copies, 6 + dups, "copies {copies}, duplicates {dups}");
    assert!((3..=6).contains(&dups), "duplicates {dups}");
}

#[test]
fn a_remote_without_bridge_support_gets_plain_pub() {
    // A server without the bridge commands answers `bridge` with NACK 17.
    let remote = TestServer::start();
    let local = broker(vec![bridge(&format!(
        "ducq={},name=old,out=up/#,in=down/#,in=up/#",
        remote.addr
    ))]);
    let mut l = local.peer();
    wait_open(&mut l, "old");
    let mut r = remote.peer();
    wait_subscribed(&mut r, "down/#", 1);
    let mut rs = remote.peer();
    rs.sub("up/#");
    let mut ls = local.peer();
    ls.sub("#");
    l.publish("up/x", "1");
    rs.expect(b"pub up/x\n1");
    r.publish("down/y", "2");
    ls.expect(b"pub up/x\n1");
    ls.expect(b"pub down/y\n2");
    // up/x came back through in=up/# (the remote cannot tell it from a
    // new message); it is dropped as a probable echo.
    ls.expect_silence(Duration::from_millis(200));
    let (_, b) = listing(&mut l);
    assert_eq!(b["old"]["received"], "1");
    assert_eq!(b["old"]["ignored"], "1");
}

/// A fake remote: accepts connections and hands each to `serve`; counts
/// them.
fn fake_remote(
    serve: impl Fn(TcpStream) + Send + Sync + 'static,
) -> (SocketAddr, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = Arc::clone(&accepted);
    let serve = Arc::new(serve);
    std::thread::spawn(move || {
        for s in listener.incoming().map_while(Result::ok) {
            count.fetch_add(1, Ordering::SeqCst);
            let serve = Arc::clone(&serve);
            std::thread::spawn(move || serve(s));
        }
    });
    (addr, accepted)
}

fn wait_accepts(accepted: &AtomicUsize, n: usize, srv: &TestServer) {
    let deadline = Instant::now() + WAIT;
    let mut round = 0;
    while accepted.load(Ordering::SeqCst) < n {
        assert!(Instant::now() < deadline, "no reconnect");
        serves(srv, round);
        round += 1;
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The first bytes a hostile remote of each kind sends: nothing its
/// protocol can start with (ducq: a frame length that is not a number;
/// MQTT: packet type 0, reserved; NATS: no such operation).
const GARBAGE: [(&str, &[u8]); 3] = [
    ("ducq", b"this is not ducq\n"),
    ("mqtt", b"\x00\x00this is not mqtt"),
    ("nats", b"THIS IS NOT NATS\r\n"),
];

#[test]
fn garbage_from_the_remote_ends_the_connection_and_it_reconnects() {
    for (kind, garbage) in GARBAGE {
        let (addr, accepted) = fake_remote(move |mut s| {
            let _ = s.write_all(garbage);
            let mut b = [0u8; 4096];
            while matches!(s.read(&mut b), Ok(n) if n > 0) {}
        });
        let local = broker(vec![bridge(&format!(
            "{kind}={addr},name=bad,out=#,backoff_max=0.05"
        ))]);
        wait_accepts(&accepted, 3, &local);
        let mut l = local.peer();
        let (_, b) = listing(&mut l);
        assert_eq!(b["bad"]["connects"], "0", "{kind}");
        assert!(
            b["bad"]["disconnects"].parse::<u64>().unwrap() >= 2,
            "{kind}"
        );
        serves(&local, 999);
    }
}

#[test]
fn a_silent_handshake_times_out_and_it_reconnects() {
    for kind in ["ducq", "mqtt", "nats"] {
        // Accepts, reads everything, answers nothing.
        let (addr, accepted) = fake_remote(|mut s| {
            let mut b = [0u8; 4096];
            while matches!(s.read(&mut b), Ok(n) if n > 0) {}
        });
        let local = broker(vec![bridge(&format!(
            "{kind}={addr},name=mute,out=#,keepalive=0.2,backoff_max=0.05"
        ))]);
        wait_accepts(&accepted, 2, &local);
        let mut l = local.peer();
        let (_, b) = listing(&mut l);
        assert_eq!(b["mute"]["connects"], "0", "{kind}");
        serves(&local, 1000);
    }
}

#[test]
fn a_remote_that_stops_answering_is_left_and_redialled() {
    // Answers the introduction and the subscription, then nothing more:
    // the bridge's pings go unanswered.
    let (addr, accepted) = fake_remote(|mut s| {
        let _ = s.write_all(b"25\nbridge 00000000000000aa\n1");
        let _ = s.write_all(b"3\nACK");
        let mut b = [0u8; 4096];
        while matches!(s.read(&mut b), Ok(n) if n > 0) {}
    });
    let local = broker(vec![bridge(&format!(
        "ducq={addr},name=stall,in=x,keepalive=0.3,backoff_max=0.05"
    ))]);
    let mut l = local.peer();
    wait_open(&mut l, "stall");
    wait_accepts(&accepted, 2, &local);
    let (_, b) = listing(&mut l);
    assert!(b["stall"]["connects"].parse::<u64>().unwrap() >= 1);
    serves(&local, 1001);
}

#[test]
fn the_bridge_commands_byte_for_byte() {
    let srv = broker(vec![]);
    let mut peer = srv.peer();
    let mut sub = srv.peer();
    sub.sub("s/#");
    // The introduction: answered with the broker's own id.
    peer.send(b"bridge 00000000000000a1\n1");
    let hello = String::from_utf8(peer.recv()).unwrap();
    let own = hello
        .strip_prefix("bridge ")
        .and_then(|r| r.strip_suffix("\n1"))
        .unwrap_or_else(|| panic!("{hello:?}"));
    assert_eq!(own.len(), 16);
    assert!(own.bytes().all(|b| b.is_ascii_hexdigit()));
    // A bridged publication is published as pub, once.
    peer.call(b"bpub s/t\n00000000000000a1:7\n21.5", b"ACK");
    sub.expect(b"pub s/t\n21.5");
    peer.call(b"bpub s/t\n00000000000000a1:7\n21.5", b"ACK");
    // One that passed through here already is dropped too.
    let through = format!("bpub s/u\n00000000000000c3:1,{own}\nx");
    peer.call(through.as_bytes(), b"ACK");
    sub.expect_silence(Duration::from_millis(200));
    assert_eq!(listing(&mut peer).0, format!("broker {own} duplicates=2\n"));
    // Malformed traces and ids.
    for bad in [
        &b"bpub s/t\nnot a trace\nx"[..],
        b"bpub s/t\n00000000000000a1:7",
        b"bpub s/t\n1:2,zz\nx",
    ] {
        peer.call(bad, b"NACK *\n15\nmessage invalid");
    }
    let mut other = srv.peer();
    other.call(b"bridge xyz\n1", b"NACK *\n15\nmessage invalid");
    other.call(
        format!("bridge {own}\n1").as_bytes(),
        b"NACK *\n15\nmessage invalid",
    );
    // The bridge's subscriptions come as bpub with their trace...
    peer.call(b"sub s/#\nadd", b"ACK");
    let mut client = srv.peer();
    client.publish("s/v", "local");
    let got = String::from_utf8(peer.recv()).unwrap();
    let (head, payload) = got.rsplit_once('\n').unwrap();
    assert_eq!(payload, "local");
    let trace = head.strip_prefix("bpub s/v\n").unwrap();
    let (origin, number) = trace.split_once(':').unwrap();
    assert_eq!(origin, own);
    assert!(number.parse::<u64>().is_ok(), "{trace}");
    // ...with this broker added to one that came from elsewhere, and none
    // at all for one whose trace names the bridge's broker.
    let mut third = srv.peer();
    third.call(
        b"bridge 00000000000000c3\n1",
        &format!("bridge {own}\n1").into_bytes(),
    );
    third.call(b"bpub s/w\n00000000000000c3:5\nvia c", b"ACK");
    peer.expect(format!("bpub s/w\n00000000000000c3:5,{own}\nvia c").as_bytes());
    third.call(
        b"bpub s/x\n00000000000000a1:9,00000000000000c3\nvia a",
        b"ACK",
    );
    peer.expect_silence(Duration::from_millis(200));
    // Ordinary clients saw pub, never bpub.
    sub.expect(b"pub s/v\nlocal");
    sub.expect(b"pub s/w\nvia c");
    sub.expect(b"pub s/x\nvia a");
}

#[test]
fn bpub_meets_the_channels_of_its_route() {
    // Directly: a bridged publication is one more publisher's.
    let srv = broker(vec![]);
    let mut admin = srv.peer();
    admin.call(b"chan add ro\npattern=ro/# read_only", b"ACK");
    admin.call(b"chan add small\npattern=s/# max_payload=3", b"ACK");
    let mut sub = srv.peer();
    sub.sub("#");
    let mut peer = srv.peer();
    peer.send(b"bridge 00000000000000a1\n1");
    peer.recv();
    peer.call(
        b"bpub ro/x\n00000000000000a1:1\nno",
        b"NACK *\n24\naccess denied",
    );
    peer.call(
        b"bpub s/x\n00000000000000a1:2\ntoo long",
        b"NACK *\n16\nmessage too big",
    );
    peer.call(b"bpub s/x\n00000000000000a1:3\nok", b"ACK");
    sub.expect(b"pub s/x\nok");
    sub.expect_silence(Duration::from_millis(200));
    admin.call(b"last ro/x\n", b"ACK");
    // Through a bridge: the remote's read-only channel refuses what the
    // bridge forwards, and the bridge counts it as rejected.
    let local = broker(vec![bridge(&format!("ducq={},name=up,out=ro/#", srv.addr))]);
    let mut l = local.peer();
    wait_open(&mut l, "up");
    l.publish("ro/y", "refused remotely");
    let deadline = Instant::now() + WAIT;
    while field(&mut l, "up", "rejected") != "1" {
        assert!(Instant::now() < deadline, "never rejected");
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(field(&mut l, "up", "confirmed"), "0");
    sub.expect_silence(Duration::from_millis(200));
}
