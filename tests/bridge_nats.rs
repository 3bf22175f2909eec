//! The NATS bridge against real `nats-server` processes on loopback
//! (issue 17): routes ↔ subjects both ways with wildcards, routes NATS
//! cannot spell, no echo; a restart of the server; a three-node cluster
//! with the bridge's node killed (SIGKILL): the bridge moves to the next
//! node and nothing published after it reconnected is lost.

mod nats_util;
mod procs;
mod util;

use std::time::{Duration, Instant};

use nats_util::{Nats, NatsClient};
use util::{bridge_fields, bridged, wait_bridge_field, Peer, WAIT};

fn text(m: (String, Vec<u8>)) -> (String, String) {
    (m.0, String::from_utf8(m.1).unwrap())
}

#[test]
fn routes_map_to_subjects_both_ways() {
    let nats = Nats::start();
    let srv = bridged(&format!(
        "nats={},name=n,out=sensors/#,out=both/#,in=cmd/+/set,in=both/#,in=all/#",
        nats.addr()
    ));
    let mut p = srv.peer();
    wait_bridge_field(&mut p, "n", "state", "open", WAIT);
    let mut nc = nats.client();
    nc.sub("sensors.>");
    nc.sub("both.>");
    let mut sub = srv.peer();
    sub.sub("#");
    // Out: levels become tokens.
    p.publish("sensors/a/b", "1");
    assert_eq!(text(nc.next()), ("sensors.a.b".into(), "1".into()));
    sub.expect(b"pub sensors/a/b\n1");
    // A route NATS cannot spell is not forwarded, and counted.
    p.publish("sensors/a.b", "dotted");
    sub.expect(b"pub sensors/a.b\ndotted");
    // Out and in overlap: forwarded once, not echoed back in.
    p.publish("both/x", "2");
    assert_eq!(text(nc.next()), ("both.x".into(), "2".into()));
    sub.expect(b"pub both/x\n2");
    // In: + is *, # is > (and the parent subject).
    nc.publish("cmd.door.set", b"open");
    nc.publish("cmd.door.x.set", b"not subscribed");
    nc.publish("all", b"root");
    nc.publish("all.x.y", b"deep");
    nc.publish("both.y", b"from nats");
    nc.flush();
    sub.expect(b"pub cmd/door/set\nopen");
    sub.expect(b"pub all\nroot");
    sub.expect(b"pub all/x/y\ndeep");
    sub.expect(b"pub both/y\nfrom nats");
    sub.expect_silence(Duration::from_millis(200));
    // Stored like any publication.
    p.call(b"last all/x/y\n", b"pub all/x/y\ndeep");
    // The NATS side saw both/y once (from itself): nothing came back.
    assert_eq!(text(nc.next()), ("both.y".into(), "from nats".into()));
    assert_eq!(nc.next_within(Duration::from_millis(200)), None);
    let f = bridge_fields(&mut p, "n");
    assert_eq!(
        (
            f["sent"].as_str(),
            f["confirmed"].as_str(),
            f["unmappable"].as_str()
        ),
        ("2", "2", "1")
    );
    assert_eq!(
        (f["received"].as_str(), f["in_flight"].as_str()),
        ("4", "0")
    );
}

#[test]
fn reconnects_after_the_server_restarts() {
    let mut nats = Nats::start();
    let port = nats.port;
    let srv = bridged(&format!(
        "nats={},name=n,out=o/#,in=i/#,backoff_max=0.2",
        nats.addr()
    ));
    let mut p = srv.peer();
    wait_bridge_field(&mut p, "n", "state", "open", WAIT);
    nats.kill();
    wait_bridge_field(&mut p, "n", "state", "down", WAIT);
    // The broker serves its own clients meanwhile.
    let mut s = srv.peer();
    s.sub("local");
    p.publish("local", "still here");
    s.expect(b"pub local\nstill here");
    let nats = Nats::start_on(port, None);
    wait_bridge_field(&mut p, "n", "connects", "2", WAIT);
    wait_bridge_field(&mut p, "n", "state", "open", WAIT);
    let mut nc = nats.client();
    nc.sub("o.>");
    p.publish("o/after", "restart");
    assert_eq!(text(nc.next()), ("o.after".into(), "restart".into()));
    let mut si = srv.peer();
    si.sub("i/#");
    nc.publish("i.x", b"in again");
    si.expect(b"pub i/x\nin again");
}

/// Publishes `probe` at `p` until the NATS client `nc` gets one: the
/// bridge is connected and the cluster knows the subscription.
fn until_through(p: &mut Peer, nc: &mut NatsClient, subject: &str) {
    let deadline = Instant::now() + WAIT;
    loop {
        p.publish("f/probe", "probe");
        if let Some((s, _)) = nc.next_within(Duration::from_millis(50)) {
            if s == subject {
                break;
            }
        }
        assert!(Instant::now() < deadline, "nothing came through");
    }
    // Drain the other probes.
    while nc.next_within(Duration::from_millis(100)).is_some() {}
}

#[test]
fn a_cluster_node_killed_loses_nothing_published_after_the_reconnect() {
    let mut nodes = Nats::cluster();
    let addrs: Vec<String> = nodes.iter().map(|n| n.addr()).collect();
    let srv = bridged(&format!(
        "nats={},addr={},addr={},name=n,out=f/#,backoff_max=0.2",
        addrs[0], addrs[1], addrs[2]
    ));
    let mut p = srv.peer();
    wait_bridge_field(&mut p, "n", "state", "open", WAIT);
    let mut nc = nodes[2].client();
    nc.sub("f.>");
    until_through(&mut p, &mut nc, "f.probe");
    // The bridge is on node 0: kill it.
    nodes[0].kill();
    wait_bridge_field(&mut p, "n", "connects", "2", WAIT);
    until_through(&mut p, &mut nc, "f.probe");
    for i in 0..200 {
        p.publish("f/data", &i.to_string());
    }
    for i in 0..200 {
        assert_eq!(text(nc.next()), ("f.data".into(), i.to_string()));
    }
    // Confirmations may trail the deliveries a little.
    wait_bridge_field(&mut p, "n", "in_flight", "0", WAIT);
    let f = bridge_fields(&mut p, "n");
    assert_eq!(f["disconnects"], "1");
    // Every write was confirmed, or found unconfirmed when node 0 died and
    // written again.
    let n = |k: &str| f[k].parse::<u64>().unwrap();
    assert_eq!(n("sent"), n("confirmed") + n("resent"), "{f:?}");
    assert!(nodes[1].proc.child.try_wait().unwrap().is_none());
}

#[test]
fn what_a_dying_server_never_confirmed_is_counted_and_sent_to_the_next() {
    use std::io::{BufRead, BufReader, Write};
    // A server that opens the bridge, then takes five publications without
    // confirming them, and dies.
    let fake = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let fake_addr = fake.local_addr().unwrap();
    let got = std::thread::spawn(move || {
        let (s, _) = fake.accept().unwrap();
        let mut w = s.try_clone().unwrap();
        w.write_all(b"INFO {\"max_payload\":1048576}\r\n").unwrap();
        let mut r = BufReader::new(s);
        let mut pubs = Vec::new();
        let mut pinged = false;
        while pubs.len() < 5 {
            let mut line = String::new();
            assert!(r.read_line(&mut line).unwrap() > 0);
            if line.starts_with("PING") && !pinged {
                pinged = true;
                w.write_all(b"PONG\r\n").unwrap();
            } else if let Some(rest) = line.strip_prefix("PUB ") {
                let mut payload = String::new();
                r.read_line(&mut payload).unwrap();
                pubs.push((rest.trim_end().to_string(), payload.trim_end().to_string()));
            }
        }
        pubs
    });
    let nats = Nats::start();
    let srv = bridged(&format!(
        "nats={fake_addr},addr={},name=n,out=q/#,backoff_max=0.05",
        nats.addr()
    ));
    let mut p = srv.peer();
    wait_bridge_field(&mut p, "n", "state", "open", WAIT);
    let mut nc = nats.client();
    nc.sub("q.>");
    for i in 0..5 {
        p.publish("q/m", &i.to_string());
    }
    let taken = got.join().unwrap();
    assert_eq!(taken.len(), 5);
    assert_eq!(taken[0], ("q.m 1".to_string(), "0".to_string()));
    // The fake is gone; the five come again through the real server.
    for i in 0..5 {
        assert_eq!(text(nc.next()), ("q.m".into(), i.to_string()));
    }
    wait_bridge_field(&mut p, "n", "in_flight", "0", WAIT);
    let f = bridge_fields(&mut p, "n");
    let n = |k: &str| f[k].parse::<u64>().unwrap();
    assert_eq!(
        (
            n("sent"),
            n("confirmed"),
            n("resent"),
            n("connects"),
            n("disconnects")
        ),
        (10, 5, 5, 2, 1),
        "{f:?}"
    );
}

#[test]
fn what_is_published_while_the_bridge_is_down_waits_for_it() {
    let nats = Nats::start();
    let mut nc = nats.client();
    nc.sub("w.>");
    // The first address refuses; the next attempt, on the real server,
    // comes after a second or two.
    let dead = procs::free_port();
    let srv = bridged(&format!(
        "nats=127.0.0.1:{dead},addr={},name=n,out=w/#,backoff_initial=2",
        nats.addr()
    ));
    let mut p = srv.peer();
    wait_bridge_field(&mut p, "n", "disconnects", "1", WAIT);
    // Down: a stand-in holds the subscription, and shows in lsconn.
    let lines = util::lsconn(&mut p);
    assert!(
        lines.contains(&format!("bridge-n:127.0.0.1:{dead},w/#\n")),
        "{lines:?}"
    );
    for i in 0..3 {
        p.publish("w/gap", &i.to_string());
    }
    assert_eq!(bridge_fields(&mut p, "n")["waiting"], "3");
    for i in 0..3 {
        assert_eq!(text(nc.next()), ("w.gap".into(), i.to_string()));
    }
    wait_bridge_field(&mut p, "n", "in_flight", "0", WAIT);
    let f = bridge_fields(&mut p, "n");
    assert_eq!((f["sent"].as_str(), f["confirmed"].as_str()), ("3", "3"));
    // One connection, one bridge subscription: the stand-in is gone.
    let lines = util::lsconn(&mut p);
    let bridge: Vec<_> = lines
        .iter()
        .filter(|l| l.starts_with("bridge-n:"))
        .collect();
    assert_eq!(bridge, [&format!("bridge-n:{},w/#\n", nats.addr())]);
}
