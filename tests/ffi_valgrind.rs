//! The C and C++ examples under valgrind on a normal run (issue 3): no
//! memory errors and no definite leaks, in the library or the examples,
//! including a server stopped by a signal (with Lua commands loaded and
//! reloaded), the WebSocket client against `ducq-server`, and the
//! misbehaving-callback and NULL-pointer programs, and the programs written
//! against the original API (issue 11). Valgrind must be installed (the test script
//! installs it); set `DUCQ_SKIP_VALGRIND=1` to skip on a machine without it.

mod ffi_util;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;

use ducq::client::Client;
use ffi_util::{
    command, example, have_valgrind, hex, lua_command, run, DucqServer, LuaDir, Running, WAIT,
};

fn valgrind_available() -> bool {
    if have_valgrind() {
        return true;
    }
    assert!(
        std::env::var_os("DUCQ_SKIP_VALGRIND").is_some(),
        "valgrind is not installed (apt-get install valgrind, or set DUCQ_SKIP_VALGRIND=1)"
    );
    false
}

/// Runs a client example under valgrind and checks it exited cleanly.
fn clean(name: &str, args: &[&str]) -> String {
    let mut cmd = command(&example(name), true);
    cmd.args(args);
    let (code, out, err) = run(cmd);
    assert_eq!(code, 0, "{name} under valgrind:\n{out}\n{err}");
    out
}

#[test]
fn examples_run_clean_under_valgrind() {
    if !valgrind_available() {
        return;
    }
    let dir = ffi_util::examples().join(format!("vg-commands-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(example("cmd_hello.so"), dir.join("cmd_hello.so")).unwrap();
    let lua = LuaDir::new("vg");
    lua.write("greet.lua", &lua_command("greet", "says hi", "hi"));
    let mut server = command(&example("server"), true);
    server
        .arg("--lua")
        .arg(&lua.path)
        .arg("127.0.0.1:0")
        .arg(&dir);
    let mut server = Running::start(server, "vg-server");
    assert_eq!(server.value("lua "), format!("{} ok", lua.path.display()));
    let port = server.value("port ");

    // A long wait between messages: each publisher below starts under
    // valgrind too, which on a busy machine takes more than the default 10 s.
    let mut sub = command(&example("sub"), true);
    sub.args(["-t", "120", "127.0.0.1", &port, "v/*", "5"]);
    let mut sub = Running::start(sub, "vg-sub");
    assert_eq!(sub.line(), "ready");

    clean("pub", &["127.0.0.1", &port, "v/c", "hello", "2"]);
    clean("sensor_sink", &["127.0.0.1", &port, "v/cpp", "2"]);
    let mut rust = Client::connect(&format!("127.0.0.1:{port}"), WAIT).unwrap();
    rust.publish("v/rust", b"last").unwrap();
    rust.emit("hello", "vg", b"").unwrap();
    assert_eq!(rust.receive().unwrap(), b"hello vg");
    rust.emit("shout", "v/x", b"x").unwrap();
    assert_eq!(rust.receive().unwrap(), b"ACK");
    let out = clean("vtbl_pub", &["127.0.0.1", &port, "dev", "1"]);
    assert!(out.contains("published 1"), "{out}");
    // A Lua command, then the same after its file was rewritten.
    rust.emit("greet", "vg", b"").unwrap();
    assert_eq!(rust.receive().unwrap(), b"hi vg");
    lua.write("greet.lua", &lua_command("greet", "says hello", "hello"));
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        rust.emit("greet", "vg", b"").unwrap();
        if rust.receive().unwrap() == b"hello vg" {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "no reload");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    drop(rust);

    let (code, _) = sub.wait();
    assert_eq!(code, 0, "sub under valgrind");
    server.terminate();
    let (code, _) = server.wait();
    assert_eq!(code, 0, "server under valgrind");
}

#[test]
fn protocol_broker_runs_clean_under_valgrind() {
    if !valgrind_available() {
        return;
    }
    let mut broker = Running::start(command(&example("line_proto"), true), "vg-line");
    let tcp = broker.value("tcp ");
    let line = broker.value("line ");
    let mut w = TcpStream::connect(format!("127.0.0.1:{line}")).unwrap();
    w.set_read_timeout(Some(WAIT)).unwrap();
    let mut r = BufReader::new(w.try_clone().unwrap());
    w.write_all(b"sub p\n").unwrap();
    let mut l = String::new();
    r.read_line(&mut l).unwrap();
    assert_eq!(l, "ACK\n");
    let mut publisher = Client::connect(&format!("127.0.0.1:{tcp}"), WAIT).unwrap();
    publisher.publish("p", b"over the line").unwrap();
    l.clear();
    r.read_line(&mut l).unwrap();
    assert_eq!(l, "pub p over the line\n");
    drop((w, r));
    broker.terminate();
    assert_eq!(broker.wait().0, 0, "line_proto under valgrind");
}

#[test]
fn callbacks_and_null_pointers_run_clean_under_valgrind() {
    if !valgrind_available() {
        return;
    }
    assert!(clean("callbacks", &[]).ends_with("0 failed\n"));
    assert_eq!(clean("null_calls", &[]), "0 failed\n");
}

#[test]
fn websocket_clients_run_clean_under_valgrind() {
    if !valgrind_available() {
        return;
    }
    let server = DucqServer::start(std::path::Path::new(env!("CARGO_BIN_EXE_ducq-server")));
    let payload = b"\x00ws\n\xff";

    let mut sub = command(&example("sub"), true);
    sub.args(["--ws", "--hex", "127.0.0.1", &server.http, "w/*", "2"]);
    let mut sub = Running::start(sub, "vg-ws-sub");
    assert_eq!(sub.line(), "ready");

    let mut rust = Client::connect(&format!("127.0.0.1:{}", server.tcp), WAIT).unwrap();
    rust.publish("w/tcp", payload).unwrap();
    let mut tcp_sub = Client::connect(&format!("127.0.0.1:{}", server.tcp), WAIT).unwrap();
    tcp_sub.subscribe("w/ws", "").unwrap();
    let out = clean(
        "pub",
        &[
            "--ws",
            "--hex",
            "127.0.0.1",
            &server.http,
            "w/ws",
            &hex(payload),
        ],
    );
    assert_eq!(out, "published 1\n");
    let mut want = b"pub w/ws\n".to_vec();
    want.extend_from_slice(payload);
    assert_eq!(tcp_sub.receive().unwrap(), want);
    assert_eq!(sub.line(), format!("w/tcp 5 {}", hex(payload)));
    assert_eq!(sub.line(), format!("w/ws 5 {}", hex(payload)));
    let (code, _) = sub.wait();
    assert_eq!(code, 0, "WebSocket sub under valgrind");

    let out = clean("ws_calls", &["127.0.0.1", &server.http]);
    assert!(out.ends_with("\n0 failed\n"), "{out}");
}

/// A folder of the original-style plugins, a broken file among them.
fn original_plugins(name: &str) -> std::path::PathBuf {
    let dir = ffi_util::examples().join(format!("vg-plugins-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    for entry in std::fs::read_dir(example("original/plugins")).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, dir.join(path.file_name().unwrap())).unwrap();
    }
    std::fs::write(dir.join("broken.so"), b"not an object").unwrap();
    dir
}

#[test]
fn original_api_programs_run_clean_under_valgrind() {
    if !valgrind_available() {
        return;
    }
    let plugins = original_plugins("contract");
    let lua = LuaDir::new("vg-contract");
    lua.write("greet.lua", &lua_command("greet", "says hi", "hi"));
    let plugins_arg = plugins.to_str().unwrap();
    // The three runs are independent (the C and C++ programs each with a
    // server and a Lua folder of their own, as they write to it): they run
    // side by side, as valgrind is slow and this suite must stay fast.
    std::thread::scope(|scope| {
        for (program, name) in [
            ("original/contract", "vg-contract-c"),
            ("original/contract_cpp", "vg-contract-cpp"),
        ] {
            scope.spawn(move || {
                let server =
                    DucqServer::start(std::path::Path::new(env!("CARGO_BIN_EXE_ducq-server")));
                let lua = LuaDir::new(name);
                lua.write("greet.lua", &lua_command("greet", "says hi", "hi"));
                let lua_arg = lua.path.to_str().unwrap();
                let out = clean(program, &[&server.tcp, &server.http, plugins_arg, lua_arg]);
                assert!(out.ends_with("0 failed\n"), "{program}: {out}");
            });
        }
        // The original-style server under valgrind, serving the C protocol
        // client (also under valgrind), stopped by its signal handler.
        let mut srv = command(&example("original/server"), true);
        srv.arg(&plugins).arg(&lua.path);
        let mut srv = Running::start(srv, "vg-original-server");
        let netstring = srv.value("netstring ");
        assert_eq!(srv.line(), "ready");
        let out = clean("original/netstring_client", &[&netstring, "calls"]);
        assert_eq!(out, "0 failed\n");
        srv.terminate();
        let (code, rest) = srv.wait();
        assert_eq!(
            (code, rest.first().map(String::as_str)),
            (0, Some("stopped")),
            "{rest:?}"
        );
    });
    let _ = std::fs::remove_dir_all(&plugins);
}
