//! Tests of the NATS codec: the handshake, messages in (with headers or
//! not), confirmations of what went out, the mirror's replies, hostile input.

use super::*;
use crate::server::bridges::config::Kind;
use std::rc::Rc;

fn setup() -> (NatsRemote, Link) {
    let mut cfg = BridgeConfig::new(Kind::Nats, "127.0.0.1:4222".parse().unwrap());
    cfg.mapping.out = vec!["o/#".into()];
    cfg.mapping.inbound = vec!["i/+".into(), "j/#".into()];
    cfg.user = Some("u".into());
    cfg.password = Some("p\"w".into());
    let remote = NatsRemote::new(&cfg, None, None);
    (remote, Link::new(Rc::new(cfg)))
}

/// Decodes everything in `input`; returns the local messages.
fn feed(r: &mut NatsRemote, link: &mut Link, input: &[u8], out: &mut Vec<u8>) -> Vec<String> {
    let mut buf = input.to_vec();
    let mut got = Vec::new();
    loop {
        let (n, inbound) = r.decode(link, &mut buf, out).unwrap();
        if let Some(i) = inbound {
            got.push(String::from_utf8(i.message).unwrap());
        }
        if n == 0 {
            return got;
        }
        buf.drain(..n);
    }
}

#[test]
fn handshake_subscribes_and_opens_on_pong() {
    let (mut r, mut link) = setup();
    let mut out = Vec::new();
    r.open(&mut link, &mut out);
    assert!(out.is_empty());
    feed(
        &mut r,
        &mut link,
        b"INFO {\"server_id\":\"x\",\"max_payload\":100}\r\n",
        &mut out,
    );
    let text = String::from_utf8(out.clone()).unwrap();
    assert!(
        text.starts_with("CONNECT {\"verbose\":false,\"pedantic\":false,\"echo\":false,"),
        "{text}"
    );
    assert!(
        text.contains(",\"user\":\"u\",\"pass\":\"p\\\"w\"}\r\n"),
        "{text}"
    );
    assert!(
        text.ends_with("SUB i.* 1\r\nSUB j.> 2\r\nSUB j 3\r\nPING\r\n"),
        "{text}"
    );
    assert!(!r.ready());
    out.clear();
    feed(&mut r, &mut link, b"+OK\r\nPONG\r\n", &mut out);
    assert!(r.ready() && out.is_empty());
    assert_eq!(r.max_payload, 100);
}

#[test]
fn messages_in_and_confirmations_of_what_went_out() {
    let (mut r, mut link) = setup();
    let mut out = Vec::new();
    feed(&mut r, &mut link, b"INFO {}\r\nPONG\r\n", &mut out);
    out.clear();
    let got = feed(
        &mut r,
        &mut link,
        b"MSG i.x 1 5\r\nhello\r\nMSG j 3 reply.to 0\r\n\r\nMSG i.x.y 1 1\r\nz\r\nPING\r\nMSG i.a 1 3\r\nab",
        &mut out,
    );
    assert_eq!(got, ["pub i/x\nhello", "pub j\n"]);
    assert_eq!(link.counters.ignored, 1);
    assert_eq!(out, b"PONG\r\n");
    out.clear();
    // Two publications: a PING after the first, none after the second
    // until the PONG; that PONG confirms one and asks again.
    for p in ["1", "2"] {
        let mut m = r.outgoing(&mut link, b"o/a", p.as_bytes(), 0).unwrap();
        assert_eq!(r.send(&mut link, &mut m, &mut out), Sent::Unconfirmed);
        link.sent_unconfirmed(m);
    }
    assert_eq!(out, b"PUB o.a 1\r\n1\r\nPING\r\nPUB o.a 1\r\n2\r\n");
    out.clear();
    feed(&mut r, &mut link, b"PONG\r\n", &mut out);
    assert_eq!((link.counters.confirmed, link.in_flight()), (1, 1));
    assert_eq!(out, b"PING\r\n");
    feed(&mut r, &mut link, b"PONG\r\n", &mut out);
    assert_eq!((link.counters.confirmed, link.in_flight()), (2, 0));
    // Over the server's limit, or no subject for the route.
    r.max_payload = 2;
    let mut big = r.outgoing(&mut link, b"o/a", b"abc", 0).unwrap();
    assert_eq!(r.send(&mut link, &mut big, &mut out), Sent::Skipped);
    assert_eq!(r.outgoing(&mut link, b"o/a.b", b"x", 0), None);
    assert_eq!(link.counters.unmappable, 2);
}

#[test]
fn hostile_servers_end_the_connection() {
    for bad in [
        &b"GARBAGE\r\n"[..],
        b"-ERR 'Authorization Violation'\r\n",
        b"INFO {\"tls_required\":true}\r\n",
    ] {
        let (mut r, mut link) = setup();
        let mut buf = bad.to_vec();
        assert!(
            r.decode(&mut link, &mut buf, &mut Vec::new()).is_err(),
            "{bad:?}"
        );
    }
    let (mut r, mut link) = setup();
    let mut out = Vec::new();
    feed(&mut r, &mut link, b"INFO {}\r\nPONG\r\n", &mut out);
    for bad in [
        &b"MSG a 1 x\r\n"[..],
        b"MSG a 1 2\r\nabcd",
        b"MSG a\r\n",
        b"MSG a 1 99999999999999\r\n",
    ] {
        let mut buf = bad.to_vec();
        assert!(r.decode(&mut link, &mut buf, &mut out).is_err(), "{bad:?}");
    }
    let mut long = vec![b'x'; MAX_LINE + 1];
    assert!(r.decode(&mut link, &mut long, &mut out).is_err());
    // A permissions error is counted and noted, not fatal.
    let mut perm = b"-ERR 'Permissions Violation for Publish to \"o.a\"'\r\n".to_vec();
    assert!(r.decode(&mut link, &mut perm, &mut out).is_ok());
    assert_eq!((link.counters.rejected, link.notes.len()), (1, 1));
}

#[test]
fn headed_messages_and_the_mirror_handshake() {
    let mut cfg = BridgeConfig::new(Kind::Nats, "127.0.0.1:4222".parse().unwrap());
    cfg.mapping.inbound = vec!["i/#".into()];
    cfg.jetstream.queues = vec!["jobs".into()];
    let mirror = Mirror::new(cfg.jetstream.clone(), 1, 10, 100);
    let mirror = Rc::new(RefCell::new(mirror));
    let mut r = NatsRemote::new(&cfg, Some(Rc::clone(&mirror)), None);
    let mut link = Link::new(Rc::new(cfg));
    let mut out = Vec::new();
    feed(&mut r, &mut link, b"INFO {\"headers\":true}\r\n", &mut out);
    let text = String::from_utf8(out.clone()).unwrap();
    assert!(
        text.contains("\"headers\":true,\"no_responders\":true,"),
        "{text}"
    );
    assert!(
        text.contains("SUB i.> 1\r\nSUB i 2\r\nSUB _INBOX."),
        "{text}"
    );
    let inbox = text.split("SUB _INBOX.").nth(1).unwrap();
    let token = inbox.split('.').next().unwrap().to_string();
    assert!(text.contains(&format!(
        ".* 3\r\nPUB $JS.API.STREAM.CREATE.DUCQ_QUEUES _INBOX.{token}.c "
    )));
    assert!(text.ends_with("PING\r\n"), "{text}");
    // The stream is there (a reply on the inbox), then PONG opens.
    let reply = format!("MSG _INBOX.{token}.c 3 2\r\n{{}}\r\nPONG\r\n");
    feed(&mut r, &mut link, reply.as_bytes(), &mut out);
    assert!(r.ready() && mirror.borrow().is_ready());
    // A headed message from a subscription: its payload comes in.
    let got = feed(
        &mut r,
        &mut link,
        b"HMSG i.x 1 12 17\r\nNATS/1.0\r\n\r\nhello\r\n",
        &mut out,
    );
    assert_eq!(got, ["pub i/x\nhello"]);
    assert_eq!(status(b"NATS/1.0 503\r\n\r\n"), Some("503"));
    assert_eq!(status(b"NATS/1.0\r\nA: b\r\n\r\n"), None);
    // No responders for the stream API: the connection ends.
    let nope = format!("HMSG _INBOX.{token}.c 3 16 16\r\nNATS/1.0 503\r\n\r\n\r\n");
    let mut buf = nope.into_bytes();
    assert!(r.decode(&mut link, &mut buf, &mut out).is_err());
    for bad in [&b"HMSG a 1 5 3\r\nabcde\r\n"[..], b"HMSG a 1 3\r\n"] {
        let mut buf = bad.to_vec();
        assert!(r.decode(&mut link, &mut buf, &mut out).is_err(), "{bad:?}");
    }
}

#[test]
fn json_fields() {
    let info = br#"{"a":"x y","max_payload": 1048576 ,"tls_required":true}"#;
    assert_eq!(json_field(info, "a").as_deref(), Some("x y"));
    assert_eq!(json_field(info, "max_payload").as_deref(), Some("1048576"));
    assert_eq!(json_field(info, "tls_required").as_deref(), Some("true"));
    assert_eq!(json_field(info, "nope"), None);
}

/// One decode of `input` on an opened remote.
fn decode_once(input: &[u8]) -> Result<(usize, Option<Inbound>), String> {
    let (mut r, mut link) = setup();
    feed(&mut r, &mut link, b"INFO {}\r\nPONG\r\n", &mut Vec::new());
    let mut buf = input.to_vec();
    r.decode(&mut link, &mut buf, &mut Vec::new())
}

#[test]
fn lines_and_sizes_at_their_bounds() {
    // A line without its CRLF waits, up to MAX_LINE bytes.
    assert_eq!(decode_once(b"PIN").unwrap(), (0, None));
    assert_eq!(decode_once(&vec![b'x'; MAX_LINE]).unwrap(), (0, None));
    assert_eq!(
        decode_once(&vec![b'x'; MAX_LINE + 1]).unwrap_err(),
        "control line too long"
    );
    // A payload of MAX_MSG bytes waits for its bytes; one more is refused.
    let at = format!("MSG i.x 1 {MAX_MSG}\r\n");
    assert_eq!(decode_once(at.as_bytes()).unwrap(), (0, None));
    let over = format!("MSG i.x 1 {}\r\n", MAX_MSG + 1);
    assert_eq!(
        decode_once(over.as_bytes()).unwrap_err(),
        format!(
            "MSG of {} bytes is over the limit or malformed",
            MAX_MSG + 1
        )
    );
    // Headers longer than the whole are refused as such.
    assert_eq!(
        decode_once(b"HMSG i.x 1 5 3\r\nabc\r\n").unwrap_err(),
        "MSG of 3 bytes is over the limit or malformed"
    );
    // Headers that are the whole: an empty payload comes in.
    let (n, inbound) = decode_once(b"HMSG i.x 1 12 12\r\nNATS/1.0\r\n\r\n\r\n").unwrap();
    assert_eq!(n, 32);
    assert_eq!(inbound.unwrap().message, b"pub i/x\n");
}

#[test]
fn sizes_are_up_to_twelve_plain_digits() {
    assert_eq!(parse_size(b"000000000005"), Some(5));
    assert_eq!(parse_size(b"0"), Some(0));
    for bad in [&b""[..], b"0000000000005", b"+5", b"5 ", b"-1"] {
        assert_eq!(parse_size(bad), None, "{bad:?}");
    }
}

#[test]
fn a_payload_of_exactly_max_payload_goes() {
    let (mut r, mut link) = setup();
    feed(
        &mut r,
        &mut link,
        b"INFO {\"max_payload\":3}\r\nPONG\r\n",
        &mut Vec::new(),
    );
    let mut out = Vec::new();
    let mut m = r.outgoing(&mut link, b"o/a", b"abc", 0).unwrap();
    assert_eq!(r.send(&mut link, &mut m, &mut out), Sent::Unconfirmed);
    assert_eq!(out, b"PUB o.a 3\r\nabc\r\nPING\r\n");
    assert_eq!(link.counters.unmappable, 0);
}

/// A remote whose bridge has `tls`: its gate, and the remote.
fn with_tls() -> (NatsRemote, Link, Rc<std::cell::Cell<bool>>) {
    let mut cfg = BridgeConfig::new(Kind::Nats, "127.0.0.1:4222".parse().unwrap());
    cfg.mapping.inbound = vec!["i/+".into()];
    cfg.tls = true;
    let gate = Rc::new(std::cell::Cell::new(false));
    let remote = NatsRemote::new(&cfg, None, Some(Rc::clone(&gate)));
    (remote, Link::new(Rc::new(cfg)), gate)
}

#[test]
fn with_tls_the_info_line_opens_the_gate_before_connect() {
    for info in [
        &b"INFO {\"tls_required\":true}\r\n"[..],
        b"INFO {\"tls_available\":true}\r\n",
    ] {
        let (mut r, mut link, gate) = with_tls();
        let mut out = Vec::new();
        feed(&mut r, &mut link, info, &mut out);
        assert!(gate.get());
        let text = String::from_utf8(out).unwrap();
        assert!(text.starts_with("CONNECT {"), "{text}");
        assert!(text.ends_with("SUB i.* 1\r\nPING\r\n"), "{text}");
    }
}

#[test]
fn tls_wanted_on_one_side_only_ends_the_connection() {
    // The bridge has tls; the server offers none: nothing is sent.
    let (mut r, mut link, gate) = with_tls();
    let mut out = Vec::new();
    let mut info = b"INFO {\"tls_required\":false}\r\n".to_vec();
    assert_eq!(
        r.decode(&mut link, &mut info, &mut out).unwrap_err(),
        "the server does not offer TLS (the bridge has tls=true)"
    );
    assert!(!gate.get() && out.is_empty());
    // The server requires it; the bridge has none.
    let (mut r, mut link) = setup();
    let mut info = b"INFO {\"tls_required\":true}\r\n".to_vec();
    assert_eq!(
        r.decode(&mut link, &mut info, &mut out).unwrap_err(),
        "the server requires TLS: give the bridge tls=true (and ca)"
    );
    assert!(out.is_empty());
}
