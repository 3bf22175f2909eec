//! MQTT and Lua client scripts (`ducq lua SCRIPT`) on the same routes of a
//! real server: publications of Debian's mosquitto_pub (MQTT 3.1.1 and 5,
//! QoS 0, 1 and 2) reach a Lua subscriber as `pub <topic>\n<payload>`, and
//! a Lua script's publication reaches mosquitto_sub (as the topic's
//! retained message, so nothing races the subscription).

mod lua_util;
mod mqtt_util;
mod util;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;

use ducq::server::Settings;
use ducq::transport::mqtt;
use lua_util::ScriptDir;
use mqtt_util::clients::run;
use util::{TestServer, WAIT};

const DUCQ: &str = env!("CARGO_BIN_EXE_ducq");

/// Subscribes to arg 1, prints `ready`, then each message's wire form on
/// one line (`|` for its line break), and ends after arg 2 messages.
const SUBSCRIBER: &str = r#"
local Ducq = require("LuaDucq")
local route, want = ...
local c = Ducq.connect()
c:sub(route)
print("ready")
local seen = 0
c:listen(function(conn, msg)
  seen = seen + 1
  print((tostring(msg):gsub("\n", "|")))
  if seen == tonumber(want) then return Ducq.stop end
end)
Ducq.run()
"#;

const PUBLISHER: &str = r#"
local Ducq = require("LuaDucq")
local c = Ducq.connect()
c:pub(arg[1], arg[2])
c:close()
print("published")
"#;

fn server() -> (TestServer, SocketAddr) {
    let srv = TestServer::with_setup(Settings::default(), |r| {
        r.listen("127.0.0.1:0", mqtt::factory(mqtt::Config::default()))
            .expect("mqtt listener");
    });
    let mqtt = srv.addrs[1];
    (srv, mqtt)
}

fn ducq_lua(srv: &TestServer, dir: &ScriptDir, script: &str, args: &[&str]) -> Command {
    let mut c = Command::new(DUCQ);
    c.args(["--port", &srv.addr.port().to_string(), "lua", script])
        .args(args)
        .current_dir(&dir.path)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    c
}

/// A script process, killed if the test fails before it ended.
struct Script(Option<Child>);

impl Drop for Script {
    fn drop(&mut self) {
        if let Some(child) = self.0.as_mut() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

#[test]
fn mqtt_publications_reach_a_lua_subscriber_script() {
    let (srv, mqtt) = server();
    let dir = ScriptDir::new("mqtt-sub");
    dir.write("sub.lua", SUBSCRIBER);
    let mut script = Script(Some(
        ducq_lua(&srv, &dir, "sub.lua", &["home/#", "3"])
            .spawn()
            .unwrap(),
    ));
    let (tx, rx) = mpsc::channel();
    let stdout = script.0.as_mut().unwrap().stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    let next = || rx.recv_timeout(WAIT).expect("a line from the script");
    assert_eq!(next(), "ready");
    for (version, qos, topic, payload) in [
        ("mqttv311", "0", "home/temp", "21.5"),
        ("mqttv311", "1", "home/hall/light", "on"),
        ("mqttv5", "2", "home/door", "closed"),
    ] {
        run(
            "mosquitto_pub",
            mqtt.port(),
            &["-V", version, "-q", qos, "-t", topic, "-m", payload],
        );
        assert_eq!(next(), format!("pub {topic}|{payload}"));
    }
    let out = script.0.take().unwrap().wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn a_lua_publication_reaches_mosquitto_sub() {
    let (srv, mqtt) = server();
    let dir = ScriptDir::new("mqtt-pub");
    dir.write("pub.lua", PUBLISHER);
    let out = ducq_lua(&srv, &dir, "pub.lua", &["lua/out", "from lua"])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "published\n",
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for version in ["mqttv311", "mqttv5"] {
        let got = run(
            "mosquitto_sub",
            mqtt.port(),
            &[
                "-V", version, "-t", "lua/#", "-C", "1", "-W", "5", "-F", "%t|%p|%r",
            ],
        );
        assert_eq!(got, "lua/out|from lua|1\n");
    }
}
