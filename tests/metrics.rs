//! Metrics (issue 18): `GET /metrics` from `ducq-server` passes `promtool
//! check metrics`, and its counters move exactly as a test publishes,
//! subscribes, is refused, runs a failing Lua command and lets a slow
//! subscriber fall behind; `GET /stats` holds the same numbers as JSON; the
//! `routes` and `conns` pages stay one page whatever the totals; the
//! dashboard's files are served (or not, with `--no-dashboard`) within
//! their size budget.

mod server_bin;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use ducq::client::Client;
use serde_json::Value;
use server_bin::listening;

const WAIT: Duration = Duration::from_secs(10);

struct Server {
    child: Child,
    tcp: SocketAddr,
    http: SocketAddr,
    dir: PathBuf,
}

impl Server {
    /// `ducq-server` on loopback, with a Lua folder holding a command that
    /// always fails (`boom`), plus `extra` flags.
    fn start(name: &str, extra: &[&str]) -> Server {
        let dir = std::env::temp_dir().join(format!("ducq-metrics-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("boom.lua"),
            "commands.boom = { doc = 'fails', exec = function(d, m) error('boom') end }\n",
        )
        .unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_ducq-server"))
            .args(["--tcp", "127.0.0.1:0", "--http", "127.0.0.1:0"])
            .args(["--log-level", "info", "--data-dir", "none", "--lua"])
            .arg(&dir)
            .args(extra)
            .stderr(Stdio::piped())
            .spawn()
            .expect("start ducq-server");
        let addrs = listening(&mut child, 2);
        Server {
            child,
            tcp: addrs[0],
            http: addrs[1],
            dir,
        }
    }

    fn client(&self) -> Client {
        Client::connect(&self.tcp.to_string(), WAIT).unwrap()
    }

    /// `GET path`: status, headers (lowercased names) and body.
    fn get(&self, path: &str) -> (u16, BTreeMap<String, String>, Vec<u8>) {
        let mut s = TcpStream::connect(self.http).unwrap();
        s.set_read_timeout(Some(WAIT)).unwrap();
        write!(
            s,
            "GET {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut raw = Vec::new();
        s.read_to_end(&mut raw).unwrap();
        let end = raw
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .expect("a head");
        let head = String::from_utf8(raw[..end].to_vec()).unwrap();
        let mut lines = head.split("\r\n");
        let status = lines.next().unwrap()[9..12].parse().unwrap();
        let headers = lines
            .filter_map(|l| l.split_once(": "))
            .map(|(k, v)| (k.to_ascii_lowercase(), v.to_owned()))
            .collect();
        (status, headers, raw[end + 4..].to_vec())
    }

    /// The samples of `GET /metrics`: `name{labels}` to value.
    fn metrics(&self) -> BTreeMap<String, f64> {
        let (status, headers, body) = self.get("/metrics");
        assert_eq!(status, 200);
        assert_eq!(
            headers["content-type"],
            "text/plain; version=0.0.4; charset=utf-8"
        );
        parse(&String::from_utf8(body).unwrap())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn parse(text: &str) -> BTreeMap<String, f64> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| {
            let (name, value) = l.rsplit_once(' ').unwrap();
            (name.to_owned(), value.parse().unwrap())
        })
        .collect()
}

fn value(m: &BTreeMap<String, f64>, name: &str) -> f64 {
    m.get(name).copied().unwrap_or(0.0)
}

fn promtool(text: &[u8]) {
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run promtool (apt-get install prometheus; scripts/test.sh does)");
    child.stdin.take().unwrap().write_all(text).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "promtool check metrics failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // It prints nothing for a clean exposition (lint findings otherwise).
    assert_eq!(String::from_utf8_lossy(&out.stdout), "");
    assert_eq!(String::from_utf8_lossy(&out.stderr), "");
}

#[test]
fn metrics_pass_promtool_and_counters_move_as_clients_publish() {
    let srv = Server::start("move", &[]);
    let mut a = srv.client();
    let mut b = srv.client();
    a.subscribe("m/*", "").unwrap();
    b.subscribe("m/x", "").unwrap();
    let mut p = srv.client();

    let (_, _, body) = srv.get("/metrics");
    promtool(&body);
    let before = parse(&String::from_utf8(body).unwrap());

    for i in 0..5 {
        p.publish("m/x", format!("{i}").as_bytes()).unwrap();
    }
    p.publish("other", b"nobody").unwrap();
    p.emit("nope", "r", b"").unwrap();
    assert!(p.receive_reply().is_err());
    p.send(b"boom").unwrap();
    assert!(p.receive_reply().is_err());
    for _ in 0..5 {
        a.receive().unwrap();
        b.receive().unwrap();
    }

    let (_, _, body) = srv.get("/metrics");
    promtool(&body);
    let after = parse(&String::from_utf8(body).unwrap());
    let delta = |name: &str| value(&after, name) - value(&before, name);
    // 6 pub, nope, boom, and this GET /metrics itself.
    assert_eq!(delta("ducq_messages_received_total"), 9.0);
    assert_eq!(delta("ducq_publications_total"), 6.0);
    assert_eq!(delta("ducq_deliveries_total"), 10.0);
    // 6 ACKs, 2 NACKs, 10 deliveries, and the answer to the first GET.
    assert_eq!(delta("ducq_messages_sent_total"), 19.0);
    assert_eq!(delta("ducq_nacks_total{code=\"17\",state=\"ENOCMD\"}"), 1.0);
    assert_eq!(delta("ducq_nacks_total{code=\"22\",state=\"ELUA\"}"), 1.0);
    assert_eq!(delta("ducq_command_set_calls_total{set=\"lua\"}"), 1.0);
    assert_eq!(delta("ducq_command_set_errors_total{set=\"lua\"}"), 1.0);
    assert!(delta("ducq_command_set_seconds_total{set=\"lua\"}") > 0.0);
    assert!(delta("ducq_received_bytes_total") > 0.0);
    assert!(delta("ducq_sent_bytes_total") > 0.0);
    assert_eq!(value(&after, "ducq_routes_stored"), 2.0);
    assert_eq!(value(&after, "ducq_subscriptions"), 2.0);
    let tcp = format!("{{listener=\"{}\",protocol=\"tcp\"}}", srv.tcp);
    assert_eq!(value(&after, &format!("ducq_connections{tcp}")), 3.0);
    let accepted = format!(
        "ducq_connections_accepted_total{{listener=\"{}\"}}",
        srv.tcp
    );
    assert_eq!(value(&after, &accepted), 3.0);
    assert!(value(&after, "process_resident_memory_bytes") > 1e6);
    // Listeners, the three clients, this request: at least that many fds.
    assert!(value(&after, "process_open_fds") >= 6.0);

    // A connection that closes is no longer counted; its bytes stay.
    let sent = value(&after, "ducq_received_bytes_total");
    drop(b);
    let deadline = Instant::now() + WAIT;
    loop {
        let m = srv.metrics();
        if value(&m, &format!("ducq_connections{tcp}")) == 2.0 {
            assert!(value(&m, "ducq_received_bytes_total") > sent);
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the closed connection stays counted"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn stats_holds_the_same_numbers_as_json() {
    let srv = Server::start("stats", &[]);
    let mut c = srv.client();
    c.subscribe("s/*", "").unwrap();
    let mut p = srv.client();
    for _ in 0..3 {
        p.publish("s/a", b"x").unwrap();
    }
    p.emit("nope", "r", b"").unwrap();
    assert!(p.receive_reply().is_err());
    let m = srv.metrics();
    let (status, headers, body) = srv.get("/stats");
    assert_eq!(status, 200);
    assert_eq!(headers["content-type"], "application/json");
    let s: Value = serde_json::from_slice(&body).expect("/stats is JSON");
    assert_eq!(s["version"], env!("CARGO_PKG_VERSION"));
    for (json, prom) in [
        ("publications", "ducq_publications_total"),
        ("deliveries", "ducq_deliveries_total"),
        (
            "slow_consumer_disconnects",
            "ducq_slow_consumer_disconnects_total",
        ),
        ("routes_stored", "ducq_routes_stored"),
        ("subscriptions", "ducq_subscriptions"),
    ] {
        assert_eq!(s[json].as_f64(), Some(value(&m, prom)), "{json}");
    }
    assert_eq!(s["publications"], 3);
    assert_eq!(s["nacks"]["17"], 1);
    // The GET /stats itself is one more message than /metrics counted.
    assert_eq!(
        s["messages_received"].as_f64(),
        Some(value(&m, "ducq_messages_received_total") + 1.0)
    );
    let tcp = s["connections"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["listener"] == srv.tcp.to_string().as_str())
        .expect("the TCP listener's group");
    assert_eq!(
        (tcp["protocol"].as_str(), tcp["count"].as_u64()),
        (Some("tcp"), Some(2))
    );
    assert!(s["process"]["resident_memory_bytes"].as_u64().unwrap() > 1_000_000);
    assert!(s["process"]["open_fds"].as_u64().unwrap() >= 5);

    // Over the wire too, with the per-second history once a second passed.
    let mut c = srv.client();
    let deadline = Instant::now() + WAIT;
    loop {
        c.emit("stats", "_", b"history").unwrap();
        let reply = c.receive().unwrap();
        let s: Value = serde_json::from_slice(&reply).unwrap();
        let h = &s["history"];
        assert_eq!(h["interval_seconds"], 1);
        let n = h["connections"].as_array().unwrap().len();
        assert_eq!(h["messages_received"].as_array().unwrap().len(), n);
        if n > 0 {
            assert!(
                h["connections"].as_array().unwrap()[n - 1]
                    .as_u64()
                    .unwrap()
                    >= 2
            );
            break;
        }
        assert!(Instant::now() < deadline, "no history sample");
        std::thread::sleep(Duration::from_millis(100));
    }
    c.emit("stats", "_", b"bogus").unwrap();
    assert_eq!(c.receive().unwrap(), b"NACK *\n15\nmessage invalid");
}

#[test]
fn a_slow_consumer_is_counted_with_the_bytes_it_lost() {
    let srv = Server::start("slow", &["--max-output", "65536"]);
    let mut lazy = srv.client();
    lazy.subscribe("big", "").unwrap(); // and never reads again
    let mut p = srv.client();
    let payload = vec![b'z'; 256 << 10];
    let deadline = Instant::now() + WAIT;
    loop {
        p.publish("big", &payload).unwrap();
        let m = srv.metrics();
        if value(&m, "ducq_slow_consumer_disconnects_total") == 1.0 {
            assert!(value(&m, "ducq_dropped_bytes_total") > 65536.0);
            assert_eq!(value(&m, "ducq_subscriptions"), 0.0);
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the slow consumer was never cut off"
        );
    }
}

fn page(c: &mut Client, command: &str, route: &str, window: &str) -> Value {
    c.emit(command, route, window.as_bytes()).unwrap();
    serde_json::from_slice(&c.receive().unwrap()).unwrap()
}

#[test]
fn routes_and_conns_answer_one_page_with_the_totals() {
    let srv = Server::start("pages", &[]);
    let mut c = srv.client();
    for i in 0..120 {
        c.publish(&format!("p/{i:03}"), &vec![b'v'; 300 + i])
            .unwrap();
    }
    let mut sub = srv.client();
    sub.subscribe("p/1*", "").unwrap();
    sub.subscribe("p/100", "add").unwrap();
    c.publish("p/100", b"again").unwrap();

    let all = page(&mut c, "routes", "*", "");
    assert_eq!(
        (all["total"].as_u64(), all["offset"].as_u64()),
        (Some(120), Some(0))
    );
    assert_eq!(all["items"].as_array().unwrap().len(), 50);
    let last = page(&mut c, "routes", "p/*", "100 50");
    let items = last["items"].as_array().unwrap();
    assert_eq!(items.len(), 20);
    assert_eq!(
        items[0],
        serde_json::json!({"route": "p/100", "payload": "again", "truncated": false,
                            "size": 5, "subscribers": 1, "published": 2})
    );
    assert_eq!(items[1]["route"], "p/101");
    assert_eq!(items[1]["payload"].as_str().unwrap().len(), 200);
    assert_eq!(items[1]["truncated"], true);
    assert_eq!(items[1]["size"], 401);
    let none = page(&mut c, "routes", "q/*", "");
    assert_eq!(
        none,
        serde_json::json!({"total": 0, "offset": 0, "items": []})
    );
    c.emit("routes", "*", b"ten").unwrap();
    assert_eq!(c.receive().unwrap(), b"NACK *\n15\nmessage invalid");

    let conns = page(&mut c, "conns", "*", "0 1");
    assert_eq!(conns["total"], 2);
    assert_eq!(conns["items"].as_array().unwrap().len(), 1);
    let mine = page(&mut c, "conns", &sub.id(), "");
    assert_eq!(mine["total"], 1);
    let item = &mine["items"][0];
    assert_eq!(item["id"], sub.id().as_str());
    assert_eq!(item["protocol"], "TCP");
    assert_eq!(item["listener"], srv.tcp.to_string().as_str());
    assert_eq!(item["subscriptions"], serde_json::json!(["p/1*", "p/100"]));
    assert_eq!(item["subscription_count"], 2);
    assert!(item["bytes_in"].as_u64().unwrap() > 0);
    assert!(item["bytes_out"].as_u64().unwrap() > 0);
}

#[test]
fn queue_depths_consumers_in_flight_and_ages_in_metrics_and_stats() {
    let srv = Server::start("queues", &[]);
    let mut p = srv.client();
    let before = srv.metrics();
    for i in 0..3 {
        p.enqueue("mq.a", format!("a{i}").as_bytes()).unwrap();
    }
    p.enqueue("mq.b/x", b"b").unwrap();
    let mut consumer = srv.client();
    consumer.consume("mq.a", 1).unwrap();
    let held = consumer.next_delivery().unwrap();
    assert_eq!(held.payload, b"a0");
    std::thread::sleep(Duration::from_millis(20));

    let (_, _, body) = srv.get("/metrics");
    promtool(&body);
    let m = parse(&String::from_utf8(body).unwrap());
    let q = |name: &str, queue: &str| value(&m, &format!("{name}{{queue=\"{queue}\"}}"));
    assert_eq!(value(&m, "ducq_queues"), 2.0);
    assert_eq!(value(&m, "ducq_queue_payload_bytes"), 7.0);
    for (name, a, b) in [
        ("ducq_queue_depth", 3.0, 1.0),
        ("ducq_queue_ready", 2.0, 1.0),
        ("ducq_queue_in_flight", 1.0, 0.0),
        ("ducq_queue_consumers", 1.0, 0.0),
    ] {
        assert_eq!((q(name, "mq.a"), q(name, "mq.b/x")), (a, b), "{name}");
    }
    assert!(q("ducq_queue_oldest_age_seconds", "mq.a") >= 0.02);
    // Four enqueues, each its own turn (the client waits for each id).
    let commits =
        value(&m, "ducq_queue_commits_total") - value(&before, "ducq_queue_commits_total");
    assert!(commits >= 4.0, "{commits}");
    assert_eq!(value(&m, "ducq_queue_commit_failures_total"), 0.0);

    // /stats: the same figures, each queue as lsq renders it in JSON.
    let (_, _, body) = srv.get("/stats");
    let s: Value = serde_json::from_slice(&body).unwrap();
    let queues = s["queues"].as_array().unwrap();
    assert_eq!(queues.len(), 2);
    assert!(queues[0]["oldest_ms"].as_u64().unwrap() >= 20);
    let mut first = queues[0].clone();
    first["oldest_ms"] = 0.into();
    assert_eq!(
        first,
        serde_json::json!({"name": "mq.a", "depth": 3, "ready": 2, "in_flight": 1,
                            "consumers": 1, "oldest_ms": 0})
    );
    assert_eq!(queues[1]["name"], "mq.b/x");
    let t = &s["queue_totals"];
    assert_eq!(
        (
            t["queues"].as_u64(),
            t["depth"].as_u64(),
            t["in_flight"].as_u64()
        ),
        (Some(2), Some(4), Some(1))
    );
    assert_eq!(t["payload_bytes"], 7);
    assert_eq!(t["commit_failures"], 0);
    assert!(t["commits"].as_u64().unwrap() >= 4);

    // The acknowledgement moves them.
    consumer.ack("mq.a", held.id).unwrap();
    let m = srv.metrics();
    let q = |name: &str| value(&m, &format!("{name}{{queue=\"mq.a\"}}"));
    assert_eq!(q("ducq_queue_depth"), 2.0);
    // The next message went to the consumer at once (prefetch 1).
    assert_eq!(q("ducq_queue_in_flight"), 1.0);

    // The dashboard's summary leaves the queues to the paged command.
    let mut c = srv.client();
    c.emit("stats", "_", b"summary").unwrap();
    let s: Value = serde_json::from_slice(&c.receive().unwrap()).unwrap();
    assert_eq!(s["queues"], serde_json::json!([]));
    assert_eq!(s["queue_totals"]["depth"], 3);
    let all = page(&mut c, "queues", "*", "");
    assert_eq!(all["total"], 2);
    assert_eq!(all["items"][0]["name"], "mq.a");
    assert_eq!(all["items"][0]["depth"], 2);
    let some = page(&mut c, "queues", "b/", "0 10");
    assert_eq!(some["total"], 1);
    assert_eq!(some["items"][0]["name"], "mq.b/x");
    let none = page(&mut c, "queues", "*", "5 10");
    assert_eq!(
        none,
        serde_json::json!({"total": 2, "offset": 5, "items": []})
    );
}

#[test]
fn dashboard_files_are_served_within_budget_unless_turned_off() {
    let srv = Server::start("dash", &[]);
    let (status, headers, html) = srv.get("/");
    assert_eq!(status, 200);
    assert_eq!(headers["content-type"], "text/html; charset=utf-8");
    assert!(String::from_utf8_lossy(&html).contains("<script src=\"/dashboard/app.js\">"));
    let mut total = html.len();
    for (path, media) in [
        ("/dashboard/app.js", "text/javascript; charset=utf-8"),
        ("/dashboard/app.css", "text/css; charset=utf-8"),
    ] {
        let (status, headers, body) = srv.get(path);
        assert_eq!(
            (status, headers["content-type"].as_str()),
            (200, media),
            "{path}"
        );
        total += body.len();
    }
    let (status, _, body) = srv.get("/dashboard/missing.js");
    assert_eq!(status, 404);
    assert_eq!(body, b"{\"error\":\"not found\",\"code\":19}");
    // The budget is 150 KB compressed; uncompressed is already below it.
    assert!(total < 150 << 10, "{total} bytes");

    let off = Server::start("nodash", &["--no-dashboard"]);
    let (status, _, body) = off.get("/");
    assert_eq!(status, 404);
    assert_eq!(body, b"{\"error\":\"command unknown\",\"code\":17}");
    assert_eq!(off.get("/dashboard/app.js").0, 404);
    assert_eq!(off.get("/metrics").0, 200);
    assert_eq!(off.get("/stats").0, 200);
    let mut c = off.client();
    let names: Vec<String> = c
        .list("lscmd")
        .unwrap()
        .iter()
        .map(|l| String::from_utf8_lossy(l).into_owned())
        .collect();
    assert!(names.iter().any(|l| l.starts_with("\"metrics\",")));
    assert!(!names.iter().any(|l| l.starts_with("\"dashboard\",")));
}
