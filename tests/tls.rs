//! TLS against a real `ducq-server`: the `ducq` CLI, the Rust client,
//! `openssl s_client`, `curl --cacert` (HTTPS publish and SSE), a WSS
//! client (tungstenite over rustls); mutual TLS with the CN naming the
//! user; and every way to get it wrong (unknown CA, expired certificate,
//! plain text on the TLS port, TLS on the plain port, slow and garbage
//! handshakes), each refused clearly while the server serves the others.
//! Certificates are made by the test (rcgen).

mod secure_util;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use ducq::client::{Client, NetStream, Wire};
use rustls::pki_types::ServerName;
use secure_util::*;

fn tls_server(pki: &Pki, extra: &[&str]) -> Server {
    let mut args = vec![
        "--tcp",
        "127.0.0.1:0",
        "--tls",
        "127.0.0.1:0",
        "--https",
        "127.0.0.1:0",
        "--cert",
        &pki.cert,
        "--key",
        &pki.key,
        "--log-level",
        "info",
    ];
    args.extend_from_slice(extra);
    Server::start(&args)
}

fn tls_client(pki: &Pki, addr: &str) -> Client<NetStream> {
    Client::connect_tls(addr, WAIT, pki.client(&pki.ca, None), Wire::Framed).unwrap()
}

/// Runs `ducq --tls --ca CA --port P ARGS` against `s`'s TLS listener.
fn ducq_tls(s: &Server, ca: &str, args: &[&str]) -> std::process::Output {
    let port = s.port("tls");
    ducq(&[&["--tls", "--ca", ca, "--port", &port][..], args].concat())
}

/// The error of a framed TLS connection to `addr` with `config`, which
/// must fail (`what` says what got in otherwise).
fn tls_refused(addr: &str, config: Arc<rustls::ClientConfig>, what: &str) -> String {
    Client::connect_tls(addr, WAIT, config, Wire::Framed)
        .err()
        .expect(what)
        .to_string()
}

/// A pub/sub round trip over plain TCP: the server still serves.
fn plain_round_trip(s: &Server) {
    let addr = s.addr("", 0);
    let mut sub = Client::connect(&addr, WAIT).unwrap();
    sub.subscribe("alive", "").unwrap();
    let mut publ = Client::connect(&addr, WAIT).unwrap();
    publ.publish("alive", b"yes").unwrap();
    assert_eq!(sub.receive().unwrap(), b"pub alive\nyes");
}

#[test]
fn rust_client_and_cli_over_tls() {
    let pki = Pki::new();
    let s = tls_server(&pki, &[]);
    let addr = s.addr("tls", 0);
    let mut sub = tls_client(&pki, &addr);
    sub.subscribe("home/*", "").unwrap();
    // The CLI publishes over TLS; a plain TCP subscriber sees it too.
    let mut plain = Client::connect(&s.addr("", 0), WAIT).unwrap();
    plain.subscribe("home/*", "").unwrap();
    let out = ducq_tls(&s, &pki.ca, &["pub", "home/door", "open"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(sub.receive().unwrap(), b"pub home/door\nopen");
    assert_eq!(plain.receive().unwrap(), b"pub home/door\nopen");
    // A large message crosses TLS records and the encryption window.
    let big: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    let mut publ = tls_client(&pki, &addr);
    publ.publish("home/big", &big).unwrap();
    let got = sub.receive().unwrap();
    assert_eq!(&got[..14], b"pub home/big\n\x00");
    assert_eq!(&got[13..], &big[..]);
    // lsconn names TLS clients as such.
    let lines = lsconn_lines(&mut publ);
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("TLS:127.0.0.1:") && l.ends_with(",home/*\n")),
        "{lines:?}"
    );
    // `ducq sub` over TLS with --last.
    let out = ducq_tls(&s, &pki.ca, &["sub", "home/door", "--last", "--count", "1"]);
    assert_eq!(text(&out.stdout), "open\n", "{}", text(&out.stderr));
}

#[test]
fn openssl_s_client_speaks_framed_ducq() {
    if !ensure_tool("openssl", "openssl") {
        panic!("openssl is not installed and could not be installed");
    }
    let pki = Pki::new();
    let s = tls_server(&pki, &[]);
    let mut sub = tls_client(&pki, &s.addr("tls", 0));
    sub.subscribe("ssl", "").unwrap();
    let mut child = Command::new("openssl")
        .args([
            "s_client",
            "-quiet",
            "-connect",
            &s.addr("tls", 0),
            "-CAfile",
            &pki.ca,
        ])
        .args(["-verify_return_error", "-servername", "localhost"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .as_mut()
        .unwrap()
        .write_all(b"13\npub ssl\nhello")
        .unwrap();
    let mut got = [0u8; 5];
    child.stdout.as_mut().unwrap().read_exact(&mut got).unwrap();
    assert_eq!(&got, b"3\nACK");
    assert_eq!(sub.receive().unwrap(), b"pub ssl\nhello");
    let _ = child.kill();
    let _ = child.wait();
}

#[test]
fn curl_publishes_and_streams_over_https() {
    assert!(have("curl"), "curl is installed by scripts/test.sh");
    let pki = Pki::new();
    let s = tls_server(&pki, &[]);
    let base = format!("https://{}", s.addr("https", 0));
    let mut sse = Command::new("curl")
        .args(["-sN", "--cacert", &pki.ca, &format!("{base}/sub/news")])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until the event stream is subscribed.
    let mut probe = tls_client(&pki, &s.addr("tls", 0));
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let lines = probe.list("lsconn").unwrap();
        if lines
            .iter()
            .any(|l| text(l).starts_with("HTTPS:") && text(l).ends_with(",news\n"))
        {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "curl never subscribed: {lines:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = Command::new("curl")
        .args([
            "-s",
            "--cacert",
            &pki.ca,
            "-d",
            "flash",
            &format!("{base}/pub/news"),
        ])
        .output()
        .unwrap();
    assert_eq!(text(&out.stdout), "{\"ok\":true}");
    let mut buf = Vec::new();
    let stdout = sse.stdout.as_mut().unwrap();
    while !text(&buf).contains("\n\n") {
        let mut chunk = [0u8; 256];
        let n = stdout.read(&mut chunk).unwrap();
        assert!(n > 0, "event stream ended");
        buf.extend_from_slice(&chunk[..n]);
    }
    assert_eq!(text(&buf), "event: news\ndata: flash\n\n");
    let _ = sse.kill();
    let _ = sse.wait();
    // Without the CA, curl refuses the server: the certificate is checked.
    let out = Command::new("curl")
        .args([
            "-s",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            &format!("{base}/lscmd"),
        ])
        .output()
        .unwrap();
    assert_eq!(text(&out.stdout), "000");
    assert_eq!(
        out.status.code(),
        Some(60),
        "curl: peer certificate cannot be authenticated"
    );
}

#[test]
fn wss_client_over_the_https_port() {
    let pki = Pki::new();
    let s = tls_server(&pki, &[]);
    let addr = s.addr("https", 0);
    let tcp = TcpStream::connect(&addr).unwrap();
    tcp.set_read_timeout(Some(WAIT)).unwrap();
    let name = ServerName::try_from("localhost").unwrap();
    let conn = rustls::ClientConnection::new(pki.client(&pki.ca, None), name).unwrap();
    let tls = rustls::StreamOwned::new(conn, tcp);
    let url = format!("wss://localhost:{}/", s.port("https"));
    let (mut ws, resp) = tungstenite::client::client(url.as_str(), tls).unwrap();
    assert_eq!(resp.status(), 101);
    ws.send(tungstenite::Message::text("sub wss/*\n")).unwrap();
    assert_eq!(ws_text(&mut ws), "ACK");
    // The library's own WebSocket client over TLS publishes.
    let mut c = Client::connect_tls(&addr, WAIT, pki.client(&pki.ca, None), Wire::Ws).unwrap();
    c.publish("wss/a", b"secure").unwrap();
    assert_eq!(ws_text(&mut ws), "pub wss/a\nsecure");
}

fn ws_text<S: Read + Write>(ws: &mut tungstenite::WebSocket<S>) -> String {
    loop {
        match ws.read().unwrap() {
            tungstenite::Message::Text(t) => return t.to_string(),
            tungstenite::Message::Binary(b) => return text(&b),
            _ => {}
        }
    }
}

#[test]
fn wrong_ca_expired_certificate_and_wrong_ports_are_refused_clearly() {
    let pki = Pki::new();
    let s = tls_server(&pki, &[]);
    let tls_addr = s.addr("tls", 0);
    // A client that trusts another CA refuses the server.
    let err = tls_refused(
        &tls_addr,
        pki.client(&pki.other_ca, None),
        "unknown CA accepted",
    );
    assert!(err.contains("UnknownIssuer"), "{err}");
    let out = ducq_tls(&s, &pki.other_ca, &["lscmd"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("TLS handshake failed"),
        "{}",
        text(&out.stderr)
    );
    s.wait_log("TLS handshake failed");

    // A TLS client on the plain port: the server answers in plain text,
    // the client says so.
    let err = tls_refused(
        &s.addr("", 0),
        pki.client(&pki.ca, None),
        "plain port accepted TLS",
    );
    assert!(err.contains("not TLS"), "{err}");

    // A plain client on the TLS port gets a plain NACK and is closed.
    let mut plain = TcpStream::connect(&tls_addr).unwrap();
    plain.set_read_timeout(Some(WAIT)).unwrap();
    plain.write_all(b"6\nlscmd").unwrap();
    let mut got = Vec::new();
    plain.read_to_end(&mut got).unwrap();
    assert_eq!(got, b"25\nNACK *\n15\nmessage invalid");
    s.wait_log("plain-text client on a TLS port");
    // A plain HTTP client on the HTTPS port gets a 400 that says why.
    let mut plain = TcpStream::connect(s.addr("https", 0)).unwrap();
    plain.set_read_timeout(Some(WAIT)).unwrap();
    plain
        .write_all(b"GET /lscmd HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut got = Vec::new();
    plain.read_to_end(&mut got).unwrap();
    let got = text(&got);
    assert!(
        got.starts_with("HTTP/1.1 400 ") && got.ends_with("this port speaks HTTPS (TLS)\n"),
        "{got}"
    );
    plain_round_trip(&s);

    // A server with an expired certificate: clients refuse it.
    let expired = Server::start(&[
        "--tls",
        "127.0.0.1:0",
        "--cert",
        &pki.expired_cert,
        "--key",
        &pki.expired_key,
    ]);
    let err = tls_refused(
        &expired.addr("tls", 0),
        pki.client(&pki.ca, None),
        "expired certificate accepted",
    );
    assert!(err.contains("certificate expired"), "{err}");
    let mut ok = tls_client(&pki, &tls_addr);
    ok.publish("still", b"here").unwrap();
}

/// The error that ends a framed TLS client of `addr` presenting what
/// `config` holds: at the handshake, or (TLS 1.3 checks a client's
/// certificate after the client's side is done) at its first request.
fn refused_at_first_request(addr: &str, config: Arc<rustls::ClientConfig>, what: &str) -> String {
    Client::connect_tls(addr, WAIT, config, Wire::Framed)
        .and_then(|mut c| c.publish("alice/x", b"1"))
        .expect_err(what)
        .to_string()
}

#[test]
fn mutual_tls_requires_a_client_certificate_and_its_cn_names_the_user() {
    let pki = Pki::new();
    let dir = TempDir::new("mtls");
    let config = dir.write(
        "ducq.toml",
        &format!(
            "[[listener]]\nkind = \"tls\"\naddr = \"127.0.0.1:0\"\ncert = \"{cert}\"\nkey = \"{key}\"\n\
             client_ca = \"{ca}\"\nanonymous = false\n\n\
             [[listener]]\nkind = \"https\"\naddr = \"127.0.0.1:0\"\ncert = \"{cert}\"\nkey = \"{key}\"\n\
             client_ca = \"{ca}\"\nanonymous = false\n\n\
             [[user]]\nname = \"alice\"\npublish = [\"alice/*\"]\nsubscribe = [\"alice/*\"]\n",
            cert = pki.cert,
            key = pki.key,
            ca = pki.ca
        ),
    );
    let s = Server::start_kinds(&["--config", &config], &["tls", "https"]);
    let addr = s.addr("tls", 0);
    // No client certificate: the server asks for one and ends it.
    let err = refused_at_first_request(&addr, pki.client(&pki.ca, None), "no certificate got in");
    assert!(
        err.ends_with("received fatal alert: CertificateRequired"),
        "{err}"
    );
    s.wait_log("TLS handshake failed: peer sent no certificates");
    // A certificate from another CA: refused too.
    let stranger = pki.client(&pki.ca, Some((&pki.stranger_cert, &pki.stranger_key)));
    let err = refused_at_first_request(&addr, stranger, "a stranger's certificate got in");
    assert!(err.ends_with("received fatal alert: UnknownCA"), "{err}");
    s.wait_log("TLS handshake failed: invalid peer certificate: UnknownIssuer");
    // Alice's certificate, expired: refused, and the log says why.
    let expired = pki.client(
        &pki.ca,
        Some((&pki.expired_client_cert, &pki.expired_client_key)),
    );
    let err = refused_at_first_request(&addr, expired, "an expired certificate got in");
    assert!(
        err.ends_with("received fatal alert: CertificateExpired"),
        "{err}"
    );
    s.wait_log("TLS handshake failed: invalid peer certificate: certificate expired");
    // Alice's certificate: she is alice, with alice's access list.
    let alice = pki.client(&pki.ca, Some((&pki.client_cert, &pki.client_key)));
    let mut c = Client::connect_tls(&addr, WAIT, Arc::clone(&alice), Wire::Framed).unwrap();
    c.publish("alice/x", b"1").unwrap();
    let err = c.publish("bob/x", b"1").unwrap_err();
    assert_eq!(err.to_string(), "NACK 24: access denied");
    // The same over WSS on the https listener.
    let mut w = Client::connect_tls(&s.addr("https", 0), WAIT, alice, Wire::Ws).unwrap();
    w.publish("alice/w", b"2").unwrap();
    nack24(w.publish("bob/w", b"2"));
    let lines = lsconn_lines(&mut c);
    assert!(
        lines.iter().any(|l| l.starts_with("alice@TLS:127.0.0.1:")),
        "{lines:?}"
    );
    assert!(
        lines.iter().any(|l| l.starts_with("alice@WSS:127.0.0.1:")),
        "{lines:?}"
    );
    // The CLI presents a certificate with --cert and --key.
    let port = s.port("tls");
    let cli = |route: &str| {
        ducq(&[
            "--tls",
            "--ca",
            &pki.ca,
            "--cert",
            &pki.client_cert,
            "--key",
            &pki.client_key,
            "--port",
            &port,
            "pub",
            route,
            "3",
        ])
    };
    let out = cli("alice/cli");
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = cli("bob/cli");
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(text(&out.stderr), "ducq: NACK 24: access denied\n");
    // curl with the certificate publishes over HTTPS; without it, nothing.
    assert!(have("curl"), "curl is installed by scripts/test.sh");
    let url = format!("https://{}/pub/alice/curl", s.addr("https", 0));
    let out = Command::new("curl")
        .args(["-s", "--cacert", &pki.ca, "--cert", &pki.client_cert])
        .args(["--key", &pki.client_key, "-d", "4", &url])
        .output()
        .unwrap();
    assert_eq!(text(&out.stdout), "{\"ok\":true}");
    let out = Command::new("curl")
        .args(["-s", "--cacert", &pki.ca, "-d", "4", &url])
        .output()
        .unwrap();
    assert!(
        !out.status.success() && out.stdout.is_empty(),
        "curl without a certificate: {:?}",
        out
    );
    s.wait_log("TLS handshake failed: peer sent no certificates");
    // The server serves those with one all along.
    c.publish("alice/y", b"5").unwrap();
}

#[test]
fn hostile_handshakes_do_not_stall_others() {
    let pki = Pki::new();
    let s = tls_server(&pki, &["--frame-timeout", "1"]);
    let addr = s.addr("tls", 0);
    // Slowloris: a ClientHello's first bytes, then nothing.
    let mut slow: Vec<TcpStream> = (0..20)
        .map(|_| {
            let mut t = TcpStream::connect(&addr).unwrap();
            t.write_all(&[0x16, 0x03, 0x01, 0x02]).unwrap();
            t
        })
        .collect();
    // Garbage that starts like a handshake record: a message of unknown
    // type where the ClientHello should be.
    let mut garbage = TcpStream::connect(&addr).unwrap();
    garbage.set_read_timeout(Some(WAIT)).unwrap();
    garbage
        .write_all(&[0x16, 0x03, 0x01, 0x00, 0x08, 0xff, 0, 0, 4, 1, 2, 3, 4])
        .unwrap();
    // Others are served meanwhile, over TLS and plain TCP.
    let mut a = tls_client(&pki, &addr);
    a.subscribe("x", "").unwrap();
    let mut b = tls_client(&pki, &addr);
    b.publish("x", b"through").unwrap();
    assert_eq!(a.receive().unwrap(), b"pub x\nthrough");
    plain_round_trip(&s);
    // The garbage got an alert and was closed.
    let mut got = Vec::new();
    let _ = garbage.read_to_end(&mut got);
    assert_eq!(got.first(), Some(&0x15), "a TLS alert record: {got:?}");
    // The stalled handshakes are given up after the frame timeout.
    for t in &mut slow {
        t.set_read_timeout(Some(WAIT)).unwrap();
        let mut rest = Vec::new();
        let _ = t.read_to_end(&mut rest);
    }
    s.wait_log("message left incomplete past the frame timeout");
    b.publish("x", b"again").unwrap();
    assert_eq!(a.receive().unwrap(), b"pub x\nagain");
}
