//! Issue 15: queues and request/reply reachable from Lua commands —
//! `reactor:enqueue`, `reactor:queues()` and `ducq:request` in a script
//! served by a live server.

mod lua_util;
mod util;

use lua_util::{LuaServer, ScriptDir};

const SCRIPT: &str = r#"
-- `put Q\nP`: enqueue P in Q from the script, answer the id.
commands.put = { doc = "enqueue from Lua", exec = function(ducq, msg)
    local code, id = reactor:enqueue(msg.route, msg.payload)
    if code ~= 0 then return code end
    return ducq:send("id " .. id)
end }
-- `depth Q`: the depth of Q as the script sees it.
commands.depth = { doc = "queue depth from Lua", exec = function(ducq, msg)
    for _, q in ipairs(reactor:queues()) do
        if q.name == msg.route then
            return ducq:send(q.name .. " " .. q.depth .. " " .. q.ready .. " " .. q.consumers)
        end
    end
    return ducq:send("none")
end }
-- `ask R\nP`: a request to R on the caller's behalf, with a fixed id.
commands.ask = { doc = "request from Lua", exec = function(ducq, msg)
    return ducq:request(msg.route, "lua-1", msg.payload)
end }
"#;

#[test]
fn scripts_enqueue_list_and_request() {
    let dir = ScriptDir::new("queues");
    dir.write("queues.lua", SCRIPT);
    let s = LuaServer::start(&[&dir.path]);
    let mut p = s.peer();
    p.call(b"put jobs\nfrom lua", b"id 1");
    p.call(b"put jobs\nagain", b"id 2");
    // Refusals come back as the script's state, so as a NACK.
    p.call(b"put bad name\nx", b"NACK *\n15\nmessage invalid");
    p.call(b"depth jobs\n", b"jobs 2 2 0");
    p.call(b"depth other\n", b"none");
    // What the script enqueued was committed like any enqueue.
    let mut c = s.peer();
    c.call(b"qsub jobs\n5", b"ACK");
    c.expect(b"qmsg jobs\n1 1\nfrom lua");
    c.expect(b"qmsg jobs\n2 1\nagain");
    p.call(b"depth jobs\n", b"jobs 2 0 1");

    // Nobody serves: the script's request is refused at once.
    p.call(b"ask svc\nhi", b"NACK *\n19\nconnection not found");
    let mut member = s.peer();
    member.call(b"serve svc\n", b"ACK");
    p.send(b"ask svc\nhi");
    let req = member.recv();
    let text = String::from_utf8(req).unwrap();
    let token = text
        .strip_prefix("req svc\n")
        .unwrap()
        .split('\n')
        .next()
        .unwrap()
        .to_string();
    member.send(format!("rep {token}\nHI").as_bytes());
    // The reply goes to the connection the script asked for.
    p.expect(b"rep lua-1\nHI");
    p.expect_silence(std::time::Duration::from_millis(100));
}
