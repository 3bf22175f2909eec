//! The C ABI end to end (issues 3 and 4): the C and C++ examples, built
//! with their Makefile (gcc/g++, `-Wall -Wextra -Werror`) against the
//! static library, run against live servers. A C subscriber receives what
//! the C publisher, a Rust client, the C++ sink and a device with its own
//! socket layer publish; the C server's commands (registered from C and
//! loaded from a `.so`) are listed and answer over TCP; a protocol written
//! in C carries pub/sub with TCP clients; misbehaving callbacks and NULL
//! pointers are handled as documented. The C WebSocket client publishes and
//! subscribes against `ducq-server` with TCP peers, bytes intact, and every
//! client call works on it; a C server loads Lua commands through
//! `ducq_dispatcher_add` and reloads them when their file changes.

mod ffi_util;
mod ports;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::time::Duration;

use ducq::client::Client;
use ffi_util::{command, example, hex, lua_command, run, DucqServer, LuaDir, Running, WAIT};

fn start_server(with_commands: bool) -> (Running, String) {
    let mut cmd = command(&example("server"), false);
    cmd.arg("127.0.0.1:0");
    if with_commands {
        let dir = ffi_util::examples().join(format!("commands-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::copy(example("cmd_hello.so"), dir.join("cmd_hello.so")).unwrap();
        // Not a command object: skipped with a log line, not fatal.
        std::fs::write(dir.join("broken.so"), b"not an object").unwrap();
        cmd.arg(&dir);
    }
    let mut server = Running::start(cmd, "server");
    let port = server.value("port ");
    (server, port)
}

fn client(port: &str) -> Client {
    Client::connect(&format!("127.0.0.1:{port}"), WAIT).expect("connect")
}

fn text(bytes: Vec<u8>) -> String {
    String::from_utf8(bytes).expect("UTF-8")
}

#[test]
fn c_subscriber_receives_from_c_rust_cpp_and_device_publishers() {
    let (server, port) = start_server(false);
    let mut sub = command(&example("sub"), false);
    sub.args(["127.0.0.1", &port, "s/*", "8"]);
    let mut sub = Running::start(sub, "sub");
    assert_eq!(sub.line(), "ready");

    let mut publ = command(&example("pub"), false);
    publ.args(["127.0.0.1", &port, "s/c", "from C", "2"]);
    let (code, out, err) = run(publ);
    assert_eq!((code, out.trim()), (0, "published 2"), "{err}");

    let mut rust = client(&port);
    rust.publish("s/rust", b"from Rust").unwrap();

    let mut sink = command(&example("sensor_sink"), false);
    sink.args(["127.0.0.1", &port, "s/cpp", "2"]);
    let (code, out, err) = run(sink);
    assert_eq!((code, out.trim()), (0, "sent 2"), "{err}");

    let mut device = command(&example("vtbl_pub"), false);
    device.args(["127.0.0.1", &port, "s/dev", "2"]);
    let (code, out, err) = run(device);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("id TCP:127.0.0.1:"), "{out}");
    assert!(out.contains("received pub s/dev\necho"), "{out}");

    let mut got = Vec::new();
    for _ in 0..8 {
        got.push(sub.line());
    }
    assert_eq!(
        got,
        [
            "s/c from C",
            "s/c from C",
            "s/rust from Rust",
            r#"s/cpp {"sensor":"t1","seq":0,"value":20.50}"#,
            r#"s/cpp {"sensor":"t1","seq":1,"value":21.50}"#,
            r#"s/dev {"n":0}"#,
            r#"s/dev {"n":1}"#,
            "s/dev echo",
        ]
    );
    let (code, _) = sub.wait();
    assert_eq!(code, 0);
    drop(server);
}

#[test]
fn c_server_commands_from_c_and_from_a_shared_object_answer_over_tcp() {
    let (server, port) = start_server(true);
    let mut server = server;
    assert_eq!(server.value("loaded "), "1");
    let mut c = client(&port);

    let listing: Vec<String> = c.list("lscmd").unwrap().into_iter().map(text).collect();
    for name in ["count", "shout", "whoami", "fail", "bye", "hello"] {
        assert!(
            listing
                .iter()
                .any(|l| l.starts_with(&format!("\"{name}\","))),
            "{name} not in {listing:?}"
        );
    }
    assert!(listing
        .contains(&"\"hello\",\"answers hello and the route (a command object)\"\n".to_owned()));

    c.emit("hello", "a/b", b"").unwrap();
    assert_eq!(text(c.receive().unwrap()), "hello a/b");
    c.send(b"hello").unwrap();
    assert_eq!(text(c.receive().unwrap()), "hello world");

    c.send(b"whoami").unwrap();
    assert_eq!(text(c.receive().unwrap()), c.id());

    let mut other = client(&port);
    other.subscribe("loud", "").unwrap();
    c.send(b"count").unwrap();
    assert_eq!(text(c.receive().unwrap()), "2");

    c.emit("shout", "loud", b"quiet please").unwrap();
    assert_eq!(text(c.receive().unwrap()), "ACK");
    assert_eq!(text(other.receive().unwrap()), "pub loud\nQUIET PLEASE");

    // An error returned without a reply becomes a NACK; the connection stays.
    c.send(b"fail").unwrap();
    assert_eq!(text(c.receive().unwrap()), "NACK *\n18\nno ack received");
    c.send(b"PING _\nstill here").unwrap();
    assert_eq!(text(c.receive().unwrap()), "PONG _\nstill here");

    // A command that closes its caller: the ACK arrives, then the end. Its
    // log line reaches the log callback and subscribers of LOG.
    let mut log = client(&port);
    log.subscribe("LOG", "").unwrap();
    let id = c.id();
    c.send(b"bye").unwrap();
    assert_eq!(text(c.receive().unwrap()), "ACK");
    assert!(c.receive().is_err(), "connection should be closed");
    let line = loop {
        let l = text(log.receive().unwrap());
        if l.starts_with("info,bye,") {
            break l;
        }
    };
    assert_eq!(line, format!("info,bye,{id},closing on request"));

    server.terminate();
    let (code, rest) = server.wait();
    assert_eq!(code, 0);
    assert!(rest.contains(&"stopped: ok".to_owned()), "{rest:?}");
}

#[test]
fn c_server_commands_answer_http_clients() {
    let dir = ffi_util::examples().join(format!("http-commands-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(example("cmd_hello.so"), dir.join("cmd_hello.so")).unwrap();
    let mut cmd = command(&example("server"), false);
    cmd.arg("127.0.0.1:0").arg(&dir).arg("127.0.0.1:0");
    let mut server = Running::start(cmd, "server-http");
    let http = server.value("http ");
    let mut s = TcpStream::connect(format!("127.0.0.1:{http}")).unwrap();
    s.set_read_timeout(Some(WAIT)).unwrap();
    s.write_all(b"POST /cmd/hello/web HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut response = String::new();
    std::io::Read::read_to_string(&mut s, &mut response).unwrap();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(response.ends_with("\r\n\r\nhello web"), "{response}");
}

#[test]
fn c_log_callback_receives_the_server_log() {
    let (server, port) = start_server(false);
    let c = client(&port);
    let id = c.id();
    drop(c);
    let deadline = std::time::Instant::now() + WAIT;
    let want = format!("[1] accept {id}: connected");
    while !server.stderr().contains(&want) {
        assert!(std::time::Instant::now() < deadline, "{}", server.stderr());
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn line_client(port: &str) -> (TcpStream, BufReader<TcpStream>) {
    let s = TcpStream::connect(format!("127.0.0.1:{port}")).unwrap();
    s.set_read_timeout(Some(WAIT)).unwrap();
    let r = BufReader::new(s.try_clone().unwrap());
    (s, r)
}

fn read_line(r: &mut BufReader<TcpStream>) -> String {
    let mut l = String::new();
    r.read_line(&mut l).expect("a line");
    l
}

#[test]
fn c_protocol_clients_take_part_in_pub_sub() {
    let mut broker = Running::start(command(&example("line_proto"), false), "line_proto");
    let tcp = broker.value("tcp ");
    let line = broker.value("line ");

    // A line client subscribes; a TCP publisher reaches it.
    let (mut w, mut r) = line_client(&line);
    w.write_all(b"sub a/*\n").unwrap();
    assert_eq!(read_line(&mut r), "ACK\n");
    let mut publisher = client(&tcp);
    publisher.publish("a/b", b"hello\nworld").unwrap();
    assert_eq!(read_line(&mut r), "pub a/b hello world\n");

    // A line client publishes; a TCP subscriber receives the ducq message.
    let mut subscriber = client(&tcp);
    subscriber.subscribe("c/d", "").unwrap();
    let (mut w2, mut r2) = line_client(&line);
    w2.write_all(b"pub c/d from a line client\r\n").unwrap();
    assert_eq!(read_line(&mut r2), "ACK\n");
    assert_eq!(
        text(subscriber.receive().unwrap()),
        "pub c/d\nfrom a line client"
    );

    // Errors come back as lines; ids carry the protocol's name.
    w2.write_all(b"nope x y\n\nlsconn\n").unwrap();
    assert_eq!(read_line(&mut r2), "NACK * 17 command unknown\n");
    assert_eq!(read_line(&mut r2), "PARTS\n");
    let mut listing = Vec::new();
    loop {
        let l = read_line(&mut r2);
        if l == "END\n" {
            break;
        }
        listing.push(l);
    }
    let id = format!("LINE:{}", w.local_addr().unwrap());
    assert!(listing.contains(&format!("{id},a/* \n")), "{listing:?}");

    // A client that leaves is dropped from the subscriptions.
    drop((w, r));
    std::thread::sleep(Duration::from_millis(100));
    publisher.publish("a/b", b"nobody").unwrap();

    broker.terminate();
    assert_eq!(broker.wait().0, 0);
}

#[test]
fn misbehaving_callbacks_are_handled_as_documented() {
    let (code, out, err) = run(command(&example("callbacks"), false));
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.ends_with("0 failed\n"), "{out}");
}

#[test]
fn every_function_takes_null_without_crashing() {
    let (code, out, err) = run(command(&example("null_calls"), false));
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(out, "0 failed\n");
}

#[test]
fn ducq_server_loads_a_command_folder() {
    let dir = ffi_util::examples().join(format!("server-commands-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(example("cmd_hello.so"), dir.join("cmd_hello.so")).unwrap();
    let port = ports::free_port().to_string();
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_ducq-server"));
    cmd.args(["--tcp", &format!("127.0.0.1:{port}"), "--commands"])
        .arg(&dir)
        .args(["--log-level", "info"]);
    let server = Running::start(cmd, "ducq-server");
    let deadline = std::time::Instant::now() + WAIT;
    let mut c = loop {
        match Client::connect(&format!("127.0.0.1:{port}"), WAIT) {
            Ok(c) => break c,
            Err(_) if std::time::Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(50))
            }
            Err(e) => panic!("ducq-server did not start: {e}\n{}", server.stderr()),
        }
    };
    let listing: Vec<String> = c.list("lscmd").unwrap().into_iter().map(text).collect();
    assert!(
        listing.iter().any(|l| l.starts_with("\"hello\",")),
        "{listing:?}"
    );
    c.emit("hello", "rust", b"").unwrap();
    assert_eq!(text(c.receive().unwrap()), "hello rust");
    assert!(
        server.stderr().contains("loaded command 'hello'"),
        "{}",
        server.stderr()
    );
}

/// Bytes a text protocol would mangle: NUL, newline, CR, non-UTF-8, a space.
const BINARY: &[u8] = b"\x00a\nb\r\xff\x80 z\x00";

fn ducq_server() -> DucqServer {
    DucqServer::start(std::path::Path::new(env!("CARGO_BIN_EXE_ducq-server")))
}

#[test]
fn c_websocket_client_publishes_and_subscribes_against_ducq_server() {
    let server = ducq_server();
    let (tcp, http) = (server.tcp.clone(), server.http.clone());

    // The C WebSocket subscriber, listed by the server under its own id.
    let mut sub = command(&example("sub"), false);
    sub.args(["--ws", "--hex", "-v", "127.0.0.1", &http, "b/*", "3"]);
    let mut sub = Running::start(sub, "ws-sub");
    let id = sub.value("id ");
    assert!(id.starts_with("WS:127.0.0.1:"), "{id}");
    assert_eq!(sub.line(), "ready");
    let mut rust = client(&tcp);
    let listed: Vec<String> = rust.list("lsconn").unwrap().into_iter().map(text).collect();
    assert!(
        listed.iter().any(|l| l.starts_with(&format!("{id},b/*"))),
        "{id} not in {listed:?}"
    );

    // TCP publishers (Rust, then C) reach the C WebSocket subscriber.
    rust.publish("b/rust", BINARY).unwrap();
    let mut publ = command(&example("pub"), false);
    publ.args(["--hex", "127.0.0.1", &tcp, "b/c", &hex(b"C over TCP\n\x01")]);
    let (code, out, err) = run(publ);
    assert_eq!((code, out.trim()), (0, "published 1"), "{err}");

    // The C WebSocket publisher reaches a TCP subscriber and the WebSocket one.
    let mut tcp_sub = client(&tcp);
    tcp_sub.subscribe("b/ws", "").unwrap();
    let mut publ = command(&example("pub"), false);
    publ.args([
        "--ws",
        "--hex",
        "-v",
        "127.0.0.1",
        &http,
        "b/ws",
        &hex(BINARY),
    ]);
    let (code, out, err) = run(publ);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.starts_with("id WS:127.0.0.1:"), "{out}");
    assert!(out.ends_with("published 1\n"), "{out}");
    let mut want = b"pub b/ws\n".to_vec();
    want.extend_from_slice(BINARY);
    assert_eq!(tcp_sub.receive().unwrap(), want);

    let got: Vec<String> = (0..3).map(|_| sub.line()).collect();
    assert_eq!(
        got,
        [
            format!("b/rust {} {}", BINARY.len(), hex(BINARY)),
            format!("b/c 12 {}", hex(b"C over TCP\n\x01")),
            format!("b/ws {} {}", BINARY.len(), hex(BINARY)),
        ]
    );
    let (code, _) = sub.wait();
    assert_eq!(code, 0);
}

#[test]
fn every_client_call_works_on_a_websocket_handle() {
    let server = ducq_server();
    let mut calls = command(&example("ws_calls"), false);
    calls.args(["127.0.0.1", &server.http]);
    let (code, out, err) = run(calls);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.starts_with("id WS:127.0.0.1:"), "{out}");
    assert!(out.ends_with("\n0 failed\n"), "{out}");

    // A WebSocket handle pointed at the TCP port fails to connect, cleanly.
    let mut wrong = command(&example("pub"), false);
    wrong.args(["--ws", "127.0.0.1", &server.tcp, "r", "x"]);
    let (code, _, err) = run(wrong);
    assert_eq!(code, 1, "{err}");
    assert!(err.starts_with("pub: "), "{err}");
}

/// Calls `command` until it answers `want`, within `WAIT`.
fn call_until(c: &mut Client, command: &str, route: &str, want: &str) {
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        c.emit(command, route, b"").unwrap();
        let got = text(c.receive().unwrap());
        if got == want {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{command} still answers {got:?}, not {want:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn c_server_loads_lua_commands_and_reloads_them() {
    let dir = LuaDir::new("c-server");
    dir.write("greet.lua", &lua_command("greet", "says hi", "hi"));
    let broken = LuaDir::new("c-server-broken");
    broken.write("broken.lua", "commands.oops = {\n");
    let broken_file = broken.path.join("broken.lua");
    let missing = dir.path.join("missing");

    let mut cmd = command(&example("server"), false);
    cmd.arg("--lua")
        .arg(&dir.path)
        .arg("--lua")
        .arg(&broken_file)
        .arg("--lua")
        .arg(&missing)
        .arg("127.0.0.1:0");
    let mut server = Running::start(cmd, "lua-server");
    assert_eq!(server.value("lua "), format!("{} ok", dir.path.display()));
    assert_eq!(
        server.value("lua "),
        format!("{} ELUA", broken_file.display())
    );
    assert_eq!(server.value("lua "), format!("{} EFILE", missing.display()));
    let port = server.value("port ");
    // The failed script was logged, with its line, through the C log
    // callback at the error level.
    let log = server.stderr();
    assert!(
        log.lines()
            .any(|l| l.starts_with("[3] lua server: failed to load ")
                && l.contains("broken.lua:2: ")),
        "{log}"
    );

    let mut c = client(&port);
    let listing: Vec<String> = c.list("lscmd").unwrap().into_iter().map(text).collect();
    assert!(
        listing.contains(&"\"greet\",\"says hi\"\n".to_owned()),
        "{listing:?}"
    );
    // C commands are still there beside the Lua ones.
    assert!(
        listing.iter().any(|l| l.starts_with("\"whoami\",")),
        "{listing:?}"
    );
    c.emit("greet", "there", b"").unwrap();
    assert_eq!(text(c.receive().unwrap()), "hi there");

    // Rewriting the file changes the answer while the C server runs; a
    // fixed broken file loads too.
    dir.write("greet.lua", &lua_command("greet", "says hello", "hello"));
    call_until(&mut c, "greet", "there", "hello there");
    broken.write("broken.lua", &lua_command("oops", "fixed", "fixed"));
    call_until(&mut c, "oops", "now", "fixed now");
    let listing: Vec<String> = c.list("lscmd").unwrap().into_iter().map(text).collect();
    assert!(
        listing.contains(&"\"greet\",\"says hello\"\n".to_owned()),
        "{listing:?}"
    );

    server.terminate();
    let (code, rest) = server.wait();
    assert_eq!(code, 0);
    assert!(rest.contains(&"stopped: ok".to_owned()), "{rest:?}");
}
