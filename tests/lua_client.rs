//! Client scripts run by `ducq lua SCRIPT [ARGS]` (docs/LUA.md "Client
//! scripts") against a live server: a subscriber and a publisher script
//! end to end over TCP and WebSocket, timers, replies and timeouts, a
//! script in the original Lua client's style (globals and callbacks)
//! stopped by SIGINT and by the server going away, and errors reported
//! with file and line and a non-zero exit.

mod lua_util;
mod util;

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Child, ChildStdout, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use ducq::server::Settings;
use lua_util::ScriptDir;
use util::{TestServer, WAIT};

const DUCQ: &str = env!("CARGO_BIN_EXE_ducq");

/// A server with TCP and HTTP/WebSocket listeners.
fn server() -> TestServer {
    TestServer::with_setup(Settings::default(), |r| {
        r.listen_http("127.0.0.1:0").expect("http listener");
    })
}

/// `ducq --port P lua NAME ARGS` in the script's folder, as a user runs
/// it (Lua shortens long chunk names in messages).
fn ducq_lua(srv: &TestServer, script: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(DUCQ);
    c.args(["--port", &srv.addr.port().to_string(), "lua"])
        .arg(script.file_name().unwrap())
        .args(args)
        .current_dir(script.parent().unwrap())
        .stdin(Stdio::null());
    c
}

fn run(srv: &TestServer, script: &Path, args: &[&str]) -> Output {
    let mut child = ducq_lua(srv, script, args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + WAIT;
    loop {
        if child.try_wait().unwrap().is_some() {
            return child.wait_with_output().unwrap();
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!(
                "{} did not end: {}{}",
                script.display(),
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// The lines a child prints, as they come.
struct Lines {
    rx: mpsc::Receiver<String>,
}

impl Lines {
    fn of(stdout: ChildStdout) -> Lines {
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { return };
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
        Lines { rx }
    }

    #[track_caller]
    fn expect(&self, want: &str) {
        match self.rx.recv_timeout(WAIT) {
            Ok(got) => assert_eq!(got, want),
            Err(e) => panic!("no line {want:?} from the script: {e}"),
        }
    }
}

fn spawn(srv: &TestServer, script: &Path, args: &[&str]) -> (Child, Lines) {
    let mut child = ducq_lua(srv, script, args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let lines = Lines::of(child.stdout.take().unwrap());
    (child, lines)
}

fn wait(mut child: Child) -> (Option<i32>, String) {
    let deadline = Instant::now() + WAIT;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            let mut err = String::new();
            child
                .stderr
                .take()
                .unwrap()
                .read_to_string(&mut err)
                .unwrap();
            return (status.code(), err);
        }
        assert!(Instant::now() < deadline, "the script did not end");
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

const SUBSCRIBER: &str = r#"
local Ducq = require("LuaDucq")
local route, want = ...
local c = Ducq.connect(arg[3])
c:sub(route)
print("ready " .. c:id():match("^%u+"))
local seen = 0
c:listen(function(conn, msg)
  seen = seen + 1
  print(msg.route .. " " .. msg.payload)
  if seen == tonumber(want) then return Ducq.stop end
end)
print("run ended: " .. Ducq.run())
"#;

const PUBLISHER: &str = r#"
local c = Ducq.connect({ port = tonumber(arg[2]), ws = arg[3] == "ws" })
local n = 0
Ducq.every(0.01, function()
  n = n + 1
  c:pub(arg[1] .. "/" .. n, "reading " .. n)
  if n == 3 then return Ducq.stop end
end)
Ducq.run()
c:close()
print("published " .. n .. " over " .. c:id():match("^%u+"))
"#;

#[test]
fn a_publisher_and_a_subscriber_script_end_to_end() {
    let srv = server();
    let dir = ScriptDir::new("client-e2e");
    dir.write("sub.lua", SUBSCRIBER);
    dir.write("pub.lua", PUBLISHER);
    let ws = format!("ws://127.0.0.1:{}", srv.addrs[1].port());
    let tcp_port = srv.addr.port().to_string();
    let ws_port = srv.addrs[1].port().to_string();

    // A TCP subscriber, a WebSocket publisher; then the other way round.
    for (sub_target, pub_port, pub_ws, sub_kind, pub_kind) in [
        (String::new(), ws_port.as_str(), "ws", "TCP", "WS"),
        (ws.clone(), tcp_port.as_str(), "tcp", "WS", "TCP"),
    ] {
        let (child, lines) = spawn(&srv, &dir.file("sub.lua"), &["sensors/#", "3", &sub_target]);
        lines.expect(&format!("ready {sub_kind}"));
        let out = run(&srv, &dir.file("pub.lua"), &["sensors", pub_port, pub_ws]);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        assert_eq!(text(&out.stdout), format!("published 3 over {pub_kind}\n"));
        for n in 1..=3 {
            lines.expect(&format!("sensors/{n} reading {n}"));
        }
        lines.expect("run ended: stopped");
        let (code, err) = wait(child);
        assert_eq!(code, Some(0), "{err}");
    }
}

#[test]
fn replies_timeouts_stored_messages_and_nacks() {
    let srv = server();
    let mut p = srv.peer();
    p.publish("kept", "old news");
    let dir = ScriptDir::new("client-calls");
    dir.write(
        "calls.lua",
        r#"
local c = Ducq.connect()
-- A multipart reply is a table of its lines; any other, a string.
local cmds = c:call("lscmd")
print(type(cmds), cmds[1])
print(c:call("PING", "_", "hi"))
-- sub with `last`: the stored message comes through receive.
c:sub("kept", "last")
local m = c:receive(1)
print(m.kind, m.command, m.route, m.payload, tostring(m))
print(c:receive(0.05))
-- The original client's raw calls answer states, never raise.
print(c:send("pub other\nagain"), c:recv())
print(c:send("nope", "x"), c:recv())
print(c:timeout(1), c:sendack(), c:recv())
-- A failing call raises, with where it happened.
local ok, err = pcall(function() local r = c:call("nope"); return r end)
print(ok, err)
print(c:close(), c:close(), c:is_open())
print(pcall(function() c:pub("x", "y") end))
"#,
    );
    let out = run(&srv, &dir.file("calls.lua"), &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let port = srv.addr.port();
    assert_eq!(
        text(&out.stdout),
        format!(
            "table\t\"lscmd\",\"list commands: PARTS, one line per command with its name and doc, END\"\n\
             PONG _\nhi\n\
             message\tpub\tkept\told news\tpub kept\nold news\n\
             nil\ttimeout\n\
             0\tACK\t1\n\
             0\tNACK *\n17\ncommand unknown\t2\n\
             0\t0\tNACK *\n17\ncommand unknown\t2\n\
             false\tcalls.lua:17: call: NACK 17: command unknown\n\
             0\t10\tfalse\n\
             false\tcalls.lua:20: pub: connection to tcp://127.0.0.1:{port} closed\n"
        )
    );
}

/// A script in the style of the original CLI's Lua client: globals for
/// the request, callbacks for what comes back, `log` and `finalize`.
const ORIGINAL_STYLE: &str = r#"
Ducq = require("LuaDucq")

command = "sub"
route   = "news/*"
payload = "last"

print("starting")

onMessage = function(ducq, msg)
  print("message: " .. msg.payload)
  return 0
end

onProtocol = function(ducq, msg)
  print("protocol: " .. msg.command)
  return 0
end

onError = function(ducq, msg)
  print("error: " .. msg.payload)
  return -1
end

log = function(level, text)
  if level ~= "debug" then print("[" .. level .. "] " .. text) end
end

finalize = function()
  print("finalized")
end
"#;

#[test]
fn an_original_style_script_runs_until_interrupted() {
    let srv = server();
    let mut p = srv.peer();
    p.publish("news/today", "stored");
    let dir = ScriptDir::new("client-original");
    dir.write("example.lua", ORIGINAL_STYLE);
    let (child, lines) = spawn(&srv, &dir.file("example.lua"), &[]);
    lines.expect("starting");
    lines.expect("message: stored");
    p.publish("news/later", "live");
    lines.expect("message: live");
    let direct = [b"to ".to_vec(), lsconn_id(&mut p)].concat();
    p.call(&direct, b"ACK");
    lines.expect("message: hello");
    // SIGINT: the original ended its listening and called finalize.
    // SAFETY: the pid is our own child's, alive until we reap it.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    lines.expect("finalized");
    let (code, err) = wait(child);
    assert_eq!(code, Some(0), "{err}");
}

/// The id of the script's connection, as lsconn lists it (the one that is
/// not `p`), followed by a payload for `to`.
fn lsconn_id(p: &mut util::Peer) -> Vec<u8> {
    let me = p.id();
    let other = util::lsconn(p)
        .into_iter()
        .map(|l| l.split(',').next().unwrap_or_default().to_string())
        .find(|id| *id != me)
        .expect("the script's connection");
    format!("{other}\nhello").into_bytes()
}

#[test]
fn an_original_style_script_ends_when_the_server_goes_away() {
    let srv = server();
    let dir = ScriptDir::new("client-gone");
    dir.write("example.lua", ORIGINAL_STYLE);
    let (child, lines) = spawn(&srv, &dir.file("example.lua"), &[]);
    lines.expect("starting");
    lines.expect("protocol: ACK");
    drop(srv);
    lines.expect("error: connection closed");
    lines.expect("finalized");
    let (code, err) = wait(child);
    assert_eq!(code, Some(0), "{err}");
}

#[test]
fn errors_name_the_file_and_line_and_exit_non_zero() {
    let srv = server();
    let dir = ScriptDir::new("client-errors");
    let cases = [
        ("runtime.lua", "local t = nil\nprint('before')\nlocal x = t.field\n", ":3: attempt to index a nil value (local 't')"),
        ("syntax.lua", "print('never')\nlocal = 1\n", ":2: <name> expected near '='"),
        (
            "callback.lua",
            "local c = Ducq.connect()\nc:sub('a')\nc:listen(function() error('in the callback') end)\nc:pub('a', 'x')\n",
            ":3: in the callback",
        ),
        (
            "nack.lua",
            "local c = Ducq.connect()\nc:call('chan', 'add ro', 'pattern=ro read_only')\n\nc:pub('ro', 'x')\n",
            ":4: pub: NACK 24: access denied",
        ),
        ("badarg.lua", "Ducq.after('soon')\n", ":1: bad argument #1: error converting Lua string to f64"),
        ("connect.lua", "Ducq.connect('127.0.0.1:1')\n", ":1: could not connect to tcp://127.0.0.1:1: Connection refused"),
    ];
    for (name, source, want) in cases {
        dir.write(name, source);
        let out = run(&srv, &dir.file(name), &[]);
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{name}: {err}");
        let prefix = format!("ducq: {name}{want}");
        assert!(
            err.starts_with(&prefix),
            "{name}: {err:?} does not start with {prefix:?}"
        );
        assert_eq!(err.lines().count(), 1, "{name}: {err}");
    }
    // The script's own exit status.
    dir.write("exit.lua", "os.exit(7)\n");
    assert_eq!(run(&srv, &dir.file("exit.lua"), &[]).status.code(), Some(7));
    // A missing script, and no script at all.
    let out = run(&srv, &dir.file("missing.lua"), &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("missing.lua: No such file"),
        "{}",
        text(&out.stderr)
    );
    let out = Command::new(DUCQ).arg("lua").output().unwrap();
    assert_eq!(out.status.code(), Some(64));
}

#[test]
fn an_interrupted_run_exits_130() {
    let srv = server();
    let dir = ScriptDir::new("client-int");
    dir.write(
        "wait.lua",
        "local c = Ducq.connect()\nc:sub('never')\nc:listen(print)\nprint('waiting')\nlocal ok, err = pcall(Ducq.run)\nprint(ok, err)\nerror(err, 0)\n",
    );
    let (child, lines) = spawn(&srv, &dir.file("wait.lua"), &[]);
    lines.expect("waiting");
    // SAFETY: the pid is our own child's, alive until we reap it.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    lines.expect("false\tinterrupted (signal 2)");
    let (code, err) = wait(child);
    assert_eq!(code, Some(130), "{err}");
    assert_eq!(err, "ducq: interrupted (signal 2)\n");
}

#[test]
fn timers_fire_in_order_and_can_be_cancelled() {
    let srv = server();
    let dir = ScriptDir::new("client-timers");
    dir.write(
        "timers.lua",
        r#"
local order = {}
local ticks = 0
local t = Ducq.every(0.005, function()
  ticks = ticks + 1
  if ticks == 3 then return Ducq.stop end
end)
Ducq.after(0.03, function() order[#order + 1] = "late" end)
Ducq.after(0.001, function() order[#order + 1] = "early" end)
local never = Ducq.after(0.01, function() order[#order + 1] = "never" end)
never:cancel()
print(Ducq.run(), ticks)
t:cancel()
print(Ducq.run(5), table.concat(order, " "))
print(Ducq.run(0.01))
"#,
    );
    let out = run(&srv, &dir.file("timers.lua"), &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "stopped\t3\nidle\tearly late\nidle\n");
}

/// The repository's `clients/` folder, as the README runs it.
fn clients() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("clients")
}

#[test]
fn the_example_clients_of_the_readme() {
    let srv = TestServer::start();
    let mut p = srv.peer();
    p.publish("home/temp", "20");
    let (sub, lines) = spawn(&srv, &clients().join("sub.lua"), &["home/#", "3"]);
    lines.expect("home/temp\t20");
    let out = run(
        &srv,
        &clients().join("pub.lua"),
        &["home/temp", "21", "22.5"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "ok\n");
    lines.expect("home/temp\t21");
    lines.expect("home/temp\t22.5");
    assert_eq!(wait(sub), (Some(0), String::new()));

    // The original client's style: the server's log lines until Ctrl-C.
    let srv = TestServer::with_setup(Settings::default(), |r| {
        r.hub_mut().logger_mut().level = ducq::server::Level::Info;
    });
    let (monitor, lines) = spawn(&srv, &clients().join("monitor.lua"), &[]);
    lines.expect("\x1b[90mACK\x1b[39m");
    let mut p = srv.peer();
    let want = format!("info,accept,{},connected", p.id());
    let deadline = Instant::now() + WAIT;
    loop {
        let line = lines.rx.recv_timeout(WAIT).expect("a log line");
        if line == want {
            break;
        }
        assert!(Instant::now() < deadline, "no {want:?}");
    }
    p.publish("x", "y");
    // SAFETY: the pid is our own child's, alive until we reap it.
    unsafe { libc::kill(monitor.id() as i32, libc::SIGINT) };
    let rest: Vec<String> = lines.rx.iter().collect();
    assert_eq!(rest.last().map(String::as_str), Some("bye"), "{rest:?}");
    let (code, err) = wait(monitor);
    assert_eq!(code, Some(0), "{err}");
}
