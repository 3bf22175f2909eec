//! `[[channel]]` in the configuration file, against a real `ducq-server`
//! process and raw sockets: each built-in setting declared in the file
//! acts as `chan add` makes it act; `chan ls`/`chan show` say `config`;
//! a bad entry is refused by `--test-config` and by SIGHUP (naming the
//! channel, the old channels kept, the server serving); a reload adds,
//! changes and removes config channels while clients stay connected,
//! leaves unchanged ones (and their rate buckets) alone, and never touches
//! channels made by `chan add`.

mod secure_util;
mod util;

use std::net::SocketAddr;
use std::process::Command;
use std::time::Duration;

use secure_util::{Server, TempDir};
use util::{parts, Peer};

const ACK: &[u8] = b"ACK";

fn nack(code: u8, text: &str) -> Vec<u8> {
    format!("NACK *\n{code}\n{text}").into_bytes()
}

/// A file with one TCP listener, queues in memory, and `rest`.
fn file(rest: &str) -> String {
    format!("[[listener]]\nkind = \"tcp\"\naddr = \"127.0.0.1:0\"\n\n[queues]\ndata_dir = \"none\"\n\n{rest}")
}

fn start(path: &str) -> (Server, SocketAddr) {
    let s = Server::start_kinds(&["--config", path], &[""]);
    let addr = s.addr("", 0).parse().unwrap();
    (s, addr)
}

fn lines(p: &mut Peer, ask: &str) -> Vec<String> {
    p.send(ask.as_bytes());
    parts(p)
        .into_iter()
        .map(|l| l.strip_suffix('\n').unwrap_or(&l).to_string())
        .collect()
}

#[test]
fn each_built_in_declared_in_the_file_acts_as_chan_add_makes_it() {
    let dir = TempDir::new("chancfg");
    let path = dir.write(
        "ducq.toml",
        &file(
            r#"[limits]
history = 5

[[channel]]
name = "deep"
pattern = "deep/#"
history = 3

[[channel]]
name = "r"
pattern = "r/#"
retain = 2

[[channel]]
name = "slow"
pattern = "slow/#"
rate = "1/h"
burst = 2

[[channel]]
name = "small"
pattern = "small/+"
max_payload = 4

[[channel]]
name = "sys"
pattern = "$SYS/#"
read_only = true
doc = "the server's own reports"
"#,
        ),
    );
    let (_s, addr) = start(&path);
    let mut p = Peer::connect(addr);
    assert_eq!(
        lines(&mut p, "chan ls"),
        [
            "\"deep\",\"deep/#\",\"config\"",
            "\"r\",\"r/#\",\"config\"",
            "\"slow\",\"slow/#\",\"config\"",
            "\"small\",\"small/+\",\"config\"",
            "\"sys\",\"$SYS/#\",\"config\"",
        ]
    );
    assert_eq!(
        lines(&mut p, "chan show slow"),
        ["pattern=slow/#", "rate=1/h", "burst=2", "origin=config"]
    );
    // The file's channels are changed in the file, not over the wire.
    p.call(b"chan add deep\npattern=x", &nack(24, "access denied"));
    p.call(b"chan rm deep", &nack(24, "access denied"));

    // history = 3 on deep/#; other routes keep [limits] history = 5.
    for i in 1..=6 {
        p.publish("deep/a", &i.to_string());
        p.publish("flat", &i.to_string());
    }
    p.send(b"last deep/a\n10");
    for want in ["pub deep/a\n4", "pub deep/a\n5", "pub deep/a\n6"] {
        p.expect(want.as_bytes());
    }
    p.send(b"last flat\n10");
    for i in 2..=6 {
        p.expect(format!("pub flat\n{i}").as_bytes());
    }

    // retain = 2: a new subscriber gets the two newest after its ACK.
    for i in 1..=3 {
        p.publish("r/a", &i.to_string());
    }
    let mut s = Peer::connect(addr);
    s.call(b"sub r/a\n", ACK);
    s.expect(b"pub r/a\n2");
    s.expect(b"pub r/a\n3");
    s.expect_silence(Duration::from_millis(100));

    // rate = 1/h, burst = 2: the third is refused; another publisher has
    // its own bucket.
    p.publish("slow/a", "1");
    p.publish("slow/b", "2");
    p.call(
        b"pub slow/a\n3",
        &nack(21, "collection reached maximum count"),
    );
    Peer::connect(addr).publish("slow/a", "other");

    // max_payload = 4 on small/+ (one level only).
    p.publish("small/a", "1234");
    p.call(b"pub small/a\n12345", &nack(16, "message too big"));
    p.publish("small/a/b", "12345");

    // read_only: clients may not publish nor forget; they may subscribe.
    p.call(b"sub $SYS/load\n", ACK);
    p.call(b"pub $SYS/load\n9", &nack(24, "access denied"));
    p.call(b"forget $SYS/#\n", &nack(24, "access denied"));
    p.publish("other", "still serving");
}

fn reload(s: &Server, dir: &TempDir, text: &str) {
    dir.write("ducq.toml", text);
    s.signal("HUP");
}

#[test]
fn a_reload_adds_changes_and_removes_config_channels_only() {
    let dir = TempDir::new("chanreload");
    let slow = "[[channel]]\nname = \"slow\"\npattern = \"slow\"\nrate = \"1/h\"\nburst = 1\n\n";
    let path = dir.write(
        "ducq.toml",
        &file(&format!(
            "{slow}[[channel]]\nname = \"a\"\npattern = \"a/#\"\nmax_payload = 4\n\n\
             [[channel]]\nname = \"b\"\npattern = \"b/#\"\nread_only = true\n"
        )),
    );
    let (s, addr) = start(&path);
    let mut p = Peer::connect(addr);
    let mut sub = Peer::connect(addr);
    sub.call(b"sub b/#\n", ACK);
    // A channel of the wire, beside the file's; and one `chan add` made
    // under a name the file takes later.
    p.call(b"chan add mine\npattern=m/# max_payload=2", ACK);
    p.call(b"chan add c\npattern=elsewhere", ACK);
    p.call(b"pub a/x\n12345", &nack(16, "message too big"));
    p.call(b"pub b/x\n1", &nack(24, "access denied"));
    p.publish("slow", "1");

    // a changed, b removed, c declared; slow unchanged.
    reload(
        &s,
        &dir,
        &file(&format!(
            "{slow}[[channel]]\nname = \"a\"\npattern = \"a/#\"\nmax_payload = 8\n\n\
             [[channel]]\nname = \"c\"\npattern = \"c/#\"\nread_only = true\n"
        )),
    );
    s.wait_log("channel 'b' removed");
    s.wait_log("channel 'a' changed");
    s.wait_log("channel 'c' defined");
    s.wait_log("configuration reloaded");
    p.publish("a/x", "12345678");
    p.call(b"pub a/x\n123456789", &nack(16, "message too big"));
    p.publish("b/x", "free now");
    sub.expect(b"pub b/x\nfree now");
    p.call(b"pub c/x\n1", &nack(24, "access denied"));
    // The unchanged channel kept its bucket: still empty for an hour.
    p.call(
        b"pub slow\n2",
        &nack(21, "collection reached maximum count"),
    );
    // `chan add`'s own channel is untouched; its `c` is shadowed by the
    // file's.
    p.call(b"pub m/x\n123", &nack(16, "message too big"));
    assert_eq!(
        lines(&mut p, "chan ls"),
        [
            "\"a\",\"a/#\",\"config\"",
            "\"c\",\"c/#\",\"config\"",
            "\"mine\",\"m/#\",\"command\"",
            "\"slow\",\"slow\",\"config\"",
        ]
    );

    // Every config channel removed: the wire's `c` comes back.
    reload(&s, &dir, &file(""));
    s.wait_log("channel 'slow' removed");
    s.wait_log("configuration reloaded");
    assert_eq!(
        lines(&mut p, "chan ls"),
        [
            "\"c\",\"elsewhere\",\"command\"",
            "\"mine\",\"m/#\",\"command\"",
        ]
    );
    p.publish("slow", "3");
    p.publish("c/x", "open");
    // Both clients were there all along.
    sub.call(b"PING _\np", b"PONG _\np");
}

fn test_config(path: &str) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_ducq-server"))
        .args(["--config", path, "--test-config"])
        .output()
        .unwrap();
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    (out.status.success(), text(&out.stdout), text(&out.stderr))
}

#[test]
fn a_bad_channel_is_refused_by_test_config_and_by_sighup() {
    let dir = TempDir::new("chanbad");
    let bad = file(
        r#"[[channel]]
name = "fast"
pattern = "f/#"
rate = "fast"

[[channel]]
name = "ok"
pattern = "ok"

[[channel]]
name = "no pattern"
history = 2

[[channel]]
name = "ok"
pattern = "again"
"#,
    );
    let bad_path = dir.write("bad.toml", &bad);
    let (ok, out, err) = test_config(&bad_path);
    assert!(!ok && out.is_empty(), "{out}");
    let want = [
        format!("ducq-server: {bad_path}:8: channel 'fast': rate=fast: a positive count is expected (5, 5/s, 120/m)"),
        format!("ducq-server: {bad_path}:17: channel 'no pattern': 'no pattern' is not a channel name (1 to 64 letters, digits, '_', '-', '.')"),
        format!("ducq-server: {bad_path}:21: channel 'ok' is declared twice"),
    ];
    assert_eq!(err.lines().collect::<Vec<_>>(), want, "{err}");
    // A setting the section does not know is an error at its line.
    let typo = dir.write(
        "typo.toml",
        &file("[[channel]]\nname = \"x\"\npattern = \"x\"\nread_olny = true\n"),
    );
    let (ok, _, err) = test_config(&typo);
    assert!(!ok);
    assert!(
        err.starts_with(&format!(
            "ducq-server: {typo}:11: unknown field `read_olny`"
        )),
        "{err}"
    );

    // A running server keeps its channels when a reload brings a bad one.
    let path = dir.write(
        "ducq.toml",
        &file("[[channel]]\nname = \"ro\"\npattern = \"ro/#\"\nread_only = true\n"),
    );
    let (s, addr) = start(&path);
    let mut p = Peer::connect(addr);
    let mut sub = Peer::connect(addr);
    sub.call(b"sub x\n", ACK);
    reload(&s, &dir, &bad);
    s.wait_log("channel 'fast': rate=fast");
    s.wait_log("configuration refused; the running one stays");
    p.call(b"pub ro/1\nx", &nack(24, "access denied"));
    assert_eq!(lines(&mut p, "chan ls"), ["\"ro\",\"ro/#\",\"config\""]);
    p.publish("x", "served");
    sub.expect(b"pub x\nserved");
}
