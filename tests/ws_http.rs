//! Issue-4 acceptance: the WebSocket endpoint driven by an independent
//! implementation (tungstenite), HTTP with curl and raw requests, mixed
//! transports sharing routes, and malformed input that must neither panic
//! the server nor stall anyone else.

mod util;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::Command;
use std::time::{Duration, Instant};

use ducq::client::Client;
use ducq::server::Settings;
use tungstenite::protocol::frame::coding::{CloseCode, Data, OpCode};
use tungstenite::protocol::frame::Frame;
use tungstenite::{Message, WebSocket};
use util::{lsconn, ws_next, Peer, Rng, TestServer, WAIT};

type Ws = WebSocket<TcpStream>;

fn server() -> (TestServer, SocketAddr) {
    server_with(Settings::default())
}

fn server_with(settings: Settings) -> (TestServer, SocketAddr) {
    let srv = TestServer::with_setup(settings, |r| {
        r.listen_http("127.0.0.1:0").expect("http listener");
    });
    let http = srv.addrs[1];
    (srv, http)
}

fn ws(addr: SocketAddr) -> Ws {
    let stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(WAIT)).unwrap();
    let (ws, resp) = tungstenite::client(format!("ws://{addr}/"), stream).expect("handshake");
    assert_eq!(resp.status(), 101);
    ws
}

fn send(ws: &mut Ws, body: &[u8]) {
    ws.send(Message::text(String::from_utf8(body.to_vec()).unwrap()))
        .unwrap();
}

#[test]
fn websocket_handshake_and_pub_sub_both_ways_with_tcp() {
    let (srv, http) = server();
    let mut w = ws(http);
    send(&mut w, b"sub a/*\n");
    assert_eq!(ws_next(&mut w), b"ACK");
    let mut tcp_sub = srv.peer();
    tcp_sub.sub("a/b");

    let mut tcp_pub = srv.peer();
    tcp_pub.publish("a/b", "from tcp \u{1F986}");
    assert_eq!(ws_next(&mut w), "pub a/b\nfrom tcp \u{1F986}".as_bytes());
    tcp_sub.expect("pub a/b\nfrom tcp \u{1F986}".as_bytes());

    send(&mut w, b"pub a/b\nfrom ws");
    assert_eq!(ws_next(&mut w), b"ACK");
    assert_eq!(ws_next(&mut w), b"pub a/b\nfrom ws");
    tcp_sub.expect(b"pub a/b\nfrom ws");
}

#[test]
fn websocket_binary_and_fragmented_messages() {
    let (srv, http) = server();
    let mut tcp_sub = srv.peer();
    tcp_sub.sub("bin");
    let mut w = ws(http);
    let body = b"pub bin\n\x00\x01\xfe\xff".to_vec();
    w.send(Message::binary(body.clone())).unwrap();
    assert_eq!(ws_next(&mut w), b"ACK");
    tcp_sub.expect(&body);

    // One message in three frames, a ping between two of them.
    w.write(Message::Frame(Frame::message(
        &b"pub bin\nfr"[..],
        OpCode::Data(Data::Text),
        false,
    )))
    .unwrap();
    w.write(Message::Frame(Frame::message(
        &b"agm"[..],
        OpCode::Data(Data::Continue),
        false,
    )))
    .unwrap();
    w.write(Message::Frame(Frame::ping(&b"in-between"[..])))
        .unwrap();
    w.write(Message::Frame(Frame::message(
        &b"ented"[..],
        OpCode::Data(Data::Continue),
        true,
    )))
    .unwrap();
    w.flush().unwrap();
    loop {
        match w.read().unwrap() {
            Message::Pong(p) => {
                assert_eq!(&p[..], b"in-between");
                continue;
            }
            Message::Text(t) => {
                assert_eq!(t.as_str(), "ACK");
                break;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    tcp_sub.expect(b"pub bin\nfragmented");
}

#[test]
fn websocket_ping_and_close_codes() {
    let (_srv, http) = server();
    let mut w = ws(http);
    w.send(Message::Ping(b"are you there".to_vec().into()))
        .unwrap();
    match w.read().unwrap() {
        Message::Pong(p) => assert_eq!(&p[..], b"are you there"),
        other => panic!("unexpected {other:?}"),
    }
    w.close(Some(tungstenite::protocol::CloseFrame {
        code: CloseCode::Away,
        reason: "bye".into(),
    }))
    .unwrap();
    loop {
        match w.read() {
            Ok(Message::Close(Some(f))) => {
                assert_eq!(f.code, CloseCode::Away);
            }
            Ok(Message::Close(None)) => panic!("close without a code"),
            Ok(_) => {}
            Err(tungstenite::Error::ConnectionClosed) => break,
            Err(e) => panic!("{e}"),
        }
    }
}

#[test]
fn websocket_protocol_error_gets_close_1002() {
    let (_srv, http) = server();
    let mut w = ws(http);
    // A control frame longer than 125 bytes is a protocol error.
    let mut f = Frame::ping(vec![b'p'; 200]);
    f.header_mut().is_final = true;
    w.write(Message::Frame(f)).unwrap();
    w.flush().unwrap();
    match w.read() {
        Ok(Message::Close(Some(f))) => assert_eq!(f.code, CloseCode::Protocol),
        other => panic!("expected close 1002, got {other:?}"),
    }
}

#[test]
fn websocket_lscmd_sends_parts_and_end_frames() {
    let (_srv, http) = server();
    let mut w = ws(http);
    send(&mut w, b"lscmd");
    assert_eq!(ws_next(&mut w), b"PARTS");
    let first = ws_next(&mut w);
    assert!(
        first.starts_with(b"\"lscmd\",\""),
        "{:?}",
        String::from_utf8_lossy(&first)
    );
    let mut n = 1;
    while ws_next(&mut w) != b"END" {
        n += 1;
    }
    assert!(n >= 13);
}

#[test]
fn websocket_and_http_clients_show_in_lsconn() {
    let (srv, http) = server();
    let mut w = ws(http);
    send(&mut w, b"sub live\n");
    assert_eq!(ws_next(&mut w), b"ACK");
    let mut sse = TcpStream::connect(http).unwrap();
    sse.write_all(b"GET /sub/feed HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut p = srv.peer();
    let deadline = Instant::now() + WAIT;
    loop {
        let lines = lsconn(&mut p);
        let ws_line = lines
            .iter()
            .any(|l| l.starts_with("WS:") && l.ends_with(",live\n"));
        let http_line = lines
            .iter()
            .any(|l| l.starts_with("HTTP:") && l.ends_with(",feed\n"));
        if ws_line && http_line {
            break;
        }
        assert!(Instant::now() < deadline, "{lines:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Reads an HTTP response head and as much body as Content-Length says.
fn http_request(addr: SocketAddr, req: &[u8]) -> (u16, Vec<u8>) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(WAIT)).unwrap();
    s.write_all(req).unwrap();
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let n = s.read(&mut chunk).unwrap_or(0);
        buf.extend_from_slice(&chunk[..n]);
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_lowercase();
            let status: u16 = head[9..12].parse().unwrap();
            let len: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .map(|v| v.trim().parse().unwrap())
                .unwrap_or(0);
            while buf.len() < end + 4 + len {
                let n = s.read(&mut chunk).unwrap();
                assert!(n > 0, "body cut short");
                buf.extend_from_slice(&chunk[..n]);
            }
            return (status, buf[end + 4..end + 4 + len].to_vec());
        }
        assert!(
            n > 0,
            "no response head: {:?}",
            String::from_utf8_lossy(&buf)
        );
    }
}

#[test]
fn curl_publishes_and_reads_last() {
    let (srv, http) = server();
    let mut sub = srv.peer();
    sub.sub("a/b");
    let out = Command::new("curl")
        .args(["-s", "-d", "hello", &format!("http://{http}/pub/a/b")])
        .output()
        .expect("curl");
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout), "{\"ok\":true}");
    sub.expect(b"pub a/b\nhello");
    let (status, body) = http_request(http, b"GET /last/a/b HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!((status, &body[..]), (200, &b"hello"[..]));
    let (status, _) = http_request(http, b"GET /last/none HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(status, 204);
}

/// `GET /last/<pattern>` answers every stored match, as `curl` shows it.
#[test]
fn curl_reads_last_of_a_pattern_as_json() {
    let (srv, http) = server();
    let mut p = srv.peer();
    p.call(b"pub room/1/temp\n21.5", b"ACK");
    p.call(b"pub room/2/temp\n19", b"ACK");
    p.call(b"pub room/2/hum\n40", b"ACK");
    let out = Command::new("curl")
        .args([
            "-s",
            "-w",
            "\n%{http_code}",
            &format!("http://{http}/last/room/*/temp"),
        ])
        .output()
        .expect("curl");
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    let (body, status) = text.rsplit_once('\n').unwrap();
    assert_eq!(status, "200");
    // Stored order is not promised: compare as a set of objects.
    let body = body
        .strip_prefix('[')
        .and_then(|b| b.strip_suffix(']'))
        .unwrap();
    let mut items: Vec<&str> = body
        .split("},{")
        .map(|i| i.trim_start_matches('{').trim_end_matches('}'))
        .collect();
    items.sort();
    assert_eq!(
        items,
        [
            r#""route":"room/1/temp","payload":"21.5""#,
            r#""route":"room/2/temp","payload":"19""#,
        ]
    );
    let (status, body) = http_request(http, b"GET /last/cellar/* HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!((status, &body[..]), (200, &b"[]"[..]));
}

#[test]
fn http_status_mapping_and_percent_decoding() {
    let (srv, http) = server();
    let mut sub = srv.peer();
    sub.sub("room 1/t");
    let (status, _) = http_request(
        http,
        b"POST /pub/room%201/t HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi",
    );
    assert_eq!(status, 200);
    sub.expect(b"pub room 1/t\nhi");
    let (status, body) = http_request(
        http,
        b"POST /cmd/nope/r HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n",
    );
    assert_eq!(status, 404);
    assert_eq!(body, b"{\"error\":\"command unknown\",\"code\":17}");
    // A command that answers nothing still completes the request.
    let (status, body) = http_request(
        http,
        b"POST /cmd/PONG/r HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n",
    );
    assert_eq!((status, &body[..]), (204, &b""[..]));
    let (status, _) = http_request(http, b"GET /nowhere HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(status, 404);
    let (status, _) = http_request(http, b"DELETE /pub/a HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(status, 405);
    let (status, body) = http_request(http, b"GET /lsconn HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(status, 200);
    assert!(
        body.starts_with(b"[{\"id\":\"TCP:"),
        "{}",
        String::from_utf8_lossy(&body)
    );
}

#[test]
fn sse_and_websocket_subscribers_get_tcp_bytes_intact_and_vice_versa() {
    let (srv, http) = server();
    let mut sse = TcpStream::connect(http).unwrap();
    sse.set_read_timeout(Some(WAIT)).unwrap();
    sse.write_all(b"GET /sub/mix HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut w = ws(http);
    send(&mut w, b"sub mix\n");
    assert_eq!(ws_next(&mut w), b"ACK");
    let mut tcp = srv.peer();
    tcp.sub("mix");
    // Wait for the SSE stream to be established.
    let mut got = Vec::new();
    let mut chunk = [0u8; 4096];
    while !got.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = sse.read(&mut chunk).unwrap();
        got.extend_from_slice(&chunk[..n]);
    }
    assert!(String::from_utf8_lossy(&got).contains("text/event-stream"));
    got.clear();

    let mut tcp_pub = srv.peer();
    tcp_pub.publish("mix", "line1\nline2 é");
    assert_eq!(ws_next(&mut w), "pub mix\nline1\nline2 é".as_bytes());
    tcp.expect("pub mix\nline1\nline2 é".as_bytes());
    let want = "event: mix\ndata: line1\ndata: line2 é\n\n".as_bytes();
    while got.len() < want.len() {
        let n = sse.read(&mut chunk).unwrap();
        got.extend_from_slice(&chunk[..n]);
    }
    assert_eq!(String::from_utf8_lossy(&got), String::from_utf8_lossy(want));

    // And from WebSocket and HTTP to TCP.
    send(&mut w, b"pub mix\nfrom ws");
    tcp.expect(b"pub mix\nfrom ws");
    let (status, _) = http_request(
        http,
        b"POST /pub/mix HTTP/1.1\r\nHost: x\r\nContent-Length: 9\r\n\r\nfrom http",
    );
    assert_eq!(status, 200);
    tcp.expect(b"pub mix\nfrom http");
}

#[test]
fn ten_megabyte_body_over_limit_refused_without_reading_it() {
    let (srv, http) = server();
    let mut s = TcpStream::connect(http).unwrap();
    s.set_read_timeout(Some(WAIT)).unwrap();
    s.write_all(b"POST /pub/big HTTP/1.1\r\nHost: x\r\nContent-Length: 10000000\r\n\r\n")
        .unwrap();
    // The answer comes before a single body byte was sent.
    let mut buf = [0u8; 512];
    let n = s.read(&mut buf).unwrap();
    assert!(
        buf[..n].starts_with(b"HTTP/1.1 413"),
        "{}",
        String::from_utf8_lossy(&buf[..n])
    );
    let mut p = srv.peer();
    p.call(b"PING ok\n", b"PONG ok\n");
}

#[test]
fn malformed_handshakes_and_frames_never_hurt_others() {
    let (srv, http) = server();
    let mut watcher = srv.peer();
    watcher.sub("alive");
    let mut publisher = srv.peer();
    let mut check = |i: usize| {
        publisher.publish("alive", &i.to_string());
        watcher.expect(format!("pub alive\n{i}").as_bytes());
    };

    // A key that is not base64 of 16 bytes (25 characters): 400.
    let (status, _) = http_request(
        http,
        b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
          Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ===\r\n\r\n",
    );
    assert_eq!(status, 400);
    check(0);

    // Truncated headers, then a stall: nobody waits for it.
    let mut stalled = TcpStream::connect(http).unwrap();
    stalled
        .write_all(b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: webs")
        .unwrap();
    check(1);

    // Random bytes.
    let mut rng = Rng(42);
    for i in 0..50 {
        let mut junk = TcpStream::connect(http).unwrap();
        let n = 1 + (rng.next() % 300) as usize;
        let _ = junk.write_all(&rng.bytes(n));
        if i % 10 == 0 {
            check(2 + i);
        }
    }

    // A frame claiming 2^63 bytes: closed with 1009, never buffered.
    let mut w = ws(http);
    let mut raw = vec![0x82u8, 0xFF];
    raw.extend_from_slice(&(1u64 << 63).to_be_bytes());
    raw.extend_from_slice(&[1, 2, 3, 4]);
    w.get_mut().write_all(&raw).unwrap();
    match w.read() {
        Ok(Message::Close(Some(f))) => assert_eq!(f.code, CloseCode::Size),
        other => panic!("expected close 1009, got {other:?}"),
    }
    check(100);

    // An oversized but honest frame over the message limit.
    let mut w = ws(http);
    let _ = w.send(Message::binary(vec![b'x'; (1 << 20) + 10]));
    match w.read() {
        Ok(Message::Close(Some(f))) => assert_eq!(f.code, CloseCode::Size),
        other => panic!("expected close 1009, got {other:?}"),
    }
    check(101);
}

#[test]
fn rust_ws_client_publishes_and_subscribes() {
    let (srv, http) = server();
    let mut sub = Client::connect_ws(&http.to_string(), WAIT).unwrap();
    assert_eq!(sub.subscribe("c/*", "").unwrap(), None);
    let mut publ = Client::connect_ws(&http.to_string(), WAIT).unwrap();
    publ.publish("c/1", b"via ws").unwrap();
    assert_eq!(sub.receive().unwrap(), b"pub c/1\nvia ws");
    let lines = publ.list("lsconn").unwrap();
    assert!(lines.iter().any(|l| l.starts_with(b"WS:")));
    let mut tcp: Peer = srv.peer();
    tcp.publish("c/2", "via tcp");
    assert_eq!(sub.receive().unwrap(), b"pub c/2\nvia tcp");
}
