//! Tests of the listeners on a reactor driven turn by turn in the test's
//! thread: each kind's line and name, the listener table's answers, the
//! codec each kind gives its clients (limits from the settings in force),
//! a plain client on each kind of TLS port, and the connection limit.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::time::Duration;

use super::*;
use crate::server::test_server::{answer, logged_reactor};
use crate::server::Settings;
use crate::tls::ServerTlsFiles;

/// A scratch directory, removed on drop.
struct Dir(PathBuf);

impl Dir {
    fn new(what: &str) -> Dir {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static N: AtomicUsize = AtomicUsize::new(0);
        let n = N.fetch_add(1, Ordering::SeqCst);
        let dir = std::env::temp_dir().join(format!("ducq-{what}-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        Dir(dir)
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A server configuration with a self-signed certificate for `localhost`.
fn tls_config(dir: &Dir) -> Arc<ServerConfig> {
    let made = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let cert = dir.0.join("cert.pem");
    let key = dir.0.join("key.pem");
    std::fs::write(&cert, made.cert.pem()).unwrap();
    std::fs::write(&key, made.signing_key.serialize_pem()).unwrap();
    let files = ServerTlsFiles {
        cert: cert.to_string_lossy().into_owned(),
        key: key.to_string_lossy().into_owned(),
        client_ca: None,
    };
    crate::tls::server_config(&files, &[]).unwrap()
}

/// A bare reactor's answer to `ping` (it has no commands yet).
const UNKNOWN: &[u8] = b"NACK *\n17\ncommand unknown";

fn frame(msg: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    crate::transport::tcp::encode_frame(msg, &mut out);
    out
}

/// An MQTT 3.1.1 CONNECT with a user name and a password.
const CONNECT_WITH_CREDENTIALS: &[u8] = &[
    0x10, 22, 0, 4, b'M', b'Q', b'T', b'T', 4, 0xc2, 0, 60, 0, 1, b'c', 0, 3, b'b', b'o', b'b', 0,
    2, b'p', b'w',
];

#[test]
fn every_kind_of_listener_says_what_it_is_and_is_listed_in_order() {
    let dir = Dir::new("listeners");
    let tls = tls_config(&dir);
    let (mut r, lines) = logged_reactor(Settings::default());
    assert!(r.local_addrs().is_empty());
    assert!(r.listener_names().is_empty());
    let tcp = r.listen_tcp("127.0.0.1:0").unwrap();
    let http = r.listen_http("127.0.0.1:0").unwrap();
    let tls_addr = r.listen_tls("127.0.0.1:0", Arc::clone(&tls)).unwrap();
    let https = r.listen_https("127.0.0.1:0", Arc::clone(&tls)).unwrap();
    let mqtt = r.listen_mqtt("127.0.0.1:0").unwrap();
    let mqtts = r.listen_mqtts("127.0.0.1:0", Arc::clone(&tls)).unwrap();
    let path = dir.0.join("ducq.sock");
    r.listen_unix(&path, None).unwrap();
    let custom = r
        .listen("127.0.0.1:0", Box::new(|| Box::new(TcpCodec::new(100))))
        .unwrap();
    let bound = mio::net::TcpListener::bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let bound_addr = bound.local_addr().unwrap();
    let added = r
        .add_listener(bound, Box::new(|| Box::new(TcpCodec::new(100))))
        .unwrap();
    assert_eq!(added, bound_addr);
    let tcps = [tcp, http, tls_addr, https, mqtt, mqtts, custom, added];
    for a in tcps {
        assert_eq!(a.ip().to_string(), "127.0.0.1");
        assert_ne!(a.port(), 0);
    }
    assert_eq!(r.local_addrs(), tcps);
    let unix = format!("unix:{}", path.display());
    let names: Vec<String> = [tcp, http, tls_addr, https, mqtt, mqtts]
        .iter()
        .map(|a| a.to_string())
        .chain([unix.clone(), custom.to_string(), added.to_string()])
        .collect();
    assert_eq!(r.listener_names(), names);
    let want = [
        format!("info,listen,server,listening on {tcp}"),
        format!("info,listen,server,listening on {http}"),
        format!("info,listen,server,listening on {tls_addr} (tls)"),
        format!("info,listen,server,listening on {https} (https)"),
        format!("info,listen,server,listening on {mqtt} (mqtt)"),
        format!("info,listen,server,listening on {mqtts} (mqtts)"),
        format!("info,listen,server,listening on {unix}"),
        format!("info,listen,server,listening on {custom}"),
        format!("info,listen,server,listening on {added}"),
    ];
    assert_eq!(*lines.borrow(), want);
    // A client of the Unix listener is served.
    let mut s = std::os::unix::net::UnixStream::connect(&path).unwrap();
    s.write_all(&frame(b"ping")).unwrap();
    s.set_nonblocking(true).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut got = Vec::new();
    let mut buf = [0u8; 64];
    while got.len() < frame(UNKNOWN).len() {
        r.run_once(Some(Duration::from_millis(5))).unwrap();
        match s.read(&mut buf) {
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) => assert_eq!(e.kind(), io::ErrorKind::WouldBlock),
        }
        assert!(Instant::now() < deadline, "no answer");
    }
    assert_eq!(got, frame(UNKNOWN));
}

#[test]
fn settings_of_a_listener_are_taken_only_where_they_apply() {
    let dir = Dir::new("listener-settings");
    let tls = tls_config(&dir);
    let (mut r, _lines) = logged_reactor(Settings::default());
    r.listen_tcp("127.0.0.1:0").unwrap();
    r.listen_tls("127.0.0.1:0", Arc::clone(&tls)).unwrap();
    r.listen_mqtt("127.0.0.1:0").unwrap();
    // TLS settings: only for a TLS listener that exists.
    assert!(!r.set_listener_tls(0, Arc::clone(&tls)));
    assert!(r.set_listener_tls(1, Arc::clone(&tls)));
    assert!(!r.set_listener_tls(3, Arc::clone(&tls)));
    assert!(r.listeners[0].opts.tls.is_none());
    // Anonymous clients: any listener that exists.
    assert!(r.set_listener_anonymous(0, false));
    assert!(!r.listeners[0].opts.anonymous);
    assert!(r.set_listener_anonymous(0, true));
    assert!(r.listeners[0].opts.anonymous);
    assert!(!r.set_listener_anonymous(3, false));
    // MQTT limits: only for an MQTT listener.
    let limits = mqtt::Config {
        max_inflight: 7,
        ..mqtt::Config::default()
    };
    assert!(!r.set_listener_mqtt_limits(0, limits.clone()));
    assert!(!r.set_listener_mqtt_limits(3, limits.clone()));
    assert!(r.mqtt_config(0).is_none());
    let before = r.mqtt_config(2).unwrap();
    assert_eq!(before.max_inflight, mqtt::Config::default().max_inflight);
    assert!(r.set_listener_mqtt_limits(2, limits));
    let after = r.mqtt_config(2).unwrap();
    assert_eq!(after.max_inflight, 7);
}

#[test]
fn an_mqtt_listeners_limits_follow_the_largest_message_and_are_made_once() {
    let settings = Settings {
        max_message: 5000,
        ..Settings::default()
    };
    let (mut r, _lines) = logged_reactor(settings.clone());
    r.listen_mqtt("127.0.0.1:0").unwrap();
    let first = r.mqtt_config(0).unwrap();
    assert_eq!(first.max_packet, 5000);
    assert_eq!(first.max_inflight, mqtt::Config::default().max_inflight);
    // The same limits while the largest message stays.
    assert!(Rc::ptr_eq(&first, &r.mqtt_config(0).unwrap()));
    r.hub_mut().set_settings(Settings {
        max_message: 6000,
        ..settings
    });
    let second = r.mqtt_config(0).unwrap();
    assert_eq!(second.max_packet, 6000);
    assert!(Rc::ptr_eq(&second, &r.mqtt_config(0).unwrap()));
}

#[test]
fn mqtt_credentials_are_ignored_without_users() {
    let (mut r, _lines) = logged_reactor(Settings::default());
    let addr = r.listen_mqtt("127.0.0.1:0").unwrap();
    let mut s = TcpStream::connect(addr).unwrap();
    s.write_all(CONNECT_WITH_CREDENTIALS).unwrap();
    // CONNACK: nothing kept from before, accepted.
    assert_eq!(answer(&mut r, &mut s, 4), [0x20, 2, 0, 0]);
}

#[test]
fn an_http_listener_takes_its_limits_from_the_settings() {
    let settings = Settings {
        max_message: 100,
        ..Settings::default()
    };
    let (mut r, _lines) = logged_reactor(settings);
    let addr = r.listen_http("127.0.0.1:0").unwrap();
    // A body over the largest message is refused from its head alone.
    let mut s = TcpStream::connect(addr).unwrap();
    s.write_all(b"POST /pub/a HTTP/1.1\r\nHost: x\r\nContent-Length: 101\r\n\r\n")
        .unwrap();
    let got = answer(&mut r, &mut s, 12);
    assert_eq!(&got[..12], b"HTTP/1.1 413");
    // A WebSocket's messages too: a frame over it closes with 1009.
    let mut s = TcpStream::connect(addr).unwrap();
    s.write_all(
        b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
          Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
    )
    .unwrap();
    let head = answer(&mut r, &mut s, 12);
    assert_eq!(&head[..12], b"HTTP/1.1 101");
    let mut ws = vec![0x82, 0x80 | 101, 0, 0, 0, 0];
    ws.extend_from_slice(&[b'x'; 101]);
    s.write_all(&ws).unwrap();
    let close = answer(&mut r, &mut s, usize::MAX);
    assert_eq!(close[..4], [0x88, 17, 0x03, 0xf1]);
    assert_eq!(&close[4..], b"message too big");
}

#[test]
fn a_plain_client_on_each_kind_of_tls_port_gets_its_refusal() {
    let dir = Dir::new("listener-refusals");
    let tls = tls_config(&dir);
    let (mut r, _lines) = logged_reactor(Settings::default());
    let framed = r.listen_tls("127.0.0.1:0", Arc::clone(&tls)).unwrap();
    let https = r.listen_https("127.0.0.1:0", Arc::clone(&tls)).unwrap();
    let mqtts = r.listen_mqtts("127.0.0.1:0", Arc::clone(&tls)).unwrap();
    let mut s = TcpStream::connect(framed).unwrap();
    s.write_all(&frame(b"ping")).unwrap();
    assert_eq!(
        answer(&mut r, &mut s, usize::MAX),
        frame(&nack(State::EMsgInv))
    );
    let mut s = TcpStream::connect(https).unwrap();
    s.write_all(b"GET /lsconn HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let got = answer(&mut r, &mut s, usize::MAX);
    assert!(got.starts_with(b"HTTP/1.1 400 Bad Request\r\n"), "{got:?}");
    assert!(got.ends_with(b"this port speaks HTTPS (TLS)\n"), "{got:?}");
    let mut s = TcpStream::connect(mqtts).unwrap();
    s.write_all(CONNECT_WITH_CREDENTIALS).unwrap();
    assert_eq!(answer(&mut r, &mut s, usize::MAX), b"");
}

#[test]
fn a_client_beyond_the_connection_limit_is_refused_with_emax() {
    let settings = Settings {
        max_connections: 1,
        ..Settings::default()
    };
    let (mut r, lines) = logged_reactor(settings);
    let addr = r.listen_tcp("127.0.0.1:0").unwrap();
    let dir = Dir::new("listener-limit");
    let tls_addr = r.listen_tls("127.0.0.1:0", tls_config(&dir)).unwrap();
    let mut first = TcpStream::connect(addr).unwrap();
    first.write_all(&frame(b"ping")).unwrap();
    assert_eq!(answer(&mut r, &mut first, 28), frame(UNKNOWN));
    assert_eq!(r.hub().len(), 1);
    let mut second = TcpStream::connect(addr).unwrap();
    let got = answer(&mut r, &mut second, usize::MAX);
    assert_eq!(got, frame(&nack(State::EMax)));
    // On a TLS port nothing is written in plain text: the socket closes.
    let mut third = TcpStream::connect(tls_addr).unwrap();
    assert_eq!(answer(&mut r, &mut third, usize::MAX), b"");
    assert_eq!(r.hub().metrics.refused, 2);
    assert_eq!(r.hub().metrics.accepted, [(addr, 1)]);
    let peer = second.local_addr().unwrap();
    let third_peer = third.local_addr().unwrap();
    let refusals: Vec<String> = lines
        .borrow()
        .iter()
        .filter(|l| l.starts_with("warning,") || l.starts_with("error,"))
        .cloned()
        .collect();
    assert_eq!(
        refusals,
        [
            format!("warning,accept,server,refused {peer}: connection limit reached"),
            format!("warning,accept,server,refused {third_peer}: connection limit reached"),
        ]
    );
    // The first client is still served.
    first.write_all(&frame(b"ping")).unwrap();
    assert_eq!(answer(&mut r, &mut first, 28), frame(UNKNOWN));
}
