//! Issue 15: durable named queues on the wire — every queue command over
//! TCP, WebSocket and HTTP with exact bytes, ids and order, competing
//! consumers, prefetch, redelivery after the visibility timeout and on
//! disconnect, dead letters, and queues that outlive the server.

mod util;

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use ducq::server::Settings;
use tungstenite::{Message, WebSocket};
use util::{parts, ws_next, Peer, TestServer, WAIT};

fn server() -> TestServer {
    TestServer::with_setup(Settings::default(), |r| {
        r.listen_http("127.0.0.1:0").expect("http listener");
    })
}

/// The `qmsg` of message `id`, delivered `n` times, with `payload`.
fn qmsg(queue: &str, id: u64, n: u32, payload: &str) -> Vec<u8> {
    format!("qmsg {queue}\n{id} {n}\n{payload}").into_bytes()
}

/// `lsq`'s line for a queue, without the age of its oldest message.
fn lsq_line(peer: &mut Peer) -> Vec<String> {
    peer.send(b"lsq");
    parts(peer)
        .iter()
        .map(|line| line.trim_end().rsplit_once(',').unwrap().0.to_string())
        .collect()
}

#[test]
fn every_queue_command_over_tcp() {
    let srv = server();
    let mut p = srv.peer();
    p.call(b"qcreate jobs\nvisibility=30 max_deliveries=3", b"ACK");
    p.call(b"enq jobs\nfirst", b"1");
    p.call(b"enq jobs\nsecond\nline", b"2");
    p.call(b"enq jobs\n", b"3");
    assert_eq!(lsq_line(&mut p), ["jobs,3,3,0,0"]);
    // Lease two, acknowledge one.
    p.call(b"qget jobs\n2", b"PARTS");
    p.expect(&qmsg("jobs", 1, 1, "first"));
    p.expect(&qmsg("jobs", 2, 1, "second\nline"));
    p.expect(b"END");
    p.call(b"qack jobs\n1", b"ACK");
    p.call(b"qack jobs\n1", b"NACK *\n19\nconnection not found");
    assert_eq!(lsq_line(&mut p), ["jobs,2,1,1,0"]);
    // Take without acknowledgement.
    p.call(b"qtake jobs\n5", b"PARTS");
    p.expect(&qmsg("jobs", 3, 1, ""));
    p.expect(b"END");
    // Consume.
    p.call(b"qsub jobs\n4", b"ACK");
    p.call(b"enq jobs\nfourth", b"4");
    p.expect(&qmsg("jobs", 4, 1, "fourth"));
    assert_eq!(lsq_line(&mut p), ["jobs,2,0,2,1"]);
    p.call(b"qunsub jobs\n", b"ACK");
    p.call(b"qunsub jobs\n", b"NACK *\n19\nconnection not found");
    p.call(b"qdel jobs\n", b"ACK");
    assert!(lsq_line(&mut p).is_empty());
    // Refusals, each with its state code; the connection stays usable.
    p.call(b"enq bad name\nx", b"NACK *\n15\nmessage invalid");
    p.call(b"enq jobs", b"NACK *\n15\nmessage invalid");
    p.call(b"qcreate q\ncolour=red", b"NACK *\n15\nmessage invalid");
    p.call(b"qdel nope\n", b"NACK *\n19\nconnection not found");
    p.call(b"qget nope\n1", b"NACK *\n19\nconnection not found");
    p.call(b"qsub q\n0", b"NACK *\n15\nmessage invalid");
    p.call(b"qack q\nabc", b"NACK *\n15\nmessage invalid");
    p.call(b"PING _\nping", b"PONG _\nping");
}

type Ws = WebSocket<TcpStream>;

fn ws(addr: SocketAddr) -> Ws {
    let stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(WAIT)).unwrap();
    tungstenite::client(format!("ws://{addr}/"), stream)
        .expect("handshake")
        .0
}

fn ws_call(ws: &mut Ws, body: &[u8], want: &[&[u8]]) {
    ws.send(Message::binary(body.to_vec())).unwrap();
    for w in want {
        assert_eq!(
            String::from_utf8_lossy(&ws_next(ws)),
            String::from_utf8_lossy(w)
        );
    }
}

#[test]
fn every_queue_command_over_websocket() {
    let srv = server();
    let mut w = ws(srv.addrs[1]);
    ws_call(&mut w, b"qcreate q\nmax_deliveries=2", &[b"ACK"]);
    ws_call(&mut w, b"enq q\na", &[b"1"]);
    ws_call(&mut w, b"enq q\nb", &[b"2"]);
    ws_call(&mut w, b"enq q\nc", &[b"3"]);
    ws_call(
        &mut w,
        b"qget q\n1",
        &[b"PARTS", &qmsg("q", 1, 1, "a"), b"END"],
    );
    ws_call(&mut w, b"qack q\n1", &[b"ACK"]);
    ws_call(
        &mut w,
        b"qtake q\n1",
        &[b"PARTS", &qmsg("q", 2, 1, "b"), b"END"],
    );
    ws_call(&mut w, b"qsub q\n1", &[b"ACK", &qmsg("q", 3, 1, "c")]);
    ws_call(&mut w, b"qack q\n3", &[b"ACK"]);
    ws_call(&mut w, b"qunsub q\n", &[b"ACK"]);
    ws_call(&mut w, b"lsq", &[b"PARTS"]);
    let line = String::from_utf8(ws_next(&mut w)).unwrap();
    assert!(line.starts_with("q,0,0,0,0,"), "{line}");
    assert_eq!(ws_next(&mut w), b"END");
    ws_call(&mut w, b"qdel q\n", &[b"ACK"]);
    ws_call(&mut w, b"qack q\n1", &[b"NACK *\n19\nconnection not found"]);
}

fn http(addr: SocketAddr, method: &str, path: &str, body: &[u8]) -> (u16, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(WAIT)).unwrap();
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).unwrap();
    s.write_all(body).unwrap();
    let mut resp = Vec::new();
    s.read_to_end(&mut resp).unwrap();
    let text = String::from_utf8_lossy(&resp).into_owned();
    let status = text[9..12].parse().unwrap();
    let body = text.split_once("\r\n\r\n").unwrap().1.to_string();
    (status, body)
}

#[test]
fn every_queue_command_over_http() {
    let srv = server();
    let h = srv.addrs[1];
    assert_eq!(
        http(h, "POST", "/cmd/qcreate/q", b"visibility=60"),
        (200, r#"{"ok":true}"#.into())
    );
    // The id comes once the message is durable: the request waits for it.
    assert_eq!(http(h, "POST", "/cmd/enq/q", b"hello"), (200, "1".into()));
    assert_eq!(http(h, "POST", "/cmd/enq/q", b"world"), (200, "2".into()));
    assert_eq!(http(h, "POST", "/cmd/enq/q", b"third"), (200, "3".into()));
    assert_eq!(
        http(h, "POST", "/cmd/qget/q", b"1"),
        (
            200,
            r#"[{"queue":"q","id":1,"deliveries":1,"payload":"hello"}]"#.into()
        )
    );
    // Acknowledged from another HTTP connection: a lease is anyone's.
    assert_eq!(
        http(h, "POST", "/cmd/qack/q", b"1"),
        (200, r#"{"ok":true}"#.into())
    );
    assert_eq!(
        http(h, "POST", "/cmd/qack/q", b"1"),
        (404, r#"{"error":"connection not found","code":19}"#.into())
    );
    assert_eq!(
        http(h, "POST", "/cmd/qtake/q", b"1"),
        (
            200,
            r#"[{"queue":"q","id":2,"deliveries":1,"payload":"world"}]"#.into()
        )
    );
    let (status, list) = http(h, "POST", "/cmd/lsq", b"");
    assert_eq!(status, 200);
    let list: serde_json::Value = serde_json::from_str(&list).unwrap();
    let q = &list.as_array().unwrap()[..];
    assert_eq!(q.len(), 1, "{list}");
    assert!(q[0]["oldest_ms"].is_u64(), "{list}");
    let counts = ["depth", "ready", "in_flight", "consumers"].map(|k| q[0][k].as_u64());
    assert_eq!(
        (q[0]["name"].as_str(), counts),
        (Some("q"), [Some(1), Some(1), Some(0), Some(0)])
    );
    // Consuming needs a connection that carries deliveries.
    assert_eq!(
        http(h, "POST", "/cmd/qsub/q", b"1"),
        (501, r#"{"error":"not implemented yet","code":20}"#.into())
    );
    assert_eq!(
        http(h, "POST", "/cmd/enq/a%20b", b"x"),
        (400, r#"{"error":"message invalid","code":15}"#.into())
    );
    assert_eq!(
        http(h, "POST", "/cmd/qdel/q", b""),
        (200, r#"{"ok":true}"#.into())
    );
}

/// `POST path` with a binary body: the status and the JSON answer.
fn http_json(addr: SocketAddr, path: &str, body: &[u8]) -> (u16, serde_json::Value) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(WAIT)).unwrap();
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    s.write_all(&[head.as_bytes(), body].concat()).unwrap();
    let (status, body) = util::http_response(&mut s);
    (
        status,
        serde_json::from_slice(&body).expect("a JSON answer"),
    )
}

/// The payload of one message of a `qget`/`qtake` answer, as bytes.
fn payload_of(m: &serde_json::Value) -> Vec<u8> {
    use base64::Engine as _;
    match (m["payload"].as_str(), m["payload_base64"].as_str()) {
        (Some(text), None) => text.as_bytes().to_vec(),
        (None, Some(b64)) => base64::engine::general_purpose::STANDARD
            .decode(b64)
            .unwrap(),
        _ => panic!("no payload in {m}"),
    }
}

#[test]
fn http_qget_and_qtake_keep_payloads_whole() {
    let srv = server();
    let h = srv.addrs[1];
    let payloads: [&[u8]; 6] = [
        b"two\nlines",
        b"crlf\r\nline\r\n",
        b"nul\0inside\0",
        b"\xff\xfe\x00not utf-8\n",
        b"",
        b"\n",
    ];
    for (i, p) in payloads.iter().enumerate() {
        let id = (i + 1).to_string();
        let (status, got) = http_json(h, "/cmd/enq/bin", p);
        assert_eq!((status, got), (200, serde_json::json!(i + 1)), "enq {id}");
    }
    // qget: the first four, leased; qtake: the other two and nothing more.
    let (status, got) = http_json(h, "/cmd/qget/bin", b"4");
    assert_eq!(status, 200, "{got}");
    let got = got.as_array().unwrap().clone();
    assert_eq!(got.len(), 4, "{got:?}");
    for (i, m) in got.iter().enumerate() {
        assert_eq!(m["queue"], "bin");
        assert_eq!(m["id"], i as u64 + 1);
        assert_eq!(m["deliveries"], 1);
        assert_eq!(payload_of(m), payloads[i], "message {}", i + 1);
    }
    // Text stays text (escaped), bytes that are not UTF-8 are base64.
    assert_eq!(got[2]["payload"], "nul\u{0}inside\u{0}");
    assert_eq!(got[3]["payload_base64"], "//4Abm90IHV0Zi04Cg==");
    let (status, got) = http_json(h, "/cmd/qtake/bin", b"10");
    assert_eq!(status, 200, "{got}");
    let got = got.as_array().unwrap().clone();
    let ids: Vec<_> = got.iter().map(|m| m["id"].as_u64().unwrap()).collect();
    assert_eq!(ids, [5, 6]);
    assert_eq!(payload_of(&got[0]), b"");
    assert_eq!(payload_of(&got[1]), b"\n");
    // An empty queue: an empty array; a missing one: the NACK.
    assert_eq!(
        http_json(h, "/cmd/qtake/bin", b""),
        (200, serde_json::json!([]))
    );
    assert_eq!(
        http_json(h, "/cmd/qget/nope", b"1"),
        (
            404,
            serde_json::json!({"error": "connection not found", "code": 19})
        )
    );
}

/// One keep-alive `POST` request.
fn post(path: &str, body: &str) -> String {
    format!(
        "POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
}

#[test]
fn http_requests_pipelined_behind_a_durable_reply_are_answered() {
    let srv = server();
    let mut s = TcpStream::connect(srv.addrs[1]).unwrap();
    s.set_read_timeout(Some(WAIT)).unwrap();
    // One write: two enqueues, answered only once committed (a later
    // turn), then a request answered at once. Nothing more is sent: the
    // requests behind each enqueue are already in the server's hands.
    let all = post("/cmd/enq/pipe", "one") + &post("/cmd/enq/pipe", "two");
    s.write_all((all + &post("/cmd/qack/pipe", "7")).as_bytes())
        .unwrap();
    assert_eq!(util::http_response(&mut s), (200, b"1".to_vec()));
    assert_eq!(util::http_response(&mut s), (200, b"2".to_vec()));
    assert_eq!(
        util::http_response(&mut s),
        (
            404,
            br#"{"error":"connection not found","code":19}"#.to_vec()
        )
    );
    // And again on the same connection, ending with a commit.
    let all = post("/cmd/enq/pipe", "three") + &post("/cmd/qdel/pipe", "");
    s.write_all(all.as_bytes()).unwrap();
    assert_eq!(util::http_response(&mut s), (200, b"3".to_vec()));
    assert_eq!(
        util::http_response(&mut s),
        (200, br#"{"ok":true}"#.to_vec())
    );
}

#[test]
fn rust_client_fetch_and_take_return_the_messages() {
    let srv = server();
    let addr = srv.addr.to_string();
    let mut c = ducq::client::Client::connect(&addr, WAIT).unwrap();
    for p in ["a", "b\nc", "d"] {
        c.enqueue("ft", p.as_bytes()).unwrap();
    }
    // A publication that arrives before the reply is kept for receive.
    c.subscribe("news", "").unwrap();
    let mut other = ducq::client::Client::connect(&addr, WAIT).unwrap();
    other.publish("news", b"n1").unwrap();
    let got = c.fetch("ft", 2).unwrap();
    let got: Vec<_> = got
        .iter()
        .map(|m| (m.id, m.deliveries, &m.payload[..]))
        .collect();
    assert_eq!(got, [(1, 1, &b"a"[..]), (2, 1, &b"b\nc"[..])]);
    let got = c.take("ft", 10).unwrap();
    let got: Vec<_> = got.iter().map(|m| (m.id, &m.payload[..])).collect();
    assert_eq!(got, [(3, &b"d"[..])]);
    assert!(c.take("ft", 10).unwrap().is_empty());
    assert_eq!(c.receive().unwrap(), b"pub news\nn1");
    c.ack("ft", 1).unwrap();
    assert_eq!(
        c.fetch("nope", 1).unwrap_err().to_string(),
        ducq::client::Error::Nack {
            state: ducq::State::ENotFound,
            text: "connection not found".into()
        }
        .to_string()
    );
}

#[test]
fn ids_and_order_per_queue() {
    let srv = server();
    let mut p = srv.peer();
    // Pipelined: every id answered, in order, across two queues.
    for i in 0..200 {
        let q = if i % 2 == 0 { "even" } else { "odd" };
        p.send(format!("enq {q}\n{i}").as_bytes());
    }
    for i in 0..200u64 {
        assert_eq!(p.recv(), (i / 2 + 1).to_string().as_bytes());
    }
    let mut c = srv.peer();
    c.call(b"qsub odd\n1000", b"ACK");
    for i in 0..100u64 {
        c.expect(&qmsg("odd", i + 1, 1, &(2 * i + 1).to_string()));
    }
}

#[test]
fn competing_consumers_get_disjoint_sets_whose_union_is_everything() {
    let srv = server();
    let mut consumers: Vec<Peer> = (0..3).map(|_| srv.peer()).collect();
    for c in &mut consumers {
        c.call(b"qsub work\n5", b"ACK");
    }
    let mut producer = srv.peer();
    for i in 0..300 {
        producer.send(format!("enq work\n{i}").as_bytes());
    }
    for i in 0..300u64 {
        assert_eq!(producer.recv(), (i + 1).to_string().as_bytes());
    }
    // Each consumer acks as it goes; credit spreads the work.
    let mut got: Vec<Vec<u64>> = vec![Vec::new(); 3];
    let mut total = 0;
    let deadline = std::time::Instant::now() + 4 * WAIT;
    while total < 300 {
        assert!(
            std::time::Instant::now() < deadline,
            "only {total} of 300 delivered"
        );
        for (i, c) in consumers.iter_mut().enumerate() {
            while let Ok(m) = c.try_recv(Duration::from_millis(20)) {
                let text = String::from_utf8(m).unwrap();
                if text == "ACK" {
                    continue;
                }
                let id: u64 = text
                    .lines()
                    .nth(1)
                    .unwrap()
                    .split(' ')
                    .next()
                    .unwrap()
                    .parse()
                    .unwrap();
                got[i].push(id);
                total += 1;
                c.send(format!("qack work\n{id}").as_bytes());
            }
        }
    }
    let mut all = BTreeSet::new();
    for ids in &got {
        assert!(!ids.is_empty(), "a consumer got nothing: {got:?}");
        for id in ids {
            assert!(all.insert(*id), "{id} delivered twice");
        }
    }
    assert_eq!(all, (1..=300).collect::<BTreeSet<u64>>());
}

#[test]
fn prefetch_is_honoured() {
    let srv = server();
    let mut p = srv.peer();
    for i in 1..=5 {
        p.call(format!("enq q\n{i}").as_bytes(), i.to_string().as_bytes());
    }
    let mut c = srv.peer();
    c.call(b"qsub q\n2", b"ACK");
    c.expect(&qmsg("q", 1, 1, "1"));
    c.expect(&qmsg("q", 2, 1, "2"));
    c.expect_silence(Duration::from_millis(200));
    c.call(b"qack q\n2", b"ACK");
    c.expect(&qmsg("q", 3, 1, "3"));
    c.expect_silence(Duration::from_millis(200));
    // Raising the prefetch takes effect at once.
    c.call(b"qsub q\n4", b"ACK");
    c.expect(&qmsg("q", 4, 1, "4"));
    c.expect(&qmsg("q", 5, 1, "5"));
}

#[test]
fn redelivered_after_the_visibility_timeout_with_a_count() {
    let srv = server();
    let mut p = srv.peer();
    p.call(b"qcreate q\nvisibility=0.2", b"ACK");
    p.call(b"enq q\nx", b"1");
    p.call(b"qsub q\n1", b"ACK");
    p.expect(&qmsg("q", 1, 1, "x"));
    // Not acknowledged: handed out again once the timeout passes.
    p.expect(&qmsg("q", 1, 2, "x"));
    p.call(b"qack q\n1", b"ACK");
    p.expect_silence(Duration::from_millis(400));
}

#[test]
fn redelivered_when_the_consumer_disconnects() {
    let srv = server();
    let mut p = srv.peer();
    p.call(b"enq q\nx", b"1");
    p.call(b"enq q\ny", b"2");
    let mut first = srv.peer();
    first.call(b"qsub q\n2", b"ACK");
    first.expect(&qmsg("q", 1, 1, "x"));
    first.expect(&qmsg("q", 2, 1, "y"));
    first.call(b"qack q\n2", b"ACK");
    let mut second = srv.peer();
    second.call(b"qsub q\n5", b"ACK");
    second.expect_silence(Duration::from_millis(100));
    drop(first);
    second.expect(&qmsg("q", 1, 2, "x"));
    second.expect_silence(Duration::from_millis(100));
}

#[test]
fn dead_lettered_after_max_deliveries() {
    let srv = server();
    let mut p = srv.peer();
    p.call(b"qcreate q\nvisibility=0.1 max_deliveries=2", b"ACK");
    p.call(b"enq q\npoison", b"1");
    p.call(b"qsub q\n1", b"ACK");
    p.expect(&qmsg("q", 1, 1, "poison"));
    p.expect(&qmsg("q", 1, 2, "poison"));
    // The third time it goes to q.dlq instead.
    let mut dl = srv.peer();
    dl.call(b"qsub q.dlq\n1", b"ACK");
    dl.expect(&qmsg("q.dlq", 1, 3, "poison"));
    p.expect_silence(Duration::from_millis(300));
    assert_eq!(lsq_line(&mut p), ["q,0,0,0,1", "q.dlq,1,0,1,1"]);
}

#[test]
fn queues_outlive_the_server() {
    let dir = std::env::temp_dir().join(format!("ducq-queues-restart-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let settings = || Settings {
        data_dir: Some(dir.clone()),
        ..Settings::default()
    };
    {
        let srv = TestServer::with(settings());
        let mut p = srv.peer();
        p.call(b"qcreate q\nmax_deliveries=4", b"ACK");
        for i in 1..=3 {
            p.call(format!("enq q\nm{i}").as_bytes(), i.to_string().as_bytes());
        }
        p.call(b"qget q\n2", b"PARTS");
        p.expect(&qmsg("q", 1, 1, "m1"));
        p.expect(&qmsg("q", 2, 1, "m2"));
        p.expect(b"END");
        p.call(b"qack q\n1", b"ACK");
    }
    let srv = TestServer::with(settings());
    let mut p = srv.peer();
    p.call(b"qget q\n10", b"PARTS");
    // 2 was delivered once before the restart: its count says so.
    p.expect(&qmsg("q", 2, 2, "m2"));
    p.expect(&qmsg("q", 3, 1, "m3"));
    p.expect(b"END");
    p.call(b"enq q\nm4", b"4");
    let _ = std::fs::remove_dir_all(&dir);
}
