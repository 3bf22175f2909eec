//! Fuzz target: the MQTT connection state machine (`MqttServer`) behind a
//! scripted broker.
//!
//! Input layout: byte 0 is the mode: bit 0 the version of a CONNECT put
//! before the stream (3.1.1 or 5), bit 1 whether that CONNECT is left out
//! (the stream starts unconnected), bit 2 whether the broker refuses
//! publications (NACK 15) instead of acknowledging them, bits 3–7 a small
//! maximum packet size (0: 1 MiB); byte 1 seeds how the stream is cut into
//! reads; the rest is what the client sends. The broker answers `pub` with
//! ACK (or the NACK), `sub` with a stored publication then nothing more
//! (as `sub … last` does) and anything else with ACK. Checked: whole and
//! split reads give the same ducq messages, answers, close and leftover;
//! every message consumes input; every byte sent back is whole MQTT
//! packets. It must not depend on anything but the input.
#![no_main]

use ducq::transport::mqtt::codec::{decode, encode};
use ducq::transport::mqtt::packet::{Connect, Packet, Version};
use ducq::transport::mqtt::props::Properties;
use ducq::transport::mqtt::{factory, Config};
use libfuzzer_sys::fuzz_target;

#[path = "../../tests/oracle/mod.rs"]
mod oracle;

fuzz_target!(|data: &[u8]| {
    let [mode, seed, rest @ ..] = data else {
        return;
    };
    let v = if mode & 1 == 0 { Version::V311 } else { Version::V5 };
    let mut stream = Vec::new();
    if mode & 2 == 0 {
        let connect = Packet::Connect(Box::new(Connect {
            version: v,
            clean_start: true,
            keep_alive: 30,
            props: Properties::default(),
            client_id: "fuzz".into(),
            will: None,
            username: None,
            password: None,
        }));
        encode(&connect, v, &mut stream);
    }
    stream.extend_from_slice(rest);
    let refuse = mode & 4 != 0;
    let max = match mode >> 3 {
        0 => 1 << 20,
        n => u32::from(n) * 8,
    };
    let broker = |m: &[u8]| -> Vec<Vec<u8>> {
        if m.starts_with(b"pub ") && refuse {
            vec![b"NACK *\n15\nmessage invalid".to_vec()]
        } else if m.starts_with(b"sub ") && m.ends_with(b"last") {
            vec![b"pub a/b\nstored".to_vec()]
        } else {
            vec![b"ACK".to_vec()]
        }
    };
    let cfg = Config {
        max_packet: max,
        ..Config::default()
    };
    let whole = oracle::feed_replying(&mut *factory(cfg.clone())(), &[&stream], broker);
    let chunks = oracle::split_by_seed(&stream, *seed);
    let pieces = oracle::feed_replying(&mut *factory(cfg)(), &chunks, broker);
    assert_eq!(whole, pieces, "split reads changed the result");
    let mut out = &whole.out[..];
    while !out.is_empty() {
        // The answers use the version the client connected with, which
        // is the stream's own CONNECT when none was put first; a refused
        // CONNECT is answered in the 3.1.1 layout.
        let (_, n) = decode(out, v, u32::MAX)
            .or_else(|_| decode(out, Version::V5, u32::MAX))
            .or_else(|_| decode(out, Version::V311, u32::MAX))
            .expect("answers are MQTT packets")
            .expect("answers are whole packets");
        out = &out[n..];
    }
});
