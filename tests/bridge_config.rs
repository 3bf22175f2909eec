//! Bridges from the configuration file (issue 17): `[[bridge]]` tables
//! dial real `ducq-server` peers, `--test-config` names a bad table's line,
//! and SIGHUP adds, changes and removes bridges while a local client stays
//! connected; a broken bridge table is refused whole and the running
//! bridges stay.

mod secure_util;

use std::process::Command;
use std::time::Duration;

use ducq::client::Client;
use secure_util::*;

/// A `ducq-server` on a loopback port, with a subscriber to `pattern`.
fn peer(pattern: &str) -> (Server, Client) {
    let s = Server::start(&["--tcp", "127.0.0.1:0", "--data-dir", "none"]);
    let mut c = Client::connect(&s.addr("", 0), WAIT).unwrap();
    c.subscribe(pattern, "").unwrap();
    (s, c)
}

/// A `[[bridge]]` table of a ducq bridge.
fn table(name: &str, addr: &str, out: &str) -> String {
    format!("[[bridge]]\nkind = \"ducq\"\nname = \"{name}\"\naddr = \"{addr}\"\nout = [\"{out}\"]\nbackoff_max = 0.2\n\n")
}

fn file(dir: &TempDir, bridges: &str) -> String {
    dir.write(
        "ducq.toml",
        &format!(
            "[[listener]]\nkind = \"tcp\"\naddr = \"127.0.0.1:0\"\n\n[queues]\ndata_dir = \"none\"\n\n{bridges}"
        ),
    )
}

/// Publishes `payload` on `route` at `local` until `remote` receives it
/// (a bridge that just connected may not be subscribed yet at the remote).
fn crosses(local: &mut Client, remote: &mut Client, route: &str, payload: &str) {
    let want = format!("pub {route}\n{payload}");
    let deadline = std::time::Instant::now() + WAIT;
    remote
        .set_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    loop {
        local.publish(route, payload.as_bytes()).unwrap();
        if let Ok(m) = remote.receive() {
            assert_eq!(String::from_utf8_lossy(&m), want);
            // Sent more than once: take the others.
            while remote.receive().is_ok() {}
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{route} never crossed"
        );
    }
}

fn silent(remote: &mut Client) {
    remote
        .set_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    match remote.receive() {
        Ok(m) => panic!("unexpected {:?}", String::from_utf8_lossy(&m)),
        Err(e) => assert!(matches!(e, ducq::client::Error::Timeout), "{e:?}"),
    }
}

#[test]
fn test_config_names_a_bad_bridge_table_by_its_line() {
    let dir = TempDir::new("bridge-check");
    let path = file(
        &dir,
        "[[bridge]]\nkind = \"mqtt\"\naddr = \"127.0.0.1:1883\"\nout = [\"a/#\"]\ntls = true\nca = \"nowhere.pem\"\n\n\
         [[bridge]]\nkind = \"nats\"\naddr = \"nats.lan:4222\"\nout = [\"a\"]\n",
    );
    let out = Command::new(env!("CARGO_BIN_EXE_ducq-server"))
        .args(["--config", &path, "--test-config"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    let ca = dir.path("nowhere.pem");
    assert_eq!(
        err,
        format!(
            "ducq-server: {path}:8: [[bridge]] ca: {ca}: No such file or directory (os error 2)\n\
             ducq-server: {path}:15: [[bridge]] 'nats.lan:4222': expected a numeric address, IP:PORT\n"
        )
    );
    let good = file(&dir, &table("b", "127.0.0.1:1", "a/#"));
    let out = Command::new(env!("CARGO_BIN_EXE_ducq-server"))
        .args(["--config", &good, "--test-config"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "configuration ok\n");
}

#[test]
fn a_reload_adds_changes_and_removes_bridges_while_clients_stay() {
    let dir = TempDir::new("bridge-reload");
    let (b, mut at_b) = peer("#");
    let (c, mut at_c) = peer("#");
    let (b_addr, c_addr) = (b.addr("", 0), c.addr("", 0));
    let path = file(&dir, &table("one", &b_addr, "a/#"));
    let s = Server::start_kinds(&["--config", &path], &[""]);
    s.wait_log(&format!("bridge-one: connected to {b_addr}"));
    let addr = s.addr("", 0);
    let mut local = Client::connect(&addr, WAIT).unwrap();
    let mut watcher = Client::connect(&addr, WAIT).unwrap();
    watcher.subscribe("#", "").unwrap();
    crosses(&mut local, &mut at_b, "a/1", "to b");

    // "one" changes its out pattern; "two" is added.
    file(
        &dir,
        &format!(
            "{}{}",
            table("one", &b_addr, "c/#"),
            table("two", &c_addr, "a/#")
        ),
    );
    s.signal("HUP");
    s.wait_log("bridge-one: changed by the reload: reconnecting, 0 undelivered taken over");
    s.wait_log("bridge-two: added by the reload");
    s.wait_log("configuration reloaded");
    crosses(&mut local, &mut at_c, "a/2", "to c");
    crosses(&mut local, &mut at_b, "c/1", "to b again");
    local.publish("a/3", b"not to b").unwrap();
    silent(&mut at_b);

    // "one" is removed; "two" is left alone (no reconnect).
    file(&dir, &table("two", &c_addr, "a/#"));
    s.signal("HUP");
    s.wait_log("bridge-one: removed by the reload");
    s.wait_log("configuration reloaded");
    while at_c.receive().is_ok() {}
    local.publish("c/2", b"nowhere").unwrap();
    silent(&mut at_b);
    local.publish("a/4", b"still to c").unwrap();
    at_c.set_timeout(Some(WAIT)).unwrap();
    assert_eq!(at_c.receive().unwrap(), b"pub a/4\nstill to c");

    // A broken bridge table: the whole file is refused, "two" stays.
    file(
        &dir,
        &format!(
            "{}[[bridge]]\nkind = \"amqp\"\naddr = \"127.0.0.1:1\"\n",
            table("two", &c_addr, "a/#")
        ),
    );
    s.signal("HUP");
    s.wait_log("[[bridge]] unknown bridge kind 'amqp' (ducq, mqtt or nats)");
    s.wait_log("configuration refused; the running one stays");
    local.publish("a/5", b"after the refusal").unwrap();
    assert_eq!(at_c.receive().unwrap(), b"pub a/5\nafter the refusal");

    // The local clients never noticed: same connections, every message.
    watcher.set_timeout(Some(WAIT)).unwrap();
    let mut seen = Vec::new();
    while seen.last().map(Vec::as_slice) != Some(&b"pub a/5\nafter the refusal"[..]) {
        seen.push(watcher.receive().unwrap());
    }
    for want in [
        "pub a/3\nnot to b",
        "pub c/2\nnowhere",
        "pub a/4\nstill to c",
    ] {
        assert!(seen.iter().any(|m| m == want.as_bytes()), "{want} missing");
    }
    local.emit("PING", "_", b"p").unwrap();
    assert_eq!(local.receive().unwrap(), b"PONG _\np");
    // "two" connected once only: the reloads did not redial it.
    let mut ctl = Client::connect(&addr, WAIT).unwrap();
    let listing: String = ctl
        .list("bridges")
        .unwrap()
        .iter()
        .map(|l| String::from_utf8_lossy(l).into_owned())
        .collect();
    assert!(listing.contains("two kind=ducq"), "{listing}");
    assert!(listing.contains(" connects=1 "), "{listing}");
    assert!(!listing.contains("one kind="), "{listing}");
}
