//! End-to-end checks of the bench's ducq client against the library's own
//! broker, run in-process on 127.0.0.1:0 over TCP and WebSocket with small
//! counts: every path the real suite takes (pipelined publisher with ACK
//! draining, fan-out, pacing with timing, lock-step idle fan-out) but in
//! well under a second, and the suite's warm-up round as the broker sees
//! it. The peers' protocols are covered by byte-level unit
//! tests; they need external servers, which tests do not start. The MQTT
//! client also runs against the library's own MQTT listener.

use std::net::SocketAddr;
use std::sync::mpsc;
use std::time::Duration;

use ducq::server::{Level, Reactor, Settings, StopHandle};
use ducq::transport::mqtt;
use ducq::transport::ws::WsServer;

use super::args::{parse, Command};
use super::payload;
use super::run::{run, Spec};
use super::suite::run_all;
use super::wire::{Endpoint, Kind};

struct Server {
    tcp: SocketAddr,
    ws: SocketAddr,
    mqtt: SocketAddr,
    stop: StopHandle,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Server {
    fn start() -> Server {
        let (tx, rx) = mpsc::channel();
        let thread = std::thread::spawn(move || {
            let settings = Settings {
                log_level: Level::Off,
                ..Settings::default()
            };
            let max = settings.max_message;
            let mut r = Reactor::new(settings).expect("reactor");
            let tcp = r.listen_tcp("127.0.0.1:0").expect("tcp");
            let ws = r
                .listen(
                    "127.0.0.1:0",
                    Box::new(move || Box::new(WsServer::new(max))),
                )
                .expect("ws");
            let mqtt = r
                .listen("127.0.0.1:0", mqtt::factory(mqtt::Config::default()))
                .expect("mqtt");
            tx.send((tcp, ws, mqtt, r.stop_handle())).unwrap();
            r.run().expect("run");
        });
        let (tcp, ws, mqtt, stop) = rx
            .recv_timeout(Duration::from_secs(5))
            .expect("server start");
        Server {
            tcp,
            ws,
            mqtt,
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.stop();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn spec(kind: Kind, addr: SocketAddr, topic: &str) -> Spec {
    Spec {
        label: format!("test {topic}"),
        endpoint: Endpoint { kind, addr },
        topic: topic.into(),
        subscribers: 1,
        count: 2000,
        size: 64,
        rate: None,
        window: Some(500),
        timing: false,
        rss_pid: None,
        cpu_pid: None,
        timeout: Duration::from_secs(20),
        buf: 4096,
        patterns: 0,
    }
}

#[test]
fn ducq_tcp_and_ws_one_to_one() {
    let s = Server::start();
    for (kind, addr) in [(Kind::DucqTcp, s.tcp), (Kind::DucqWs, s.ws)] {
        let m = run(&spec(kind, addr, &format!("{kind:?}"))).unwrap();
        assert_eq!(m.deliveries, 2000);
        assert_eq!(m.acks, 2000, "{kind:?}: every publication acknowledged");
        assert!(m.elapsed_s > 0.0);
        assert_eq!(m.cpu_ns, None, "no pid given, no CPU reading");
    }
}

/// The broker's CPU reading: here the broker runs in this process, so its
/// threads (and the bench's) did the run's work; the reading cannot be
/// zero, and no larger than all of this process's CPU time.
#[test]
fn ducq_cpu_time_of_the_run_is_read() {
    let s = Server::start();
    let mut one = spec(Kind::DucqTcp, s.tcp, "cpu");
    one.cpu_pid = Some(std::process::id());
    let m = run(&one).unwrap();
    assert_eq!(m.deliveries, 2000);
    let spent = m.cpu_ns.expect("a CPU reading");
    let total = super::sys::cpu_ns(std::process::id()).unwrap();
    assert!(spent > 0 && spent <= total, "{spent} of {total}");
}

#[test]
fn ducq_fan_out_large_and_paced() {
    let s = Server::start();
    let mut fan = spec(Kind::DucqTcp, s.tcp, "fan");
    fan.subscribers = 8;
    fan.count = 500;
    assert_eq!(run(&fan).unwrap().deliveries, 4000);

    let mut large = spec(Kind::DucqTcp, s.tcp, "large");
    large.count = 50;
    large.size = 64 * 1024;
    large.window = Some(8);
    assert_eq!(run(&large).unwrap().deliveries, 50);

    let mut paced = spec(Kind::DucqTcp, s.tcp, "paced");
    paced.count = 200;
    paced.rate = Some(2000.0);
    paced.window = None;
    paced.timing = true;
    let m = run(&paced).unwrap();
    assert_eq!(m.latencies_ns.len(), 200);
    // 200 messages at 2000/s take about 0.1 s, not less.
    assert!(m.elapsed_s >= 0.09, "{}", m.elapsed_s);
}

#[test]
fn ducq_idle_fan_out_lock_step() {
    let s = Server::start();
    let mut idle = spec(Kind::DucqTcp, s.tcp, "idle");
    idle.subscribers = 300;
    idle.count = 3;
    idle.window = Some(1);
    idle.timing = true;
    idle.rss_pid = Some(std::process::id());
    let m = run(&idle).unwrap();
    assert_eq!(m.deliveries, 900);
    assert_eq!(m.fanout_ns.len(), 3);
    assert!(m.fanout_ns.iter().all(|&f| f > 0));
    assert!(m.rss_kib.is_some());
}

#[test]
fn unreachable_broker_fails_cleanly() {
    // Bind then drop a listener: its port is (almost certainly) closed now.
    let addr = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let err = run(&spec(Kind::DucqTcp, addr, "nobody")).unwrap_err();
    assert!(err.contains("connect"), "{err}");
}

#[test]
fn mqtt_client_against_ducqs_mqtt_listener() {
    let s = Server::start();
    let m = run(&spec(Kind::Mqtt, s.mqtt, "mqtt/one")).unwrap();
    assert_eq!(m.deliveries, 2000);
    let mut fan = spec(Kind::Mqtt, s.mqtt, "mqtt/fan");
    fan.subscribers = 8;
    fan.count = 500;
    assert_eq!(run(&fan).unwrap().deliveries, 4000);
}

/// S7's shape: fan-out with pattern subscriptions held beside the run's;
/// none of them receives anything, so the deliveries are exactly those of
/// the run's own subscribers.
#[test]
fn ducq_fan_out_beside_pattern_subscriptions() {
    let s = Server::start();
    let mut fan = spec(Kind::DucqTcp, s.tcp, "pat/live");
    fan.subscribers = 4;
    fan.count = 500;
    fan.patterns = 3000;
    let m = run(&fan).unwrap();
    assert_eq!(m.deliveries, 2000);
    assert_eq!(m.acks, 500);
}

/// The suite's first round runs each throughput scenario once more,
/// uncounted and a quarter as long, on a topic of its own; paced S3 gets
/// no warm-up. Seen from the broker: the last message stored on each
/// run's topic.
#[test]
fn the_first_round_warms_throughput_scenarios_up() {
    let s = Server::start();
    let argv: Vec<String> = format!(
        "--ducq {} --scenarios S1,S3 --runs 2 --messages 2000 --window 500",
        s.tcp
    )
    .split_whitespace()
    .map(String::from)
    .collect();
    let Ok(Command::Run(c)) = parse(&argv) else {
        panic!("arguments refused");
    };
    let results = run_all(&c);
    assert!(results.failures.is_empty(), "{:?}", results.failures);

    let mut client =
        ducq::client::Client::connect(&s.tcp.to_string(), Duration::from_secs(5)).expect("connect");
    let pid = std::process::id();
    // The sequence number of the last message stored on `topic`, if any.
    let mut last_seq = |topic: String| -> Option<u64> {
        client.emit("last", &topic, b"").expect("send");
        let reply = client.receive_reply().expect("reply");
        let m = ducq::proto::Message::parse(&reply).ok()?;
        (m.command == b"pub").then(|| payload::read(m.payload).expect("payload").0)
    };
    assert_eq!(last_seq(format!("bench-ducq-S1-{pid}-0-warm")), Some(499));
    assert_eq!(last_seq(format!("bench-ducq-S1-{pid}-0")), Some(1999));
    assert_eq!(last_seq(format!("bench-ducq-S1-{pid}-1")), Some(1999));
    assert_eq!(last_seq(format!("bench-ducq-S1-{pid}-1-warm")), None);
    assert_eq!(last_seq(format!("bench-ducq-S3-{pid}-0")), Some(999));
    assert_eq!(last_seq(format!("bench-ducq-S3-{pid}-0-warm")), None);
}
