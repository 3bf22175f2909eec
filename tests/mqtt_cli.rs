//! `ducq-server --mqtt ADDR`: the MQTT listener of the server binary,
//! used by mosquitto_pub and a ducq TCP client at once.

mod mqtt_util;
mod server_bin;

use std::process::{Command, Stdio};
use std::time::Duration;

use ducq::client::Client;
use mqtt_util::clients::run;
use server_bin::listening;

#[test]
fn mqtt_flag_opens_an_mqtt_listener_beside_tcp() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_ducq-server"))
        .args(["--tcp", "127.0.0.1:0", "--mqtt", "127.0.0.1:0"])
        .stderr(Stdio::piped())
        .spawn()
        .expect("start ducq-server");
    let addrs = listening(&mut child, 2);
    let (tcp, mqtt) = (addrs[0].port(), addrs[1].port());

    let mut c = Client::connect(&format!("127.0.0.1:{tcp}"), Duration::from_secs(5)).unwrap();
    c.subscribe("cli/t", "").unwrap();
    run(
        "mosquitto_pub",
        mqtt,
        &["-t", "cli/t", "-m", "hi", "-q", "1"],
    );
    let got = c.receive().unwrap();
    assert_eq!(got, b"pub cli/t\nhi");
    let _ = child.kill();
    let _ = child.wait();
}
