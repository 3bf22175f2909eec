//! A Lua command that walks `ducq:clients()` reaches TCP and WebSocket
//! clients alike: commands never know a connection's protocol.

mod lua_util;
mod util;

use ducq::client::Client;
use lua_util::{LuaServer, ScriptDir};
use util::WAIT;

#[test]
fn lua_clients_iteration_sends_to_tcp_and_websocket_alike() {
    let dir = ScriptDir::new("ws");
    dir.write(
        "shout.lua",
        r#"
commands.shout = {
  doc = "send the payload to every connection",
  exec = function(ducq, msg)
    local seen = {}
    for client, route in ducq:clients() do
      local id = client:id()
      if not seen[id] then
        seen[id] = true
        client:send("shout " .. msg.route .. "\n" .. msg.payload)
      end
    end
    return 0
  end,
}
"#,
    );
    let srv = LuaServer::start(&[&dir.path]);
    let http = srv.http_addr().to_string();
    let mut ws = Client::connect_ws(&http, WAIT).unwrap();
    ws.subscribe("room", "").unwrap();
    let mut tcp = srv.peer();
    tcp.sub("other");
    let mut caller = Client::connect_ws(&http, WAIT).unwrap();
    caller.emit("shout", "all", b"hello everyone").unwrap();

    assert_eq!(ws.receive().unwrap(), b"shout all\nhello everyone");
    tcp.expect(b"shout all\nhello everyone");
    assert_eq!(caller.receive().unwrap(), b"shout all\nhello everyone");
    // And lscmd over WebSocket lists the Lua command with its doc.
    let lines = caller.list("lscmd").unwrap();
    assert!(lines
        .iter()
        .any(|l| l == b"\"shout\",\"send the payload to every connection\"\n"));
}
