//! The configuration file: every key exercised, `--test-config` on good
//! and bad files (each error with its line), flags over the file, and
//! reloads (SIGHUP and the `reload` command) with a good and a broken file
//! while clients stay connected. Also Unix sockets across to TCP, and the
//! browser origin and Host rules.

mod secure_util;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;

use ducq::client::{Client, Error};
use secure_util::*;

fn test_config(path: &str) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_ducq-server"))
        .args(["--config", path, "--test-config"])
        .output()
        .unwrap();
    (out.status.success(), text(&out.stdout), text(&out.stderr))
}

/// A file that sets every key.
fn full_config(dir: &TempDir, pki: &Pki, phc: &str, lua: &str, origin: &str) -> String {
    format!(
        r#"# every key
[[listener]]
kind = "tcp"
addr = "127.0.0.1:0"
anonymous = true

[[listener]]
kind = "tls"
addr = "127.0.0.1:0"
cert = "{cert}"
key = "{key}"

[[listener]]
kind = "https"
addr = "127.0.0.1:0"
cert = "{cert}"
key = "{key}"
client_ca = "{ca}"
anonymous = false

[[listener]]
kind = "http"
addr = "127.0.0.1:0"

[[listener]]
kind = "unix"
path = "{sock}"
mode = "0600"

[limits]
max_message = 4096
max_route = 64
max_stored_routes = 100
max_stored_bytes = 100000
max_connections = 50
max_output = 1000000
idle_timeout = 300
frame_timeout = 30

[lua]
dirs = ["{lua}"]
instructions = 1000000
memory = 8000000

[[user]]
name = "admin"
password = "{phc}"
publish = ["*"]
subscribe = ["*"]
admin = true

[anonymous]
publish = ["open/*"]
subscribe = ["open/*"]

[auth]
fail_delay = 0.01
free_failures = 5
max_fail_delay = 1

[http]
allow_origins = ["{origin}"]
allow_loopback = false
allow_hosts = ["127.0.0.1"]

[log]
level = "info"

[[channel]]
name = "ro"
pattern = "open/ro"
history = 2
retain = false
rate = "100/s"
burst = 100
max_payload = 100
read_only = true
doc = "every setting"
"#,
        cert = pki.cert,
        key = pki.key,
        ca = pki.ca,
        sock = dir.path("ducq.sock"),
    )
}

fn lua_dir(dir: &TempDir, name: &str, reply: &str) -> String {
    let d = dir.path(name);
    std::fs::create_dir_all(&d).unwrap();
    std::fs::write(
        format!("{d}/hello.lua"),
        format!("commands.hello = {{ doc = 'says hi', exec = function(ducq, msg) ducq:send('{reply}') return 0 end }}\n"),
    )
    .unwrap();
    d
}

fn phc() -> String {
    ducq::server::auth::hash_password(b"adminpw").unwrap()
}

#[test]
fn every_key_applies_and_test_config_accepts_it() {
    let dir = TempDir::new("cfg");
    let pki = Pki::new();
    let lua = lua_dir(&dir, "lua1", "hi one");
    let path = dir.write(
        "ducq.toml",
        &full_config(&dir, &pki, &phc(), &lua, "https://dash.lan"),
    );
    let (ok, out, err) = test_config(&path);
    assert!(ok, "{err}");
    assert_eq!(out, "configuration ok\n");
    let s = Server::start_kinds(&["--config", &path], &["", "tls", "https", "http", "unix"]);
    let tcp = s.addr("", 0);
    let mut c = Client::connect(&tcp, WAIT).unwrap();
    // [lua]: the folder's command runs.
    c.send(b"hello").unwrap();
    assert_eq!(c.receive().unwrap(), b"hi one");
    // [limits]: max_message and max_route.
    c.emit("pub", "open/big", &vec![b'x'; 5000]).unwrap();
    assert_eq!(text(&c.receive().unwrap()), "NACK *\n16\nmessage too big");
    let long = format!("open/{}", "r".repeat(64));
    match c.publish(&long, b"1") {
        Err(Error::Nack { state, .. }) => assert_eq!(state.code(), 16),
        other => panic!("{other:?}"),
    }
    // [anonymous] and [[user]].
    c.publish("open/a", b"1").unwrap();
    // [[channel]]: read-only (its other settings: tests/config_channels.rs).
    match c.publish("open/ro", b"1") {
        Err(Error::Nack { state, .. }) => assert_eq!(state.code(), 24),
        other => panic!("{other:?}"),
    }
    assert!(c.publish("closed/a", b"1").is_err());
    c.authenticate("admin", b"adminpw").unwrap();
    c.publish("closed/a", b"1").unwrap();
    // The unix listener with its mode.
    let sock = dir.path("ducq.sock");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&sock).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let mut u = Client::connect_unix(sock.as_ref(), WAIT).unwrap();
    u.publish("open/u", b"via unix").unwrap();
    // tls: a client trusting the CA gets in; https requires a client
    // certificate (client_ca) and refuses anonymous use (anonymous = false).
    let mut t = Client::connect_tls(
        &s.addr("tls", 0),
        WAIT,
        pki.client(&pki.ca, None),
        ducq::client::Wire::Framed,
    )
    .unwrap();
    t.publish("open/t", b"1").unwrap();
    let refused = Client::connect_tls(
        &s.addr("https", 0),
        WAIT,
        pki.client(&pki.ca, None),
        ducq::client::Wire::Ws,
    );
    assert!(refused.is_err());
    // [http]: the listed origin gets its CORS header; loopback pages no
    // longer do (allow_loopback = false); other Hosts are 421.
    let h = s.addr("http", 0);
    let r = http(&h, "GET /lscmd HTTP/1.1\r\nHost: 127.0.0.1\r\nOrigin: https://dash.lan\r\nConnection: close\r\n\r\n");
    assert!(
        r.contains("Access-Control-Allow-Origin: https://dash.lan\r\n"),
        "{r}"
    );
    let r = http(&h, "GET /lscmd HTTP/1.1\r\nHost: 127.0.0.1\r\nOrigin: http://localhost\r\nConnection: close\r\n\r\n");
    assert!(
        r.starts_with("HTTP/1.1 200 ") && !r.contains("Access-Control"),
        "{r}"
    );
    let r = http(
        &h,
        "GET /lscmd HTTP/1.1\r\nHost: rebind.example\r\nConnection: close\r\n\r\n",
    );
    assert!(r.starts_with("HTTP/1.1 421 "), "{r}");
    // [auth]: fail_delay 0.01 answers a failure quickly.
    let mut f = Client::connect(&tcp, WAIT).unwrap();
    assert!(f.authenticate("admin", b"no").is_err());
    // [log] level = info: the server logged its listeners (read above) and
    // logs connections.
    s.wait_log("connected");
    // max_connections = 50: the 51st is refused with NACK 21.
    let mut many = Vec::new();
    for _ in 0..60 {
        many.push(TcpStream::connect(&tcp).unwrap());
    }
    s.wait_log("connection limit reached");
}

fn http(addr: &str, req: &str) -> String {
    let mut t = TcpStream::connect(addr).unwrap();
    t.set_read_timeout(Some(WAIT)).unwrap();
    t.write_all(req.as_bytes()).unwrap();
    let mut out = Vec::new();
    let _ = t.read_to_end(&mut out);
    text(&out)
}

#[test]
fn test_config_reports_each_error_with_its_line() {
    let dir = TempDir::new("cfgbad");
    let bad = dir.write(
        "bad.toml",
        r#"[[listener]]
kind = "tcp"
addr = "127.0.0.1:0"

[[listener]]
kind = "carrier-pigeon"
addr = "127.0.0.1:0"

[[listener]]
kind = "tls"
addr = "127.0.0.1:0"
cert = "missing.pem"
key = "missing.key"

[[user]]
name = "bob"
password = "hunter2"

[log]
level = "loud"
"#,
    );
    let (ok, out, err) = test_config(&bad);
    assert!(!ok && out.is_empty());
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 4, "{err}");
    assert!(
        lines[0].ends_with(
            "bad.toml:5: listener kind 'carrier-pigeon' is not one of tcp, tls, http, https, mqtt, mqtts, unix"
        ),
        "{err}"
    );
    assert!(
        lines[1].contains("bad.toml:9: ") && lines[1].contains("missing.pem"),
        "{err}"
    );
    assert!(
        lines[2].contains("bad.toml:15: user 'bob': password: "),
        "{err}"
    );
    assert!(lines[3].contains("bad.toml:20: [log] level: "), "{err}");
    // A syntax error and an unknown key: their lines too.
    let syntax = dir.write(
        "syntax.toml",
        "[limits]\nmax_message = 10\nmax_mesage = 11\n",
    );
    let (ok, _, err) = test_config(&syntax);
    assert!(!ok);
    assert!(
        err.contains("syntax.toml:3: unknown field `max_mesage`"),
        "{err}"
    );
    let missing = dir.path("nope.toml");
    let (ok, _, err) = test_config(&missing);
    assert!(!ok && err.contains("nope.toml: No such file"), "{err}");
}

#[test]
fn flags_override_the_file() {
    let dir = TempDir::new("cfgflags");
    let path = dir.write(
        "f.toml",
        "[[listener]]\nkind = \"tcp\"\naddr = \"127.0.0.1:1\"\n\n[limits]\nmax_message = 10\n",
    );
    // The flag's listener replaces the file's (port 1 would fail), and
    // --max-message replaces the file's 10.
    let s = Server::start(&[
        "--config",
        &path,
        "--tcp",
        "127.0.0.1:0",
        "--max-message",
        "100",
    ]);
    let mut c = Client::connect(&s.addr("", 0), WAIT).unwrap();
    c.publish("a", &[b'x'; 50]).unwrap();
}

#[test]
fn reload_by_sighup_and_command_keeps_clients_and_refuses_broken_files() {
    let dir = TempDir::new("reload");
    let phc = phc();
    let lua1 = lua_dir(&dir, "lua1", "hi one");
    let lua2 = lua_dir(&dir, "lua2", "hi two");
    let write = |anon: &str, lua: &str, max: usize| {
        dir.write(
            "ducq.toml",
            &format!(
                "[[listener]]\nkind = \"tcp\"\naddr = \"127.0.0.1:0\"\n\n[limits]\nmax_message = {max}\n\n\
                 [lua]\ndirs = [\"{lua}\"]\n\n[[user]]\nname = \"admin\"\npassword = \"{phc}\"\n\
                 publish = [\"*\"]\nsubscribe = [\"*\"]\nadmin = true\n\n[[user]]\nname = \"joe\"\n\
                 password = \"{phc}\"\npublish = [\"joe/*\"]\n\n[anonymous]\npublish = [\"{anon}\"]\n"
            ),
        )
    };
    let path = write("a/*", &lua1, 1000);
    let s = Server::start_kinds(&["--config", &path], &[""]);
    let addr = s.addr("", 0);
    let mut sub = Client::connect(&addr, WAIT).unwrap();
    sub.subscribe("b/x", "").unwrap_err(); // anonymous may not subscribe at all
    let mut admin = Client::connect(&addr, WAIT).unwrap();
    admin.authenticate("admin", b"adminpw").unwrap();
    admin.subscribe("b/*", "").unwrap();
    let mut anon = Client::connect(&addr, WAIT).unwrap();
    anon.publish("a/1", b"1").unwrap();
    assert!(anon.publish("b/1", b"1").is_err());
    anon.send(b"hello").unwrap();
    assert_eq!(anon.receive().unwrap(), b"hi one");

    // SIGHUP with a new file: anonymous may publish to b/*, Lua folder 2,
    // larger messages (for connections made from now on). Nobody is
    // disconnected.
    write("b/*", &lua2, 5000);
    s.signal("HUP");
    s.wait_log("configuration reloaded");
    let mut fresh = Client::connect(&addr, WAIT).unwrap();
    fresh.publish("b/1", &[b'y'; 3000]).unwrap();
    let got = admin.receive().unwrap();
    assert_eq!(got.len(), "pub b/1\n".len() + 3000);
    anon.publish("b/1", b"small").unwrap();
    assert_eq!(admin.receive().unwrap(), b"pub b/1\nsmall");
    assert!(anon.publish("a/1", b"1").is_err());
    anon.send(b"hello").unwrap();
    assert_eq!(anon.receive().unwrap(), b"hi two");

    // A broken file: refused whole, errors logged, the running
    // configuration stays.
    dir.write("ducq.toml", "[limits]\nmax_message = \"lots\"\n");
    s.signal("HUP");
    s.wait_log("ducq.toml:2: invalid type");
    s.wait_log("configuration refused; the running one stays");
    anon.publish("b/2", b"still").unwrap();
    assert_eq!(admin.receive().unwrap(), b"pub b/2\nstill");

    // The reload command: only for admins; a broken file is a NACK 3.
    let mut joe = Client::connect(&addr, WAIT).unwrap();
    joe.authenticate("joe", b"adminpw").unwrap();
    joe.send(b"reload").unwrap();
    assert_eq!(text(&joe.receive().unwrap()), "NACK *\n24\naccess denied");
    admin.send(b"reload").unwrap();
    assert_eq!(text(&admin.receive().unwrap()), "NACK *\n3\nerror");
    write("a/*", &lua1, 1000);
    admin.send(b"reload").unwrap();
    assert_eq!(admin.receive().unwrap(), b"ACK");
    anon.publish("a/3", b"back").unwrap();
    assert!(anon.publish("b/3", b"1").is_err());
    // Every client is still connected.
    for c in [&mut sub, &mut anon, &mut joe] {
        c.emit("PING", "_", b"p").unwrap();
        assert_eq!(c.receive().unwrap(), b"PONG _\np");
    }
}

#[test]
fn unix_and_tcp_clients_share_routes() {
    let dir = TempDir::new("unix");
    let sock = dir.path("d.sock");
    let s = Server::start(&["--tcp", "127.0.0.1:0", "--unix", &sock]);
    let mut tcp_sub = Client::connect(&s.addr("", 0), WAIT).unwrap();
    tcp_sub.subscribe("u/*", "").unwrap();
    let mut unix_sub = Client::connect_unix(sock.as_ref(), WAIT).unwrap();
    unix_sub.subscribe("t/*", "").unwrap();
    // The CLI over the Unix socket publishes to the TCP subscriber.
    let out = ducq(&["--unix", &sock, "pub", "u/1", "from unix"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(tcp_sub.receive().unwrap(), b"pub u/1\nfrom unix");
    let mut tcp_pub = Client::connect(&s.addr("", 0), WAIT).unwrap();
    tcp_pub.publish("t/1", b"from tcp").unwrap();
    assert_eq!(unix_sub.receive().unwrap(), b"pub t/1\nfrom tcp");
    let lines = lsconn_lines(&mut tcp_pub);
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with(&format!("UNIX:{sock}:")) && l.ends_with(",t/*\n")),
        "{lines:?}"
    );
    // A second server on the same live path is refused; the first keeps it.
    let second = Server::try_start(&["--unix", &sock]);
    assert!(
        second
            .as_ref()
            .is_err_and(|e| e.contains("another server listens")),
        "{:?}",
        second.err()
    );
    tcp_pub.publish("t/2", b"again").unwrap();
    assert_eq!(unix_sub.receive().unwrap(), b"pub t/2\nagain");
}

#[test]
fn foreign_origins_get_no_cors_and_cannot_write_or_upgrade() {
    let s = Server::start(&["--http", "127.0.0.1:0"]);
    let h = s.addr("http", 0);
    let port = s.port("http");
    let evil = "Origin: http://evil.example\r\n";
    // Publish something to read.
    let r = http(&h, "POST /pub/home/door HTTP/1.1\r\nHost: x\r\nContent-Length: 8\r\nConnection: close\r\n\r\ncode1234");
    assert!(r.starts_with("HTTP/1.1 200 "), "{r}");
    // A foreign page reading /last/*: answered (a GET changes nothing) but
    // without a CORS header, so the browser hides it from the page.
    let r = http(
        &h,
        &format!("GET /last/home/* HTTP/1.1\r\nHost: x\r\n{evil}Connection: close\r\n\r\n"),
    );
    assert!(
        r.starts_with("HTTP/1.1 200 ") && !r.contains("Access-Control-Allow-Origin"),
        "{r}"
    );
    // Its POST and its WebSocket upgrade: 403, before the broker sees them.
    let r = http(&h, &format!("POST /pub/home/door HTTP/1.1\r\nHost: x\r\n{evil}Content-Length: 4\r\nConnection: close\r\n\r\nopen"));
    assert!(
        r.starts_with("HTTP/1.1 403 ") && r.ends_with("{\"error\":\"origin not allowed\"}"),
        "{r}"
    );
    let up = "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n";
    let r = http(&h, &format!("GET / HTTP/1.1\r\nHost: x\r\n{evil}{up}\r\n"));
    assert!(r.starts_with("HTTP/1.1 403 "), "{r}");
    let r = http(
        &h,
        "GET /last/home/door HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assert!(
        r.ends_with("code1234"),
        "the foreign POST changed nothing: {r}"
    );
    // The same origin and loopback pages: allowed, named in the header.
    let same = format!("Origin: http://127.0.0.1:{port}\r\n");
    let r = http(&h, &format!("GET /last/home/door HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n{same}Connection: close\r\n\r\n"));
    assert!(
        r.contains(&format!(
            "Access-Control-Allow-Origin: http://127.0.0.1:{port}\r\n"
        )),
        "{r}"
    );
    let r = http(
        &h,
        &format!("GET / HTTP/1.1\r\nHost: x\r\nOrigin: http://localhost:3000\r\n{up}\r\n"),
    );
    assert!(r.starts_with("HTTP/1.1 101 "), "{r}");
    // No Origin (curl, devices): unaffected.
    let r = http(&h, "POST /pub/home/door HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nConnection: close\r\n\r\nx");
    assert!(
        r.starts_with("HTTP/1.1 200 ") && !r.contains("Access-Control"),
        "{r}"
    );
}
