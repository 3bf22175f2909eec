//! Channels defined by Lua files (docs/LUA.md "Channels"): hooks that
//! transform, reroute, drop, refuse and greet; a hook that fails, runs
//! away or eats memory (NACK, the server fine); built-in settings in a Lua
//! table; hot reload of a channel file with the "previous version stays"
//! rule.

mod lua_util;
mod util;

use std::time::{Duration, Instant};

use ducq::lua::LuaLimits;
use lua_util::{nack, LuaServer, ScriptDir};
use util::{parts, Peer, WAIT};

const ACK: &[u8] = b"ACK";

/// The lines of a PARTS … END reply, without their `\n`.
fn lines(p: &mut Peer) -> Vec<String> {
    parts(p)
        .into_iter()
        .map(|l| l.strip_suffix('\n').unwrap_or(&l).to_string())
        .collect()
}

fn show(p: &mut Peer, name: &str) -> Result<Vec<String>, Vec<u8>> {
    p.send(format!("chan show {name}").as_bytes());
    let first = p.recv();
    if first != b"PARTS" {
        return Err(first);
    }
    let mut out = Vec::new();
    loop {
        let m = p.recv();
        if m == b"END" {
            return Ok(out);
        }
        out.push(String::from_utf8_lossy(&m).trim_end().to_string());
    }
}

/// Waits until `chan show NAME` answers something `ok` accepts.
fn wait_show(p: &mut Peer, name: &str, ok: impl Fn(&Result<Vec<String>, Vec<u8>>) -> bool) {
    let deadline = Instant::now() + WAIT;
    loop {
        let got = show(p, name);
        if ok(&got) {
            return;
        }
        assert!(Instant::now() < deadline, "chan show {name}: still {got:?}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

const CHAT: &str = r#"
-- Shouts: every message on chat/... is upper-cased and signed.
channels.shout = {
  pattern = "chat/#",
  on_publish = function(ducq, msg)
    msg.payload = msg.payload:upper() .. " (" .. msg.route .. ")"
  end,
}

-- Moves msgs/in/X to msgs/out/X; drops "spam"; refuses "bad".
channels.mover = {
  pattern = "msgs/in/+",
  on_publish = function(ducq, msg)
    if msg.payload == "spam" then return false end
    if msg.payload == "bad" then return Ducq.EMSGINV end
    msg.route = "msgs/out/" .. msg.route:match("[^/]+$")
    return true
  end,
}
"#;

#[test]
fn on_publish_transforms_reroutes_drops_and_refuses() {
    let dir = ScriptDir::new("chat");
    dir.write("chat.lua", CHAT);
    let s = LuaServer::start(&[&dir.path]);
    let mut sub = s.peer();
    sub.call(b"sub chat/#\nadd", ACK);
    sub.call(b"sub msgs/#\nadd", ACK);
    let mut p = s.peer();
    p.publish("chat/room1", "hello");
    sub.expect(b"pub chat/room1\nHELLO (chat/room1)");
    // The stored message is the transformed one.
    p.call(b"last chat/room1\n", b"pub chat/room1\nHELLO (chat/room1)");
    // `publish`, as older devices send it, keeps its command word.
    p.call(b"publish chat/x\nhi", ACK);
    sub.expect(b"publish chat/x\nHI (chat/x)");

    p.publish("msgs/in/7", "moved");
    sub.expect(b"pub msgs/out/7\nmoved");
    p.call(b"last msgs/in/7\n", ACK);
    p.call(b"last msgs/out/7\n", b"pub msgs/out/7\nmoved");
    // Dropped: ACK, nothing delivered or stored.
    p.publish("msgs/in/8", "spam");
    p.call(b"pub msgs/in/8\nbad", &nack(15, "message invalid"));
    sub.expect_silence(Duration::from_millis(100));
    p.call(b"last msgs/out/8\n", ACK);
    // A route no channel governs is untouched.
    p.publish("other", "quiet");
    p.call(b"last other\n", b"pub other\nquiet");
    let shown = show(&mut p, "shout").unwrap();
    let file = dir.file("chat.lua").canonicalize().unwrap();
    assert_eq!(
        shown,
        [
            "pattern=chat/#".to_string(),
            "origin=lua".to_string(),
            format!("on_publish={}", file.display())
        ]
    );
    // Channels of Lua files are changed by editing the file.
    p.call(b"chan rm shout", &nack(24, "access denied"));
    p.call(b"chan add shout\npattern=x", &nack(24, "access denied"));
}

const GUARD: &str = r#"
local members = { }

channels.private = {
  pattern = "private/#",
  on_subscribe = function(ducq, msg)
    if members[ducq:id()] then
      return "welcome " .. msg.command .. " " .. msg.route
    end
    return false
  end,
}

commands.join = function(ducq, msg)
  members[ducq:id()] = true
  return ducq:sendack()
end
"#;

#[test]
fn on_subscribe_refuses_or_greets_and_cannot_be_walked_around() {
    let dir = ScriptDir::new("guard");
    dir.write("guard.lua", GUARD);
    let s = LuaServer::start(&[&dir.path]);
    let mut p = s.peer();
    p.publish("private/news", "secret");
    let mut outsider = s.peer();
    let denied = nack(24, "access denied");
    outsider.call(b"sub private/news\n", &denied);
    // Patterns that could receive the channel's messages meet it too.
    outsider.call(b"sub #\n", &denied);
    outsider.call(b"sub +/news\n", &denied);
    outsider.call(b"sub *\n", &denied);
    outsider.call(b"last private/news\n", &denied);
    // A pattern that cannot is not its business.
    outsider.call(b"sub public/#\n", ACK);
    // The refused subscriptions were not made.
    p.publish("private/news", "still secret");
    outsider.expect_silence(Duration::from_millis(100));

    let mut member = s.peer();
    member.call(b"join", ACK);
    member.call(b"sub private/news\n", ACK);
    member.expect(b"pub private/news\nwelcome sub private/news");
    p.publish("private/news", "hi");
    member.expect(b"pub private/news\nhi");
    member.send(b"last private/news\n");
    member.expect(b"pub private/news\nhi");
    member.expect(b"pub private/news\nwelcome last private/news");
}

const FAULTY: &str = r#"
channels.broken = {
  pattern = "broken/#",
  on_publish = function(ducq, msg)
    local t = nil
    return t.field
  end,
  on_subscribe = function(ducq, msg)
    error("no subscriptions today")
  end,
}

channels.typo = {
  pattern = "typo",
  on_publish = function(ducq, msg) msg.route = 42 end,
}

channels.forever = {
  pattern = "forever",
  on_publish = function(ducq, msg) while true do end end,
}
"#;

#[test]
fn a_failing_hook_is_a_nack_and_the_server_goes_on() {
    let dir = ScriptDir::new("faulty");
    dir.write("faulty.lua", FAULTY);
    let s = LuaServer::with(
        &[&dir.path],
        LuaLimits {
            instructions: 1_000_000,
            ..LuaLimits::default()
        },
    );
    let mut p = s.peer();
    let lua_error = nack(22, "lua error");
    p.call(b"pub broken/a\nx", &lua_error);
    let line = s.logs.wait_for(&["error,", "channel 'broken' on_publish"]);
    assert!(line.contains("faulty.lua:6:"), "{line}");
    assert!(line.contains(&p.id()), "{line}");
    p.call(b"sub broken/a\n", &lua_error);
    let line = s
        .logs
        .wait_for(&["channel 'broken' on_subscribe", "no subscriptions today"]);
    assert!(line.contains("faulty.lua:9:"), "{line}");
    p.call(b"pub typo\nx", &lua_error);
    s.logs.wait_for(&[
        "channel 'typo' on_publish",
        "msg.route is a integer, not a string",
    ]);
    p.call(b"pub forever\nx", &lua_error);
    s.logs.wait_for(&[
        "channel 'forever' on_publish",
        "instruction budget exceeded",
    ]);
    // Nothing was published (`last` meets on_subscribe, which fails: a
    // NACK again, not the message); the connections go on.
    p.call(b"last broken/a\n", &lua_error);
    p.call(b"last typo\n", ACK);
    p.publish("fine", "1");
    let mut q = s.peer();
    q.call(b"last fine\n", b"pub fine\n1");
    assert_eq!(s.probe.stack_top(), 0);
}

#[test]
fn a_hook_that_eats_memory_is_stopped_by_the_scripts_memory_limit() {
    let dir = ScriptDir::new("hungry");
    dir.write(
        "hungry.lua",
        r#"
channels.hungry = {
  pattern = "hungry/#",
  on_publish = function(ducq, msg)
    local t = {}
    while true do t[#t + 1] = string.rep("x", 4096) .. #t end
  end,
  on_subscribe = function(ducq, msg) return string.rep("x", 1 << 30) end,
}
"#,
    );
    let limits = LuaLimits {
        instructions: 1_000_000_000,
        memory: 16 << 20,
    };
    let s = LuaServer::with(&[&dir.path], limits);
    let mut p = s.peer();
    let lua_error = nack(22, "lua error");
    p.call(b"pub hungry/a\nx", &lua_error);
    s.logs.wait_for(&["channel 'hungry' on_publish", "memory"]);
    p.call(b"sub hungry/a\n", &lua_error);
    s.logs
        .wait_for(&["channel 'hungry' on_subscribe", "memory"]);
    assert!(s.probe.used_memory() < 16 << 20);
    // Nothing was published or subscribed; the server goes on.
    p.publish("fed", "1");
    p.call(b"last fed\n", b"pub fed\n1");
    p.call(b"last hungry/a\n", &lua_error);
}

#[test]
fn built_in_settings_in_a_lua_table() {
    let dir = ScriptDir::new("settings");
    dir.write(
        "settings.lua",
        r#"
channels.sensors = {
  pattern = "sensors/+",
  history = 3, retain = true, rate = "2/h", max_payload = 8,
  doc = "kitchen sensors",
}
channels.status = { pattern = "status", read_only = true }
commands.status = function(ducq, msg)
  local state = reactor:publish("status", msg.payload)
  return ducq:send("published " .. state)
end
"#,
    );
    let s = LuaServer::start(&[&dir.path]);
    let mut p = s.peer();
    assert_eq!(
        show(&mut p, "sensors").unwrap(),
        [
            "pattern=sensors/+",
            "history=3",
            "retain=1",
            "rate=2/h",
            "burst=2",
            "max_payload=8",
            "origin=lua"
        ]
    );
    p.publish("sensors/t", "21");
    p.publish("sensors/t", "22");
    p.call(
        b"pub sensors/t\n23",
        &nack(21, "collection reached maximum count"),
    );
    let mut q = s.peer();
    q.call(b"pub sensors/t\n123456789", &nack(16, "message too big"));
    q.publish("sensors/t", "24");
    q.send(b"last sensors/t\n9");
    for want in [
        "pub sensors/t\n21",
        "pub sensors/t\n22",
        "pub sensors/t\n24",
    ] {
        q.expect(want.as_bytes());
    }
    let mut r = s.peer();
    r.call(b"sub sensors/t\n", ACK);
    r.expect(b"pub sensors/t\n24");
    // Read-only: clients are refused, the server's own code is not.
    r.call(b"sub status\n", ACK);
    p.call(b"pub status\nup", &nack(24, "access denied"));
    p.call(b"status _\nup", b"published 0");
    r.expect(b"pub status\nup");
}

fn upper(name: &str) -> String {
    format!(
        "channels.{name} = {{ pattern = 'r/#', on_publish = function(d, m) m.payload = m.payload:upper() end }}\n"
    )
}

#[test]
fn a_channel_file_reloads_and_a_broken_one_keeps_its_previous_version() {
    let dir = ScriptDir::new("reload");
    dir.write("r.lua", &upper("loud"));
    let s = LuaServer::start(&[&dir.path]);
    let mut sub = s.peer();
    sub.sub("r/#");
    let mut p = s.peer();
    p.publish("r/1", "a");
    sub.expect(b"pub r/1\nA");

    // Rewritten: another name and behaviour.
    dir.write(
        "r.lua",
        "channels.quiet = { pattern = 'r/#', on_publish = function(d, m) m.payload = m.payload:lower() end }\n",
    );
    wait_show(&mut p, "quiet", |r| r.is_ok());
    wait_show(&mut p, "loud", |r| r.is_err());
    p.publish("r/2", "B");
    sub.expect(b"pub r/2\nb");
    s.logs.wait_for(&["reloaded", "r.lua: channels: quiet"]);

    // Broken: logged with its line; the previous version stays.
    dir.write(
        "r.lua",
        "channels.quiet = { pattern = 'r/#',\n  on_publish = function(d, m) m.payload = 'x' end\n",
    );
    s.logs
        .wait_for(&["failed to load", "r.lua:3:", "its previous version stays"]);
    p.publish("r/3", "C");
    sub.expect(b"pub r/3\nc");

    // A bad entry is skipped with a warning; the good ones load.
    dir.write(
        "r.lua",
        &(upper("good") + "channels.worse = { pattern = 'x', colour = 'red' }\nchannels['bad name'] = { pattern = 'x' }\n"),
    );
    wait_show(&mut p, "good", |r| r.is_ok());
    s.logs
        .wait_for(&["warning,", "channels.worse: unknown field 'colour'"]);
    s.logs.wait_for(&["warning,", "channels[bad name]"]);
    p.send(b"chan ls");
    assert_eq!(lines(&mut p), ["\"good\",\"r/#\",\"lua\""]);

    // Deleted: its channels go.
    dir.remove("r.lua");
    wait_show(&mut p, "good", |r| r.is_err());
    p.publish("r/4", "d");
    sub.expect(b"pub r/4\nd");
    p.send(b"chan ls");
    assert!(lines(&mut p).is_empty());
}

#[test]
fn a_channels_only_file_defines_no_command_from_its_functions() {
    let dir = ScriptDir::new("only");
    dir.write(
        "only.lua",
        "function helper(s) return s .. '!' end\nchannels.bang = { pattern = 'b', on_publish = function(d, m) m.payload = helper(m.payload) end }\n",
    );
    let s = LuaServer::start(&[&dir.path]);
    let mut p = s.peer();
    p.call(b"helper", &nack(17, "command unknown"));
    p.call(b"sub b\n", ACK);
    p.call(b"pub b\nhey", ACK);
    p.expect(b"pub b\nhey!");
}
