//! `ducq-server --mqtt ADDR`: the MQTT listener of the server binary,
//! used by mosquitto_pub and a ducq TCP client at once.

mod mqtt_util;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use ducq::client::Client;
use mqtt_util::clients::run;

#[test]
fn mqtt_flag_opens_an_mqtt_listener_beside_tcp() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_ducq-server"))
        .args(["--tcp", "127.0.0.1:0", "--mqtt", "127.0.0.1:0"])
        .stderr(Stdio::piped())
        .spawn()
        .expect("start ducq-server");
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let mut ports = Vec::new();
    while ports.len() < 2 {
        let line = lines.next().expect("server exited").unwrap();
        if let Some(addr) = line.split("listening on ").nth(1) {
            // "127.0.0.1:PORT (kind)": the digits after the last colon.
            let port = addr.rsplit(':').next().unwrap();
            ports.push(port.split(' ').next().unwrap().to_owned());
        }
    }
    std::thread::spawn(move || for _ in lines {});
    let (tcp, mqtt) = (&ports[0], &ports[1]);

    let mut c = Client::connect(&format!("127.0.0.1:{tcp}"), Duration::from_secs(5)).unwrap();
    c.subscribe("cli/t", "").unwrap();
    run(
        "mosquitto_pub",
        mqtt.parse().unwrap(),
        &["-t", "cli/t", "-m", "hi", "-q", "1"],
    );
    let got = c.receive().unwrap();
    assert_eq!(got, b"pub cli/t\nhi");
    let _ = child.kill();
    let _ = child.wait();
}
