//! The original ducq C API (issue 11), with C programs written against the
//! original headers (`ffi-examples/original/`): the contract program calls
//! every function of the original API and checks what it documents (built
//! as C99 and as C++11); a server written the original way (its own
//! listening sockets, accept callbacks, `ducq_loop`, a signal handler) serves
//! the `ducq` CLI over TCP, WebSocket and HTTP, and a protocol written in C
//! through `ducq_reactor_add_client`; command plugins built against the
//! original headers load into `ducq-server`, broken ones are refused with a
//! log line; both libraries export every function; the CLI asks
//! `lscmd *` / `lsconn *`.

mod ffi_util;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use ducq::client::Client;
use ffi_util::{command, examples, lua_command, run, DucqServer, LuaDir, Running, WAIT};

/// Every function of the original API (the contract): the headers'
/// declarations, the device's `ducq_publish`, the Lua binding.
const CONTRACT: [&str; 65] = [
    // ducq.h
    "ducq_state_tostr",
    "ducq_state_short",
    "ducq_conn",
    "ducq_send",
    "ducq_parts",
    "ducq_end",
    "ducq_recv",
    "ducq_id",
    "ducq_eq",
    "ducq_copy",
    "ducq_timeout",
    "ducq_reuseaddr",
    "ducq_close",
    "ducq_free",
    "ducq_emit",
    "ducq_send_ack",
    "ducq_receive",
    "ducq_listen",
    "ducq_pub",
    "ducq_publish",
    "ducq_parse_command",
    "ducq_parse_route",
    "ducq_parse_payload",
    "ducq_ack_to_state",
    "ducq_route_cmp",
    "ducq_parse_msg",
    // ducq_tcp.h, ducq_ws.h, ducq_http.h
    "ducq_new_tcp",
    "ducq_new_tcp_connection",
    "ducq_tcp_apply",
    "ducq_new_ws_client",
    "ducq_new_ws_connection",
    "ducq_new_ws_upgrade_from_http",
    "ducq_buffer",
    "ducq_new_http_client",
    "ducq_new_http_connection",
    // ducq_reactor.h
    "ducq_reactor_new_with_log",
    "ducq_reactor_free",
    "ducq_loop",
    "ducq_reactor_set_log",
    "ducq_reactor_allow_log_route",
    "ducq_reactor_log",
    "ducq_log_tofile",
    "ducq_reactor_add_server",
    "ducq_reactor_add_client",
    "ducq_new_client_it",
    "ducq_next",
    "ducq_client_it_free",
    "ducq_reactor_subscribe",
    "ducq_reactor_delete",
    "ducq_reactor_loop",
    "ducq_reactor_get_dispatcher",
    "ducq_get_last_msg",
    "ducq_set_last_msg",
    // ducq_dispatcher.h
    "ducq_dispatcher_new",
    "ducq_dispatcher_free",
    "ducq_dispatcher_load_commands_path",
    "ducq_dispatcher_add",
    "ducq_dispatcher_accept_notify",
    "ducq_dispatch",
    "ducq_dispatcher_count_cmds",
    // ducq_log.h
    "ducq_level_tostr",
    "ducq_getnow",
    // ducq_lua.h
    "ducq_push_ducq",
    "ducq_push_reactor",
    "ducq_push_msg",
];

fn original(name: &str) -> PathBuf {
    examples().join("original").join(name)
}

/// A folder with the plugins built from `ffi-examples/original/plugins`
/// and a file that is no shared object at all.
struct PluginDir(PathBuf);

impl PluginDir {
    fn new(name: &str) -> PluginDir {
        let dir = examples().join(format!("plugins-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        for entry in std::fs::read_dir(original("plugins")).unwrap() {
            let path = entry.unwrap().path();
            std::fs::copy(&path, dir.join(path.file_name().unwrap())).unwrap();
        }
        std::fs::write(dir.join("broken.so"), b"\x7fELF but not really").unwrap();
        PluginDir(dir)
    }
}

impl Drop for PluginDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn greet_lua(name: &str) -> LuaDir {
    let lua = LuaDir::new(name);
    lua.write("greet.lua", &lua_command("greet", "says hi", "hi"));
    lua
}

fn ducq_server(extra: &[&str]) -> DucqServer {
    DucqServer::start_with(Path::new(env!("CARGO_BIN_EXE_ducq-server")), extra)
}

fn text(bytes: Vec<u8>) -> String {
    String::from_utf8(bytes).expect("UTF-8")
}

/// Runs a program to completion; returns its output, asserting it ended
/// with "0 failed" and status 0.
fn passes(mut cmd: Command, what: &str) -> String {
    let (code, out, err) = run({
        cmd.stdin(std::process::Stdio::null());
        cmd
    });
    assert!(
        code == 0 && out.ends_with("0 failed\n"),
        "{what} (status {code}):\n{out}\n{err}"
    );
    out
}

#[test]
fn the_contract_program_is_written_with_every_function() {
    let source =
        std::fs::read_to_string(ffi_util::root().join("ffi-examples/original/contract.c")).unwrap();
    for name in CONTRACT {
        assert!(
            source.contains(&format!("{name}(")),
            "contract.c never calls {name}"
        );
    }
    for macro_ in [
        "ducq_reactor_new()",
        "ducq_log(",
        "DUCQ_CHECK(",
        "FG_LITE_RED",
    ] {
        assert!(source.contains(macro_), "contract.c never uses {macro_}");
    }
}

#[test]
fn the_contract_program_passes_as_c99_and_as_cpp11() {
    let server = ducq_server(&[]);
    let plugins = PluginDir::new("contract");
    let lua = greet_lua("contract");
    for program in ["contract", "contract_cpp"] {
        let mut cmd = command(&original(program), false);
        cmd.args([&server.tcp, &server.http])
            .arg(&plugins.0)
            .arg(&lua.path);
        passes(cmd, program);
    }
}

/// Defined (`T`) symbols of an object, by `nm`.
fn defined(args: &[&str], path: &Path) -> Vec<String> {
    let out = Command::new("nm")
        .args(args)
        .arg(path)
        .output()
        .expect("run nm (binutils)");
    assert!(out.status.success(), "nm {}", path.display());
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let mut f = l.split_whitespace().rev();
            let name = f.next()?;
            (f.next()? == "T").then(|| name.to_owned())
        })
        .collect()
}

#[test]
fn every_contract_function_is_exported_by_both_libraries() {
    let archive = ffi_util::staticlib_path();
    let shared = archive.with_extension("so");
    let in_archive = defined(&["--defined-only"], archive);
    let in_shared = defined(&["-D", "--defined-only"], &shared);
    for name in CONTRACT.iter().chain(["ducq_reactor_new"].iter()) {
        assert!(
            in_archive.iter().any(|s| s == name),
            "{name} is not defined in {}",
            archive.display()
        );
        assert!(
            in_shared.iter().any(|s| s == name),
            "{name} is not exported by {}",
            shared.display()
        );
    }
}

/// The original-style server, started with its ports read.
struct OriginalServer {
    running: Running,
    tcp: String,
    http: String,
    ws: String,
    netstring: String,
}

impl OriginalServer {
    fn start(name: &str, plugins: &Path, lua: &Path, valgrind: bool) -> OriginalServer {
        let mut cmd = command(&original("server"), valgrind);
        cmd.arg(plugins).arg(lua);
        let mut running = Running::start(cmd, &format!("original-server-{name}"));
        let tcp = running.value("tcp ");
        let http = running.value("http ");
        let ws = running.value("ws ");
        let netstring = running.value("netstring ");
        assert_eq!(running.line(), "ready");
        OriginalServer {
            running,
            tcp,
            http,
            ws,
            netstring,
        }
    }

    /// Stops it with SIGTERM (its signal handler stops ducq_loop); returns
    /// the number of netstring connections the reactor released.
    fn stop(self) -> usize {
        self.running.terminate();
        let (code, rest) = self.running.wait();
        assert_eq!(code, 0, "{rest:?}");
        assert_eq!(
            rest.first().map(String::as_str),
            Some("stopped"),
            "{rest:?}"
        );
        rest.get(1)
            .and_then(|l| l.strip_prefix("freed "))
            .and_then(|n| n.parse().ok())
            .expect("freed N")
    }
}

/// The `ducq` CLI with arguments.
fn cli(args: &[&str]) -> (i32, String, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_ducq"));
    cmd.args(["--timeout", "10"]).args(args);
    run(cmd)
}

/// One HTTP/1.1 request with `Connection: close`; the whole response.
fn http(port: &str, request: &str) -> String {
    let mut s = TcpStream::connect(format!("127.0.0.1:{port}")).unwrap();
    s.set_read_timeout(Some(WAIT)).unwrap();
    s.write_all(request.as_bytes()).unwrap();
    let mut response = String::new();
    s.read_to_string(&mut response).unwrap();
    response
}

#[test]
fn an_original_style_server_serves_the_cli_over_tcp_websocket_and_http() {
    let plugins = PluginDir::new("server");
    let lua = greet_lua("server");
    let server = OriginalServer::start("cli", &plugins.0, &lua.path, false);
    let log = server.running.stderr();
    for refused in [
        "broken.so: ",
        "nocommand.so: no symbol 'command'",
        "function.so: 'command' is a function",
    ] {
        assert!(
            log.lines()
                .any(|l| l.contains("refused ") && l.contains(refused)),
            "{refused}\n{log}"
        );
    }

    // The CLI over TCP: plugins and Lua commands are listed.
    let (code, out, err) = cli(&["--port", &server.tcp, "lscmd"]);
    assert_eq!(code, 0, "{err}");
    for line in [
        "\"clients\",\"list connections: <id>,<route> per line\"",
        "\"announce\",\"send the payload to the subscribers of the route\"",
        "\"greet\",\"says hi\"",
    ] {
        assert!(out.lines().any(|l| l == line), "{line} not in\n{out}");
    }

    // A subscriber over WebSocket on the HTTP port; publishers over TCP,
    // the WebSocket port and plain HTTP.
    let mut sub = Command::new(env!("CARGO_BIN_EXE_ducq"));
    sub.args([
        "--ws",
        "--port",
        &server.http,
        "sub",
        "o/*",
        "--count",
        "3",
        "-v",
    ]);
    let mut sub = Running::start(sub, "cli-sub");
    let deadline = Instant::now() + WAIT;
    while !cli(&["--port", &server.tcp, "lsconn"]).1.contains(",o/*") {
        assert!(Instant::now() < deadline, "the subscriber never subscribed");
        std::thread::sleep(Duration::from_millis(20));
    }
    let (code, _, err) = cli(&["--port", &server.tcp, "pub", "o/tcp", "over tcp"]);
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = cli(&[
        "--ws",
        "--port",
        &server.ws,
        "pub",
        "o/ws",
        "over the websocket port",
    ]);
    assert_eq!(code, 0, "{err}");
    let response = http(
        &server.http,
        "POST /pub/o/http HTTP/1.1\r\nHost: x\r\nContent-Length: 9\r\nConnection: close\r\n\r\nover http",
    );
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    let got: Vec<String> = (0..3).map(|_| sub.line()).collect();
    assert_eq!(
        got,
        [
            "o/tcp over tcp",
            "o/ws over the websocket port",
            "o/http over http"
        ]
    );
    assert_eq!(sub.wait().0, 0);

    // A plugin through the CLI, the listing through HTTP.
    let (code, out, err) = cli(&["--ws", "--port", &server.http, "send", "greet", "cli"]);
    assert_eq!((code, out.as_str()), (0, "hi cli\n"), "{err}");
    let response = http(
        &server.http,
        "GET /lscmd HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assert!(
        response.starts_with("HTTP/1.1 200") && response.contains("\"name\":\"history\""),
        "{response}"
    );

    assert_eq!(server.stop(), 0);
}

#[test]
fn a_protocol_written_in_c_serves_through_add_client_and_the_client_functions() {
    let plugins = PluginDir::new("netstring");
    let lua = greet_lua("netstring");
    let server = OriginalServer::start("netstring", &plugins.0, &lua.path, false);

    // Every client call over the C protocol.
    let mut calls = command(&original("netstring_client"), false);
    calls.args([&server.netstring, "calls"]);
    passes(calls, "netstring_client calls");

    // A netstring subscriber hears a TCP publisher; a TCP subscriber
    // hears a netstring publisher; both are listed with their own ids.
    let mut sub = command(&original("netstring_client"), false);
    sub.args([&server.netstring, "sub", "x/*"]);
    let mut sub = Running::start(sub, "netstring-sub");
    let id = sub.value("id ");
    assert_eq!(sub.line(), "ready");
    let mut tcp = Client::connect(&format!("127.0.0.1:{}", server.tcp), WAIT).unwrap();
    let listed: Vec<String> = tcp
        .list("lsconn *")
        .unwrap()
        .into_iter()
        .map(text)
        .collect();
    assert!(
        listed.contains(&format!("{id},x/*\n")),
        "{id} not in {listed:?}"
    );
    tcp.publish("x/1", b"from tcp").unwrap();
    assert_eq!(sub.line(), "pub x/1");
    assert_eq!(sub.line(), "from tcp");
    assert_eq!(sub.wait().0, 0);

    tcp.subscribe("y", "").unwrap();
    let mut publ = command(&original("netstring_client"), false);
    publ.args([&server.netstring, "pub", "y", "from netstring"]);
    let (code, out, err) = run(publ);
    assert_eq!((code, out.as_str()), (0, "ok\n"), "{err}");
    assert_eq!(text(tcp.receive().unwrap()), "pub y\nfrom netstring");
    drop(tcp);

    // Four netstring objects were added (calls: two, sub, pub); the
    // reactor released each through its table.
    let deadline = Instant::now() + WAIT;
    while server.running.stderr().matches("bridge NETSTRING").count() < 4 {
        assert!(Instant::now() < deadline, "{}", server.running.stderr());
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(server.stop(), 4);
}

/// Reads one length-framed message.
fn read_frame(s: &mut TcpStream) -> Vec<u8> {
    let mut len = 0usize;
    let mut b = [0u8; 1];
    loop {
        s.read_exact(&mut b).unwrap();
        if b[0] == b'\n' {
            break;
        }
        len = len * 10 + usize::from(b[0] - b'0');
    }
    let mut msg = vec![0; len];
    s.read_exact(&mut msg).unwrap();
    msg
}

#[test]
fn the_cli_asks_lscmd_and_lsconn_with_a_route_as_old_servers_need() {
    for command in ["lscmd", "lsconn"] {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port().to_string();
        let server = std::thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            s.set_read_timeout(Some(WAIT)).unwrap();
            let asked = read_frame(&mut s);
            for reply in [&b"PARTS"[..], b"\"x\",\"y\"\n", b"END"] {
                s.write_all(format!("{}\n", reply.len()).as_bytes())
                    .unwrap();
                s.write_all(reply).unwrap();
            }
            asked
        });
        let (code, out, err) = cli(&["--port", &port, command]);
        assert_eq!((code, out.as_str()), (0, "\"x\",\"y\"\n"), "{err}");
        assert_eq!(text(server.join().unwrap()), format!("{command} *\n"));
    }
}

#[test]
fn original_plugins_load_into_ducq_server_and_broken_ones_are_refused() {
    let plugins = PluginDir::new("ducq-server");
    let dir = plugins.0.to_str().unwrap().to_owned();
    let server = ducq_server(&["--commands", &dir]);
    // Plugins load after the listeners open (whose lines `ducq_server`
    // waits for): wait for the last plugin line, not just the first read.
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut stderr = server.running.stderr();
    while stderr.matches("refused").count() + stderr.matches("loaded command").count() < 7
        && Instant::now() < deadline
    {
        std::thread::sleep(Duration::from_millis(20));
        stderr = server.running.stderr();
    }
    for (file, reason) in [
        ("broken.so", "broken.so: "),
        ("nocommand.so", "no symbol 'command'"),
        ("function.so", "'command' is a function"),
    ] {
        assert!(
            stderr
                .lines()
                .any(|l| l.contains("refused") && l.contains(file) && l.contains(reason)),
            "{file}: {reason}\n{stderr}"
        );
    }
    for name in ["clients", "announce", "history", "drop"] {
        assert!(
            stderr.contains(&format!("loaded command '{name}'")),
            "{stderr}"
        );
    }

    let connect = || Client::connect(&format!("127.0.0.1:{}", server.tcp), WAIT).unwrap();
    let (mut log, mut monitor, mut follower, mut caller) =
        (connect(), connect(), connect(), connect());
    log.subscribe("LOG", "").unwrap();
    monitor.subscribe("__MONITOR__", "").unwrap();
    follower.subscribe("p/*", "").unwrap();

    // The lister: ducq_reactor_loop with routes, inside PARTS ... END.
    let lines: Vec<String> = caller
        .list("clients *")
        .unwrap()
        .into_iter()
        .map(text)
        .collect();
    assert!(
        lines.contains(&format!("{},p/*\n", follower.id())),
        "{lines:?}"
    );
    assert!(lines.contains(&format!("{},LOG\n", log.id())), "{lines:?}");
    assert!(lines.contains(&format!("{},-\n", caller.id())), "{lines:?}");

    // The announcer: reaches the follower, logs printf-style on LOG (the
    // original's lower-case format) and __MONITOR__ (the older one).
    caller.emit("announce", "p/q", b"hello plugins").unwrap();
    assert_eq!(text(caller.receive().unwrap()), "reached 1");
    assert_eq!(
        text(follower.receive().unwrap()),
        "announce p/q\nhello plugins"
    );
    let want = format!(
        "{},announced on p/q: hello plugins (1 reached)",
        caller.id()
    );
    let line = loop {
        let l = text(log.receive().unwrap());
        if l.starts_with("warning,announce,") {
            break l;
        }
    };
    assert_eq!(line, format!("warning,announce,{want}"));
    let line = loop {
        let l = text(monitor.receive().unwrap());
        if l.starts_with("WARN,announce,") {
            break l;
        }
    };
    assert_eq!(line, format!("WARN,announce,{want}"));
    // An error returned without a reply: a NACK, and the plugin's log line.
    caller.send(b"announce").unwrap();
    assert_eq!(
        text(caller.receive().unwrap()),
        "NACK *\n15\nmessage invalid"
    );

    // The history: the last message it stored, the time, the level names.
    let parts: Vec<String> = caller
        .list("history p/q\n")
        .unwrap()
        .into_iter()
        .map(text)
        .collect();
    assert_eq!(parts.len(), 3, "{parts:?}");
    assert_eq!(parts[0], "announce p/q\nhello plugins");
    assert_eq!(parts[2], "debug info warning error");

    // The dropper: a loop verdict of DUCQ_LOOP_DELETE | DUCQ_LOOP_BREAK
    // closes that client (the original's unsub did so).
    let victim = connect();
    caller.emit("drop", "_", victim.id().as_bytes()).unwrap();
    assert_eq!(text(caller.receive().unwrap()), "ACK");
    let mut victim = victim;
    assert!(victim.receive().is_err(), "the dropped client is closed");
    caller.emit("drop", "_", b"TCP:nobody:1").unwrap();
    assert_eq!(
        text(caller.receive().unwrap()),
        "NACK *\n19\nconnection not found"
    );

    // The server keeps serving everyone.
    caller.publish("p/after", b"still here").unwrap();
    assert_eq!(text(follower.receive().unwrap()), "pub p/after\nstill here");
}
