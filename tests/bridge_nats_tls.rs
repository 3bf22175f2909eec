//! The NATS bridge over TLS (issue 17): a real `nats-server` that requires
//! TLS and a password on its client port (certificates made by the test,
//! no key committed). NATS greets in plain text and expects the handshake
//! after its `INFO` line; two `ducq-server`s bridged to it with `tls`, `ca`,
//! `user` and `password` exchange messages both ways through it. A CA that
//! did not sign the server's certificate, a bridge without `tls` to a
//! server that requires it, and a bridge with `tls` to a server that does
//! not offer it each end every attempt with a clear line, and the bridge
//! dials again while the local broker serves on.

mod nats_util;
mod procs;
mod secure_util;

use std::process::Command;
use std::time::{Duration, Instant};

use ducq::client::Client;
use procs::{free_port, Proc};
use secure_util::{Pki, Server, TempDir, WAIT};

/// A `nats-server` whose client port requires TLS (the test PKI's server
/// certificate) and the user `bridge` / `s3cret`.
struct TlsNats {
    _proc: Proc,
    port: u16,
    _dir: TempDir,
}

impl TlsNats {
    fn start(pki: &Pki) -> TlsNats {
        let dir = TempDir::new("nats-tls");
        let port = free_port();
        let conf = dir.write(
            "nats.conf",
            &format!(
                "listen: 127.0.0.1:{port}\n\
                 tls {{\n  cert_file: \"{}\"\n  key_file: \"{}\"\n  timeout: 10\n}}\n\
                 authorization {{\n  user: bridge\n  password: s3cret\n}}\n",
                pki.cert, pki.key
            ),
        );
        let proc = Proc::spawn(Command::new("nats-server").args(["-c", &conf]));
        proc.err().until("Server is ready");
        TlsNats {
            _proc: proc,
            port,
            _dir: dir,
        }
    }

    fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
}

/// A `ducq-server` bridged to `addr` by `--bridge` with `extra` keys.
fn bridged(addr: &str, extra: &str) -> Server {
    let spec = format!("nats={addr},name=n,out=fleet/#,in=fleet/#,backoff_max=0.2{extra}");
    Server::start(&[
        "--tcp",
        "127.0.0.1:0",
        "--data-dir",
        "none",
        "--log-level",
        "info",
        "--bridge",
        &spec,
    ])
}

/// Publishes at `from` until `to` (subscribed to `route`) gets it: a
/// subscription made through the other bridge reaches NATS a moment after
/// that bridge opened.
fn crosses(from: &mut Client, to: &mut Client, route: &str, payload: &str) {
    let want = format!("pub {route}\n{payload}");
    to.set_timeout(Some(Duration::from_millis(200))).unwrap();
    let deadline = Instant::now() + WAIT;
    loop {
        from.publish(route, payload.as_bytes()).unwrap();
        if let Ok(m) = to.receive() {
            assert_eq!(String::from_utf8_lossy(&m), want);
            while to.receive().is_ok() {}
            return;
        }
        assert!(Instant::now() < deadline, "{route} never crossed");
    }
}

/// The bridge's `key=value` fields in the `bridges` listing.
fn fields(c: &mut Client) -> std::collections::BTreeMap<String, String> {
    let lines = c.list("bridges").unwrap();
    let line = String::from_utf8_lossy(&lines[1]).into_owned();
    line.split_whitespace()
        .filter_map(|w| w.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn two_brokers_exchange_messages_through_nats_over_tls_with_a_password() {
    let pki = Pki::new();
    let nats = TlsNats::start(&pki);
    let extra = format!(",tls=true,ca={},user=bridge,password=s3cret", pki.ca);
    let a = bridged(&nats.addr(), &extra);
    let b = bridged(&nats.addr(), &extra);
    for s in [&a, &b] {
        s.wait_log(&format!("bridge-n: connected to {}", nats.addr()));
    }
    let (a_addr, b_addr) = (a.addr("", 0), b.addr("", 0));
    let mut at_a = Client::connect(&a_addr, WAIT).unwrap();
    let mut at_b = Client::connect(&b_addr, WAIT).unwrap();
    let mut sub_a = Client::connect(&a_addr, WAIT).unwrap();
    let mut sub_b = Client::connect(&b_addr, WAIT).unwrap();
    // Each subscriber hears only what the other broker publishes.
    sub_a.subscribe("fleet/b", "").unwrap();
    sub_b.subscribe("fleet/a", "").unwrap();
    sub_b.subscribe("fleet/seq", "add").unwrap();
    crosses(&mut at_a, &mut sub_b, "fleet/a", "from a");
    crosses(&mut at_b, &mut sub_a, "fleet/b", "from b");
    // In order, once each, after the probes.
    for i in 0..20 {
        at_a.publish("fleet/seq", i.to_string().as_bytes()).unwrap();
    }
    sub_b.set_timeout(Some(WAIT)).unwrap();
    for i in 0..20 {
        assert_eq!(
            sub_b.receive().unwrap(),
            format!("pub fleet/seq\n{i}").into_bytes()
        );
    }
    let f = fields(&mut at_a);
    assert_eq!(
        (
            f["state"].as_str(),
            f["connects"].as_str(),
            f["disconnects"].as_str()
        ),
        ("open", "1", "0"),
        "{f:?}"
    );
}

/// Waits for the line saying an attempt failed; returns it.
fn refused(s: &Server, addr: &str) -> String {
    let line = s.wait_log(&format!("bridge-n: could not connect to {addr}"));
    s.wait_log("(attempt 2)");
    line
}

/// The broker serves its own clients.
fn serves(s: &Server) {
    let addr = s.addr("", 0);
    let mut sub = Client::connect(&addr, WAIT).unwrap();
    sub.subscribe("local", "").unwrap();
    let mut p = Client::connect(&addr, WAIT).unwrap();
    p.publish("local", b"served").unwrap();
    sub.set_timeout(Some(WAIT)).unwrap();
    assert_eq!(sub.receive().unwrap(), b"pub local\nserved");
    let f = fields(&mut p);
    assert_eq!(
        (f["connects"].as_str(), f["state"].as_str()),
        ("0", "down"),
        "{f:?}"
    );
}

#[test]
fn a_wrong_ca_a_missing_tls_or_a_server_without_tls_is_refused_clearly() {
    let pki = Pki::new();
    let nats = TlsNats::start(&pki);
    let addr = nats.addr();

    // The server's certificate is not signed by the CA the bridge trusts.
    let s = bridged(
        &addr,
        &format!(",tls=true,ca={},user=bridge,password=s3cret", pki.other_ca),
    );
    let line = s.wait_log("TLS handshake failed");
    assert!(line.contains("invalid peer certificate"), "{line}");
    refused(&s, &addr);
    serves(&s);

    // No tls: the INFO line asks for it.
    let s = bridged(&addr, ",user=bridge,password=s3cret");
    let line = refused(&s, &addr);
    assert!(
        line.contains(&format!(
            "could not connect to {addr} (the server requires TLS: give the bridge tls=true (and ca)); retrying in "
        )),
        "{line}"
    );
    serves(&s);

    // tls=true, but the server offers none: no credentials go out.
    let plain = nats_util::Nats::start();
    let s = bridged(
        &plain.addr(),
        &format!(",tls=true,ca={},user=bridge,password=s3cret", pki.ca),
    );
    let line = refused(&s, &plain.addr());
    assert!(
        line.contains(&format!(
            "could not connect to {} (the server does not offer TLS (the bridge has tls=true)); retrying in ",
            plain.addr()
        )),
        "{line}"
    );
    serves(&s);
}
