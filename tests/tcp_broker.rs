//! PROTOCOL.md §2–§7 over real sockets to a server on 127.0.0.1:0, with the
//! exact bytes asserted. Test names carry the section they cover.

mod util;

use std::time::Duration;

use ducq::proto::{Message, State};
use ducq::server::{CommandSet, Hub, Level, Settings};
use util::TestServer;

const SHORT: Duration = Duration::from_millis(200);

// §2 framing ---------------------------------------------------------------

#[test]
fn s2_leading_zeros_accepted() {
    let srv = TestServer::start();
    let mut p = srv.peer();
    p.raw(b"00012\nsub a/b\nlast");
    p.expect_raw(b"3\nACK");
}

#[test]
fn s2_bad_headers_nack_15_then_close() {
    let srv = TestServer::start();
    for bad in [
        &b"-5\nhello"[..],
        b"+5\nhello",
        b" 5\nhello",
        b"5\r\nhello",
        b"x\n",
        b"5 \nhello",
    ] {
        let mut p = srv.peer();
        p.raw(bad);
        p.expect_raw(b"25\nNACK *\n15\nmessage invalid");
        p.expect_closed();
    }
}

#[test]
fn s2_length_zero_nack_10_then_close() {
    let srv = TestServer::start();
    let mut p = srv.peer();
    p.raw(b"0\n");
    p.expect_raw(b"27\nNACK *\n10\nconnection closed");
    p.expect_closed();
}

#[test]
fn s2_reply_is_one_frame_in_one_buffer() {
    let srv = TestServer::start();
    let mut p = srv.peer();
    p.raw(b"5\nnope\n");
    p.expect_raw(b"25\nNACK *\n17\ncommand unknown");
}

#[test]
fn s2_split_frames_and_several_per_read() {
    let srv = TestServer::start();
    let mut p = srv.peer();
    for b in b"12\nsub a/b\nlast" {
        p.raw(&[*b]);
        std::thread::sleep(Duration::from_millis(2));
    }
    p.expect(b"ACK");
    p.raw(b"4\nPING4\nPING");
    p.expect(b"PONG");
    p.expect(b"PONG");
}

#[test]
fn s2_body_with_nul_bytes_forwarded_unchanged() {
    let srv = TestServer::start();
    let mut sub = srv.peer();
    sub.sub("bin");
    let mut publ = srv.peer();
    let msg = b"pub bin\n\0\x01\xff\0end";
    publ.call(msg, b"ACK");
    sub.expect(msg);
}

#[test]
fn s2_oversize_frame_nack_16_body_skipped_connection_kept() {
    let srv = TestServer::with(Settings {
        max_message: 64,
        ..Settings::default()
    });
    let mut p = srv.peer();
    let big = vec![b'x'; 100];
    p.send(&big);
    p.expect_raw(b"25\nNACK *\n16\nmessage too big");
    p.call(b"PING r\np", b"PONG r\np");
}

// §3 message syntax ----------------------------------------------------------

#[test]
fn s3_bare_command_works() {
    let srv = TestServer::start();
    let mut p = srv.peer();
    p.send(b"lscmd");
    p.expect(b"PARTS");
}

#[test]
fn s3_pub_and_sub_without_newline_nack_15() {
    let srv = TestServer::start();
    let mut p = srv.peer();
    p.call(b"pub a/b", b"NACK *\n15\nmessage invalid");
    p.call(b"sub a/b", b"NACK *\n15\nmessage invalid");
    p.call(b"PING x\ny", b"PONG x\ny");
}

#[test]
fn s3_route_with_spaces_and_empty_payload() {
    let srv = TestServer::start();
    let mut sub = srv.peer();
    sub.sub("living room/temp");
    let mut publ = srv.peer();
    publ.call(b"pub living room/temp\n", b"ACK");
    sub.expect(b"pub living room/temp\n");
}

#[test]
fn s3_nul_in_route_is_invalid_not_fatal() {
    let srv = TestServer::start();
    let mut p = srv.peer();
    p.call(b"pub a\0b\nx", b"NACK *\n15\nmessage invalid");
    p.call(b"PING r\n", b"PONG r\n");
}

// §4 replies -------------------------------------------------------------------

#[test]
fn s4_unknown_command_nack_17_exact_bytes_and_stays_open() {
    let srv = TestServer::start();
    let mut p = srv.peer();
    p.send(b"frobnicate r\nx");
    p.expect_raw(b"25\nNACK *\n17\ncommand unknown");
    p.call(b"PING r\np", b"PONG r\np");
}

#[test]
fn s4_nack_after_pub_keeps_connection() {
    let srv = TestServer::start();
    let mut p = srv.peer();
    p.call(b"pub \nx", b"NACK *\n15\nmessage invalid");
    p.publish("a", "still here");
}

// §5 built-in commands -----------------------------------------------------------

#[test]
fn s5_publish_and_subscribe_aliases() {
    let srv = TestServer::start();
    let mut sub = srv.peer();
    sub.call(b"subscribe dev/1\n", b"ACK");
    let mut publ = srv.peer();
    publ.call(b"publish dev/1\non", b"ACK");
    sub.expect(b"publish dev/1\non");
}

#[test]
fn s5_unsubscribe() {
    let srv = TestServer::start();
    let mut p = srv.peer();
    p.call(b"sub a\n", b"ACK");
    p.call(b"sub b\nadd", b"ACK");
    p.call(b"unsubscribe a\n", b"ACK");
    p.call(b"unsubscribe a\n", b"NACK *\n19\nconnection not found");
    let mut publ = srv.peer();
    publ.publish("a", "1");
    publ.publish("b", "2");
    p.expect(b"pub b\n2");
    p.expect_silence(SHORT);
}

#[test]
fn s5_unsub_closes_connection_by_id() {
    let srv = TestServer::start();
    let mut admin = srv.peer();
    let mut victim = srv.peer();
    victim.sub("x");
    admin.call(format!("unsub x\n{}", victim.id()).as_bytes(), b"ACK");
    victim.expect_closed();
    admin.call(
        b"unsub x\nTCP:1.2.3.4:5",
        b"NACK *\n19\nconnection not found",
    );
    admin.call(b"unsub x\n", b"NACK *\n15\nmessage invalid");
}

#[test]
fn s5_unsub_yourself_gets_ack_then_close() {
    let srv = TestServer::start();
    let mut p = srv.peer();
    let id = p.id();
    p.call(format!("unsub x\n{id}").as_bytes(), b"ACK");
    p.expect_closed();
}

#[test]
fn s5_ping_pong() {
    let srv = TestServer::start();
    let mut p = srv.peer();
    p.send(b"PING _\nping");
    p.expect_raw(b"11\nPONG _\nping");
    // PONG is never answered, not even with a NACK.
    p.send(b"PONG _\nping");
    p.call(b"PING a\nb", b"PONG a\nb");
}

#[test]
fn s5_lscmd_and_help_list_every_command_lscmd_first() {
    let srv = TestServer::start();
    let mut p = srv.peer();
    for cmd in [&b"lscmd"[..], b"help"] {
        p.send(cmd);
        p.expect(b"PARTS");
        let mut names = Vec::new();
        loop {
            let m = p.recv();
            if m == b"END" {
                break;
            }
            let line = String::from_utf8(m).unwrap();
            assert!(line.starts_with('"') && line.ends_with("\"\n"), "{line:?}");
            names.push(line.split('"').nth(1).unwrap().to_string());
        }
        assert_eq!(names[0], "lscmd");
        for want in [
            "pub",
            "publish",
            "sub",
            "subscribe",
            "unsubscribe",
            "unsub",
            "PING",
            "PONG",
            "help",
            "lsconn",
            "time",
            "epoch",
        ] {
            assert!(
                names.iter().any(|n| n == want),
                "{want} missing from {names:?}"
            );
        }
    }
}

#[test]
fn s5_lsconn_lists_every_connection_and_subscription() {
    let srv = TestServer::start();
    let mut a = srv.peer();
    a.sub("r/1");
    a.call(b"sub r/*\nadd", b"ACK");
    let mut b = srv.peer();
    b.send(b"lsconn");
    b.expect(b"PARTS");
    let mut lines = Vec::new();
    loop {
        let m = b.recv();
        if m == b"END" {
            break;
        }
        lines.push(String::from_utf8(m).unwrap());
    }
    lines.sort();
    let mut want = vec![
        format!("{},r/1\n", a.id()),
        format!("{},r/*\n", a.id()),
        format!("{},\n", b.id()),
    ];
    want.sort();
    assert_eq!(lines, want);
}

#[test]
fn s5_epoch_and_time() {
    let srv = TestServer::start();
    let mut p = srv.peer();
    p.send(b"epoch");
    let secs: u64 = String::from_utf8(p.recv()).unwrap().parse().unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    assert!(secs.abs_diff(now) <= 2);
    p.send(b"time");
    let t = p.recv();
    assert_eq!(t.len(), 19, "{:?}", String::from_utf8_lossy(&t));
    assert_eq!(t[10], b'T');
    assert!(!t.contains(&0));
}

// §6 publish and subscribe -----------------------------------------------------------

#[test]
fn s6_publisher_gets_ack_then_subscribers_get_message_unchanged() {
    let srv = TestServer::start();
    let mut s1 = srv.peer();
    let mut s2 = srv.peer();
    s1.sub("a/b");
    s2.sub("a/*");
    let mut other = srv.peer();
    other.sub("zzz");
    let mut publ = srv.peer();
    publ.send(b"pub a/b\nhello world");
    publ.expect_raw(b"3\nACK");
    s1.expect_raw(b"19\npub a/b\nhello world");
    s2.expect(b"pub a/b\nhello world");
    other.expect_silence(SHORT);
    publ.expect_silence(SHORT);
}

#[test]
fn s6_subscribed_publisher_gets_ack_then_its_message() {
    let srv = TestServer::start();
    let mut p = srv.peer();
    p.sub("echo");
    p.send(b"pub echo\nme");
    p.expect(b"ACK");
    p.expect(b"pub echo\nme");
}

#[test]
fn s6_empty_route_pub_refused_and_delivered_to_nobody() {
    let srv = TestServer::start();
    let mut idle = srv.peer();
    idle.call(b"PING x\n", b"PONG x\n");
    let mut p = srv.peer();
    p.call(b"pub \nx", b"NACK *\n15\nmessage invalid");
    idle.expect_silence(SHORT);
}

#[test]
fn s6_sub_replaces_previous_subscription() {
    let srv = TestServer::start();
    let mut s = srv.peer();
    s.sub("one");
    s.sub("two");
    let mut p = srv.peer();
    p.publish("one", "1");
    p.publish("two", "2");
    s.expect(b"pub two\n2");
    s.expect_silence(SHORT);
}

#[test]
fn s6_add_option_follows_several_routes_each_message_once() {
    let srv = TestServer::start();
    let mut s = srv.peer();
    s.sub("one");
    s.call(b"sub two\nadd", b"ACK");
    s.call(b"sub *\nadd", b"ACK");
    let mut p = srv.peer();
    p.publish("one", "1");
    p.publish("two", "2");
    s.expect(b"pub one\n1");
    s.expect(b"pub two\n2");
    s.expect_silence(SHORT);
}

#[test]
fn s6_last_returns_stored_message_byte_identical_or_ack() {
    let srv = TestServer::start();
    let mut p = srv.peer();
    p.call(b"publish sensors/t\n21.5", b"ACK");
    let mut s = srv.peer();
    s.call(b"sub sensors/t\nlast", b"publish sensors/t\n21.5");
    s.call(b"sub nothing/here\nlast", b"ACK");
    // Still subscribed after a last reply.
    p.publish("nothing/here", "now");
    s.expect(b"pub nothing/here\nnow");
}

#[test]
fn s6_last_on_pattern_returns_every_match_in_route_order() {
    let srv = TestServer::start();
    let mut p = srv.peer();
    p.publish("s/b", "2");
    p.publish("s/a", "1");
    p.publish("s/c/d", "3");
    p.publish("t/a", "x");
    let mut s = srv.peer();
    s.send(b"sub s/*\nlast");
    s.expect(b"pub s/a\n1");
    s.expect(b"pub s/b\n2");
    s.expect(b"pub s/c/d\n3");
    s.expect_silence(SHORT);
    s.call(b"sub q/*\nlast", b"ACK");
}

#[test]
fn s6_route_over_limit_nack_16() {
    let srv = TestServer::with(Settings {
        max_route: 8,
        ..Settings::default()
    });
    let mut p = srv.peer();
    p.call(b"pub 123456789\nx", b"NACK *\n16\nmessage too big");
    p.call(b"sub 123456789\n", b"NACK *\n16\nmessage too big");
    p.publish("12345678", "ok");
}

/// A command set whose `logat <level>\n<text>` writes one log record at
/// that level through the hub, as a C or Lua command would, and ACKs.
struct LogAt;

impl CommandSet for LogAt {
    fn list(&self) -> Vec<(String, String)> {
        vec![("logat".into(), "log one record".into())]
    }
    fn has(&self, name: &[u8]) -> bool {
        name == b"logat"
    }
    fn exec(&mut self, hub: &mut Hub, caller: usize, msg: &Message<'_>) -> Result<(), State> {
        let level: Level = std::str::from_utf8(msg.route)
            .ok()
            .and_then(|l| l.parse().ok())
            .ok_or(State::EMsgInv)?;
        hub.log(
            level,
            "logat",
            "test",
            &String::from_utf8_lossy(msg.payload),
        );
        hub.send(caller, b"ACK")
    }
}

/// A server logging from `level` up, with `logat`, and stderr quiet.
fn logging_server(level: Level) -> TestServer {
    TestServer::with_setup(Settings::default(), move |r| {
        r.hub_mut().logger_mut().level = level;
        r.hub_mut().logger_mut().stderr = false;
        r.add_command_set(Box::new(LogAt)).expect("command set");
    })
}

/// The frames `p` receives up to (not including) the PONG of a PING.
fn until_pong(p: &mut util::Peer) -> Vec<String> {
    p.send(b"PING end\n");
    let mut lines = Vec::new();
    loop {
        let m = String::from_utf8(p.recv()).unwrap();
        if m == "PONG end\n" {
            return lines;
        }
        lines.push(m);
    }
}

#[test]
fn s6_log_route_receives_log_lines() {
    let srv = logging_server(Level::Info);
    let mut log = srv.peer();
    log.sub("LOG");
    // Only exactly LOG: not a pattern that matches it.
    let mut star = srv.peer();
    star.sub("*");
    let mut other = srv.peer();
    let id = other.id();
    other.call(b"logat warn\nw1", b"ACK");
    other.call(b"logat debug\nd1", b"ACK");
    other.call(b"PING a\n", b"PONG a\n");
    other.call(b"logat error\ne1", b"ACK");
    drop(other);
    assert_eq!(
        log.recv(),
        format!("info,accept,{},connected", star.id()).as_bytes()
    );
    assert_eq!(log.recv(), format!("info,accept,{id},connected").as_bytes());
    assert_eq!(log.recv(), b"warning,logat,test,w1");
    assert_eq!(log.recv(), b"error,logat,test,e1");
    assert_eq!(
        log.recv(),
        format!("info,close,{id},disconnected").as_bytes()
    );
    // Nothing else: no debug lines, and the pattern got no log line.
    assert!(until_pong(&mut log).is_empty());
    assert!(until_pong(&mut star).is_empty());
}

#[test]
fn s6_log_lines_follow_the_level() {
    let levels = [
        Level::Debug,
        Level::Info,
        Level::Warn,
        Level::Error,
        Level::Off,
    ];
    for server_level in levels {
        let srv = logging_server(server_level);
        let mut log = srv.peer();
        log.sub("LOG");
        let mut other = srv.peer();
        let (other_id, log_id) = (other.id(), log.id());
        let mut want = Vec::new();
        let mut expect = |level: Level, line: String| {
            if level >= server_level && level != Level::Off {
                want.push(line);
            }
        };
        expect(Level::Info, format!("info,accept,{other_id},connected"));
        // A record at every level, Off included (never written).
        for level in levels {
            let word = level.as_str().to_ascii_lowercase();
            other.call(format!("logat {word}\n{word}").as_bytes(), b"ACK");
            expect(
                Level::Debug,
                format!("debug,dispatch,{other_id},logat {word}"),
            );
            expect(level, format!("{},logat,test,{word}", level.lower()));
        }
        expect(Level::Debug, format!("debug,dispatch,{log_id},PING end"));
        assert_eq!(until_pong(&mut log), want, "server at {server_level}");
    }
}

#[test]
fn s6_unsubscribed_connections_receive_nothing() {
    let srv = TestServer::start();
    let mut quiet = srv.peer();
    quiet.call(b"PING a\n", b"PONG a\n");
    let mut p = srv.peer();
    for i in 0..10 {
        p.publish(&format!("r/{i}"), "x");
    }
    quiet.expect_silence(SHORT);
}

// §7 route patterns over the wire ----------------------------------------------------------

#[test]
fn s7_patterns_over_the_wire() {
    let srv = TestServer::start();
    let rows = [
        ("a/*/c", "a/b/c", true),
        ("a/*/c", "a//c", true),
        ("route/*!", "route/subroute!", true),
        ("route/*!", "route/subroute", false),
        ("a/b", "a/*", false),
        ("a/*", "a/*", true),
        ("*/c", "a/b/c", true),
        ("a/b", "A/b", false),
    ];
    let mut publ = srv.peer();
    for (pattern, route, want) in rows {
        let mut s = srv.peer();
        s.sub(pattern);
        publ.publish(route, "m");
        if want {
            s.expect(format!("pub {route}\nm").as_bytes());
        } else {
            s.expect_silence(Duration::from_millis(100));
        }
    }
}
