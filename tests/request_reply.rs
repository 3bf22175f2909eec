//! Issue 15: request/reply — load balancing across serving members, the
//! immediate NACK when nobody serves, a requester that left, a member that
//! left, a reply larger than 1 MiB, 10 000 requests in flight at once, and
//! HTTP requesters.

mod util;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ducq::client::queue::{Reply, Request};
use ducq::client::Client;
use ducq::server::log::{Level, Logger};
use ducq::server::Settings;
use util::{Peer, TestServer, WAIT};

/// The token of a `req R\nTOKEN\nP` a member received, and its payload.
fn request_of(msg: &[u8]) -> (String, Vec<u8>) {
    let r = Request::parse(msg)
        .unwrap_or_else(|| panic!("not a request: {:?}", String::from_utf8_lossy(msg)));
    (r.token, r.payload)
}

#[test]
fn requests_are_load_balanced_across_three_members() {
    let srv = TestServer::start();
    let mut members: Vec<Peer> = (0..3).map(|_| srv.peer()).collect();
    for m in &mut members {
        m.call(b"serve svc\n", b"ACK");
    }
    let mut req = srv.peer();
    for i in 0..30 {
        req.send(format!("req svc\nc{i}\nbody{i}").as_bytes());
    }
    // Each member gets every third request; it answers in upper case.
    for (k, m) in members.iter_mut().enumerate() {
        for j in 0..10 {
            let i = 3 * j + k;
            let msg = m.recv();
            assert!(msg.starts_with(b"req svc\n"), "{msg:?}");
            let (token, payload) = request_of(&msg);
            assert_eq!(payload, format!("body{i}").as_bytes());
            m.send(format!("rep {token}\nBODY{i}").as_bytes());
        }
        m.expect_silence(Duration::from_millis(50));
    }
    let mut got = BTreeMap::new();
    for _ in 0..30 {
        match Reply::parse(&req.recv()).unwrap() {
            Reply::Ok { corr, payload } => got.insert(corr, payload),
            other => panic!("{other:?}"),
        };
    }
    for i in 0..30 {
        assert_eq!(got[&format!("c{i}")], format!("BODY{i}").as_bytes());
    }
}

#[test]
fn no_serving_member_is_an_immediate_nack() {
    let srv = TestServer::start();
    let mut req = srv.peer();
    req.call(
        b"req nobody\nk1\nhello",
        b"NACK k1\n19\nconnection not found",
    );
    // A member that stopped serving no longer counts.
    let mut m = srv.peer();
    m.call(b"serve svc\n", b"ACK");
    m.call(b"unserve svc\n", b"ACK");
    m.call(b"unserve svc\n", b"NACK *\n19\nconnection not found");
    req.call(b"req svc\nk2\n", b"NACK k2\n19\nconnection not found");
    // A correlation id is required.
    req.call(b"req svc\n\nbody", b"NACK *\n15\nmessage invalid");
}

#[test]
fn member_errors_and_members_that_leave() {
    let srv = TestServer::start();
    let mut m = srv.peer();
    m.call(b"serve svc\n", b"ACK");
    let mut req = srv.peer();
    req.send(b"req svc\na\nx");
    let (token, _) = request_of(&m.recv());
    m.send(format!("rerr {token}\nexit status 3").as_bytes());
    req.expect(b"NACK a\n3\nexit status 3");
    req.send(b"req svc\nb\nx");
    m.recv();
    drop(m);
    req.expect(b"NACK b\n10\nconnection closed");
    req.call(b"req svc\nc\nx", b"NACK c\n19\nconnection not found");
}

#[test]
fn a_reply_to_a_requester_that_left_is_dropped_and_logged() {
    let lines = Arc::new(Mutex::new(Vec::<String>::new()));
    let sink = Arc::clone(&lines);
    let srv = TestServer::with_setup(Settings::default(), move |r| {
        let mut logger = Logger::new(Level::Info);
        logger.set_hook(Box::new(move |rec| {
            sink.lock()
                .unwrap()
                .push(format!("{} {}", rec.function, rec.text));
        }));
        *r.hub_mut().logger_mut() = logger;
    });
    let mut m = srv.peer();
    m.call(b"serve svc\n", b"ACK");
    let mut req = srv.peer();
    req.send(b"req svc\nk\nhello");
    let (token, _) = request_of(&m.recv());
    drop(req);
    // Once the server has seen the requester go, the reply has nowhere to go.
    let mut probe = srv.peer();
    let deadline = std::time::Instant::now() + WAIT;
    while !lines
        .lock()
        .unwrap()
        .iter()
        .any(|l| l.contains("disconnected"))
    {
        assert!(std::time::Instant::now() < deadline);
        probe.call(b"PING _\np", b"PONG _\np");
    }
    m.send(format!("rep {token}\nlate").as_bytes());
    // The member is told nothing and keeps serving.
    m.call(b"PING _\np", b"PONG _\np");
    let logged = lines.lock().unwrap().clone();
    assert!(
        logged
            .iter()
            .any(|l| l == &format!("rep reply to request {token} dropped: its requester is gone")),
        "{logged:?}"
    );
    let mut req2 = srv.peer();
    req2.send(b"req svc\nk2\nagain");
    let (token, _) = request_of(&m.recv());
    m.send(format!("rep {token}\nok").as_bytes());
    req2.expect(b"rep k2\nok");
}

#[test]
fn a_reply_larger_than_one_mebibyte() {
    let settings = Settings {
        max_message: 4 << 20,
        ..Settings::default()
    };
    let srv = TestServer::with(settings);
    let mut m = srv.peer();
    m.call(b"serve big\n", b"ACK");
    let mut req = srv.peer();
    req.send(b"req big\nz\n3");
    let (token, n) = request_of(&m.recv());
    assert_eq!(n, b"3");
    let body: Vec<u8> = (0..3 << 20).map(|i: usize| (i % 251) as u8).collect();
    let mut reply = format!("rep {token}\n").into_bytes();
    reply.extend_from_slice(&body);
    m.send(&reply);
    let got = req.recv();
    assert_eq!(&got[..7], b"rep z\n\0");
    assert_eq!(got.len(), 6 + body.len());
    assert!(got[6..] == body[..], "reply body differs");
}

#[test]
fn ten_thousand_requests_in_flight_at_once() {
    const N: usize = 10_000;
    let srv = TestServer::start();
    let addr = srv.addr.to_string();
    // Three members hold every request until all N have arrived, so all N
    // are in flight at the same moment, then answer them.
    let seen = Arc::new(AtomicUsize::new(0));
    let mut threads = Vec::new();
    let (ready, serving) = std::sync::mpsc::channel();
    for _ in 0..3 {
        let seen = Arc::clone(&seen);
        let (addr, ready) = (addr.clone(), ready.clone());
        threads.push(std::thread::spawn(move || {
            let mut c = Client::connect(&addr, WAIT).unwrap();
            c.serve("echo").unwrap();
            // Short reads, so a member whose share is in looks at the count.
            c.set_timeout(Some(Duration::from_millis(20))).unwrap();
            ready.send(()).unwrap();
            let mut held = Vec::new();
            while seen.load(Ordering::SeqCst) < N {
                match c.next_request() {
                    Ok(r) => {
                        held.push(r);
                        seen.fetch_add(1, Ordering::SeqCst);
                    }
                    Err(ducq::client::Error::Timeout) => {}
                    Err(e) => panic!("member: {e}"),
                }
            }
            for r in &held {
                c.reply(&r.token, &r.payload).unwrap();
            }
            held.len()
        }));
    }
    for _ in 0..3 {
        serving.recv_timeout(WAIT).unwrap();
    }
    let mut requester = Client::connect(&addr, WAIT).unwrap();
    for i in 0..N {
        requester
            .send_request("echo", &format!("r{i}"), format!("p{i}").as_bytes())
            .unwrap();
    }
    let mut corrs = BTreeSet::new();
    for _ in 0..N {
        match requester.next_reply().unwrap() {
            Reply::Ok { corr, payload } => {
                assert_eq!(payload, format!("p{}", &corr[1..]).as_bytes());
                assert!(corrs.insert(corr));
            }
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(corrs.len(), N);
    let shares: Vec<usize> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    assert_eq!(shares.iter().sum::<usize>(), N);
    assert!(
        shares.iter().all(|&s| s == N / 3 || s == N / 3 + 1),
        "{shares:?}"
    );
}

#[test]
fn rust_client_request_and_serve() {
    let srv = TestServer::start();
    let addr = srv.addr.to_string();
    let (ready, serving) = std::sync::mpsc::channel();
    let a = addr.clone();
    let (done, finish) = std::sync::mpsc::channel::<()>();
    let t = std::thread::spawn(move || {
        let mut member = Client::connect(&a, WAIT).unwrap();
        member.serve("upper").unwrap();
        ready.send(()).unwrap();
        let r = member.next_request().unwrap();
        member
            .reply(&r.token, &r.payload.to_ascii_uppercase())
            .unwrap();
        let r = member.next_request().unwrap();
        member.reply_error(&r.token, "no thanks").unwrap();
        // Stays connected (serving, answering nothing) until told.
        let _ = finish.recv();
    });
    serving.recv_timeout(WAIT).unwrap();
    let mut c = Client::connect(&addr, WAIT).unwrap();
    assert_eq!(c.request("upper", b"hi", WAIT).unwrap(), b"HI");
    match c.request("upper", b"again", WAIT) {
        Err(ducq::client::Error::Nack { state, text }) => {
            assert_eq!(state, ducq::State::Error);
            assert_eq!(text, "no thanks");
        }
        other => panic!("{other:?}"),
    }
    match c.request("nobody", b"x", WAIT) {
        Err(ducq::client::Error::Nack { state, .. }) => assert_eq!(state, ducq::State::ENotFound),
        other => panic!("{other:?}"),
    }
    // No reply in time: a timeout, not a hang.
    match c.request("upper", b"x", Duration::from_millis(100)) {
        Err(ducq::client::Error::Timeout) => {}
        other => panic!("{other:?}"),
    }
    done.send(()).unwrap();
    t.join().unwrap();
}

#[test]
fn http_requester_gets_the_reply_as_its_response() {
    let srv = TestServer::with_setup(Settings::default(), |r| {
        r.listen_http("127.0.0.1:0").unwrap();
    });
    let mut m = srv.peer();
    m.call(b"serve svc\n", b"ACK");
    let mut s = TcpStream::connect(srv.addrs[1]).unwrap();
    s.set_read_timeout(Some(WAIT)).unwrap();
    s.write_all(
        b"POST /cmd/req/svc HTTP/1.1\r\nContent-Length: 8\r\nConnection: close\r\n\r\nh1\nhello",
    )
    .unwrap();
    let (token, payload) = request_of(&m.recv());
    assert_eq!(payload, b"hello");
    m.send(format!("rep {token}\nworld").as_bytes());
    let mut resp = String::new();
    s.read_to_string(&mut resp).unwrap();
    assert!(resp.starts_with("HTTP/1.1 200"), "{resp}");
    assert!(resp.ends_with("\r\n\r\nrep h1\nworld"), "{resp}");
    // Nobody serving: 404 at once.
    let mut s = TcpStream::connect(srv.addrs[1]).unwrap();
    s.set_read_timeout(Some(WAIT)).unwrap();
    s.write_all(
        b"POST /cmd/req/none HTTP/1.1\r\nContent-Length: 3\r\nConnection: close\r\n\r\nh2\n",
    )
    .unwrap();
    let mut resp = String::new();
    s.read_to_string(&mut resp).unwrap();
    assert!(resp.starts_with("HTTP/1.1 404"), "{resp}");
    assert!(
        resp.ends_with(r#"{"error":"connection not found","code":19}"#),
        "{resp}"
    );
}

#[test]
fn http_requests_pipelined_behind_a_request_are_answered_in_turn() {
    let srv = TestServer::with_setup(Settings::default(), |r| {
        r.listen_http("127.0.0.1:0").unwrap();
    });
    let mut m = srv.peer();
    m.call(b"serve svc\n", b"ACK");
    let mut s = TcpStream::connect(srv.addrs[1]).unwrap();
    s.set_read_timeout(Some(WAIT)).unwrap();
    // Two requests in one write: HTTP answers one at a time, so the second
    // reaches the member once the first one's reply went out, from the
    // input the server already holds.
    let req = |body: &str| {
        format!(
            "POST /cmd/req/svc HTTP/1.1\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
    };
    s.write_all((req("c1\nfirst") + &req("c2\nsecond")).as_bytes())
        .unwrap();
    for (corr, payload) in [("c1", "first"), ("c2", "second")] {
        let (token, got) = request_of(&m.recv());
        assert_eq!(got, payload.as_bytes());
        m.send(format!("rep {token}\n{payload} done").as_bytes());
        assert_eq!(
            util::http_response(&mut s),
            (200, format!("rep {corr}\n{payload} done").into_bytes())
        );
    }
}
