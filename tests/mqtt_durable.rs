//! MQTT persistent sessions across a restart of a real `ducq-server`
//! with `--data-dir`: the server is SIGKILLed (so only what each turn
//! committed survives) and started again on the same data directory and
//! port. Real clients — paho-mqtt (3.1.1 and 5) and Debian's
//! mosquitto_sub/mosquitto_pub — come back with clean session 0 and get
//! session present, their subscriptions and exactly the QoS 1/2
//! messages published while they were away, before and after the restart;
//! a message sent and not acknowledged before the restart comes again
//! with DUP set; a session whose expiry passed while the server was down
//! is gone; a will waiting for its delay is published after the restart.
//! With `--data-dir none` a restart forgets sessions.

mod mqtt_util;
mod util;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread::sleep;
use std::time::Duration;

use mqtt_util::clients::run;
use mqtt_util::free_port;
use mqtt_util::paho::{
    dying_with_delayed_will, expiring, join_and_leave, publish, publish_qos_1_0_2, rejoin, Sub,
};
use util::{lsconn, Peer};

/// A ducq-server process, killed (SIGKILL) when dropped, and the address
/// of its TCP listener.
struct Server(Child, SocketAddr);

impl Server {
    /// Starts ducq-server with its MQTT listener on `port` and queues
    /// (and sessions) in `dir` when given; returns once it listens and
    /// has read its sessions back.
    fn start(port: u16, dir: Option<&Path>) -> Server {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_ducq-server"));
        cmd.args(["--tcp", "127.0.0.1:0", "--log-level", "info", "--mqtt"])
            .arg(format!("127.0.0.1:{port}"));
        match dir {
            Some(d) => cmd.arg("--data-dir").arg(d),
            None => cmd.args(["--data-dir", "none"]),
        };
        let mut child = cmd
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start ducq-server");
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        let want = format!("listening on 127.0.0.1:{port} (mqtt)");
        let mut tcp = None;
        loop {
            let line = lines.next().expect("server exited").unwrap();
            if line.contains(&want) {
                break;
            }
            if let Some(addr) = line.split("listening on ").nth(1) {
                tcp = addr.trim().parse().ok();
            }
        }
        std::thread::spawn(move || for _ in lines {});
        Server(child, tcp.expect("no TCP listener"))
    }

    /// SIGKILL: no goodbye, nothing flushed beyond what was committed.
    fn kill(mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn data_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("ducq-mqtt-durable-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

/// Away, restarted, back: what was published around the restart.
fn offline_across_restart(version: &[&str]) {
    let dir = data_dir(if version.is_empty() { "paho3" } else { "paho5" });
    let port = free_port();
    let srv = Server::start(port, Some(&dir));
    let mut args = vec!["away", "cmd/#", "1", "1", "--keep-session"];
    args.extend_from_slice(version);
    let connected = join_and_leave(port, &args);
    assert_eq!(connected, "CONNECTED session_present=0");
    // Away: QoS 1 and 2 are kept for it, QoS 0 is not.
    publish_qos_1_0_2(port);
    srv.kill();
    let srv = Server::start(port, Some(&dir));
    // Still away, after the restart.
    publish(port, &["cmd/d", "w", "1"]);
    publish(port, &["other", "v", "1"]);
    args[3] = "3";
    let (connected, rest) = rejoin(port, &args);
    assert_eq!(connected, "CONNECTED session_present=1");
    assert_eq!(rest, ["cmd/a|x|1|0|0|", "cmd/c|z|1|0|0|", "cmd/d|w|1|0|0|"]);
    drop(srv);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn paho_311_session_survives_a_restart() {
    offline_across_restart(&[]);
}

#[test]
fn paho_5_session_survives_a_restart() {
    offline_across_restart(&["--v5"]);
}

#[test]
fn paho_unacknowledged_message_comes_again_with_dup_after_a_restart() {
    let dir = data_dir("dup");
    let port = free_port();
    let srv = Server::start(port, Some(&dir));
    let args = ["dev", "cmd/#", "1", "1", "--keep-session", "--v5"];
    let sub = Sub::start(port, &[&args[..], &["--noack"]].concat());
    publish(port, &["cmd/on", "1", "1"]);
    // Received, never acknowledged, connection dropped.
    assert_eq!(sub.finish(), ["cmd/on|1|1|0|0|"]);
    srv.kill();
    let srv = Server::start(port, Some(&dir));
    let (connected, rest) = rejoin(port, &args);
    assert_eq!(connected, "CONNECTED session_present=1");
    assert_eq!(rest, ["cmd/on|1|1|0|1|"]);
    drop(srv);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn paho_5_session_that_expired_while_the_server_was_down_is_gone() {
    let dir = data_dir("expired");
    let port = free_port();
    let srv = Server::start(port, Some(&dir));
    let short = expiring("short", "2");
    let long = expiring("long", "300");
    for args in [&short, &long] {
        join_and_leave(port, args);
    }
    publish(port, &["cmd/kept", "k", "1"]);
    srv.kill();
    // Down longer than the short session's 2 s.
    sleep(Duration::from_millis(2500));
    let srv = Server::start(port, Some(&dir));
    let (connected, rest) = rejoin(port, &long);
    assert_eq!(connected, "CONNECTED session_present=1");
    assert_eq!(rest, ["cmd/kept|k|1|0|0|"]);
    let sub = Sub::start(port, &short);
    assert_eq!(sub.connected, "CONNECTED session_present=0");
    publish(port, &["cmd/new", "n", "1"]);
    assert_eq!(sub.finish(), ["cmd/new|n|1|0|0|"]);
    drop(srv);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn paho_5_message_expiry_counts_while_away_and_across_a_restart() {
    let dir = data_dir("msg-expiry");
    let port = free_port();
    let srv = Server::start(port, Some(&dir));
    let args = ["exp", "cmd/#", "1", "1", "--v5", "--keep-session"];
    let sub = Sub::start(port, &args);
    publish(port, &["cmd/first", "1", "0", "--v5"]);
    assert_eq!(sub.finish(), ["cmd/first|1|0|0|0|"]);
    publish(port, &["cmd/short", "s", "1", "--v5", "--msg-expiry", "2"]);
    publish(port, &["cmd/long", "l", "1", "--v5", "--msg-expiry", "100"]);
    publish(port, &["cmd/none", "n", "1", "--v5"]);
    srv.kill();
    sleep(Duration::from_millis(2500));
    let srv = Server::start(port, Some(&dir));
    let (connected, rest) = rejoin(
        port,
        &[&args[..2], &["1", "2"], &args[4..], &["--show-expiry"]].concat(),
    );
    assert_eq!(connected, "CONNECTED session_present=1");
    // The short one ran out while it waited; the long one has lost the
    // seconds it waited (2.5 s at least, more on a slow machine). The
    // server rounds what is left up to the second: 97.5 s left reads 98.
    assert_eq!(rest.len(), 2, "{rest:?}");
    let left: u32 = rest[0]
        .strip_prefix("cmd/long|l|1|0|0||expiry=")
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{rest:?}"));
    assert!((80..=98).contains(&left), "{left}");
    assert_eq!(rest[1], "cmd/none|n|1|0|0||expiry=none");
    drop(srv);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn with_data_dir_none_a_restart_forgets_sessions() {
    let port = free_port();
    let srv = Server::start(port, None);
    let args = ["mem", "cmd/#", "1", "1", "--keep-session"];
    join_and_leave(port, &args);
    publish(port, &["cmd/lost", "x", "1"]);
    srv.kill();
    let srv = Server::start(port, None);
    let sub = Sub::start(port, &args);
    assert_eq!(sub.connected, "CONNECTED session_present=0");
    publish(port, &["cmd/after", "y", "1"]);
    assert_eq!(sub.finish(), ["cmd/after|y|1|0|0|"]);
    drop(srv);
}

/// mosquitto_sub with a persistent session (`-c -i ID -q 1`), 3.1.1 or
/// MQTT 5 with a session expiry: subscribes and leaves, is away across
/// a restart, and gets exactly what was published meanwhile.
fn mosquitto_across_restart(id: &str, extra: &[&str]) {
    let dir = data_dir(id);
    let port = free_port();
    let srv = Server::start(port, Some(&dir));
    let session = [&["-c", "-i", id, "-q", "1", "-t", "m/#"][..], extra].concat();
    // Subscribed, then gone (-E: exit once the SUBACK came).
    run("mosquitto_sub", port, &[&session[..], &["-E"]].concat());
    let send = |topic: &str, msg: &str, qos: &str| {
        run("mosquitto_pub", port, &["-t", topic, "-m", msg, "-q", qos]);
    };
    send("m/1", "one", "1");
    send("m/2", "two", "0");
    srv.kill();
    let srv = Server::start(port, Some(&dir));
    send("m/3", "three", "2");
    let got = run(
        "mosquitto_sub",
        port,
        &[&session[..], &["-v", "-C", "2", "-W", "8"]].concat(),
    );
    assert_eq!(got, "m/1 one\nm/3 three\n");
    drop(srv);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn mosquitto_sub_311_session_survives_a_restart() {
    mosquitto_across_restart("msub3", &[]);
}

#[test]
fn mosquitto_sub_5_session_with_expiry_survives_a_restart() {
    mosquitto_across_restart("msub5", &["-V", "mqttv5", "-x", "600"]);
}

/// A will waiting for its delay when the server is killed is kept with
/// its session: after the restart it is published once its delay has
/// passed (the time the server was down counts), once, and a persistent
/// subscriber that was away throughout gets it when it comes back.
#[test]
fn paho_5_a_waiting_will_survives_a_restart() {
    let dir = data_dir("will");
    let port = free_port();
    let srv = Server::start(port, Some(&dir));
    let watcher = ["watcher", "status/#", "1", "1", "--v5", "--keep-session"];
    let sub = Sub::start(port, &watcher);
    publish(port, &["status/first", "1", "0"]);
    assert_eq!(sub.finish(), ["status/first|1|0|0|0|"]);
    // Gone without DISCONNECT; its will waits 5 s, far longer than the
    // server takes to note it and be killed.
    dying_with_delayed_will(port, "5");
    let mut admin = Peer::connect(srv.1);
    let deadline = std::time::Instant::now() + util::WAIT;
    while lsconn(&mut admin)
        .iter()
        .any(|l| l.starts_with("MQTT[dying]"))
    {
        assert!(std::time::Instant::now() < deadline, "dying still listed");
        sleep(Duration::from_millis(10));
    }
    srv.kill();
    let srv = Server::start(port, Some(&dir));
    let mut live = Peer::connect(srv.1);
    live.sub("status/#");
    let will = live.try_recv(Duration::from_secs(20)).expect("the will");
    assert_eq!(will, b"pub status/dying\noffline");
    live.publish("status/end", "marker");
    // The watcher's session kept the will (QoS 1), sent on its return;
    // then the marker, stored, comes as retained after the SUBACK: the
    // will came once.
    let (connected, rest) = rejoin(port, &[&watcher[..2], &["1", "2"], &watcher[4..]].concat());
    assert_eq!(connected, "CONNECTED session_present=1");
    assert_eq!(
        rest,
        ["status/dying|offline|1|0|0|", "status/end|marker|0|1|0|"]
    );
    drop(srv);
    let _ = std::fs::remove_dir_all(&dir);
}
