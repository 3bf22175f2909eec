//! Durable queues mirrored to a JetStream stream by a NATS bridge (issue
//! 17), against a real `nats-server -js` on loopback with a store in a
//! temporary directory: every message enqueued on a mirrored queue is in
//! the stream exactly once — across a SIGKILL and restart of the server,
//! and across a connection cut after JetStream stored messages whose
//! acknowledgements never reached the bridge (sent again, de-duplicated
//! by their `Nats-Msg-Id`). The stream is read back with the JetStream
//! API (`STREAM.INFO`, `STREAM.MSG.GET`) by a small client in the test.

mod nats_util;
mod procs;
mod util;

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use base64::Engine;
use nats_util::{Nats, NatsClient};
use util::{bridge_fields, bridged_logging, log_line, wait_bridge_field, Peer, WAIT};

fn temp_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("ducq-js-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Enqueues `payload` on `queue`; the answer is its id.
fn enq(p: &mut Peer, queue: &str, payload: &str) -> u64 {
    p.send(format!("enq {queue}\n{payload}").as_bytes());
    let id = p.recv();
    String::from_utf8(id).unwrap().parse().expect("an id")
}

/// One message of a stream.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Stored {
    subject: String,
    queue: String,
    id: u64,
    payload: String,
    msg_id: String,
}

fn json(bytes: &[u8]) -> serde_json::Value {
    serde_json::from_slice(bytes).unwrap_or_else(|e| panic!("{e}: {bytes:?}"))
}

fn number_of_messages(nc: &mut NatsClient, stream: &str) -> u64 {
    let info = json(&nc.request(&format!("$JS.API.STREAM.INFO.{stream}"), b""));
    info["state"]["messages"]
        .as_u64()
        .unwrap_or_else(|| panic!("{info}"))
}

/// Every message of `stream`, by sequence, read with `STREAM.MSG.GET`.
fn stream_messages(nc: &mut NatsClient, stream: &str) -> Vec<Stored> {
    let info = json(&nc.request(&format!("$JS.API.STREAM.INFO.{stream}"), b""));
    let (first, last) = (
        info["state"]["first_seq"].as_u64().unwrap(),
        info["state"]["last_seq"].as_u64().unwrap(),
    );
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut out = Vec::new();
    for seq in first..=last {
        let req = format!("{{\"seq\":{seq}}}");
        let got = json(&nc.request(&format!("$JS.API.STREAM.MSG.GET.{stream}"), req.as_bytes()));
        let m = &got["message"];
        let hdrs = b64.decode(m["hdrs"].as_str().unwrap()).unwrap();
        let hdrs = String::from_utf8(hdrs).unwrap();
        let header = |k: &str| {
            hdrs.lines()
                .find_map(|l| l.strip_prefix(&format!("{k}: ")))
                .unwrap_or_else(|| panic!("no {k} in {hdrs:?}"))
                .to_string()
        };
        let data = b64.decode(m["data"].as_str().unwrap_or("")).unwrap();
        out.push(Stored {
            subject: m["subject"].as_str().unwrap().to_string(),
            queue: header("Ducq-Queue"),
            id: header("Ducq-Id").parse().unwrap(),
            payload: String::from_utf8(data).unwrap(),
            msg_id: header("Nats-Msg-Id"),
        });
    }
    out
}

/// What the stream should hold: `(queue, id, payload)` each once.
fn assert_exactly_once(got: &[Stored], want: &[(String, u64, String)]) {
    let mut seen: Vec<(String, u64, String)> = got
        .iter()
        .map(|s| (s.queue.clone(), s.id, s.payload.clone()))
        .collect();
    seen.sort();
    let mut want = want.to_vec();
    want.sort();
    assert_eq!(seen, want);
    let mut ids: Vec<&String> = got.iter().map(|s| &s.msg_id).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), got.len(), "Nats-Msg-Ids are unique");
}

#[test]
fn every_enqueued_message_is_in_the_stream_once_across_a_server_kill() {
    let dir = temp_dir("kill");
    let port = procs::free_port();
    let mut nats = Nats::start_js(port, &dir);
    let srv = bridged_logging(&format!(
        "nats=127.0.0.1:{port},name=js,mirror=jobs/#,mirror=mail,stream=JOBS,\
         stream_prefix=dq,backoff_max=0.1"
    ));
    let mut p = srv.peer();
    let mut want = Vec::new();
    let mut put = |p: &mut Peer, i: usize| {
        let queue = ["jobs/a", "jobs/b", "mail"][i % 3];
        let payload = format!("m{i}");
        let id = enq(p, queue, &payload);
        want.push((queue.to_string(), id, payload));
    };
    for i in 0..50 {
        put(&mut p, i);
    }
    // Not mirrored: another queue.
    enq(&mut p, "other", "stays here");
    wait_bridge_field(&mut p, "js", "mirrored", "50", WAIT * 2);
    // Mid-way: 25 more and, at once, the server is SIGKILLed; 25 more
    // while it is down; then it comes back with its store.
    for i in 50..75 {
        put(&mut p, i);
    }
    nats.kill();
    for i in 75..100 {
        put(&mut p, i);
    }
    wait_bridge_field(&mut p, "js", "state", "down", WAIT * 2);
    let _nats = Nats::start_js(port, &dir);
    wait_bridge_field(&mut p, "js", "mirrored", "100", WAIT * 2);
    let f = bridge_fields(&mut p, "js");
    let n = |k: &str| f[k].parse::<u64>().unwrap();
    assert_eq!(
        (
            n("mirror_in_flight"),
            n("mirror_waiting"),
            n("mirror_rejected")
        ),
        (0, 0, 0),
        "{f:?}"
    );
    // Each message sent once, and once more per connection that died
    // before its acknowledgement came.
    assert_eq!(n("mirror_sent"), 100 + n("mirror_resent"), "{f:?}");
    assert!(n("duplicates") <= n("mirror_resent"), "{f:?}");
    let mut nc = NatsClient::connect(port);
    let got = stream_messages(&mut nc, "JOBS");
    assert_eq!(got.len(), 100);
    assert_exactly_once(&got, &want);
    let first = got.iter().find(|s| s.payload == "m0").unwrap();
    assert_eq!(
        (first.subject.as_str(), first.queue.as_str(), first.id),
        ("dq.jobs.a", "jobs/a", 1)
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// A TCP proxy to a NATS server that can swallow what the server says
/// (its PubAcks among it) and cut every connection.
struct Proxy {
    port: u16,
    swallow: Arc<AtomicBool>,
    live: Arc<Mutex<Vec<TcpStream>>>,
}

impl Proxy {
    fn start(target: u16) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let swallow = Arc::new(AtomicBool::new(false));
        let live = Arc::new(Mutex::new(Vec::new()));
        let (sw, lv) = (Arc::clone(&swallow), Arc::clone(&live));
        std::thread::spawn(move || {
            for client in listener.incoming().map_while(Result::ok) {
                let Ok(server) = TcpStream::connect(("127.0.0.1", target)) else {
                    continue;
                };
                lv.lock().unwrap().push(client.try_clone().unwrap());
                lv.lock().unwrap().push(server.try_clone().unwrap());
                let (c2, s2) = (client.try_clone().unwrap(), server.try_clone().unwrap());
                std::thread::spawn(move || pipe(c2, s2, None));
                let sw = Arc::clone(&sw);
                std::thread::spawn(move || pipe(server, client, Some(sw)));
            }
        });
        Proxy {
            port,
            swallow,
            live,
        }
    }

    /// Ends every connection through the proxy; later ones pass freely.
    fn cut(&self) {
        self.swallow.store(false, Ordering::SeqCst);
        for s in self.live.lock().unwrap().drain(..) {
            let _ = s.shutdown(Shutdown::Both);
        }
    }
}

/// Copies `from` to `to` until either ends; drops what it reads while
/// `swallow` is set.
fn pipe(mut from: TcpStream, mut to: TcpStream, swallow: Option<Arc<AtomicBool>>) {
    let mut buf = [0u8; 65536];
    while let Ok(n) = from.read(&mut buf) {
        if n == 0 {
            break;
        }
        if swallow.as_ref().is_some_and(|s| s.load(Ordering::SeqCst)) {
            continue;
        }
        if to.write_all(&buf[..n]).is_err() {
            break;
        }
    }
    let _ = to.shutdown(Shutdown::Both);
    let _ = from.shutdown(Shutdown::Both);
}

#[test]
fn stored_but_unacknowledged_messages_are_sent_again_and_deduplicated() {
    let dir = temp_dir("dedup");
    let port = procs::free_port();
    let _nats = Nats::start_js(port, &dir);
    let proxy = Proxy::start(port);
    let srv = bridged_logging(&format!(
        "nats=127.0.0.1:{},name=js,mirror=jobs,stream=JOBS,backoff_max=0.1",
        proxy.port
    ));
    let mut log = srv.peer();
    log.sub("LOG");
    let mut p = srv.peer();
    let mut want = Vec::new();
    for i in 0..10 {
        let payload = format!("a{i}");
        want.push(("jobs".to_string(), enq(&mut p, "jobs", &payload), payload));
    }
    wait_bridge_field(&mut p, "js", "mirrored", "10", WAIT * 2);
    // JetStream stores the next ten, but its acknowledgements are lost.
    proxy.swallow.store(true, Ordering::SeqCst);
    for i in 10..20 {
        let payload = format!("a{i}");
        want.push(("jobs".to_string(), enq(&mut p, "jobs", &payload), payload));
    }
    let mut nc = NatsClient::connect(port);
    procs::eventually("20 messages in the stream", || {
        number_of_messages(&mut nc, "JOBS") == 20
    });
    wait_bridge_field(&mut p, "js", "mirror_in_flight", "10", WAIT * 2);
    proxy.cut();
    let line = log_line(&mut log, "lost");
    assert!(
        line.contains(&format!(
            "connection to 127.0.0.1:{} lost; 10 unconfirmed will be sent again; retrying in",
            proxy.port
        )),
        "{line}"
    );
    wait_bridge_field(&mut p, "js", "mirrored", "20", WAIT * 2);
    let f = bridge_fields(&mut p, "js");
    let n = |k: &str| f[k].parse::<u64>().unwrap();
    assert_eq!(
        (
            n("mirror_sent"),
            n("mirrored"),
            n("mirror_resent"),
            n("duplicates"),
            n("mirror_in_flight"),
            n("connects")
        ),
        (30, 20, 10, 10, 0, 2),
        "{f:?}"
    );
    let got = stream_messages(&mut nc, "JOBS");
    assert_eq!(got.len(), 20);
    assert_exactly_once(&got, &want);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_server_without_jetstream_is_left_with_a_clear_line_and_retried() {
    let nats = Nats::start();
    let srv = bridged_logging(&format!(
        "nats={},name=js,mirror=jobs,backoff_max=0.05",
        nats.addr()
    ));
    let mut log = srv.peer();
    log.sub("LOG");
    let mut p = srv.peer();
    enq(&mut p, "jobs", "waits");
    let line = log_line(&mut log, "JetStream");
    assert!(
        line.starts_with(&format!(
            "warning,bridge,bridge-js,could not connect to {} (JetStream is not enabled on the \
             server (nothing answers its API)); retrying in",
            nats.addr()
        )),
        "{line}"
    );
    log_line(&mut log, "JetStream");
    let f = bridge_fields(&mut p, "js");
    assert_eq!(
        (f["mirror_waiting"].as_str(), f["mirror_sent"].as_str()),
        ("1", "0"),
        "{f:?}"
    );
    // The broker serves its clients meanwhile.
    let mut s = srv.peer();
    s.sub("alive");
    p.publish("alive", "yes");
    s.expect(b"pub alive\nyes");
}

/// A NATS server that answers pings and the stream request, takes
/// publications, and acknowledges none of them.
fn never_acknowledges() -> u16 {
    use std::io::{BufRead, BufReader};
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let Ok((s, _)) = listener.accept() else {
            return;
        };
        drop(listener);
        let mut w = s.try_clone().unwrap();
        let _ = w.write_all(b"INFO {\"headers\":true}\r\n");
        let mut r = BufReader::new(s);
        let mut line = String::new();
        while matches!(r.read_line(&mut line), Ok(n) if n > 0) {
            let words: Vec<&str> = line.split_whitespace().collect();
            match words.first().copied() {
                Some("PING") => {
                    let _ = w.write_all(b"PONG\r\n");
                }
                Some("PUB" | "HPUB") => {
                    let size: usize = words.last().unwrap().parse().unwrap();
                    let mut skip = vec![0u8; size + 2];
                    let _ = r.read_exact(&mut skip);
                    if words[1].starts_with("$JS.API.STREAM.CREATE.") {
                        let reply = format!("MSG {} 1 2\r\n{{}}\r\n", words[2]);
                        let _ = w.write_all(reply.as_bytes());
                    }
                }
                _ => {}
            }
            line.clear();
        }
    });
    port
}

#[test]
fn a_jetstream_that_never_acknowledges_is_left_and_the_next_server_gets_all() {
    let dir = temp_dir("noack");
    let port = procs::free_port();
    let _nats = Nats::start_js(port, &dir);
    let fake = never_acknowledges();
    let srv = bridged_logging(&format!(
        "nats=127.0.0.1:{fake},addr=127.0.0.1:{port},name=js,mirror=jobs,stream=JOBS,\
         keepalive=0.2,backoff_max=0.05"
    ));
    let mut p = srv.peer();
    wait_bridge_field(&mut p, "js", "state", "open", WAIT * 2);
    let mut log = srv.peer();
    log.sub("LOG");
    let mut want = Vec::new();
    for i in 0..3 {
        let payload = format!("n{i}");
        want.push(("jobs".to_string(), enq(&mut p, "jobs", &payload), payload));
    }
    let line = log_line(&mut log, "lost");
    let head = format!(
        "warning,bridge,bridge-js,connection to 127.0.0.1:{fake} lost (JetStream \
         acknowledged none of 3 messages in "
    );
    // The wait is a second, give or take a turn of the reactor.
    assert!(
        line.starts_with(&head) && line.contains(" s); 3 unconfirmed will be sent again;"),
        "{line}"
    );
    wait_bridge_field(&mut p, "js", "mirrored", "3", WAIT * 2);
    let f = bridge_fields(&mut p, "js");
    assert_eq!(
        (
            f["mirror_sent"].as_str(),
            f["mirror_resent"].as_str(),
            f["duplicates"].as_str()
        ),
        ("6", "3", "0"),
        "{f:?}"
    );
    let mut nc = NatsClient::connect(port);
    assert_exactly_once(&stream_messages(&mut nc, "JOBS"), &want);
    let _ = std::fs::remove_dir_all(&dir);
}
