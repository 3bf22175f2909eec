//! The example commands of the repository's `extensions/` folder, loaded as
//! `ducq-server --lua extensions` would, each checked over TCP.

mod lua_util;
mod util;

use std::path::{Path, PathBuf};

use lua_util::{lscmd, nack, parts, LuaServer};

fn extensions() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("extensions")
}

fn server() -> LuaServer {
    let s = LuaServer::start(&[&extensions()]);
    assert!(
        !s.logs
            .lines()
            .iter()
            .any(|l| l.starts_with("ERROR") || l.starts_with("WARN")),
        "{:#?}",
        s.logs.lines()
    );
    s
}

#[test]
fn every_example_is_listed_with_a_doc() {
    let s = server();
    let mut p = s.peer();
    let lines = lscmd(&mut p);
    for name in ["echo", "myid", "wall", "say", "who", "get", "put"] {
        let line = lines
            .iter()
            .find(|l| l.starts_with(&format!("\"{name}\",")))
            .unwrap_or_else(|| panic!("{name} not listed: {lines:?}"));
        assert!(line.len() > name.len() + 8, "{name} has no doc: {line}");
    }
}

#[test]
fn echo_answers_the_message() {
    let s = server();
    let mut p = s.peer();
    p.call(
        b"echo some/route\nsome payload",
        b"echo some/route\nsome payload",
    );
    p.call(b"echo r\n", b"echo r\n");
}

#[test]
fn myid_tells_id_and_route() {
    let s = server();
    let mut p = s.peer();
    let id = p.id();
    p.call(b"myid", format!("{id} ").as_bytes());
    p.sub("sensors/*");
    p.call(b"myid", format!("{id} sensors/*").as_bytes());
}

#[test]
fn wall_pings_every_client_once() {
    let s = server();
    let mut a = s.peer();
    a.sub("x");
    a.call(b"sub y\nadd", b"ACK");
    let mut b = s.peer();
    b.call(b"PING _\n", b"PONG _\n");
    let mut caller = s.peer();
    caller.call(b"wall _\nreboot at noon", b"PING _\nreboot at noon");
    a.expect(b"PING _\nreboot at noon");
    b.expect(b"PING _\nreboot at noon");
    // Once each, even with two subscriptions.
    a.call(b"PING _\nnext", b"PONG _\nnext");
    caller.call(b"wall", b"PING _\nping");
}

#[test]
fn chat_say_and_who() {
    let s = server();
    let mut alice = s.peer();
    alice.sub("chat/lobby");
    let mut bob = s.peer();
    bob.sub("chat/lobby");
    let mut carol = s.peer();
    carol.sub("chat/other");

    // The room hears it first (the speaker too, as a member), then the ACK.
    bob.send(b"say lobby\nhello all");
    let line = format!("pub chat/lobby\n{}: hello all", bob.id());
    bob.expect(line.as_bytes());
    bob.expect(b"ACK");
    alice.expect(line.as_bytes());

    carol.send(b"who lobby");
    let mut members = parts(&mut carol);
    members.sort();
    let mut want = vec![format!("{}\n", alice.id()), format!("{}\n", bob.id())];
    want.sort();
    assert_eq!(members, want);

    carol.call(b"say lobby\n", &nack(15, "message invalid"));
    carol.call(b"say", &nack(15, "message invalid"));
    carol.call(b"sub chat/lobby\nlast", line.as_bytes());
}

#[test]
fn rest_put_and_get() {
    let s = server();
    let mut p = s.peer();
    p.call(b"get users/1", &nack(19, "connection not found"));
    p.call(b"put users/1\n{\"name\":\"ada\"}", b"ACK");
    p.call(b"put users/2\nbob", b"ACK");
    p.call(b"get users/1", b"{\"name\":\"ada\"}");
    let mut q = s.peer();
    q.call(b"get users/2", b"bob");
    q.send(b"get");
    assert_eq!(parts(&mut q), vec!["users/1\n", "users/2\n"]);
    q.call(b"put users/2\n", b"ACK");
    q.call(b"get users/2", &nack(19, "connection not found"));
    q.call(b"put", &nack(15, "message invalid"));
}
