//! Tests of the JetStream mirror: subjects, the stream request, PubAcks,
//! duplicates, errors, and what goes again after a broken connection.

use super::*;

fn cfg() -> JetStreamConfig {
    JetStreamConfig {
        queues: vec!["jobs/#".into(), "mail".into()],
        stream: "S".into(),
        prefix: "dq".into(),
        create: true,
    }
}

fn q(name: &str) -> Rc<str> {
    Rc::from(name)
}

fn p(bytes: &[u8]) -> Rc<[u8]> {
    Rc::from(bytes)
}

#[test]
fn settings_patterns_and_subjects() {
    let mut c = JetStreamConfig::default();
    assert_eq!(c.set("mirror", "a/+"), Ok(true));
    assert_eq!(c.set("stream", "X"), Ok(true));
    assert_eq!(c.set("stream_prefix", "p.q"), Ok(true));
    assert_eq!(c.set("stream_create", "no"), Ok(true));
    assert_eq!(c.set("colour", "red"), Ok(false));
    assert!(c.set("stream_create", "maybe").is_err());
    assert_eq!(c.check("b", true), Ok(()));
    assert_eq!(
        c.check("b", false).unwrap_err(),
        "bridge b: only a nats bridge mirrors queues (mirror=)"
    );
    c.stream = "a.b".into();
    assert!(c
        .check("b", true)
        .unwrap_err()
        .contains("stream name 'a.b'"));
    c.stream = "X".into();
    c.prefix = "p.>".into();
    assert!(c
        .check("b", true)
        .unwrap_err()
        .contains("stream_prefix 'p.>'"));
    let c = cfg();
    assert!(c.mirrors("jobs") && c.mirrors("jobs/a/b") && c.mirrors("mail"));
    assert!(!c.mirrors("mail/x") && !c.mirrors("other"));
    assert_eq!(c.subject("jobs/a").as_deref(), Some("dq.jobs.a"));
    assert_eq!(c.subject("jobs.dlq").as_deref(), Some("dq.jobs.dlq"));
    assert_eq!(c.subject("jobs//a"), None);
    assert_eq!(c.subject("jobs/"), None);
}

#[test]
fn creates_the_stream_then_publishes_with_ids_and_counts_acks() {
    let mut m = Mirror::new(cfg(), 0xab, 100, 1000);
    m.offer(&q("jobs/a"), 7, &p(b"hello"));
    m.offer(&q("other"), 1, &p(b"not mirrored"));
    m.offer(&q("jobs//x"), 1, &p(b"no subject"));
    let mut out = Vec::new();
    m.begin("T", 1 << 20, &mut out);
    let text = String::from_utf8(out.clone()).unwrap();
    assert!(
        text.starts_with("PUB $JS.API.STREAM.CREATE.S _INBOX.T.c "),
        "{text}"
    );
    assert!(text.contains("\"subjects\":[\"dq.>\"]"), "{text}");
    // Nothing goes before the stream is there.
    out.clear();
    assert_eq!(m.drain(&mut out), 0);
    m.reply(b"_INBOX.T.c", None, br#"{"type":"x","config":{}}"#)
        .unwrap();
    assert!(m.is_ready());
    assert_eq!(m.drain(&mut out), 1);
    let hdr =
        "NATS/1.0\r\nNats-Msg-Id: 00000000000000ab-1\r\nDucq-Queue: jobs/a\r\nDucq-Id: 7\r\n\r\n";
    let want = format!(
        "HPUB dq.jobs.a _INBOX.T.1 {} {}\r\n{hdr}hello\r\n",
        hdr.len(),
        hdr.len() + 5
    );
    assert_eq!(String::from_utf8(out).unwrap(), want);
    assert_eq!(m.depths(), (0, 1));
    m.reply(b"_INBOX.T.1", None, br#"{"stream":"S","seq":1}"#)
        .unwrap();
    assert_eq!(m.depths(), (0, 0));
    let c = m.counters;
    assert_eq!((c.sent, c.acked, c.unmappable, c.duplicates), (1, 1, 1, 0));
    assert!(m.is_reply(b"_INBOX.T.9") && !m.is_reply(b"_INBOX.U.1"));
}

#[test]
fn unacked_go_again_with_the_same_ids_and_duplicates_are_counted() {
    let mut m = Mirror::new(cfg(), 1, 100, 1000);
    let mut out = Vec::new();
    m.begin("A", 1 << 20, &mut out);
    m.reply(b"_INBOX.A.c", None, b"{}").unwrap();
    for i in 1..=3 {
        m.offer(&q("mail"), i, &p(b"x"));
    }
    assert_eq!(m.drain(&mut out), 3);
    m.reply(b"_INBOX.A.2", None, br#"{"seq":1}"#).unwrap();
    assert_eq!(m.connection_ended(), 2);
    assert!(!m.is_ready());
    out.clear();
    m.begin("B", 1 << 20, &mut out);
    m.reply(b"_INBOX.B.c", None, b"{}").unwrap();
    out.clear();
    assert_eq!(m.drain(&mut out), 2);
    let text = String::from_utf8(out).unwrap();
    assert!(
        text.contains("Nats-Msg-Id: 0000000000000001-1\r\n"),
        "{text}"
    );
    assert!(
        text.contains("Nats-Msg-Id: 0000000000000001-3\r\n"),
        "{text}"
    );
    assert!(text.contains("HPUB dq.mail _INBOX.B.1 "), "{text}");
    m.reply(b"_INBOX.B.1", None, br#"{"seq":2,"duplicate":true}"#)
        .unwrap();
    m.reply(b"_INBOX.B.2", None, br#"{"seq":3}"#).unwrap();
    // A late answer on the old inbox's numbering is ignored.
    m.reply(b"_INBOX.B.2", None, br#"{"seq":3}"#).unwrap();
    let c = m.counters;
    assert_eq!((c.sent, c.acked, c.duplicates, c.resent), (5, 3, 1, 2));
}

#[test]
fn errors_refusals_and_bounds() {
    // JetStream off: the create request has no responder.
    let mut m = Mirror::new(cfg(), 1, 2, 1000);
    m.begin("A", 4, &mut Vec::new());
    let e = m.reply(b"_INBOX.A.c", Some("503"), b"").unwrap_err();
    assert_eq!(
        e,
        "JetStream is not enabled on the server (nothing answers its API)"
    );
    // A stream made by the operator with another configuration is used.
    let exists = br#"{"error":{"code":400,"err_code":10058,"description":"stream name already in use with a different configuration"}}"#;
    m.reply(b"_INBOX.A.c", None, exists).unwrap();
    assert!(m.is_ready());
    assert_eq!(m.notes.len(), 1);
    let other =
        br#"{"error":{"code":500,"err_code":10049,"description":"insufficient resources"}}"#;
    let e = m.reply(b"_INBOX.A.c", None, other).unwrap_err();
    assert_eq!(
        e,
        "JetStream did not create stream S: insufficient resources"
    );
    // Bounded: two messages at most; over max_payload: refused.
    m.offer(&q("mail"), 1, &p(b"12345"));
    m.offer(&q("mail"), 2, &p(b"1"));
    m.offer(&q("mail"), 3, &p(b"1"));
    assert_eq!(m.counters.dropped, 1);
    let mut out = Vec::new();
    assert_eq!(m.drain(&mut out), 1);
    assert_eq!(m.counters.rejected, 1);
    // A refusing PubAck: counted, noted, not sent again.
    let refused = br#"{"error":{"code":503,"description":"maximum messages exceeded"}}"#;
    m.reply(b"_INBOX.A.1", None, refused).unwrap();
    assert_eq!((m.counters.rejected, m.depths()), (2, (0, 0)));
    assert!(m
        .notes
        .last()
        .unwrap()
        .contains("maximum messages exceeded"));
    // No stream for a subject (deleted meanwhile): the connection ends.
    m.offer(&q("mail"), 4, &p(b"1"));
    m.drain(&mut out);
    let e = m.reply(b"_INBOX.A.2", Some("503"), b"").unwrap_err();
    assert_eq!(e, "no JetStream stream takes subject dq.mail");
    assert!(m.reply(b"_INBOX.A.x", None, b"{}").is_err());
}

#[test]
fn the_bridge_flag_takes_the_mirror_keys() {
    use crate::server::bridges::config::BridgeConfig;
    let cfg = BridgeConfig::parse_flag(
        "nats=127.0.0.1:4222,mirror=jobs/#,mirror=mail,stream=JOBS,stream_prefix=a.b,stream_create=false",
    )
    .unwrap();
    assert_eq!(
        cfg.jetstream,
        JetStreamConfig {
            queues: vec!["jobs/#".into(), "mail".into()],
            stream: "JOBS".into(),
            prefix: "a.b".into(),
            create: false,
        }
    );
    assert_eq!(
        BridgeConfig::parse_flag("mqtt=127.0.0.1:1883,mirror=jobs").unwrap_err(),
        "bridge mqtt: only a nats bridge mirrors queues (mirror=)"
    );
    assert_eq!(
        BridgeConfig::parse_flag("nats=127.0.0.1:4222,mirror=").unwrap_err(),
        "bridge nats: invalid mirror pattern \"\""
    );
}

#[test]
fn a_changed_bridge_takes_over_what_was_not_acknowledged() {
    let mut old = Mirror::new(cfg(), 1, 100, 1000);
    let mut out = Vec::new();
    old.begin("A", 1 << 20, &mut out);
    old.reply(b"_INBOX.A.c", None, b"{}").unwrap();
    for i in 1..=3 {
        old.offer(&q("mail"), i, &p(b"x"));
    }
    old.drain(&mut out);
    old.reply(b"_INBOX.A.1", None, br#"{"seq":1}"#).unwrap();
    old.offer(&q("jobs/a"), 9, &p(b"y"));
    // Same stream and subjects; "mail" is no longer mirrored.
    let mut c = cfg();
    c.queues = vec!["jobs/#".into()];
    let mut new = Mirror::new(c.clone(), 1, 100, 1000);
    new.take_over(&mut old);
    assert_eq!((new.depths(), old.depths()), ((1, 0), (0, 0)));
    assert_eq!((old.counters.dropped, old.bytes, new.bytes), (2, 0, 1));
    out.clear();
    new.begin("B", 1 << 20, &mut out);
    new.reply(b"_INBOX.B.c", None, b"{}").unwrap();
    out.clear();
    new.drain(&mut out);
    let text = String::from_utf8(out).unwrap();
    assert!(
        text.contains("Nats-Msg-Id: 0000000000000001-4\r\n"),
        "{text}"
    );
    new.offer(&q("jobs/b"), 1, &p(b"z"));
    assert_eq!(new.waiting.back().map(|p| p.number), Some(5));
    // Another stream: nothing is carried over.
    let mut elsewhere = c;
    elsewhere.stream = "OTHER".into();
    let mut other = Mirror::new(elsewhere, 1, 100, 1000);
    other.take_over(&mut new);
    assert_eq!((other.depths(), new.counters.dropped), ((0, 0), 2));
}

#[test]
fn every_spelling_and_the_stream_names_length() {
    let mut c = cfg();
    for (v, want) in [("false", false), ("true", true), ("0", false), ("1", true)] {
        assert_eq!(c.set("stream_create", v), Ok(true));
        assert_eq!(c.create, want, "{v}");
    }
    c.stream = "S".repeat(64);
    assert_eq!(c.check("b", true), Ok(()));
    c.stream.push('S');
    assert_eq!(
        c.check("b", true).unwrap_err(),
        format!(
            "bridge b: stream name '{}': 1 to 64 characters, no '.', '*', '>' or spaces",
            c.stream
        )
    );
    let m = Mirror::new(cfg(), 1, 10, 10);
    assert_eq!(m.config(), &cfg());
}

#[test]
fn no_inbox_no_replies() {
    let mut m = Mirror::new(cfg(), 1, 10, 100);
    // Before the first handshake and after a connection ends, nothing is
    // a reply (an empty inbox would be the prefix of every subject).
    assert!(!m.is_reply(b"_INBOX.T.1"));
    m.begin("T", 1 << 20, &mut Vec::new());
    assert!(m.is_reply(b"_INBOX.T.1"));
    m.connection_ended();
    assert!(!m.is_reply(b"_INBOX.T.1"));
}

#[test]
fn the_byte_bound_the_window_and_max_payload_at_their_edges() {
    // Bytes: up to exactly the bound.
    let mut m = Mirror::new(cfg(), 1, 100, 10);
    for (i, n) in [6, 4, 1].into_iter().enumerate() {
        m.offer(&q("mail"), i as u64, &p(&vec![b'x'; n]));
    }
    assert_eq!((m.depths(), m.bytes, m.counters.dropped), ((2, 0), 10, 1));
    // A payload of exactly max_payload goes; one byte more is refused and
    // its bytes given back.
    let mut out = Vec::new();
    m.begin("T", 6, &mut out);
    m.reply(b"_INBOX.T.c", None, b"{}").unwrap();
    assert_eq!(m.drain(&mut out), 2);
    let mut m = Mirror::new(cfg(), 1, 100, 100);
    m.offer(&q("mail"), 1, &p(b"1234567"));
    m.begin("T", 6, &mut out);
    m.reply(b"_INBOX.T.c", None, b"{}").unwrap();
    assert_eq!(m.drain(&mut out), 0);
    assert_eq!((m.counters.rejected, m.bytes), (1, 0));
    // The window: WINDOW unacknowledged at once, the next after an ack.
    let mut m = Mirror::new(cfg(), 1, 1000, 1 << 20);
    for i in 0..WINDOW as u64 + 2 {
        m.offer(&q("mail"), i, &p(b"x"));
    }
    m.begin("T", 1 << 20, &mut out);
    m.reply(b"_INBOX.T.c", None, b"{}").unwrap();
    assert_eq!(m.drain(&mut out), WINDOW);
    assert_eq!(m.depths(), (2, WINDOW));
    m.reply(b"_INBOX.T.1", None, b"{}").unwrap();
    assert_eq!(m.drain(&mut out), 1);
    assert_eq!(m.depths(), (1, WINDOW));
}
