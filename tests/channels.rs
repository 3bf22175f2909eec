//! Channels over the wire (PROTOCOL.md §15): `chan add|rm|ls|show` and
//! each built-in setting — history depth, retain-last, rate per
//! publisher, payload limit, read-only — against real sockets, exact
//! replies; and the Rust API an embedder (a configuration file) calls.

mod util;

use std::time::Duration;

use ducq::server::channels::{self, Channel, ChannelSpec, Origin};
use ducq::server::Settings;
use util::{parts, Peer, TestServer};

const ACK: &[u8] = b"ACK";

fn nack(code: u8, text: &str) -> Vec<u8> {
    format!("NACK *\n{code}\n{text}").into_bytes()
}

fn add(p: &mut Peer, name: &str, spec: &str) {
    p.call(format!("chan add {name}\n{spec}").as_bytes(), ACK);
}

/// The lines of a PARTS … END reply, without their `\n`.
fn lines(p: &mut Peer) -> Vec<String> {
    parts(p)
        .into_iter()
        .map(|l| l.strip_suffix('\n').unwrap_or(&l).to_string())
        .collect()
}

fn show(p: &mut Peer, name: &str) -> Vec<String> {
    p.send(format!("chan show {name}").as_bytes());
    lines(p)
}

fn ls(p: &mut Peer) -> Vec<String> {
    p.send(b"chan ls");
    lines(p)
}

#[test]
fn crud_add_ls_show_rm() {
    let srv = TestServer::start();
    let mut p = srv.peer();
    assert!(ls(&mut p).is_empty());
    add(&mut p, "sensors", "pattern=sensors/# history=5 retain");
    add(
        &mut p,
        "chat",
        "pattern=\"chat/+ room\"\nrate=10/m burst=3 max_payload=256 read_only=false",
    );
    assert_eq!(
        ls(&mut p),
        [
            "\"chat\",\"chat/+ room\",\"command\"",
            "\"sensors\",\"sensors/#\",\"command\""
        ]
    );
    assert_eq!(
        show(&mut p, "sensors"),
        [
            "pattern=sensors/#",
            "history=5",
            "retain=1",
            "origin=command"
        ]
    );
    assert_eq!(
        show(&mut p, "chat"),
        [
            "pattern=\"chat/+ room\"",
            "rate=10/m",
            "burst=3",
            "max_payload=256",
            "origin=command"
        ]
    );
    // Redefining replaces; `show`'s settings are what `add` reads.
    add(&mut p, "sensors", "pattern=sensors/+\nhistory=2");
    assert_eq!(
        show(&mut p, "sensors"),
        ["pattern=sensors/+", "history=2", "origin=command"]
    );
    p.call(b"chan rm sensors", ACK);
    p.call(b"chan rm sensors", &nack(19, "connection not found"));
    p.call(b"chan show sensors", &nack(19, "connection not found"));
    assert_eq!(ls(&mut p), ["\"chat\",\"chat/+ room\",\"command\""]);
    // Refusals: bad settings, names, verbs, shapes.
    let inv = nack(15, "message invalid");
    p.call(b"chan add x\nhistory=3", &inv);
    p.call(b"chan add x\npattern=a colour=red", &inv);
    p.call(b"chan add x\npattern=a rate=fast", &inv);
    p.call(b"chan add x/y\npattern=a", &inv);
    p.call(b"chan add\npattern=a", &inv);
    p.call(b"chan drop x", &inv);
    p.call(b"chan ls x", &inv);
    p.call(b"chan", &inv);
    p.call(b"chan add a b\npattern=a", &inv);
    assert_eq!(ls(&mut p), ["\"chat\",\"chat/+ room\",\"command\""]);
    // chan is in lscmd.
    p.send(b"lscmd");
    assert!(parts(&mut p)
        .iter()
        .any(|l| l.starts_with("\"chan\",\"channels: ")));
}

#[test]
fn history_depth_per_channel() {
    let srv = TestServer::start();
    let mut p = srv.peer();
    add(&mut p, "deep", "pattern=deep/# history=3");
    add(&mut p, "none", "pattern=secret history=0");
    for i in 1..=5 {
        p.publish("deep/a", &i.to_string());
        p.publish("flat", &i.to_string());
        p.publish("secret", &i.to_string());
    }
    p.send(b"last deep/a\n10");
    for want in ["pub deep/a\n3", "pub deep/a\n4", "pub deep/a\n5"] {
        p.expect(want.as_bytes());
    }
    // Other routes keep the server's --history (1 by default).
    p.call(b"last flat\n10", b"pub flat\n5");
    // history=0: nothing is kept.
    p.call(b"last secret\n10", ACK);
    p.send(b"sub deep/#\nlast 2");
    p.expect(b"pub deep/a\n4");
    p.expect(b"pub deep/a\n5");
    // Lowering the depth trims what is stored; removing the channel
    // brings the default back for later publications.
    add(&mut p, "deep", "pattern=deep/# history=1");
    let mut q = srv.peer();
    q.call(b"last deep/a\n10", b"pub deep/a\n5");
    q.call(b"chan rm deep", ACK);
    q.publish("deep/a", "6");
    q.call(b"last deep/a\n10", b"pub deep/a\n6");
}

#[test]
fn retain_sends_stored_messages_after_the_ack() {
    let srv = TestServer::with(Settings {
        history: 5,
        ..Settings::default()
    });
    let mut p = srv.peer();
    add(&mut p, "r", "pattern=r/# retain=2");
    for (route, payload) in [
        ("r/a", "1"),
        ("r/a", "2"),
        ("r/a", "3"),
        ("r/b", "x"),
        ("q", "q"),
    ] {
        p.publish(route, payload);
    }
    let mut s = srv.peer();
    // A route of the channel: ACK, then its two newest, then live ones.
    s.call(b"sub r/a\n", ACK);
    s.expect(b"pub r/a\n2");
    s.expect(b"pub r/a\n3");
    p.publish("r/a", "4");
    s.expect(b"pub r/a\n4");
    // A pattern: the retained messages of each route, in route order.
    let mut t = srv.peer();
    t.call(b"sub r/+\n", ACK);
    for want in ["pub r/a\n3", "pub r/a\n4", "pub r/b\nx"] {
        t.expect(want.as_bytes());
    }
    // `#` also covers routes outside the channel: only the channel's are
    // retained.
    let mut u = srv.peer();
    u.call(b"sub #\n", ACK);
    for want in ["pub r/a\n3", "pub r/a\n4", "pub r/b\nx"] {
        u.expect(want.as_bytes());
    }
    u.expect_silence(Duration::from_millis(100));
    // Asking `last` itself: what was asked, nothing added.
    let mut v = srv.peer();
    v.send(b"sub r/a\nlast 1");
    v.expect(b"pub r/a\n4");
    v.expect_silence(Duration::from_millis(100));
    // Outside the channel: a plain ACK.
    let mut w = srv.peer();
    w.call(b"sub q\n", ACK);
    w.expect_silence(Duration::from_millis(100));
}

#[test]
fn rate_limit_per_publisher() {
    let srv = TestServer::start();
    let mut p = srv.peer();
    // One an hour after a burst of two: the third is refused however fast
    // the test runs.
    add(&mut p, "slow", "pattern=slow/# rate=1/h burst=2");
    let mut s = srv.peer();
    s.sub("slow/#");
    p.publish("slow/a", "1");
    p.publish("slow/b", "2");
    p.call(
        b"pub slow/a\n3",
        &nack(21, "collection reached maximum count"),
    );
    // Other routes are not counted; another publisher has its own bucket.
    p.publish("fast", "x");
    let mut q = srv.peer();
    q.publish("slow/a", "q");
    s.expect(b"pub slow/a\n1");
    s.expect(b"pub slow/b\n2");
    s.expect(b"pub slow/a\nq");
    s.expect_silence(Duration::from_millis(100));
    // A refused publication is not stored either.
    p.call(b"last slow/a\n", b"pub slow/a\nq");
    // Redefining the channel starts its buckets afresh.
    add(&mut p, "slow", "pattern=slow/# rate=1/h burst=1");
    p.publish("slow/a", "4");
    p.call(
        b"pub slow/a\n5",
        &nack(21, "collection reached maximum count"),
    );
}

#[test]
fn payload_limit() {
    let srv = TestServer::start();
    let mut p = srv.peer();
    add(&mut p, "small", "pattern=small/+ max_payload=4");
    let mut s = srv.peer();
    s.sub("small/+");
    p.publish("small/a", "1234");
    p.call(b"pub small/a\n12345", &nack(16, "message too big"));
    p.publish("small/a/b", "12345");
    s.expect(b"pub small/a\n1234");
    s.expect_silence(Duration::from_millis(100));
    p.call(b"last small/a\n", b"pub small/a\n1234");
}

#[test]
fn read_only_refuses_clients_but_not_subscribers() {
    let srv = TestServer::start();
    let mut p = srv.peer();
    add(&mut p, "sys", "pattern=$SYS/#\nread_only");
    p.call(b"sub $SYS/load\n", ACK);
    p.call(b"pub $SYS/load\n9", &nack(24, "access denied"));
    p.call(b"publish $SYS/x\n9", &nack(24, "access denied"));
    p.call(b"last $SYS/load\n", ACK);
    p.expect_silence(Duration::from_millis(100));
    // The connection is fine, and so is the rest of the broker.
    p.publish("other", "1");
    p.call(b"chan rm sys", ACK);
    p.call(b"pub $SYS/load\n9", ACK);
    p.expect(b"pub $SYS/load\n9");
    // What is stored under a read-only channel cannot be forgotten by a
    // client either, not even through a wider pattern.
    add(&mut p, "sys", "pattern=$SYS/#\nread_only");
    let denied = nack(24, "access denied");
    for f in ["$SYS/load", "$SYS/#", "*", "$SYS/+"] {
        p.call(format!("forget {f}\n").as_bytes(), &denied);
    }
    // `#` cannot match a `$` route (§7), so it leaves $SYS alone...
    p.call(b"forget #\n", ACK);
    p.call(b"last other\n", ACK);
    p.call(b"last $SYS/load\n", b"pub $SYS/load\n9");
    // ... and meets a read-only channel it can match.
    p.publish("status/door", "open");
    add(&mut p, "status", "pattern=status/+ read_only");
    p.call(b"forget #\n", &denied);
    p.call(b"forget status/door\n", &denied);
    p.call(b"last status/door\n", b"pub status/door\nopen");
}

#[test]
fn streams_meet_the_channels_too() {
    let srv = TestServer::start();
    let mut p = srv.peer();
    add(&mut p, "ro", "pattern=ro read_only");
    add(&mut p, "sized", "pattern=sized max_payload=10");
    add(&mut p, "rated", "pattern=rated rate=1/h burst=1");
    p.call(b"CONT ro\nab", &nack(24, "access denied"));
    p.call(b"END ro\n", &nack(24, "access denied"));
    // A stream's length is unknown: a payload limit refuses it.
    p.call(b"CONT sized\nab", &nack(16, "message too big"));
    // A rate counts streams, not their parts.
    let mut s = srv.peer();
    s.sub("rated");
    p.call(b"CONT rated\nab", ACK);
    p.call(b"CONT rated\ncd", ACK);
    p.call(b"END rated\nef", ACK);
    p.call(
        b"CONT rated\ngh",
        &nack(21, "collection reached maximum count"),
    );
    s.expect(b"CONT rated\n1\nab");
    s.expect(b"CONT rated\n1\ncd");
    s.expect(b"CONT rated\n1 end\nef");
    s.expect_silence(Duration::from_millis(100));
}

#[test]
fn the_rust_api_defines_config_channels_that_commands_cannot_change() {
    let srv = TestServer::with_setup(Settings::default(), |reactor| {
        let hub = reactor.hub_mut();
        let spec = ChannelSpec::parse("pattern=cfg/# max_payload=2", 1024).unwrap();
        channels::define(hub, Origin::Config, Channel::new("cfg", spec, None)).unwrap();
        // What a configuration reload does: the whole layer at once.
        let refused = channels::replace(
            hub,
            Origin::Config,
            vec![
                Channel::new(
                    "cfg",
                    ChannelSpec::parse("pattern=cfg/# max_payload=3", 1024).unwrap(),
                    None,
                ),
                Channel::new("bad name", ChannelSpec::new("x"), None),
            ],
        );
        assert_eq!(refused.len(), 1);
    });
    let mut p = srv.peer();
    assert_eq!(
        show(&mut p, "cfg"),
        ["pattern=cfg/#", "max_payload=3", "origin=config"]
    );
    p.publish("cfg/a", "123");
    p.call(b"pub cfg/a\n1234", &nack(16, "message too big"));
    p.call(b"chan add cfg\npattern=x", &nack(24, "access denied"));
    p.call(b"chan rm cfg", &nack(24, "access denied"));
    assert_eq!(ls(&mut p), ["\"cfg\",\"cfg/#\",\"config\""]);
}

#[test]
fn the_cli_chan_command() {
    use std::process::Command;
    let srv = TestServer::start();
    let port = srv.addr.port().to_string();
    let ducq = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_ducq"))
            .args(["--port", &port, "chan"])
            .args(args)
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let ok = |stdout: &str| (Some(0), stdout.to_string(), String::new());
    assert_eq!(
        ducq(&["add", "rooms", "chat/+ room", "history=4", "read_only"]),
        ok("")
    );
    assert_eq!(ducq(&["ls"]), ok("\"rooms\",\"chat/+ room\",\"command\"\n"));
    assert_eq!(
        ducq(&["show", "rooms"]),
        ok("pattern=\"chat/+ room\"\nhistory=4\nread_only=true\norigin=command\n")
    );
    // A bad setting is told in words, before anything is sent.
    assert_eq!(
        ducq(&["add", "rooms", "x", "history=lots"]),
        (
            Some(64),
            String::new(),
            "ducq: chan add: history=lots: a whole number from 0 to 100000 is expected\nTry 'ducq --help'.\n"
                .into()
        )
    );
    assert_eq!(ducq(&["rm", "rooms"]), ok(""));
    assert_eq!(
        ducq(&["rm", "rooms"]),
        (
            Some(2),
            String::new(),
            "ducq: NACK 19: connection not found\n".into()
        )
    );
    assert_eq!(ducq(&["ls"]), ok(""));
    assert_eq!(ducq(&["frob"]).0, Some(64));
}
