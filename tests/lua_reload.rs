//! Hot reload of Lua commands: files written, rewritten, renamed over,
//! deleted or broken while the server runs, with real files in a temporary
//! folder and a live server.

mod lua_util;
mod util;

use std::time::Duration;

use lua_util::{call_until, call_when_ready, lscmd, nack, LuaServer, ScriptDir};

fn command(name: &str, reply: &str) -> String {
    format!(
        "commands.{name} = {{ doc = 'says {reply}', exec = function(ducq, msg)\n  return ducq:send('{reply}')\nend }}\n"
    )
}

fn unknown() -> Vec<u8> {
    nack(17, "command unknown")
}

#[test]
fn a_new_file_is_available_within_100_ms_and_rewrites_change_it() {
    let dir = ScriptDir::new("new");
    let s = LuaServer::start(&[&dir.path]);
    let mut p = s.peer();
    p.call(b"fresh", &unknown());

    dir.write("fresh.lua", &command("fresh", "one"));
    let got = call_when_ready(&mut p, b"fresh", Duration::from_millis(100));
    assert_eq!(
        got.as_deref(),
        Some(&b"one"[..]),
        "not loaded within 100 ms"
    );
    assert!(lscmd(&mut p).contains(&"\"fresh\",\"says one\"\n".to_string()));

    dir.write("fresh.lua", &command("fresh", "two"));
    call_until(&mut p, b"fresh", b"two");
    s.logs.wait_for(&["info,", "reloaded", "fresh.lua: fresh"]);
}

#[test]
fn a_temporary_file_renamed_over_a_script_replaces_it() {
    let dir = ScriptDir::new("rename");
    dir.write("cmd.lua", &command("cmd", "before"));
    let s = LuaServer::start(&[&dir.path]);
    let mut p = s.peer();
    p.call(b"cmd", b"before");

    // What editors do: write a temporary file, then rename it over.
    dir.write(".cmd.lua.tmp", &command("cmd", "after"));
    std::thread::sleep(Duration::from_millis(50));
    p.call(b"cmd", b"before");
    dir.rename(".cmd.lua.tmp", "cmd.lua");
    call_until(&mut p, b"cmd", b"after");

    // A file moved in from elsewhere counts as written.
    let elsewhere = ScriptDir::new("elsewhere");
    elsewhere.write("moved.lua", &command("moved", "in"));
    std::fs::rename(elsewhere.file("moved.lua"), dir.file("moved.lua")).unwrap();
    call_until(&mut p, b"moved", b"in");
}

#[test]
fn deleting_or_moving_out_a_file_removes_exactly_its_commands() {
    let dir = ScriptDir::new("delete");
    dir.write("a.lua", &(command("a1", "x") + &command("a2", "y")));
    dir.write("b.lua", &command("b1", "z"));
    let s = LuaServer::start(&[&dir.path]);
    let mut p = s.peer();
    p.call(b"a1", b"x");

    dir.remove("a.lua");
    call_until(&mut p, b"a1", &unknown());
    p.call(b"a2", &unknown());
    p.call(b"b1", b"z");
    let listed = lscmd(&mut p).concat();
    assert!(!listed.contains("\"a1\""), "{listed}");
    assert!(!listed.contains("\"a2\""), "{listed}");
    assert!(listed.contains("\"b1\""), "{listed}");
    s.logs.wait_for(&["unloaded", "a.lua: a1, a2"]);

    dir.rename("b.lua", "b.lua.disabled");
    call_until(&mut p, b"b1", &unknown());
}

#[test]
fn a_rewrite_that_drops_a_command_removes_it() {
    let dir = ScriptDir::new("drop");
    dir.write("a.lua", &(command("keep", "k") + &command("gone", "g")));
    let s = LuaServer::start(&[&dir.path]);
    let mut p = s.peer();
    p.call(b"gone", b"g");
    dir.write("a.lua", &command("keep", "k2"));
    call_until(&mut p, b"keep", b"k2");
    p.call(b"gone", &unknown());
    s.logs.wait_for(&["reloaded", "(removed: gone)"]);
}

#[test]
fn a_syntax_error_keeps_the_old_command_and_logs_the_line() {
    let dir = ScriptDir::new("syntax");
    dir.write("cmd.lua", &command("cmd", "good"));
    let s = LuaServer::start(&[&dir.path]);
    let mut p = s.peer();
    p.call(b"cmd", b"good");

    dir.write(
        "cmd.lua",
        "commands.cmd = { doc = 'broken', exec = function(ducq, msg)\n  return ducq:send('bad'\nend }\n",
    );
    let line = s.logs.wait_for(&["error,", "failed to load", "cmd.lua:3:"]);
    assert!(line.contains("previous version stays"), "{line}");
    p.call(b"cmd", b"good");
    assert!(lscmd(&mut p).contains(&"\"cmd\",\"says good\"\n".to_string()));

    // An error while the file runs counts as a failed load too.
    dir.write(
        "cmd.lua",
        "commands.cmd = function() end\nerror('refused')\n",
    );
    s.logs
        .wait_for(&["error,", "failed to load", "cmd.lua:2: refused"]);
    p.call(b"cmd", b"good");

    // A file that loops forever at load time is stopped.
    dir.write("cmd.lua", "while true do end\n");
    s.logs
        .wait_for(&["error,", "failed to load", "instruction budget exceeded"]);
    p.call(b"cmd", b"good");

    dir.write("cmd.lua", &command("cmd", "fixed"));
    call_until(&mut p, b"cmd", b"fixed");
}

#[test]
fn a_broken_file_at_start_is_loaded_once_fixed() {
    let dir = ScriptDir::new("startbroken");
    dir.write("bad.lua", "commands.late = {\n");
    let s = LuaServer::start(&[&dir.path]);
    s.logs.wait_for(&["error,", "failed to load", "bad.lua:2:"]);
    let mut p = s.peer();
    p.call(b"late", &unknown());
    dir.write("bad.lua", &command("late", "now"));
    call_until(&mut p, b"late", b"now");
}

#[test]
fn editor_scratch_files_are_ignored() {
    let dir = ScriptDir::new("scratch");
    let s = LuaServer::start(&[&dir.path]);
    let mut p = s.peer();
    for name in [
        ".x.lua.swp",
        "x.lua~",
        "4913",
        "#x.lua#",
        ".#x.lua",
        "x.lua.bak",
    ] {
        dir.write(name, &command("scratch", "no"));
    }
    dir.write("real.lua", &command("real", "yes"));
    call_until(&mut p, b"real", b"yes");
    p.call(b"scratch", &unknown());
}

#[test]
fn a_single_file_path_is_loaded_and_watched_alone() {
    let dir = ScriptDir::new("single");
    dir.write("one.lua", &command("one", "1"));
    dir.write("other.lua", &command("other", "no"));
    let s = LuaServer::start(&[&dir.file("one.lua")]);
    let mut p = s.peer();
    p.call(b"one", b"1");
    p.call(b"other", &unknown());

    // Saved through a rename, the file is still followed.
    dir.write("one.tmp", &command("one", "2"));
    dir.rename("one.tmp", "one.lua");
    call_until(&mut p, b"one", b"2");
    dir.write("other.lua", &command("other", "still no"));
    dir.write("one.lua", &command("one", "3"));
    call_until(&mut p, b"one", b"3");
    p.call(b"other", &unknown());
}

#[test]
fn the_latest_file_wins_a_name_and_the_other_comes_back() {
    let dir = ScriptDir::new("dup");
    dir.write("a.lua", &command("dup", "from a"));
    dir.write("b.lua", &command("dup", "from b"));
    let s = LuaServer::start(&[&dir.path]);
    s.logs
        .wait_for(&["warning,", "b.lua: 'dup' replaces the command of", "a.lua"]);
    let mut p = s.peer();
    p.call(b"dup", b"from b");
    dir.remove("b.lua");
    call_until(&mut p, b"dup", b"from a");
    dir.write("b.lua", &command("dup", "b again"));
    call_until(&mut p, b"dup", b"b again");
}

#[test]
fn state_of_a_file_lasts_until_it_is_reloaded() {
    let dir = ScriptDir::new("state");
    let counter =
        "local n = 0\ncommands.count = function(d) n = n + 1 return d:send(tostring(n)) end\n";
    dir.write("c.lua", counter);
    let s = LuaServer::start(&[&dir.path]);
    let mut p = s.peer();
    p.call(b"count", b"1");
    p.call(b"count", b"2");
    // Rewritten with the same bytes: nothing changes, state included.
    dir.write("c.lua", counter);
    std::thread::sleep(Duration::from_millis(50));
    p.call(b"count", b"3");
    dir.write("c.lua", &format!("{counter}-- changed\n"));
    call_until(&mut p, b"count", b"1");
}

#[test]
fn several_folders_are_watched() {
    let one = ScriptDir::new("multi1");
    let two = ScriptDir::new("multi2");
    one.write("a.lua", &command("a", "A"));
    let s = LuaServer::start(&[&one.path, &two.path]);
    let mut p = s.peer();
    p.call(b"a", b"A");
    two.write("b.lua", &command("b", "B"));
    call_until(&mut p, b"b", b"B");
    one.remove("a.lua");
    call_until(&mut p, b"a", &unknown());
}

#[test]
fn a_path_added_after_the_host_joined_the_reactor_is_watched() {
    use std::cell::RefCell;
    use std::rc::Rc;

    use ducq::lua::{LuaCommands, LuaLimits};
    use ducq::server::Settings;

    let dir = ScriptDir::new("late");
    dir.write("a.lua", &command("early", "e"));
    let path = dir.path.clone();
    let srv = util::TestServer::with_setup(Settings::default(), move |reactor| {
        let host = Rc::new(RefCell::new(
            LuaCommands::new(LuaLimits::default()).unwrap(),
        ));
        reactor.add_command_set(Box::new(Rc::clone(&host))).unwrap();
        // As the C ABI does: the path comes after the host is registered.
        let loaded = host.borrow_mut().add_path(&path).unwrap();
        assert_eq!((loaded.files, loaded.commands), (1, 1));
        host.borrow_mut().flush_log(reactor.hub_mut());
    });
    let mut p = srv.peer();
    p.call(b"early", b"e");
    dir.write("b.lua", &command("late", "l"));
    call_until(&mut p, b"late", b"l");
}

#[test]
fn a_folder_removed_or_moved_takes_its_commands_away() {
    let gone = ScriptDir::new("gone");
    gone.write("g.lua", &command("g", "G"));
    let moved = ScriptDir::new("moved");
    moved.write("m.lua", &command("m", "M"));
    let stays = ScriptDir::new("stays");
    stays.write("s.lua", &command("s", "S"));
    let s = LuaServer::start(&[&gone.path, &moved.path, &stays.path]);
    let mut p = s.peer();
    p.call(b"g", b"G");
    p.call(b"m", b"M");

    std::fs::remove_dir_all(&gone.path).unwrap();
    call_until(&mut p, b"g", &unknown());
    let away = moved.path.with_extension("away");
    std::fs::rename(&moved.path, &away).unwrap();
    call_until(&mut p, b"m", &unknown());
    s.logs.wait_for(&["warning,", "stopped watching"]);
    // Files written in the moved folder are not followed any more.
    std::fs::write(away.join("m2.lua"), command("m2", "no")).unwrap();
    stays.write("s2.lua", &command("s2", "S2"));
    call_until(&mut p, b"s2", b"S2");
    p.call(b"m2", &unknown());
    p.call(b"s", b"S");
    std::fs::remove_dir_all(&away).unwrap();
}
