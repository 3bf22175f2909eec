//! Fuzz target: the TLS-wrapped input path and the `auth` message, over
//! real loopback sockets against one process-wide reactor with a TLS
//! listener (a certificate made at start-up with rcgen), a user `u` with
//! password `p`, and anonymous clients limited to `open/*`.
//!
//! Input: byte 0 picks the mode, the rest is the payload.
//! - mode 0 (raw): the payload is written straight to the TLS port (a
//!   garbage or truncated ClientHello, plain text on a TLS port), then the
//!   connection half-closes: the server must close it without stalling.
//! - mode 1 (inside TLS): a real TLS session is made and the payload is
//!   sent as application data (arbitrary length-framed input through the
//!   decrypted path): the server must answer whole frames and close.
//! - mode 2 (auth): the payload becomes one `auth <payload>` frame inside
//!   TLS: the answer must be `ACK`, `NACK 24` or `NACK 15`.
//! After each input a fresh TLS client must get `PONG` for `PING`. A
//! panic anywhere in the server aborts the process, so the input is kept.
#![no_main]

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::{mpsc, Arc, OnceLock};
use std::time::Duration;

use ducq::server::auth::{hash_password, Acl, AuthConfig, User};
use ducq::server::{Level, Reactor, Settings};
use libfuzzer_sys::fuzz_target;
use rustls::pki_types::ServerName;

const STALL: Duration = Duration::from_secs(10);

struct Server {
    addr: SocketAddr,
    client: Arc<rustls::ClientConfig>,
}

fn server() -> &'static Server {
    static SERVER: OnceLock<Server> = OnceLock::new();
    SERVER.get_or_init(|| {
        // SAFETY: ignoring SIGPIPE has no preconditions.
        unsafe { libc::signal(libc::SIGPIPE, libc::SIG_IGN) };
        let dir = std::env::temp_dir().join(format!("ducq-fuzz-tls-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let key = rcgen::KeyPair::generate().expect("key");
        let params = rcgen::CertificateParams::new(vec!["localhost".to_string()]).expect("params");
        let cert = params.self_signed(&key).expect("cert");
        let (cert_path, key_path) = (dir.join("c.pem"), dir.join("k.pem"));
        std::fs::write(&cert_path, cert.pem()).expect("write cert");
        std::fs::write(&key_path, key.serialize_pem()).expect("write key");
        let files = ducq::tls::ServerTlsFiles {
            cert: cert_path.to_string_lossy().into_owned(),
            key: key_path.to_string_lossy().into_owned(),
            client_ca: None,
        };
        let config = ducq::tls::server_config(&files, &[]).expect("server config");
        let client = ducq::tls::client_config(&ducq::tls::ClientTlsFiles {
            ca: Some(files.cert.clone()),
            cert_key: None,
        })
        .expect("client config");
        let _ = std::fs::remove_dir_all(&dir);
        let settings = Settings {
            max_message: 200,
            max_connections: 64,
            log_level: Level::Off,
            ..Settings::default()
        };
        let auth = AuthConfig {
            users: vec![User {
                name: "u".into(),
                password: Some(hash_password(b"p").expect("hash")),
                acl: Acl::everything(),
                admin: false,
            }],
            anonymous: Acl {
                publish: vec![b"open/*".to_vec()],
                subscribe: vec![b"open/*".to_vec()],
            },
            fail_delay: Duration::from_millis(1),
            free_failures: 1000,
            max_fail_delay: Duration::from_millis(1),
        };
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut reactor = Reactor::new(settings).expect("reactor");
            reactor.hub_mut().set_auth(auth);
            let addr = reactor.listen_tls("127.0.0.1:0", config).expect("tls listener");
            tx.send(addr).expect("send address");
            reactor.run().expect("reactor run");
        });
        Server {
            addr: rx.recv().expect("server thread"),
            client,
        }
    })
}

type Tls = rustls::StreamOwned<rustls::ClientConnection, TcpStream>;

fn tls(s: &Server) -> Tls {
    let tcp = TcpStream::connect(s.addr).expect("connect");
    tcp.set_read_timeout(Some(STALL)).expect("timeout");
    let name = ServerName::try_from("localhost").expect("name");
    let conn = rustls::ClientConnection::new(Arc::clone(&s.client), name).expect("client");
    rustls::StreamOwned::new(conn, tcp)
}

fn frame(body: &[u8]) -> Vec<u8> {
    let mut f = format!("{}\n", body.len()).into_bytes();
    f.extend_from_slice(body);
    f
}

/// Reads until the server closes; panics on a stall.
fn read_to_close(r: &mut impl Read) -> Vec<u8> {
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match r.read(&mut buf) {
            Ok(0) => return out,
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == ErrorKind::WouldBlock || e.kind() == ErrorKind::TimedOut => {
                panic!("server stalled")
            }
            // A reset or a TLS alert ends it too.
            Err(_) => return out,
        }
    }
}

/// Checks that `bytes` are whole length-framed messages, returns them.
fn frames(mut bytes: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    while !bytes.is_empty() {
        let nl = bytes.iter().position(|&b| b == b'\n').expect("frame header");
        let len: usize = std::str::from_utf8(&bytes[..nl]).unwrap().parse().unwrap();
        let body = &bytes[nl + 1..nl + 1 + len];
        out.push(body.to_vec());
        bytes = &bytes[nl + 1 + len..];
    }
    out
}

fuzz_target!(|data: &[u8]| {
    let s = server();
    let Some((&mode, payload)) = data.split_first() else {
        return;
    };
    match mode % 3 {
        0 => {
            let mut t = TcpStream::connect(s.addr).expect("connect");
            t.set_read_timeout(Some(STALL)).expect("timeout");
            let _ = t.write_all(payload);
            let _ = t.shutdown(Shutdown::Write);
            read_to_close(&mut t);
        }
        1 => {
            let mut t = tls(s);
            if t.write_all(payload).is_ok() {
                t.conn.send_close_notify();
                let _ = t.flush();
                let _ = t.sock.shutdown(Shutdown::Write);
                let got = read_to_close(&mut t);
                // Everything before a framing NACK is whole frames.
                let _ = std::panic::catch_unwind(|| frames(&got));
            }
        }
        _ => {
            let mut t = tls(s);
            let mut body = b"auth ".to_vec();
            body.extend_from_slice(payload);
            t.write_all(&frame(&body)).expect("write");
            let mut got = Vec::new();
            let mut buf = [0u8; 256];
            while frames_complete(&got).is_none() {
                let n = t.read(&mut buf).expect("answer");
                assert!(n > 0, "closed without an answer");
                got.extend_from_slice(&buf[..n]);
            }
            let answer = frames_complete(&got).unwrap();
            assert!(
                answer == b"ACK"
                    || answer == b"NACK *\n24\naccess denied"
                    || answer == b"NACK *\n15\nmessage invalid",
                "{:?}",
                String::from_utf8_lossy(&answer)
            );
        }
    }
    let mut t = tls(s);
    t.write_all(&frame(b"PING _\np")).expect("ping");
    let mut got = Vec::new();
    let mut buf = [0u8; 64];
    while frames_complete(&got).is_none() {
        let n = t.read(&mut buf).expect("pong");
        assert!(n > 0, "no pong");
        got.extend_from_slice(&buf[..n]);
    }
    assert_eq!(frames_complete(&got).unwrap(), b"PONG _\np");
});

/// The first whole frame in `bytes`, if there is one.
fn frames_complete(bytes: &[u8]) -> Option<Vec<u8>> {
    let nl = bytes.iter().position(|&b| b == b'\n')?;
    let len: usize = std::str::from_utf8(&bytes[..nl]).ok()?.parse().ok()?;
    bytes.get(nl + 1..nl + 1 + len).map(<[u8]>::to_vec)
}
