//! The MQTT bridge against a real Mosquitto on loopback, with Debian's
//! `mosquitto_pub` and `mosquitto_sub` on the MQTT side (issue 17): both
//! directions at QoS 1 with `+`/`#` filters and no echo, retained messages
//! ↔ ducq's stored last messages, MQTT 3.1.1, a Mosquitto restart (what
//! was published meanwhile reaches the new one), a
//! persistent session that keeps QoS 1 messages while the bridge is away,
//! and a username and password (right, and refused).

mod procs;
mod util;

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use procs::{free_port, Proc};
use util::{bridge_fields, bridged, wait_bridge_field, Peer, WAIT};

/// A Mosquitto logging to stderr, on a given loopback port.
struct Mosquitto {
    proc: Proc,
    port: u16,
    dir: PathBuf,
}

impl Mosquitto {
    fn start() -> Mosquitto {
        Mosquitto::start_on(free_port())
    }

    fn start_on(port: u16) -> Mosquitto {
        Mosquitto::start_conf(port, "allow_anonymous true\n")
    }

    /// A Mosquitto that refuses anonymous clients and knows one user.
    fn start_with_user(user: &str, password: &str) -> Mosquitto {
        let port = free_port();
        let passwd = Mosquitto::dir(port).join("passwd");
        let out = Command::new("mosquitto_passwd")
            .args(["-b", "-c"])
            .arg(&passwd)
            .args([user, password])
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        let conf = format!(
            "allow_anonymous false\npassword_file {}\n",
            passwd.display()
        );
        Mosquitto::start_conf(port, &conf)
    }

    fn dir(port: u16) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("ducq-bridge-mosq-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    /// Mosquitto on `port` with `access` (its anonymous/password lines).
    fn start_conf(port: u16, access: &str) -> Mosquitto {
        let dir = Mosquitto::dir(port);
        let conf = dir.join("mosquitto.conf");
        std::fs::write(
            &conf,
            format!(
                "listener {port} 127.0.0.1\n{access}persistence false\n\
                 log_dest stderr\nlog_type all\n"
            ),
        )
        .unwrap();
        let bin = ["/usr/sbin/mosquitto", "/usr/bin/mosquitto"]
            .into_iter()
            .find(|p| std::path::Path::new(p).exists())
            .unwrap_or("mosquitto");
        let proc = Proc::spawn(Command::new(bin).arg("-c").arg(&conf));
        proc.err().until(" running");
        Mosquitto { proc, port, dir }
    }

    fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// `mosquitto_sub` with client id `id`, once Mosquitto has its
    /// subscription.
    fn sub(&self, id: &str, args: &[&str]) -> Proc {
        let p = Proc::spawn(
            Command::new("mosquitto_sub")
                .args(["-h", "127.0.0.1", "-p", &self.port.to_string(), "-i", id])
                .args(args),
        );
        self.proc
            .err()
            .until(&format!("Received SUBSCRIBE from {id}"));
        p
    }

    /// Runs `mosquitto_pub` to completion.
    fn publish(&self, args: &[&str]) {
        let out = Command::new("mosquitto_pub")
            .args(["-h", "127.0.0.1", "-p", &self.port.to_string()])
            .args(args)
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
    }
}

impl Drop for Mosquitto {
    fn drop(&mut self) {
        self.proc.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Waits until `last R` answers `want`.
fn wait_stored(p: &mut Peer, route: &str, want: &[u8]) {
    let deadline = Instant::now() + WAIT;
    loop {
        p.send(format!("last {route}\n").as_bytes());
        let got = p.recv();
        if got == want {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "last {route}: {:?}",
            String::from_utf8_lossy(&got)
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn both_directions_at_qos_1_with_filters_and_no_echo() {
    let m = Mosquitto::start();
    let srv = bridged(&format!(
        "mqtt={},name=m,out=sensors/#,out=both/#,in=cmd/+/set,in=both/#",
        m.addr()
    ));
    let mut p = srv.peer();
    wait_bridge_field(&mut p, "m", "state", "open", WAIT);
    let ms = m.sub("s1", &["-t", "sensors/#", "-t", "both/#", "-v", "-q", "1"]);
    let mut local = srv.peer();
    local.sub("#");
    p.publish("sensors/t/1", "21.5");
    assert_eq!(ms.out().next(), "sensors/t/1 21.5");
    p.publish("both/x", "from ducq");
    assert_eq!(ms.out().next(), "both/x from ducq");
    m.publish(&["-t", "cmd/door/set", "-m", "open", "-q", "1"]);
    m.publish(&["-t", "cmd/door/x/set", "-m", "two levels"]);
    m.publish(&["-t", "both/y", "-m", "from mosquitto", "-q", "1"]);
    local.expect(b"pub sensors/t/1\n21.5");
    local.expect(b"pub both/x\nfrom ducq");
    local.expect(b"pub cmd/door/set\nopen");
    local.expect(b"pub both/y\nfrom mosquitto");
    local.expect_silence(Duration::from_millis(200));
    assert_eq!(ms.out().next(), "both/y from mosquitto");
    // A route MQTT cannot spell is not forwarded.
    p.publish("sensors/a+b/#", "x");
    wait_bridge_field(&mut p, "m", "unmappable", "1", WAIT);
    wait_bridge_field(&mut p, "m", "in_flight", "0", WAIT);
    let f = bridge_fields(&mut p, "m");
    assert_eq!(
        (
            f["sent"].as_str(),
            f["confirmed"].as_str(),
            f["received"].as_str()
        ),
        ("2", "2", "2")
    );
}

#[test]
fn retained_messages_are_stored_last_messages_both_ways() {
    let m = Mosquitto::start();
    m.publish(&[
        "-t",
        "cmd/early",
        "-m",
        "before the bridge",
        "-r",
        "-q",
        "1",
    ]);
    let srv = bridged(&format!("mqtt={},name=m,out=sensors/#,in=cmd/#", m.addr()));
    let mut p = srv.peer();
    // Retained at Mosquitto before the bridge came: stored here.
    wait_stored(&mut p, "cmd/early", b"pub cmd/early\nbefore the bridge");
    // A ducq publication is retained there.
    p.publish("sensors/kept", "21");
    let deadline = Instant::now() + WAIT;
    loop {
        let out = Command::new("mosquitto_sub")
            .args(["-h", "127.0.0.1", "-p", &m.port.to_string()])
            .args([
                "-t",
                "sensors/kept",
                "--retained-only",
                "-C",
                "1",
                "-W",
                "1",
            ])
            .output()
            .unwrap();
        if String::from_utf8_lossy(&out.stdout) == "21\n" {
            break;
        }
        assert!(Instant::now() < deadline, "not retained: {out:?}");
    }
    // A retained publication there is the stored message here; one that is
    // not retained is delivered but does not replace it.
    let mut local = srv.peer();
    local.sub("cmd/live");
    m.publish(&["-t", "cmd/live", "-m", "kept", "-r", "-q", "1"]);
    local.expect(b"pub cmd/live\nkept");
    m.publish(&["-t", "cmd/live", "-m", "passing", "-q", "1"]);
    local.expect(b"pub cmd/live\npassing");
    p.call(b"last cmd/live\n", b"pub cmd/live\nkept");
}

#[test]
fn mqtt_311_both_ways() {
    let m = Mosquitto::start();
    let srv = bridged(&format!(
        "mqtt={},name=old,mqtt_version=3.1.1,qos=0,out=up/#,in=down/#,in=up/#",
        m.addr()
    ));
    let mut p = srv.peer();
    wait_bridge_field(&mut p, "old", "state", "open", WAIT);
    let ms = m.sub("s311", &["-t", "up/#", "-v", "-V", "mqttv311"]);
    let mut local = srv.peer();
    local.sub("#");
    p.publish("up/a", "1");
    assert_eq!(ms.out().next(), "up/a 1");
    m.publish(&["-t", "down/b", "-m", "2", "-V", "mqttv311"]);
    local.expect(b"pub up/a\n1");
    local.expect(b"pub down/b\n2");
    // up/a came back (3.1.1 has no No Local) and was dropped as an echo.
    local.expect_silence(Duration::from_millis(200));
    let f = bridge_fields(&mut p, "old");
    assert_eq!((f["received"].as_str(), f["ignored"].as_str()), ("1", "1"));
}

#[test]
fn reconnects_after_mosquitto_restarts() {
    let m = Mosquitto::start();
    let port = m.port;
    let srv = bridged(&format!(
        "mqtt={},name=m,out=o/#,in=i/#,backoff_max=0.2",
        m.addr()
    ));
    let mut p = srv.peer();
    wait_bridge_field(&mut p, "m", "state", "open", WAIT);
    drop(m);
    wait_bridge_field(&mut p, "m", "state", "down", WAIT);
    let mut s = srv.peer();
    s.sub("local");
    p.publish("local", "served meanwhile");
    s.expect(b"pub local\nserved meanwhile");
    // Published while Mosquitto is down: it waits in the bridge.
    p.publish("o/while", "kept while down");
    wait_bridge_field(&mut p, "m", "waiting", "1", WAIT);
    let m = Mosquitto::start_on(port);
    wait_bridge_field(&mut p, "m", "connects", "2", WAIT);
    wait_bridge_field(&mut p, "m", "state", "open", WAIT);
    // The restarted Mosquitto (no persistence) has it, retained, from the
    // new connection.
    wait_bridge_field(&mut p, "m", "waiting", "0", WAIT);
    wait_bridge_field(&mut p, "m", "in_flight", "0", WAIT);
    let out = Command::new("mosquitto_sub")
        .args(["-h", "127.0.0.1", "-p", &port.to_string()])
        .args(["-t", "o/while", "--retained-only", "-C", "1", "-W", "5"])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "kept while down\n");
    let ms = m.sub("after", &["-t", "o/x", "-v"]);
    p.publish("o/x", "again");
    assert_eq!(ms.out().next(), "o/x again");
    let mut si = srv.peer();
    si.sub("i/#");
    m.publish(&["-t", "i/y", "-m", "in again", "-q", "1"]);
    si.expect(b"pub i/y\nin again");
}

#[test]
fn the_broker_keeps_qos_1_messages_while_the_bridge_is_away() {
    let m = Mosquitto::start();
    let spec = format!("mqtt={},name=m,client_id=ducq-persist,in=q/#", m.addr());
    let first = bridged(&spec);
    let mut p = first.peer();
    wait_bridge_field(&mut p, "m", "state", "open", WAIT);
    drop(p);
    drop(first);
    m.proc
        .err()
        .until("Client ducq-persist closed its connection");
    m.publish(&["-t", "q/x", "-m", "while away", "-q", "1"]);
    let second = bridged(&spec);
    let mut p = second.peer();
    wait_bridge_field(&mut p, "m", "received", "1", WAIT);
    // The kept message may come between CONNACK and SUBACK, before the
    // connection counts as open.
    wait_bridge_field(&mut p, "m", "state", "open", WAIT);
    let f = bridge_fields(&mut p, "m");
    assert_eq!(f["connects"], "1");
}

#[test]
fn a_username_and_password_are_given_and_a_refusal_is_dialled_again() {
    let m = Mosquitto::start_with_user("bridge", "s3cret");
    let good = bridged(&format!(
        "mqtt={},name=m,client_id=ducq-auth,user=bridge,password=s3cret,out=a/#",
        m.addr()
    ));
    let mut p = good.peer();
    wait_bridge_field(&mut p, "m", "state", "open", WAIT);
    let watch = m.sub(
        "watch",
        &["-u", "bridge", "-P", "s3cret", "-t", "a/#", "-v"],
    );
    p.publish("a/x", "with credentials");
    assert_eq!(watch.out().next(), "a/x with credentials");
    // A wrong password: refused at CONNACK, never open, dialled again; the
    // local broker serves on.
    let bad = bridged(&format!(
        "mqtt={},name=m,client_id=ducq-bad,user=bridge,password=wrong,out=a/#,backoff_max=0.05",
        m.addr()
    ));
    let mut q = bad.peer();
    let deadline = Instant::now() + WAIT;
    while bridge_fields(&mut q, "m")["disconnects"]
        .parse::<u64>()
        .unwrap()
        < 3
    {
        assert!(Instant::now() < deadline, "not dialled again");
        std::thread::sleep(Duration::from_millis(10));
    }
    let f = bridge_fields(&mut q, "m");
    assert_eq!(
        (f["connects"].as_str(), f["state"].as_str()),
        ("0", "down"),
        "{f:?}"
    );
    // Mosquitto answered each CONNECT with reason 0x87, not authorized.
    m.proc.err().until("Sending CONNACK to 127.0.0.1 (0, 135)");
    let mut s = bad.peer();
    s.sub("alive");
    q.publish("alive", "yes");
    s.expect(b"pub alive\nyes");
}
