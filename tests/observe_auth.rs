//! The dashboard and the metrics behind authentication (issue 18: "behind
//! auth when auth is on"), against a real `ducq-server`: once users exist,
//! `GET /`, the dashboard's files, `/metrics` and `/stats`, and the
//! dashboard's own commands over its WebSocket need an admin user (401 with
//! a challenge without credentials, 403 for another user); so do channel
//! changes. The connections page names each connection's user. Without
//! users everything stays open, as before.

mod secure_util;

use std::net::TcpStream;

use base64::Engine as _;
use ducq::client::Client;
use secure_util::*;
use tungstenite::client::IntoClientRequest;
use tungstenite::Message;

fn setup() -> (TempDir, Server) {
    let pw = hash("pw");
    let toml = [
        listener("tcp", ""),
        listener("http", ""),
        memory_queues(),
        user("sensor1", Some(&pw), &["*"], &["*"]),
        admin("root", &pw),
        auth(0.05, ""),
    ]
    .concat();
    config_server("observe", &toml, &["", "http"])
}

/// `GET path` with the `auth` header line (or ""); the whole answer.
fn get(addr: &str, path: &str, auth: &str) -> String {
    http(
        addr,
        &format!("GET {path} HTTP/1.1\r\nHost: x\r\n{auth}Connection: close\r\n\r\n"),
    )
}

fn ws(addr: &str, user: Option<&str>) -> tungstenite::WebSocket<TcpStream> {
    let stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(WAIT)).unwrap();
    let mut req = format!("ws://{addr}/").into_client_request().unwrap();
    if let Some(u) = user {
        let b = base64::engine::general_purpose::STANDARD.encode(format!("{u}:pw"));
        req.headers_mut()
            .insert("Authorization", format!("Basic {b}").parse().unwrap());
    }
    let (ws, _) = tungstenite::client(req, stream).expect("handshake");
    ws
}

fn ask(ws: &mut tungstenite::WebSocket<TcpStream>, msg: &str) -> String {
    ws.send(Message::text(msg)).unwrap();
    ask_next(ws)
}

/// The next message (keep-alive PINGs skipped).
fn ask_next(ws: &mut tungstenite::WebSocket<TcpStream>) -> String {
    loop {
        match ws.read().unwrap() {
            Message::Text(t) if t.starts_with("PING") => continue,
            Message::Text(t) => return t.to_string(),
            Message::Binary(b) => return text(&b),
            _ => continue,
        }
    }
}

#[test]
fn dashboard_and_metrics_need_an_admin_once_users_exist() {
    let (_dir, s) = setup();
    let h = s.addr("http", 0);
    for (path, kind) in [
        ("/metrics", "text/plain; version=0.0.4"),
        ("/stats", "application/json"),
        ("/", "text/html"),
        ("/dashboard/app.js", "text/javascript"),
    ] {
        let r = get(&h, path, "");
        assert!(
            r.starts_with("HTTP/1.1 401 ")
                && r.contains("WWW-Authenticate: Basic realm=\"ducq\"\r\n")
                && r.ends_with("{\"error\":\"access denied\",\"code\":24}"),
            "{path}: {r}"
        );
        let r = get(&h, path, &basic("sensor1", "pw"));
        assert!(r.starts_with("HTTP/1.1 403 "), "{path}: {r}");
        let r = get(&h, path, &basic("root", "pw"));
        assert!(r.starts_with("HTTP/1.1 200 "), "{path}: {r}");
        assert!(r.contains(&format!("Content-Type: {kind}")), "{path}: {r}");
    }
    s.wait_log("denied sensor1: metrics : admin only");

    // Over the dashboard's WebSocket: its commands are an admin's too.
    let mut anon = Client::connect(&s.addr("", 0), WAIT).unwrap();
    anon.subscribe("anything", "").unwrap();
    let mut user = ws(&h, Some("sensor1"));
    assert_eq!(ask(&mut user, "conns *\n0 50"), "NACK *\n24\naccess denied");
    assert_eq!(
        ask(&mut user, "routes *\n0 50"),
        "NACK *\n24\naccess denied"
    );
    assert_eq!(ask(&mut user, "stats"), "NACK *\n24\naccess denied");
    // Changing channels is an admin's; listing them is not.
    assert_eq!(
        ask(&mut user, "chan add quiet\npattern=quiet/# read_only"),
        "NACK *\n24\naccess denied"
    );
    assert_eq!(ask(&mut user, "chan ls"), "PARTS");
    assert_eq!(ask_next(&mut user), "END");
    let mut admin = ws(&h, Some("root"));
    assert_eq!(ask(&mut admin, "chan add quiet\npattern=quiet/#"), "ACK");
    assert_eq!(ask(&mut user, "chan rm quiet"), "NACK *\n24\naccess denied");
    assert_eq!(ask(&mut admin, "chan rm quiet"), "ACK");

    // The connections page names each connection's user.
    let page = ask(&mut admin, "conns *\n0 50");
    assert!(page.starts_with("{\"total\":"), "{page}");
    let anon_id = anon.id();
    assert!(
        page.contains(&format!("{{\"id\":\"{anon_id}\",\"user\":\"\",")),
        "{page}"
    );
    assert!(page.contains(",\"user\":\"sensor1\","), "{page}");
    assert!(page.contains(",\"user\":\"root\","), "{page}");
    // The filter finds connections by user too.
    let page = ask(&mut admin, "conns sensor1@\n0 50");
    assert!(page.starts_with("{\"total\":1,"), "{page}");
    assert!(page.contains(",\"user\":\"sensor1\","), "{page}");
}

#[test]
fn without_users_the_dashboard_and_metrics_stay_open() {
    let s = Server::start_kinds(
        &[
            "--tcp",
            "127.0.0.1:0",
            "--http",
            "127.0.0.1:0",
            "--data-dir",
            "none",
        ],
        &["", "http"],
    );
    let h = s.addr("http", 0);
    for path in ["/metrics", "/stats", "/"] {
        let r = get(&h, path, "");
        assert!(r.starts_with("HTTP/1.1 200 "), "{path}: {r}");
    }
    let mut w = ws(&h, None);
    let page = ask(&mut w, "conns *\n0 50");
    assert!(page.contains(",\"user\":\"\","), "{page}");
    assert_eq!(ask(&mut w, "chan add a\npattern=a/#"), "ACK");
}
