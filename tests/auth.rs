//! Users and access lists against a real `ducq-server` started from a
//! configuration file: each allowed and denied case for pub, sub (`add`,
//! `last`), wildcards that would widen a subscription, over TCP, HTTP
//! (Basic) and WebSocket (the upgrade's header, or a first `auth`
//! message); wrong passwords; brute force slowed per peer address;
//! anonymous access off; `lsconn` showing users; `hash-password`.

mod secure_util;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::Command;

use ducq::client::{Client, Error};
use secure_util::*;

struct Setup {
    _dir: TempDir,
    s: Server,
}

/// Listeners: TCP, HTTP, and a TCP one without anonymous use.
fn setup() -> Setup {
    let toml = [
        listener("tcp", ""),
        listener("http", ""),
        listener("tcp", "anonymous = false\n"),
        user(
            "sensor1",
            Some(&hash("pw1")),
            &["sensors/*"],
            &["cmd/sensor1/*", "sensors/sensor1"],
        ),
        admin("root", &hash("rootpw")),
        anonymous(&["public/*"], &["public/*"]),
        auth(0.05, "free_failures = 2\nmax_fail_delay = 3600\n"),
    ]
    .concat();
    let (_dir, s) = config_server("auth", &toml, &["", "http", ""]);
    Setup { _dir, s }
}

fn sub(c: &mut Client, route: &str, opts: &str) -> Result<(), Error> {
    c.subscribe(route, opts).map(drop)
}

#[test]
fn tcp_publish_and_subscribe_within_the_lists() {
    let st = setup();
    let s = &st.s;
    let addr = s.addr("", 0);
    // Anonymous: public/* only.
    let mut anon = Client::connect(&addr, WAIT).unwrap();
    anon.publish("public/news", b"hi").unwrap();
    nack24(anon.publish("sensors/t", b"1"));
    s.wait_log("denied anonymous: pub sensors/t: publish outside the access list");
    // Streamed parts publish; the store-only `last` reads like a sub.
    nack24(
        anon.emit("CONT", "sensors/t", b"part")
            .and_then(|()| anon.receive_reply().map(drop)),
    );
    nack24(
        anon.emit("END", "sensors/t", b"")
            .and_then(|()| anon.receive_reply().map(drop)),
    );
    nack24(
        anon.emit("last", "sensors/t", b"")
            .and_then(|()| anon.receive_reply().map(drop)),
    );
    anon.emit("last", "public/*", b"").unwrap();
    assert_eq!(text(&anon.receive_reply().unwrap()), "pub public/news\nhi");
    sub(&mut anon, "public/news", "").unwrap();
    sub(&mut anon, "public/*", "add").unwrap();
    // Widening: `public*` also matches `publicity`, `*` everything.
    nack24(sub(&mut anon, "public*", "add"));
    nack24(sub(&mut anon, "*", "add"));
    nack24(sub(&mut anon, "*/news", "last"));
    s.wait_log("subscription beyond the access list");
    // `last` is a subscription too.
    assert_eq!(
        anon.subscribe("public/news", "last add").unwrap(),
        Some(b"pub public/news\nhi".to_vec())
    );
    nack24(sub(&mut anon, "sensors/t", "last"));
    // Forgetting what is stored needs publish rights on the route.
    nack24(
        anon.emit("forget", "sensors/*", b"")
            .and_then(|()| anon.receive_reply().map(drop)),
    );
    s.wait_log("denied anonymous: forget sensors/*: publish outside the access list");
    anon.emit("forget", "public/news", b"").unwrap();
    assert_eq!(text(&anon.receive_reply().unwrap()), "ACK");
    anon.emit("last", "public/news", b"").unwrap();
    assert_eq!(text(&anon.receive_reply().unwrap()), "ACK");

    // sensor1: its own lists once authenticated.
    let mut s1 = login(&addr, "sensor1", "pw1");
    s1.publish("sensors/temp", b"21").unwrap();
    nack24(s1.publish("public/news", b"x"));
    sub(&mut s1, "cmd/sensor1/*", "").unwrap();
    sub(&mut s1, "cmd/sensor1/on/*", "add").unwrap();
    nack24(sub(&mut s1, "cmd/*", "add"));
    nack24(sub(&mut s1, "cmd/sensor1*", "add"));
    assert_eq!(s1.subscribe("sensors/sensor1", "last add").unwrap(), None);
    // Deliveries still flow: root publishes a command to sensor1.
    let mut root = login(&addr, "root", "rootpw");
    root.publish("cmd/sensor1/on", b"go").unwrap();
    assert_eq!(s1.receive().unwrap(), b"pub cmd/sensor1/on\ngo");
    // lsconn names the users.
    let lines = lsconn_lines(&mut root);
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("sensor1@TCP:127.0.0.1:") && l.ends_with(",cmd/sensor1/*\n")),
        "{lines:?}"
    );
    assert!(
        lines.iter().any(|l| l.starts_with("root@TCP:")),
        "{lines:?}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("TCP:") && l.ends_with(",public/news\n")),
        "{lines:?}"
    );

    // A wrong password: NACK 24, the connection stays usable and is
    // anonymous again.
    let mut c = login(&addr, "sensor1", "pw1");
    nack24(c.authenticate("sensor1", b"wrong"));
    nack24(c.publish("sensors/t", b"1"));
    c.publish("public/x", b"1").unwrap();
    nack24(c.authenticate("nobody", b"pw1"));
    s.wait_log("authentication failed for 'nobody'");
    // Admin commands: unsub of another connection needs an admin.
    nack24(
        c.emit("unsub", "x", s1.id().as_bytes())
            .and_then(|()| c.receive_reply().map(drop)),
    );
}

#[test]
fn anonymous_off_allows_only_auth_and_ping() {
    let st = setup();
    let addr = st.s.addr("", 1);
    let mut c = Client::connect(&addr, WAIT).unwrap();
    nack24(c.list("lscmd").map(drop));
    nack24(c.publish("public/x", b"1"));
    nack24(sub(&mut c, "public/x", ""));
    c.emit("PING", "_", b"ping").unwrap();
    assert_eq!(c.receive().unwrap(), b"PONG _\nping");
    c.authenticate("sensor1", b"pw1").unwrap();
    c.publish("sensors/a", b"1").unwrap();
    assert!(!c.list("lscmd").unwrap().is_empty());
    // The CLI authenticates with --user and DUCQ_PASSWORD.
    let port = addr.rsplit(':').next().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_ducq"))
        .args([
            "--port",
            port,
            "--user",
            "sensor1",
            "pub",
            "sensors/cli",
            "v",
        ])
        .env("DUCQ_PASSWORD", "pw1")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = Command::new(env!("CARGO_BIN_EXE_ducq"))
        .args(["--port", port, "pub", "sensors/cli", "v"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(text(&out.stderr), "ducq: NACK 24: access denied\n");
}

fn post(path: &str, auth: &str, body: &str) -> String {
    format!(
        "POST {path} HTTP/1.1\r\nHost: x\r\n{auth}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
}

#[test]
fn http_basic_auth_and_access_lists() {
    let st = setup();
    let h = st.s.addr("http", 0);
    let ok = http(&h, &post("/pub/sensors/t", &basic("sensor1", "pw1"), "5"));
    assert!(
        ok.starts_with("HTTP/1.1 200 ") && ok.ends_with("{\"ok\":true}"),
        "{ok}"
    );
    // No credentials where anonymous may not publish: 401 and a challenge.
    let r = http(&h, &post("/pub/sensors/t", "", "5"));
    assert!(
        r.starts_with("HTTP/1.1 401 ") && r.contains("WWW-Authenticate: Basic realm=\"ducq\"\r\n"),
        "{r}"
    );
    assert!(
        r.ends_with("{\"error\":\"access denied\",\"code\":24}"),
        "{r}"
    );
    // A wrong password: 401 too.
    let r = http(&h, &post("/pub/sensors/t", &basic("sensor1", "nope"), "5"));
    assert!(r.starts_with("HTTP/1.1 401 "), "{r}");
    // Authenticated but outside the list: 403.
    let r = http(&h, &post("/pub/cmd/x", &basic("sensor1", "pw1"), "5"));
    assert!(
        r.starts_with("HTTP/1.1 403 ") && r.contains("\"code\":24"),
        "{r}"
    );
    // Reading: /last is a subscription.
    let r = http(
        &h,
        "GET /last/sensors/t HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assert!(r.starts_with("HTTP/1.1 401 "), "{r}");
    let auth = basic("root", "rootpw");
    let r = http(
        &h,
        &format!("GET /last/sensors/t HTTP/1.1\r\nHost: x\r\n{auth}Connection: close\r\n\r\n"),
    );
    assert!(
        r.starts_with("HTTP/1.1 200 ") && r.ends_with("\r\n\r\n5"),
        "{r}"
    );
    let r = http(
        &h,
        "GET /last/public/* HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assert!(r.starts_with("HTTP/1.1 200 ") && r.ends_with("[]"), "{r}");
    // Keep-alive: the credentials are checked once per connection.
    let mut t = TcpStream::connect(&h).unwrap();
    t.set_read_timeout(Some(WAIT)).unwrap();
    let a = basic("sensor1", "pw1");
    let one = format!("POST /pub/sensors/a HTTP/1.1\r\nHost: x\r\n{a}Content-Length: 1\r\n\r\n1");
    let two = format!("POST /pub/sensors/b HTTP/1.1\r\nHost: x\r\n{a}Content-Length: 1\r\nConnection: close\r\n\r\n2");
    t.write_all(format!("{one}{two}").as_bytes()).unwrap();
    let mut out = Vec::new();
    t.read_to_end(&mut out).unwrap();
    assert_eq!(
        text(&out).matches("HTTP/1.1 200 OK").count(),
        2,
        "{}",
        text(&out)
    );
}

fn ws_upgrade(addr: &str, auth: &str) -> (TcpStream, String) {
    let mut t = TcpStream::connect(addr).unwrap();
    t.set_read_timeout(Some(WAIT)).unwrap();
    let req = format!(
        "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n{auth}\r\n"
    );
    t.write_all(req.as_bytes()).unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if t.read(&mut byte).unwrap() == 0 {
            break;
        }
        head.push(byte[0]);
    }
    (t, text(&head))
}

fn ws_send(t: &mut TcpStream, msg: &str) {
    let mut frame = vec![0x81, 0x80 | msg.len() as u8, 0, 0, 0, 0];
    frame.extend_from_slice(msg.as_bytes());
    t.write_all(&frame).unwrap();
}

fn ws_recv(t: &mut TcpStream) -> String {
    let mut h = [0u8; 2];
    t.read_exact(&mut h).unwrap();
    let mut body = vec![0u8; (h[1] & 0x7f) as usize];
    t.read_exact(&mut body).unwrap();
    text(&body)
}

#[test]
fn websocket_auth_by_header_or_first_message() {
    let st = setup();
    let h = st.s.addr("http", 0);
    let (mut ws, head) = ws_upgrade(&h, &basic("sensor1", "pw1"));
    assert!(head.starts_with("HTTP/1.1 101 "), "{head}");
    ws_send(&mut ws, "pub sensors/ws\nx");
    assert_eq!(ws_recv(&mut ws), "ACK");
    ws_send(&mut ws, "pub cmd/ws\nx");
    assert_eq!(ws_recv(&mut ws), "NACK *\n24\naccess denied");
    // Wrong credentials: no upgrade.
    let (_, head) = ws_upgrade(&h, &basic("sensor1", "bad"));
    assert!(head.starts_with("HTTP/1.1 401 "), "{head}");
    // No header: anonymous, then a first `auth` message.
    let (mut ws, head) = ws_upgrade(&h, "");
    assert!(head.starts_with("HTTP/1.1 101 "), "{head}");
    ws_send(&mut ws, "pub sensors/ws\nx");
    assert_eq!(ws_recv(&mut ws), "NACK *\n24\naccess denied");
    ws_send(&mut ws, "auth root\nrootpw");
    assert_eq!(ws_recv(&mut ws), "ACK");
    ws_send(&mut ws, "pub sensors/ws\nx");
    assert_eq!(ws_recv(&mut ws), "ACK");
}

/// Connects from a chosen loopback address (each is a peer of its own).
fn from(ip: &str, to: &str) -> TcpStream {
    let to: SocketAddr = to.parse().unwrap();
    let sock = socket2_connect(ip, to);
    sock.set_read_timeout(Some(WAIT)).unwrap();
    sock
}

fn socket2_connect(ip: &str, to: SocketAddr) -> TcpStream {
    // std cannot bind before connecting; libc can.
    use std::os::fd::FromRawFd;
    let local: std::net::Ipv4Addr = ip.parse().unwrap();
    let SocketAddr::V4(to) = to else {
        panic!("v4 only")
    };
    // SAFETY: plain socket calls on a descriptor this function owns; the
    // sockaddr structs are fully initialised.
    unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_STREAM, 0);
        assert!(fd >= 0);
        let mut a: libc::sockaddr_in = std::mem::zeroed();
        a.sin_family = libc::AF_INET as _;
        a.sin_addr.s_addr = u32::from(local).to_be();
        let rc = libc::bind(
            fd,
            (&a as *const libc::sockaddr_in).cast(),
            std::mem::size_of_val(&a) as _,
        );
        assert_eq!(rc, 0, "bind {ip}");
        let mut b: libc::sockaddr_in = std::mem::zeroed();
        b.sin_family = libc::AF_INET as _;
        b.sin_port = to.port().to_be();
        b.sin_addr.s_addr = u32::from(*to.ip()).to_be();
        let rc = libc::connect(
            fd,
            (&b as *const libc::sockaddr_in).cast(),
            std::mem::size_of_val(&b) as _,
        );
        assert_eq!(rc, 0, "connect");
        TcpStream::from_raw_fd(fd)
    }
}

fn frame(body: &str) -> Vec<u8> {
    let mut f = format!("{}\n", body.len()).into_bytes();
    f.extend_from_slice(body.as_bytes());
    f
}

fn read_frame(t: &mut TcpStream) -> Option<String> {
    let mut len = Vec::new();
    let mut b = [0u8; 1];
    loop {
        if t.read(&mut b).ok()? == 0 {
            return None;
        }
        if b[0] == b'\n' {
            break;
        }
        len.push(b[0]);
    }
    let n: usize = text(&len).parse().ok()?;
    let mut body = vec![0u8; n];
    t.read_exact(&mut body).ok()?;
    Some(text(&body))
}

#[test]
fn brute_force_from_one_address_is_slowed_down() {
    let st = setup();
    let addr = st.s.addr("", 0);
    // Twelve wrong passwords at once from 127.0.0.3: the first two are
    // answered after the base delay, each later one waits twice as long as
    // the one before (the twelfth: 0.05 s × 2^10 ≈ 51 s).
    let mut attackers: Vec<TcpStream> = (0..12).map(|_| from("127.0.0.3", &addr)).collect();
    for a in &mut attackers {
        a.write_all(&frame("auth sensor1\nguess")).unwrap();
    }
    for a in attackers.iter_mut().take(2) {
        assert_eq!(read_frame(a).as_deref(), Some("NACK *\n24\naccess denied"));
    }
    // A failure from another address, sent after all of them, is
    // answered after the base delay: its answer's timer is due before
    // the late attackers'.
    let mut other = from("127.0.0.4", &addr);
    other.write_all(&frame("auth sensor1\nguess")).unwrap();
    assert_eq!(
        read_frame(&mut other).as_deref(),
        Some("NACK *\n24\naccess denied")
    );
    // The server has passed that timer, yet the twelfth attacker's answer
    // is still withheld: its timer is not due.
    let last = attackers.last_mut().unwrap();
    last.set_nonblocking(true).unwrap();
    let mut buf = [0u8; 64];
    let r = last.read(&mut buf);
    assert!(
        matches!(&r, Err(e) if e.kind() == std::io::ErrorKind::WouldBlock),
        "the 12th failure was answered already: {r:?}"
    );
    st.s.wait_log("12 in a row from this address");
    // While it waits, its further input is not even read, and others are
    // served: the right password from a third address gets in at once.
    let mut good = Client::connect(&addr, WAIT).unwrap();
    good.authenticate("sensor1", b"pw1").unwrap();
    // Dropping the waiting connections cancels their timers cleanly.
    drop(attackers);
    good.publish("sensors/x", b"1").unwrap();
}

#[test]
fn http_and_websocket_where_anonymous_use_is_off_and_from_a_listed_origin() {
    let toml = [
        listener("http", "anonymous = false\n"),
        user(
            "sensor1",
            Some(&hash("pw1")),
            &["sensors/*"],
            &["sensors/*"],
        ),
        auth(0.05, ""),
        "\n[http]\nallow_origins = [\"https://dash.lan\"]\nallow_loopback = false\n".to_string(),
    ]
    .concat();
    let (_dir, s) = config_server("auth-http-off", &toml, &["http"]);
    let h = s.addr("http", 0);
    let creds = basic("sensor1", "pw1");
    // Without credentials nothing gets through: 401 and a challenge, for
    // reading as for writing.
    let r = http(&h, &post("/pub/sensors/t", "", "5"));
    assert!(
        r.starts_with("HTTP/1.1 401 ")
            && r.contains("WWW-Authenticate: Basic realm=\"ducq\"\r\n")
            && r.ends_with("{\"error\":\"access denied\",\"code\":24}"),
        "{r}"
    );
    let get = "GET /last/sensors/t HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    assert!(http(&h, get).starts_with("HTTP/1.1 401 "));
    let r = http(
        &h,
        "GET /lscmd HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assert!(r.starts_with("HTTP/1.1 401 "), "{r}");
    // A WebSocket without credentials gets auth and PING only.
    let (mut ws, head) = ws_upgrade(&h, "");
    assert!(head.starts_with("HTTP/1.1 101 "), "{head}");
    ws_send(&mut ws, "sub sensors/*\n");
    assert_eq!(ws_recv(&mut ws), "NACK *\n24\naccess denied");
    ws_send(&mut ws, "PING _\np");
    assert_eq!(ws_recv(&mut ws), "PONG _\np");
    ws_send(&mut ws, "auth sensor1\npw1");
    assert_eq!(ws_recv(&mut ws), "ACK");
    ws_send(&mut ws, "sub sensors/*\n");
    assert_eq!(ws_recv(&mut ws), "ACK");

    // The listed origin's page: its preflight lets it send credentials,
    // its authenticated POST and its WebSocket upgrade go through.
    let dash = "Origin: https://dash.lan\r\n";
    let r = http(
        &h,
        &format!(
            "OPTIONS /pub/sensors/t HTTP/1.1\r\nHost: x\r\n{dash}\
             Access-Control-Request-Method: POST\r\n\
             Access-Control-Request-Headers: authorization\r\nConnection: close\r\n\r\n"
        ),
    );
    assert!(
        r.starts_with("HTTP/1.1 204 ")
            && r.contains("Access-Control-Allow-Headers: Authorization, Content-Type\r\n")
            && r.contains("Access-Control-Allow-Origin: https://dash.lan\r\n"),
        "{r}"
    );
    let r = http(&h, &post("/pub/sensors/t", &format!("{dash}{creds}"), "21"));
    assert!(
        r.starts_with("HTTP/1.1 200 ")
            && r.contains("Access-Control-Allow-Origin: https://dash.lan\r\n")
            && r.ends_with("{\"ok\":true}"),
        "{r}"
    );
    assert_eq!(ws_recv(&mut ws), "pub sensors/t\n21");
    let (mut dash_ws, head) = ws_upgrade(&h, &format!("{dash}{creds}"));
    assert!(head.starts_with("HTTP/1.1 101 "), "{head}");
    ws_send(&mut dash_ws, "pub sensors/t\n22");
    assert_eq!(ws_recv(&mut dash_ws), "ACK");
    assert_eq!(ws_recv(&mut ws), "pub sensors/t\n22");
    // Loopback pages are not listed here (allow_loopback = false): even
    // with the right credentials they change nothing.
    let local = format!("Origin: http://localhost:8080\r\n{creds}");
    let r = http(&h, &post("/pub/sensors/t", &local, "23"));
    assert!(
        r.starts_with("HTTP/1.1 403 ") && r.ends_with("{\"error\":\"origin not allowed\"}"),
        "{r}"
    );
    let (_, head) = ws_upgrade(&h, &local);
    assert!(head.starts_with("HTTP/1.1 403 "), "{head}");
}
