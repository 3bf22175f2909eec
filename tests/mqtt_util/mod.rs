//! Shared by the MQTT tests: a raw MQTT client driven by ducq's own packet
//! codec, and a real Mosquitto broker on a free loopback port (the Debian
//! package, installed by scripts/test.sh when missing); `clients` runs
//! mosquitto_pub and mosquitto_sub, `paho` the Python client.
#![allow(dead_code)]

use std::borrow::Cow;
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use ducq::transport::mqtt::codec::{decode, encode};
use ducq::transport::mqtt::packet::{Ack, Connect, Packet, Publish, QoS, Version};
use ducq::transport::mqtt::props::Properties;

pub mod clients;
pub mod paho;

/// How long a test waits for anything that should arrive.
pub const WAIT: Duration = Duration::from_secs(5);

/// A client speaking MQTT with ducq's codec, byte for byte.
pub struct MqttPeer {
    pub stream: TcpStream,
    pub version: Version,
    buf: Vec<u8>,
}

impl MqttPeer {
    pub fn connect(addr: SocketAddr, version: Version) -> MqttPeer {
        let stream = TcpStream::connect_timeout(&addr, WAIT).expect("connect");
        MqttPeer::from_stream(stream, version)
    }

    pub fn from_stream(stream: TcpStream, version: Version) -> MqttPeer {
        stream.set_nodelay(true).unwrap();
        MqttPeer {
            stream,
            version,
            buf: Vec::new(),
        }
    }

    pub fn send(&mut self, p: &Packet<'_>) {
        let mut out = Vec::new();
        encode(p, self.version, &mut out);
        self.raw(&out);
    }

    pub fn raw(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).expect("write");
    }

    /// The bytes of the next whole packet, within `WAIT`.
    pub fn recv_bytes(&mut self) -> Vec<u8> {
        self.try_recv_bytes(WAIT)
            .unwrap_or_else(|e| panic!("no packet: {e}"))
    }

    pub fn try_recv_bytes(&mut self, wait: Duration) -> Result<Vec<u8>, String> {
        let deadline = Instant::now() + wait;
        loop {
            match decode(&self.buf, self.version, u32::MAX) {
                Ok(Some((_, n))) => return Ok(self.buf.drain(..n).collect()),
                Ok(None) => {}
                Err(e) => return Err(format!("undecodable input: {e}")),
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err("timed out".into());
            }
            self.stream.set_read_timeout(Some(left)).unwrap();
            let mut chunk = [0u8; 65536];
            match self.stream.read(&mut chunk) {
                Ok(0) => return Err("connection closed".into()),
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(e) => return Err(e.to_string()),
            }
        }
    }

    /// Whether the peer closed the connection (reads until EOF, within
    /// `WAIT`); bytes that arrive before are returned as packets.
    pub fn closed(&mut self) -> Vec<Vec<u8>> {
        let deadline = Instant::now() + WAIT;
        let mut got = Vec::new();
        loop {
            while let Ok(Some((_, n))) = decode(&self.buf, self.version, u32::MAX) {
                got.push(self.buf.drain(..n).collect());
            }
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(!left.is_zero(), "connection not closed");
            self.stream.set_read_timeout(Some(left)).unwrap();
            let mut chunk = [0u8; 4096];
            match self.stream.read(&mut chunk) {
                Ok(0) => return got,
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(e) if e.kind() == ErrorKind::ConnectionReset => return got,
                Err(e) => panic!("connection not closed: {e}"),
            }
        }
    }
}

/// The CONNECT most tests send: client `id`, clean start, keep-alive
/// 60 s, no properties, no will, no credentials. A test that needs
/// another field sets it with `Connect { field, ..connect_fields(v, id) }`.
pub fn connect_fields(v: Version, id: &str) -> Connect<'static> {
    Connect {
        version: v,
        clean_start: true,
        keep_alive: 60,
        props: Properties::default(),
        client_id: Cow::Owned(id.to_owned()),
        will: None,
        username: None,
        password: None,
    }
}

/// A PUBLISH of `payload` to `topic` at `qos` with packet identifier
/// `id`: not a redelivery, not retained, no properties. A test that needs
/// another field sets it with `Publish { field, ..publish_fields(…) }`.
pub fn publish_fields<'a>(topic: &'a str, payload: &'a [u8], qos: QoS, id: u16) -> Publish<'a> {
    Publish {
        dup: false,
        qos,
        retain: false,
        topic: topic.into(),
        packet_id: id,
        props: Properties::default(),
        payload: payload.into(),
    }
}

impl MqttPeer {
    /// Sends `p` (QoS 1) and reads the answer, which must be a PUBACK.
    pub fn publish_acked(&mut self, p: Publish<'_>) -> Ack<'static> {
        self.send(&Packet::Publish(p));
        let v = self.version;
        match packet(&self.recv_bytes(), v) {
            Packet::PubAck(a) => Ack {
                packet_id: a.packet_id,
                code: a.code,
                props: a.props.into_owned(),
            },
            other => panic!("expected PUBACK, got {other:?}"),
        }
    }

    /// Connects to `addr`, sends `connect` and reads the answer, which
    /// must be a CONNACK: the peer, the CONNACK's code and its session
    /// present flag.
    pub fn handshake(addr: SocketAddr, connect: Connect<'_>) -> (MqttPeer, u8, bool) {
        let v = connect.version;
        let mut c = MqttPeer::connect(addr, v);
        c.send(&Packet::Connect(Box::new(connect)));
        let bytes = c.recv_bytes();
        let Packet::ConnAck(a) = packet(&bytes, v) else {
            panic!("no CONNACK: {bytes:?}")
        };
        let (code, present) = (a.code, a.session_present);
        (c, code, present)
    }
}

/// Decodes one whole packet from `bytes` (as a connection speaking `v`).
pub fn packet(bytes: &[u8], v: Version) -> Packet<'_> {
    let (p, n) = decode(bytes, v, u32::MAX).expect("decodes").expect("whole");
    assert_eq!(n, bytes.len());
    p
}

// A test that uses both this module and its sibling compiles `ports` twice;
// each copy counts from its own offset, so the two do not hand out the
// same ports.
#[allow(clippy::duplicate_mod)]
#[path = "../ports/mod.rs"]
mod ports;
pub use ports::free_port;

/// Finds a program on PATH or in the sbin folders Debian puts daemons in.
pub fn program(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin".into(), "/sbin".into()])
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// A Mosquitto broker on 127.0.0.1, killed on drop.
pub struct Mosquitto {
    pub addr: SocketAddr,
    child: Child,
    dir: PathBuf,
}

impl Mosquitto {
    pub fn start() -> Mosquitto {
        let bin = program("mosquitto")
            .expect("mosquitto not installed: scripts/test.sh installs the Debian package");
        let dir = std::env::temp_dir().join(format!(
            "ducq-mosquitto-{}-{}",
            std::process::id(),
            free_port()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        // A port picked free may be taken before mosquitto binds it: retry.
        for _ in 0..5 {
            let port = free_port();
            let conf = dir.join("mosquitto.conf");
            std::fs::write(
                &conf,
                format!(
                    "listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n\
                     log_dest none\n"
                ),
            )
            .unwrap();
            let mut child = Command::new(&bin)
                .arg("-c")
                .arg(&conf)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("start mosquitto");
            let addr: SocketAddr = ([127, 0, 0, 1], port).into();
            let deadline = Instant::now() + WAIT;
            while Instant::now() < deadline {
                if let Ok(Some(_)) = child.try_wait() {
                    break;
                }
                if TcpStream::connect(addr).is_ok() {
                    return Mosquitto { addr, child, dir };
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        panic!("mosquitto did not start");
    }
}

impl Drop for Mosquitto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
