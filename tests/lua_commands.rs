//! Lua commands over real sockets: the script API, scripts written for the
//! original ducq, replies and errors (exact bytes), the budget and memory
//! limits, and a flat Lua state over many calls.

mod lua_util;
mod util;

use std::time::{Duration, Instant};

use ducq::lua::LuaLimits;
use lua_util::{lscmd, nack, parts, LuaServer, ScriptDir};

/// Scripts exactly as the original ducq's tests and examples wrote them.
const ORIGINAL_ECHO: &str = "function echo(ducq, msg)\n\treturn ducq:send( tostring(msg) )\nend\n";
const ORIGINAL_MYID: &str =
    "function MyId(ducq, msg)\n\tlocal id = ducq:id()\n\tducq:send(id)\n\treturn 0\nend\n";
const ORIGINAL_HELLO: &str =
    "function ReplyHello(ducq, msg)\n\tducq:send(\"hello, world\")\n\treturn 0\nend\n";
const ORIGINAL_RETURN: &str = "function Return(ducq, msg)\n\treturn ducq:send('')\nend\n";
const ORIGINAL_WHOAMI: &str = r#"commands.whoami = {
	doc = "get server side emitter's id",
	exec = function (ducq, msg)
		for client, route in ducq:clients() do
			if client == ducq then
				ducq:send( ducq:id() .. ' ' .. route )
				break
			end
		end
		return 0
	end
}
"#;

#[test]
fn original_style_scripts_run_unchanged() {
    let dir = ScriptDir::new("orig");
    dir.write("mock_command_echo.lua", ORIGINAL_ECHO);
    dir.write("mock_command_myId.lua", ORIGINAL_MYID);
    dir.write("mock_command_replyhello.lua", ORIGINAL_HELLO);
    dir.write("mock_command_return.lua", ORIGINAL_RETURN);
    dir.write("whoami.lua", ORIGINAL_WHOAMI);
    dir.write(
        "required.lua",
        "Ducq = require('LuaDucq')\ncommands.state = { doc = 'x', exec = function(ducq, msg)\n\
         return ducq:send(tostring(Ducq.OK) .. ',' .. Ducq.ENOCMD .. ',' .. Ducq.ELUA)\nend }\n",
    );
    let s = LuaServer::start(&[&dir.path]);
    let mut p = s.peer();
    p.call(b"echo a/b\nhello\nworld", b"echo a/b\nhello\nworld");
    p.call(b"MyId", p.id().as_bytes());
    p.call(b"ReplyHello _\n", b"hello, world");
    // An empty frame would mean "connection closed" on TCP: send('') is
    // refused with EMSGINV, which the command returns, so it is answered.
    p.send(b"Return _\n");
    p.expect_raw(b"25\nNACK *\n15\nmessage invalid");
    p.sub("some/route");
    let want = format!("{} some/route", p.id());
    p.call(b"whoami", want.as_bytes());
    p.call(b"state", b"0,17,22");
}

#[test]
fn lscmd_lists_lua_commands_with_their_doc() {
    let dir = ScriptDir::new("lscmd");
    dir.write(
        "a.lua",
        "commands.zeta = { doc = 'the last', exec = function(d) return d:sendack() end }\n\
         commands.alpha = { doc = 'the first\\nline', exec = function(d) return d:sendack() end }\n",
    );
    let s = LuaServer::start(&[&dir.path]);
    let mut p = s.peer();
    let lines = lscmd(&mut p);
    assert!(lines[0].starts_with("\"lscmd\","), "{lines:?}");
    let alpha = lines
        .iter()
        .position(|l| l == "\"alpha\",\"the first line\"\n");
    let zeta = lines.iter().position(|l| l == "\"zeta\",\"the last\"\n");
    assert!(alpha.is_some() && zeta.is_some(), "{lines:?}");
    assert!(alpha < zeta);
    p.call(b"alpha", b"ACK");
}

#[test]
fn lua_replaces_time_but_never_the_core() {
    let dir = ScriptDir::new("replace");
    dir.write(
        "r.lua",
        "commands.time = { doc = 'lua time', exec = function(d) return d:send('lua o clock') end }\n\
         commands.pub = { doc = 'hijack', exec = function(d) return d:send('hijacked') end }\n\
         commands.PING = function(d) return d:send('hijacked') end\n",
    );
    let s = LuaServer::start(&[&dir.path]);
    let mut p = s.peer();
    p.call(b"time", b"lua o clock");
    p.call(b"pub r\nx", b"ACK");
    p.call(b"PING _\nx", b"PONG _\nx");
    s.logs
        .wait_for(&["warning,", "'pub' is a core command and cannot be replaced"]);
    let lines = lscmd(&mut p);
    assert!(lines.contains(&"\"time\",\"lua time\"\n".to_string()));
    assert!(!lines.iter().any(|l| l.contains("hijack")), "{lines:?}");
}

#[test]
fn runtime_error_answers_nack_22_and_is_logged_with_file_and_line() {
    let dir = ScriptDir::new("rterr");
    dir.write(
        "boom.lua",
        "commands.boom = { doc = '', exec = function(ducq, msg)\n  error('kaboom')\nend }\n\
         commands.badarg = { doc = '', exec = function(ducq, msg)\n  return reactor:loop(42)\nend }\n",
    );
    let s = LuaServer::start(&[&dir.path]);
    let mut p = s.peer();
    p.send(b"boom");
    p.expect_raw(b"19\nNACK *\n22\nlua error");
    let line = s.logs.wait_for(&["error,", "boom.lua:2:", "kaboom"]);
    assert!(line.starts_with("error,lua,TCP:127.0.0.1:"), "{line}");
    p.call(b"badarg", &nack(22, "lua error"));
    s.logs.wait_for(&["error,", "'badarg'", "boom.lua:5"]);
    // The connection stays usable.
    p.call(b"PING _\nx", b"PONG _\nx");
}

#[test]
fn returned_states() {
    let dir = ScriptDir::new("states");
    dir.write(
        "s.lua",
        "local Ducq = require('LuaDucq')\n\
         commands.silent_error = function(d) return Ducq.ENOTFOUND end\n\
         commands.negative = function(d) return -16 end\n\
         commands.replied_error = function(d) d:send('partial') return Ducq.EMAX end\n\
         commands.nothing = function(d) d:send('x') end\n\
         commands.silent_ok = function(d) return 0 end\n\
         commands.text = function(d) return 'oops' end\n",
    );
    let s = LuaServer::start(&[&dir.path]);
    let mut p = s.peer();
    p.call(b"silent_error", &nack(19, "connection not found"));
    p.call(b"negative", &nack(16, "message too big"));
    p.call(b"replied_error", b"partial");
    p.call(b"nothing", b"x");
    p.send(b"silent_ok");
    p.call(b"text", &nack(22, "lua error"));
    s.logs
        .wait_for(&["'text'", "returned a string, not a state code"]);
    p.call(b"PING _\nx", b"PONG _\nx");
}

#[test]
fn message_fields_and_tostring() {
    let dir = ScriptDir::new("msg");
    dir.write(
        "m.lua",
        "commands.fields = function(d, m)\n\
           return d:send(m.command .. '|' .. m.route .. '|' .. m.payload)\n\
         end\n\
         commands.rewrite = function(d, m)\n\
           m.payload = 'changed'\n\
           return d:send(tostring(m))\n\
         end\n",
    );
    let s = LuaServer::start(&[&dir.path]);
    let mut p = s.peer();
    p.call(b"fields a b\nx\ny\0z", b"fields|a b|x\ny\0z");
    p.call(b"fields", b"fields||");
    p.call(b"rewrite r\npayload", b"rewrite r\nchanged");
}

#[test]
fn stale_handle_send_answers_enotfound_and_reaches_nobody() {
    let dir = ScriptDir::new("stale");
    dir.write(
        "keep.lua",
        "local kept\n\
         commands.keep = function(d) kept = d return d:sendack() end\n\
         commands.poke = function(d)\n\
           local state = kept:send('for the kept one')\n\
           local id = kept:id()\n\
           return d:send(tostring(state) .. ' ' .. tostring(id) .. ' ' .. tostring(kept == d))\n\
         end\n",
    );
    let s = LuaServer::start(&[&dir.path]);
    let mut a = s.peer();
    a.call(b"keep", b"ACK");
    let a_id = a.id();
    drop(a);
    // Wait until the server has dropped the first connection, so the next
    // one may take its slot.
    let mut b = s.peer();
    loop {
        b.send(b"lsconn");
        if !parts(&mut b).iter().any(|l| l.starts_with(&a_id)) {
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    drop(b);
    let mut c = s.peer();
    c.call(b"poke", b"19 nil false");
    c.call(b"PING _\nx", b"PONG _\nx");
}

#[test]
fn clients_iterates_every_subscription_over_tcp() {
    let dir = ScriptDir::new("clients");
    dir.write(
        "b.lua",
        "commands.shout = { doc = 'to everyone', exec = function(ducq, msg)\n\
           local n = 0\n\
           for client, route in ducq:clients() do\n\
             if not (client == ducq) then client:send('[' .. route .. '] ' .. msg.payload) end\n\
             n = n + 1\n\
           end\n\
           return ducq:send(tostring(n))\n\
         end }\n",
    );
    let s = LuaServer::start(&[&dir.path]);
    let mut one = s.peer();
    one.sub("a");
    let mut two = s.peer();
    two.sub("b");
    two.call(b"sub c\nadd", b"ACK");
    let mut none = s.peer();
    none.call(b"PING _\n", b"PONG _\n");
    let mut caller = s.peer();
    caller.call(b"shout _\nhello", b"5");
    one.expect(b"[a] hello");
    let mut got = vec![two.recv(), two.recv()];
    got.sort();
    assert_eq!(got, vec![b"[b] hello".to_vec(), b"[c] hello".to_vec()]);
    none.expect(b"[] hello");
}

#[test]
fn reactor_loop_continue_stop_delete() {
    let dir = ScriptDir::new("loop");
    dir.write(
        "k.lua",
        "commands.kick = function(ducq, msg)\n\
           local seen = 0\n\
           local last = reactor:loop(function(client, route)\n\
             seen = seen + 1\n\
             if route == msg.route then\n\
               client:send('bye')\n\
               if msg.payload == 'or' then return reactor.delete | reactor.stop end\n\
               return reactor.delete + reactor.stop\n\
             end\n\
             return reactor.continue\n\
           end)\n\
           return ducq:send(seen .. ' ' .. last)\n\
         end\n\
         commands.count = function(ducq)\n\
           local n = 0\n\
           reactor:loop(function() n = n + 1 end)\n\
           return ducq:send(tostring(n))\n\
         end\n",
    );
    let s = LuaServer::start(&[&dir.path]);
    let mut admin = s.peer();
    admin.sub("admin");
    let mut v1 = s.peer();
    v1.sub("victim1");
    let mut v2 = s.peer();
    v2.sub("victim2");
    admin.send(b"kick victim1\n+");
    let reply = String::from_utf8(admin.recv()).unwrap();
    assert!(reply.ends_with(" 3"), "{reply}");
    v1.expect(b"bye");
    v1.expect_closed();
    admin.send(b"kick victim2\nor");
    let reply = String::from_utf8(admin.recv()).unwrap();
    assert!(reply.ends_with(" 3"), "{reply}");
    v2.expect(b"bye");
    v2.expect_closed();
    admin.call(b"count", b"1");
}

#[test]
fn publish_and_last_from_lua() {
    let dir = ScriptDir::new("publish");
    dir.write(
        "p.lua",
        "local Ducq = require('LuaDucq')\n\
         commands.announce = function(ducq, msg)\n\
           local state, n = reactor:publish('news/' .. msg.route, msg.payload)\n\
           return ducq:send(state .. ' ' .. n)\n\
         end\n\
         commands.badpub = function(ducq)\n\
           return ducq:send(tostring(reactor:publish('', 'x')))\n\
         end\n\
         commands.latest = function(ducq, msg)\n\
           return ducq:send(reactor:last(msg.route) or 'none')\n\
         end\n",
    );
    let s = LuaServer::start(&[&dir.path]);
    let mut sub = s.peer();
    sub.sub("news/*");
    let mut p = s.peer();
    p.call(b"announce today\nrain", b"0 1");
    sub.expect(b"pub news/today\nrain");
    p.call(b"badpub", b"15");
    p.call(b"latest news/today", b"pub news/today\nrain");
    p.call(b"latest nothing/here", b"none");
    let mut late = s.peer();
    late.call(b"sub news/today\nlast", b"pub news/today\nrain");
}

#[test]
fn runaway_script_is_stopped_and_others_are_served() {
    let dir = ScriptDir::new("runaway");
    dir.write(
        "spin.lua",
        "commands.spin = function() while true do end end\n\
         commands.swallow = function()\n\
           while true do pcall(function() while true do end end) end\n\
         end\n\
         commands.cospin = function()\n\
           local co = coroutine.wrap(function() while true do end end)\n\
           co()\n\
         end\n\
         commands.coresume = function()\n\
           while true do coroutine.resume(coroutine.create(function() while true do end end)) end\n\
         end\n",
    );
    let limits = LuaLimits {
        instructions: 2_000_000,
        ..LuaLimits::default()
    };
    let s = LuaServer::with(&[&dir.path], limits);
    let mut other = s.peer();
    other.sub("x");
    for cmd in ["spin", "swallow", "cospin", "coresume"] {
        let mut p = s.peer();
        let start = Instant::now();
        p.send(cmd.as_bytes());
        other.send(b"PING _\nstill here");
        p.expect(&nack(22, "lua error"));
        other.expect(b"PONG _\nstill here");
        assert!(start.elapsed() < Duration::from_secs(3), "{cmd}");
        s.logs
            .wait_for(&["error,", &format!("'{cmd}'"), "instruction budget exceeded"]);
    }
    let line = s.logs.wait_for(&["'spin'", "instruction budget"]);
    assert!(line.contains("spin.lua:1"), "{line}");
}

#[test]
fn memory_bomb_is_stopped() {
    let dir = ScriptDir::new("membomb");
    dir.write(
        "bomb.lua",
        "commands.grow = function()\n\
           local t = {}\n\
           while true do t[#t + 1] = string.rep('x', 4096) .. #t end\n\
         end\n\
         commands.huge = function() return string.rep('x', 1 << 30) end\n\
         commands.fine = function(d) return d:send('fine') end\n",
    );
    let limits = LuaLimits {
        instructions: 1_000_000_000,
        memory: 16 << 20,
    };
    let s = LuaServer::with(&[&dir.path], limits);
    let mut p = s.peer();
    p.call(b"grow", &nack(22, "lua error"));
    s.logs.wait_for(&["'grow'", "memory"]);
    p.call(b"huge", &nack(22, "lua error"));
    p.call(b"fine", b"fine");
    assert!(s.probe.used_memory() < 16 << 20);
}

#[test]
fn ten_thousand_calls_keep_the_stack_and_memory_flat() {
    let dir = ScriptDir::new("flat");
    dir.write(
        "n.lua",
        "commands.noop = function(ducq, msg) return ducq:send('ok') end\n\
         commands.mem = function(ducq)\n\
           collectgarbage('collect')\n\
           return ducq:send(tostring(collectgarbage('count') * 1024 // 1))\n\
         end\n",
    );
    let s = LuaServer::start(&[&dir.path]);
    let mut p = s.peer();
    let mem = |p: &mut util::Peer| -> f64 {
        p.send(b"mem");
        String::from_utf8(p.recv()).unwrap().parse().unwrap()
    };
    let round = |p: &mut util::Peer, n: usize| {
        for _ in 0..n {
            p.send(b"noop _\n");
        }
        for _ in 0..n {
            p.expect(b"ok");
        }
    };
    round(&mut p, 100);
    let top = s.probe.stack_top();
    let before = mem(&mut p);
    for _ in 0..10 {
        round(&mut p, 1000);
    }
    let after = mem(&mut p);
    assert_eq!(s.probe.stack_top(), top, "the Lua stack grew");
    assert!(s.probe.calls() >= 10_102);
    assert!(
        after <= before + 16_384.0,
        "memory grew from {before} to {after} bytes"
    );
}

#[test]
fn sandbox_keeps_the_process_and_loop_safe() {
    let dir = ScriptDir::new("sandbox");
    dir.write(
        "s.lua",
        "commands.reach = function(d)\n\
           local names = { 'os.exit', 'os.execute', 'io.popen', 'io.read', 'string.dump', 'dofile', 'loadfile', 'debug' }\n\
           local values = { os.exit, os.execute, io.popen, io.read, string.dump, dofile, loadfile, debug }\n\
           local out = {}\n\
           for i, n in ipairs(names) do if values[i] ~= nil then out[#out + 1] = n end end\n\
           return d:send('reachable:' .. table.concat(out, ','))\n\
         end\n\
         commands.loadtext = function(d)\n\
           local f = load('return 1 + 1')\n\
           local g, err = load('\\27Lua', 'bin', 'b')\n\
           return d:send(tostring(f()) .. ' ' .. tostring(g) .. ' ' .. tostring(err ~= nil))\n\
         end\n\
         commands.lines = function(d)\n\
           local ok, err = pcall(io.lines)\n\
           return d:send(tostring(ok))\n\
         end\n",
    );
    let s = LuaServer::start(&[&dir.path]);
    let mut p = s.peer();
    p.call(b"reach", b"reachable:");
    p.call(b"loadtext", b"2 nil true");
    p.call(b"lines", b"false");
}

#[test]
fn handles_compare_and_print() {
    let dir = ScriptDir::new("handles");
    dir.write(
        "h.lua",
        "commands.same = function(d)\n\
           local n = 0\n\
           for c in d:clients() do if c == d then n = n + 1 end end\n\
           local text = tostring(d)\n\
           return d:send(n .. ' ' .. tostring(d == reactor) .. ' ' .. text)\n\
         end\n\
         commands.legacy = function(d)\n\
           local msg, state = d:recv()\n\
           return d:send(d:conn() .. ' ' .. d:timeout(10) .. ' ' .. state .. ' [' .. msg .. ']')\n\
         end\n",
    );
    let s = LuaServer::start(&[&dir.path]);
    let mut p = s.peer();
    let want = format!("1 false ducq connection {}", p.id());
    p.call(b"same", want.as_bytes());
    p.call(b"legacy", b"0 0 20 []");
}

#[test]
fn close_after_reply() {
    let dir = ScriptDir::new("close");
    dir.write(
        "c.lua",
        "commands.quit = function(d) d:send('bye') return d:close() end\n",
    );
    let s = LuaServer::start(&[&dir.path]);
    let mut p = s.peer();
    p.call(b"quit", b"bye");
    p.expect_closed();
}

#[test]
fn deep_recursion_is_an_error_not_a_crash() {
    let dir = ScriptDir::new("recursion");
    dir.write(
        "r.lua",
        "local function down() reactor:loop(function() down() end) end\n\
         commands.through_rust = function() down() end\n\
         local function plain(n) return plain(n + 1) + 1 end\n\
         commands.plain = function() plain(0) end\n\
         local t = setmetatable({}, {})\n\
         getmetatable(t).__index = function(self, k) return self[k] end\n\
         commands.meta = function() return t.x end\n\
         commands.nested_pcall = function(d)\n\
           local function f() return pcall(f) end\n\
           return d:send(tostring((f())))\n\
         end\n",
    );
    let s = LuaServer::start(&[&dir.path]);
    let mut p = s.peer();
    for cmd in ["through_rust", "plain", "meta"] {
        p.call(cmd.as_bytes(), &nack(22, "lua error"));
    }
    // The C-call limit is a plain error: the innermost pcall catches it.
    p.call(b"nested_pcall", b"true");
    s.logs
        .wait_for(&["'through_rust'", "reactor:loop nested more than 8 deep"]);
    p.call(b"PING _\nx", b"PONG _\nx");
}

#[test]
fn odd_error_values_are_answered_too() {
    let dir = ScriptDir::new("oddvalues");
    dir.write(
        "e.lua",
        "commands.err_nil = function() error(nil) end\n\
         commands.err_table = function() error({ code = 1 }) end\n\
         commands.err_spin = function()\n\
           error(setmetatable({}, { __tostring = function() while true do end end }))\n\
         end\n\
         commands.err_raise = function()\n\
           error(setmetatable({}, { __tostring = function() error('again') end }))\n\
         end\n\
         commands.gc_spin = function(d)\n\
           setmetatable({}, { __gc = function() while true do end end })\n\
         end\n\
         commands.close_spin = function()\n\
           local x <close> = setmetatable({}, { __close = function() while true do end end })\n\
           error('and then')\n\
         end\n\
         commands.gc_late = function(d)\n\
           local mt = {}\n\
           setmetatable({}, mt)\n\
           mt.__gc = function() while true do end end\n\
           collectgarbage('collect')\n\
           return d:send('not finalized')\n\
         end\n",
    );
    let limits = LuaLimits {
        instructions: 1_000_000,
        ..LuaLimits::default()
    };
    let s = LuaServer::with(&[&dir.path], limits);
    let mut p = s.peer();
    for cmd in [
        "err_nil",
        "err_table",
        "err_spin",
        "err_raise",
        "gc_spin",
        "close_spin",
    ] {
        p.call(cmd.as_bytes(), &nack(22, "lua error"));
    }
    s.logs
        .wait_for(&["'gc_spin'", "__gc metamethods are not available"]);
    p.call(b"gc_late", b"not finalized");
    p.call(b"PING _\nx", b"PONG _\nx");
}
