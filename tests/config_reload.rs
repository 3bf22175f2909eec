//! What a reload changes of secure deployment, against a real
//! `ducq-server` started from a configuration file: a new certificate and a
//! new client CA for connections made after it while open TLS connections
//! go on, a listener's `anonymous` setting, the browser origin rules, and
//! the log level. Each reload keeps every client connected. (The access lists,
//! limits, Lua folders and a refused file: tests/config.rs.)

mod secure_util;

use std::sync::Arc;

use ducq::client::{Client, NetStream, Wire};
use secure_util::*;

/// The file before (`a`) or after (`b`) the reload: its TLS listener's
/// certificate (and, after, a client CA), the TCP listener's `anonymous`,
/// the allowed origin and the log level change.
fn file(dir: &TempDir, before: &Pki, after: &Pki, phc: &str, reloaded: bool, level: &str) {
    let (tls, anonymous, origin) = if reloaded {
        let ca = format!("client_ca = \"{}\"\n", after.ca);
        let cert = format!("cert = \"{}\"\nkey = \"{}\"\n{ca}", after.cert, after.key);
        (cert, "anonymous = false\n", "https://two.lan")
    } else {
        let cert = format!("cert = \"{}\"\nkey = \"{}\"\n", before.cert, before.key);
        (cert, "", "https://one.lan")
    };
    let toml = [
        listener("tcp", anonymous),
        listener("tls", &tls),
        listener("http", ""),
        admin("root", phc),
        user("alice", None, &["news/*"], &["news/*"]),
        format!("\n[http]\nallow_origins = [\"{origin}\"]\n\n[log]\nlevel = \"{level}\"\n"),
    ]
    .concat();
    dir.write("ducq.toml", &toml);
}

/// A framed TLS client of `addr` with `config`, or the error that stopped
/// it: the handshake, or (TLS 1.3 checks client certificates after the
/// client's side is done) the first request.
fn tls_try(addr: &str, config: Arc<rustls::ClientConfig>) -> Result<Client<NetStream>, String> {
    let mut c = Client::connect_tls(addr, WAIT, config, Wire::Framed).map_err(|e| e.to_string())?;
    c.emit("PING", "_", b"p").map_err(|e| e.to_string())?;
    match c.receive() {
        Ok(got) if got == b"PONG _\np" => Ok(c),
        Ok(got) => Err(format!("unexpected answer {:?}", text(&got))),
        Err(e) => Err(e.to_string()),
    }
}

/// An HTTP request with `Origin: origin`; the whole answer.
fn from_origin(addr: &str, method: &str, path: &str, origin: &str) -> String {
    let body = if method == "POST" { "1" } else { "" };
    http(
        addr,
        &format!(
            "{method} {path} HTTP/1.1\r\nHost: x\r\nOrigin: {origin}\r\nContent-Length: {}\r\n\
             Connection: close\r\n\r\n{body}",
            body.len()
        ),
    )
}

#[test]
fn a_reload_changes_certificates_listener_rules_and_origins_for_new_connections_only() {
    let dir = TempDir::new("reload-tls");
    let (a, b) = (Pki::new(), Pki::new());
    let phc = hash("rootpw");
    file(&dir, &a, &b, &phc, false, "info");
    let path = dir.path("ducq.toml");
    let s = Server::start_kinds(&["--config", &path], &["", "tls", "http"]);
    let (tcp, tls, web) = (s.addr("", 0), s.addr("tls", 0), s.addr("http", 0));
    // Before: certificate A, no client certificate asked for.
    let mut old_tls = tls_try(&tls, a.client(&a.ca, None)).unwrap();
    old_tls.subscribe("news/*", "").unwrap();
    let mut old_anon = Client::connect(&tcp, WAIT).unwrap();
    old_anon.publish("news/0", b"before").unwrap();
    assert_eq!(old_tls.receive().unwrap(), b"pub news/0\nbefore");
    let r = from_origin(&web, "GET", "/lscmd", "https://one.lan");
    assert!(
        r.contains("Access-Control-Allow-Origin: https://one.lan\r\n"),
        "{r}"
    );

    file(&dir, &a, &b, &phc, true, "info");
    s.signal("HUP");
    s.wait_log("configuration reloaded");

    // New TLS connections meet certificate B (its CA has A's name but not
    // A's key: the signature fails) and must present a client certificate
    // signed by B's CA.
    let err = tls_try(&tls, a.client(&a.ca, None)).err().unwrap();
    assert!(
        err.ends_with("TLS handshake failed: invalid peer certificate: BadSignature"),
        "{err}"
    );
    let err = tls_try(&tls, b.client(&b.ca, None)).err().unwrap();
    assert!(err.contains("CertificateRequired"), "{err}");
    let alice = Some((b.client_cert.as_str(), b.client_key.as_str()));
    let mut new_tls = tls_try(&tls, b.client(&b.ca, alice)).unwrap();
    new_tls.publish("news/1", b"after").unwrap();
    // The connection made under certificate A goes on, without a client
    // certificate: open connections keep what they were accepted with.
    assert_eq!(old_tls.receive().unwrap(), b"pub news/1\nafter");
    old_tls.publish("news/2", b"old connection").unwrap();
    assert_eq!(old_tls.receive().unwrap(), b"pub news/2\nold connection");
    let lines = lsconn_lines(&mut new_tls);
    assert!(
        lines.iter().any(|l| l.starts_with("alice@TLS:127.0.0.1:")),
        "{lines:?}"
    );

    // The TCP listener no longer admits anonymous clients: a new one gets
    // nothing but auth and PING; the one accepted before keeps its rights.
    let mut new_anon = Client::connect(&tcp, WAIT).unwrap();
    nack24(new_anon.publish("news/3", b"x"));
    nack24(new_anon.list("lscmd").map(drop));
    new_anon.emit("PING", "_", b"p").unwrap();
    assert_eq!(new_anon.receive().unwrap(), b"PONG _\np");
    old_anon.publish("news/4", b"still anonymous").unwrap();
    assert_eq!(old_tls.receive().unwrap(), b"pub news/4\nstill anonymous");

    // The origin rules: two.lan now, one.lan no more.
    let r = from_origin(&web, "GET", "/lscmd", "https://two.lan");
    assert!(
        r.starts_with("HTTP/1.1 200 ")
            && r.contains("Access-Control-Allow-Origin: https://two.lan\r\n"),
        "{r}"
    );
    let r = from_origin(&web, "GET", "/lscmd", "https://one.lan");
    assert!(
        r.starts_with("HTTP/1.1 200 ") && !r.contains("Access-Control"),
        "{r}"
    );
    let r = from_origin(&web, "POST", "/pub/news/5", "https://one.lan");
    assert!(r.starts_with("HTTP/1.1 403 "), "{r}");
}

#[test]
fn a_reload_changes_the_log_level() {
    let dir = TempDir::new("reload-log");
    let (a, b) = (Pki::new(), Pki::new());
    let phc = hash("rootpw");
    file(&dir, &a, &b, &phc, true, "info");
    let path = dir.path("ducq.toml");
    let s = Server::start_kinds(&["--config", &path], &["", "tls", "http"]);
    let tcp = s.addr("", 0);
    let mut root = Client::connect(&tcp, WAIT).unwrap();
    root.authenticate("root", b"rootpw").unwrap();
    // At info, a new connection is logged, then its refusal (a warning).
    let mut c = Client::connect(&tcp, WAIT).unwrap();
    nack24(c.publish("mark/1", b"x"));
    let seen = lines_until(&s, "pub mark/1");
    assert!(seen.iter().any(|l| l.contains("connected")), "{seen:?}");

    // The reload command (for an admin) with level warn: from its ACK on,
    // info lines are gone and warnings stay.
    file(&dir, &a, &b, &phc, true, "warn");
    root.send(b"reload").unwrap();
    assert_eq!(root.receive().unwrap(), b"ACK");
    let mut c = Client::connect(&tcp, WAIT).unwrap();
    nack24(c.publish("mark/2", b"x"));
    let seen = lines_until(&s, "pub mark/2");
    assert!(
        seen.iter().all(|l| !l.contains("connected")),
        "an info line at level warn: {seen:?}"
    );
    // Every client is still connected.
    root.emit("PING", "_", b"p").unwrap();
    assert_eq!(root.receive().unwrap(), b"PONG _\np");
}

/// The log lines up to and including the first that contains `needle`.
fn lines_until(s: &Server, needle: &str) -> Vec<String> {
    let mut seen = Vec::new();
    loop {
        let line = s
            .log
            .recv_timeout(WAIT)
            .unwrap_or_else(|_| panic!("no log line with '{needle}' after {seen:?}"));
        let done = line.contains(needle);
        seen.push(line);
        if done {
            return seen;
        }
    }
}
