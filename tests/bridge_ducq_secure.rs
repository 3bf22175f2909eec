//! A ducq bridge to a secured ducq broker (issue 17 on top of issue 14),
//! two real `ducq-server`s on loopback: the bridge dials the remote's TLS
//! listener, checks its certificate against the CA it was given, and
//! authenticates as a user before it introduces itself; from then on that
//! user's access lists judge what crosses (`bpub` publishes, so a route
//! outside the user's publish list is refused and counted). A wrong
//! password, or none where anonymous use is off, ends each attempt with a
//! clear line and the bridge dials again while the local broker serves on.
//! A client saying `bpub` itself is held to the same lists as `pub`.

mod secure_util;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use ducq::client::Client;
use secure_util::*;

const PW: &str = "bridge pw";

/// The remote broker: a plain listener for the test's own clients and a
/// TLS one for the bridge, anonymous use off on both. `bridge` may publish
/// within `site-a/#` and subscribe within `cmd/#`; `reader` may only
/// subscribe; `root` is an admin.
fn remote(pki: &Pki) -> (TempDir, Server) {
    let pw = hash(PW);
    let tls = format!(
        "cert = \"{}\"\nkey = \"{}\"\nanonymous = false\n",
        pki.cert, pki.key
    );
    let toml = [
        listener("tcp", "anonymous = false\n"),
        listener("tls", &tls),
        memory_queues(),
        user("bridge", Some(&pw), &["site-a/#"], &["cmd/#"]),
        user("reader", Some(&pw), &[], &["#"]),
        admin("root", &pw),
        auth(0.05, ""),
    ]
    .concat();
    config_server("bridge-secure", &toml, &["", "tls"])
}

/// The local broker, bridged to `tls_addr` by `--bridge` with `extra`
/// keys (credentials).
fn local(tls_addr: &str, ca: &str, extra: &str) -> Server {
    let spec = format!(
        "ducq={tls_addr},name=b,tls=true,ca={ca},out=site-a/#,out=other/#,in=cmd/#,\
         backoff_max=0.2{extra}"
    );
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

/// Bridge `b`'s `key=value` fields in the `bridges` listing.
fn fields(c: &mut Client) -> BTreeMap<String, String> {
    let lines = c.list("bridges").unwrap();
    let line = text(&lines[1]);
    assert!(line.starts_with("b kind=ducq "), "{line}");
    line.split_whitespace()
        .filter_map(|w| w.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn wait_field(c: &mut Client, key: &str, want: &str) {
    let deadline = Instant::now() + WAIT;
    while fields(c)[key] != want {
        assert!(
            Instant::now() < deadline,
            "{key} never {want}: {:?}",
            fields(c)
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn a_bridge_authenticates_over_tls_and_its_user_lists_judge_what_crosses() {
    let pki = Pki::new();
    let (_dir, b) = remote(&pki);
    let tls_addr = b.addr("tls", 0);
    let a = local(&tls_addr, &pki.ca, &format!(",user=bridge,password={PW}"));
    a.wait_log(&format!("bridge-b: connected to {tls_addr}"));
    let a_addr = a.addr("", 0);
    let mut ctl = Client::connect(&a_addr, WAIT).unwrap();
    wait_field(&mut ctl, "state", "open");

    // At the remote, the bridge is the user `bridge`, subscribed to cmd/#.
    let mut root = login(&b.addr("", 0), "root", PW);
    let deadline = Instant::now() + WAIT;
    loop {
        let lines = lsconn_lines(&mut root);
        if lines
            .iter()
            .any(|l| l.starts_with("bridge@") && l.trim_end().ends_with(",cmd/#"))
        {
            break;
        }
        assert!(Instant::now() < deadline, "{lines:?}");
        std::thread::sleep(Duration::from_millis(10));
    }

    // Out, within the bridge user's publish list.
    let mut watch = login(&b.addr("", 0), "root", PW);
    watch.subscribe("#", "").unwrap();
    let mut pa = Client::connect(&a_addr, WAIT).unwrap();
    pa.publish("site-a/t", b"21.5").unwrap();
    watch.set_timeout(Some(WAIT)).unwrap();
    assert_eq!(watch.receive().unwrap(), b"pub site-a/t\n21.5");
    // Out, beyond it: the remote refuses the bpub, the bridge counts it.
    pa.publish("other/x", b"not for b").unwrap();
    wait_field(&mut ctl, "rejected", "1");
    let f = fields(&mut ctl);
    assert_eq!(
        (
            f["sent"].as_str(),
            f["confirmed"].as_str(),
            f["in_flight"].as_str()
        ),
        ("2", "1", "0")
    );
    b.wait_log("denied bridge: bpub other/x: publish outside the access list");

    // In: a publication at the remote reaches the local subscriber.
    let mut sa = Client::connect(&a_addr, WAIT).unwrap();
    sa.subscribe("cmd/#", "").unwrap();
    root.publish("cmd/door", b"open").unwrap();
    sa.set_timeout(Some(WAIT)).unwrap();
    assert_eq!(sa.receive().unwrap(), b"pub cmd/door\nopen");
    // The remote's subscriber got that next: the refused one never came.
    assert_eq!(watch.receive().unwrap(), b"pub cmd/door\nopen");
}

#[test]
fn wrong_or_missing_credentials_end_each_attempt_with_a_clear_line() {
    let pki = Pki::new();
    let (_dir, b) = remote(&pki);
    let tls_addr = b.addr("tls", 0);
    for (extra, why) in [
        (
            ",user=bridge,password=wrong".to_string(),
            "(the remote refused the credentials of bridge: access denied)".to_string(),
        ),
        (
            String::new(),
            "(the remote refused the bridge: access denied (does it need a user and password?))"
                .to_string(),
        ),
    ] {
        let a = local(&tls_addr, &pki.ca, &extra);
        let first = a.wait_log(&format!("bridge-b: could not connect to {tls_addr}"));
        assert!(
            first.contains(&format!(
                "could not connect to {tls_addr} {why}; retrying in "
            )),
            "{first}"
        );
        assert!(first.ends_with("(attempt 1)"), "{first}");
        a.wait_log("(attempt 2)");
        // Never open, and the local broker serves on.
        let a_addr = a.addr("", 0);
        let mut ctl = Client::connect(&a_addr, WAIT).unwrap();
        let f = fields(&mut ctl);
        assert_eq!(
            (f["connects"].as_str(), f["state"].as_str()),
            ("0", "down"),
            "{f:?}"
        );
        let mut s = Client::connect(&a_addr, WAIT).unwrap();
        s.subscribe("local", "").unwrap();
        ctl.publish("local", b"served").unwrap();
        s.set_timeout(Some(WAIT)).unwrap();
        assert_eq!(s.receive().unwrap(), b"pub local\nserved");
    }
}

#[test]
fn a_client_saying_bpub_is_held_to_the_publish_list() {
    let pki = Pki::new();
    let (_dir, b) = remote(&pki);
    let addr = b.addr("", 0);
    let mut watch = login(&addr, "root", PW);
    watch.subscribe("#", "").unwrap();
    // `reader` may subscribe anywhere and publish nowhere.
    let mut reader = login(&addr, "reader", PW);
    reader
        .emit("bpub", "r/x", b"00000000000000a1:1\nforged")
        .unwrap();
    nack24(reader.receive_reply());
    b.wait_log("denied reader: bpub r/x: publish outside the access list");
    // An admin's bpub is published (root may publish anywhere); the
    // watcher sees it, and only it.
    let mut root = login(&addr, "root", PW);
    root.emit("bpub", "r/x", b"00000000000000a1:2\nallowed")
        .unwrap();
    assert_eq!(text(&root.receive_reply().unwrap()), "ACK");
    watch.set_timeout(Some(WAIT)).unwrap();
    assert_eq!(watch.receive().unwrap(), b"pub r/x\nallowed");
    watch.set_timeout(Some(Duration::from_millis(200))).unwrap();
    assert!(watch.receive().is_err(), "the forged one was published");
}

#[test]
fn a_client_certificate_names_the_bridge_user_where_the_remote_asks_for_one() {
    let pki = Pki::new();
    // A TLS listener that requires certificates signed by the test CA; the
    // certificate's CN, alice, is a user known by certificate only.
    let tls = format!(
        "cert = \"{}\"\nkey = \"{}\"\nclient_ca = \"{}\"\nanonymous = false\n",
        pki.cert, pki.key, pki.ca
    );
    let pw = hash(PW);
    let toml = [
        listener("tcp", "anonymous = false\n"),
        listener("tls", &tls),
        memory_queues(),
        user("alice", None, &["site-a/#"], &["cmd/#"]),
        admin("root", &pw),
        auth(0.05, ""),
    ]
    .concat();
    let (_dir, b) = config_server("bridge-cert", &toml, &["", "tls"]);
    let tls_addr = b.addr("tls", 0);
    let cert = format!(",cert={},key={}", pki.client_cert, pki.client_key);
    let a = local(&tls_addr, &pki.ca, &cert);
    a.wait_log(&format!("bridge-b: connected to {tls_addr}"));
    let mut root = login(&b.addr("", 0), "root", PW);
    root.subscribe("site-a/#", "").unwrap();
    let deadline = Instant::now() + WAIT;
    loop {
        let lines = lsconn_lines(&mut root);
        if lines
            .iter()
            .any(|l| l.starts_with("alice@") && l.trim_end().ends_with(",cmd/#"))
        {
            break;
        }
        assert!(Instant::now() < deadline, "{lines:?}");
        std::thread::sleep(Duration::from_millis(10));
    }
    let mut pa = Client::connect(&a.addr("", 0), WAIT).unwrap();
    pa.publish("site-a/t", b"by certificate").unwrap();
    root.set_timeout(Some(WAIT)).unwrap();
    assert_eq!(root.receive().unwrap(), b"pub site-a/t\nby certificate");

    // Without the certificate the remote ends the handshake.
    let c = local(&tls_addr, &pki.ca, "");
    c.wait_log(&format!("bridge-b: could not connect to {tls_addr}"));
    c.wait_log("(attempt 2)");
    let mut ctl = Client::connect(&c.addr("", 0), WAIT).unwrap();
    assert_eq!(fields(&mut ctl)["connects"], "0");
}
