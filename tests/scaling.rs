//! The scale-out picture of docs/SCALING.md, as processes on loopback:
//! three `ducq-server`s, each bridged (`--bridge nats=...`) to a different
//! node of a three-node `nats-server` cluster. A publication at broker A
//! reaches subscribers at B and C, once each; the node A's bridge is on
//! (its own, unless that one was slow to answer) is held still (SIGSTOP)
//! with ten publications unconfirmed, then SIGKILLed:
//! A moves to another node, sends the ten again (B and C get each once),
//! says so in its log and counters (`resent=10`), and nothing published
//! after it reconnected is lost.

mod nats_util;
mod procs;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use ducq::client::Client;
use nats_util::Nats;
use procs::{Server, WAIT};

/// `ducq-server` bridged to the cluster, its own node first.
fn broker(nodes: &[Nats], first: usize) -> Server {
    let addrs: Vec<String> = (0..3).map(|i| nodes[(first + i) % 3].addr()).collect();
    let spec = format!(
        "nats={},addr={},addr={},name=backbone,out=fleet/#,in=fleet/#,backoff_max=0.2",
        addrs[0], addrs[1], addrs[2]
    );
    Server::start(0, &["--bridge", &spec])
}

/// The `backbone` bridge's fields in the `bridges` listing.
fn fields(s: &Server) -> BTreeMap<String, String> {
    let lines = s.client().list("bridges").unwrap();
    let line = String::from_utf8(lines[1].clone()).unwrap();
    line.split_whitespace()
        .filter_map(|w| w.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn wait_field(s: &Server, key: &str, want: &str) {
    let deadline = Instant::now() + WAIT;
    loop {
        let f = fields(s);
        if f[key] == want {
            return;
        }
        if Instant::now() >= deadline {
            let log = s.log.seen.lock().unwrap().join("\n");
            panic!("{key} never {want}: {f:?}\nits log:\n{log}");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Sends `sig` to the node's process (only that one).
fn signal(node: &Nats, sig: &str) {
    let ok = std::process::Command::new("kill")
        .args([&format!("-{sig}"), &node.proc.child.id().to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok, "kill -{sig}");
}

/// Publishes probes at `a` until every subscriber saw one, then drains
/// the probes: the bridges are up and the cluster knows every interest.
fn until_through(a: &mut Client, subs: &mut [Client]) {
    let deadline = Instant::now() + WAIT;
    for s in subs.iter_mut() {
        s.set_timeout(Some(Duration::from_millis(50))).unwrap();
        loop {
            a.publish("fleet/probe", b"probe").unwrap();
            if s.receive().is_ok() {
                break;
            }
            assert!(Instant::now() < deadline, "probes never came through");
        }
    }
    for s in subs.iter_mut() {
        s.set_timeout(Some(Duration::from_millis(300))).unwrap();
        while s.receive().is_ok() {}
        s.set_timeout(Some(WAIT)).unwrap();
    }
}

/// Publishes `fleet/data` `from..to` at `a`; each subscriber gets them
/// all, in order, once.
fn all_through(a: &mut Client, subs: &mut [Client], from: u32, to: u32) {
    for i in from..to {
        a.publish("fleet/data", i.to_string().as_bytes()).unwrap();
    }
    for s in subs.iter_mut() {
        for i in from..to {
            assert_eq!(
                s.receive().unwrap(),
                format!("pub fleet/data\n{i}").into_bytes()
            );
        }
        s.set_timeout(Some(Duration::from_millis(200))).unwrap();
        assert!(s.receive().is_err(), "a message came twice");
        s.set_timeout(Some(WAIT)).unwrap();
    }
}

#[test]
fn three_brokers_over_a_nats_cluster_survive_a_node_killed() {
    let mut nodes = Nats::cluster();
    let a = broker(&nodes, 0);
    let b = broker(&nodes, 1);
    let c = broker(&nodes, 2);
    for s in [&a, &b, &c] {
        wait_field(s, "state", "open");
    }
    let mut pa = a.client();
    let mut subs: Vec<Client> = [&b, &c].iter().map(|s| s.client()).collect();
    for s in subs.iter_mut() {
        s.subscribe("fleet/#", "").unwrap();
    }
    until_through(&mut pa, &mut subs);
    all_through(&mut pa, &mut subs, 0, 50);
    // A's bridge dials its own node first, but on a busy machine that
    // node may not finish the handshake in time, and the bridge moves on:
    // its log says which node it is on.
    let on = a.log.until("backbone: connected to");
    let on = on.last().unwrap();
    let held = (0..3)
        .find(|&i| on.contains(&format!("connected to {}", nodes[i].addr())))
        .unwrap_or_else(|| panic!("which node? {on}"));
    // Held still (SIGSTOP), that node reads nothing: ten publications
    // wait in its socket, written and unconfirmed.
    wait_field(&a, "in_flight", "0");
    signal(&nodes[held], "STOP");
    for i in 50..60 {
        pa.publish("fleet/data", i.to_string().as_bytes()).unwrap();
    }
    wait_field(&a, "in_flight", "10");
    nodes[held].kill();
    let lost = a.log.until("backbone: connection to");
    let back = a.log.until("backbone: connected to");
    // The ten, which node 0 never read, went to the next node: once each.
    for s in subs.iter_mut() {
        for i in 50..60 {
            assert_eq!(
                s.receive().unwrap(),
                format!("pub fleet/data\n{i}").into_bytes()
            );
        }
    }
    wait_field(&a, "connects", "2");
    wait_field(&a, "state", "open");
    until_through(&mut pa, &mut subs);
    all_through(&mut pa, &mut subs, 60, 160);
    // The counters say what was in flight when node 0 died.
    wait_field(&a, "in_flight", "0");
    let f = fields(&a);
    let n = |k: &str| f[k].parse::<u64>().unwrap();
    assert_eq!((n("disconnects"), n("resent")), (1, 10), "{f:?}");
    assert_eq!(n("sent"), n("confirmed") + n("resent"), "{f:?}");
    let said = lost.last().unwrap();
    assert!(
        said.contains("; 10 unconfirmed will be sent again; retrying in "),
        "{said}"
    );
    assert!(
        back.last()
            .unwrap()
            .contains(&format!("connected to {}", nodes[(held + 1) % 3].addr())),
        "{back:?}"
    );
    // B and C never lost their nodes.
    assert_eq!(fields(&b)["connects"], "1");
    assert_eq!(fields(&c)["connects"], "1");
}
