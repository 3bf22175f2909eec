//! Tests of the TLS layer alone: a server layer and a client layer (or a
//! raw peer) on the two ends of a Unix socket pair, driven by hand, no
//! reactor. Certificates are made at run time (rcgen); no key is kept.
//! About 600 lines: each refusal of the handshake has its own exact test.

use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::rc::Rc;

use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};

use super::*;
use crate::tls::{ClientTlsFiles, ServerTlsFiles};

/// A CA, a server certificate for `localhost` and a client certificate
/// whose CN is `alice`, as PEM files, and the configurations made of them.
pub(crate) struct Pki {
    dir: PathBuf,
    /// No client certificate asked.
    server: Arc<ServerConfig>,
    /// A client certificate required.
    pub(crate) mutual: Arc<ServerConfig>,
    client: Arc<ClientConfig>,
    pub(crate) alice: Arc<ClientConfig>,
    alice_der: Vec<u8>,
}

impl Drop for Pki {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

pub(crate) fn pki() -> Pki {
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let dir = std::env::temp_dir().join(format!("ducq-tls-layer-{}-{n}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let write = |name: &str, text: &str| {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p.to_string_lossy().into_owned()
    };
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params
        .distinguished_name
        .push(DnType::CommonName, "test CA");
    let ca = CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap();
    let leaf = |sans: &[&str], cn: &str| {
        let sans: Vec<String> = sans.iter().map(|s| s.to_string()).collect();
        let mut params = CertificateParams::new(sans).unwrap();
        params.distinguished_name.push(DnType::CommonName, cn);
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &ca).unwrap();
        (cert.pem(), key.serialize_pem(), cert.der().to_vec())
    };
    let (cert, key, _) = leaf(&["localhost"], "server");
    let (ccert, ckey, alice_der) = leaf(&[], "alice");
    let ca_file = write("ca.pem", &ca.pem());
    let files = ServerTlsFiles {
        cert: write("server.pem", &cert),
        key: write("server.key", &key),
        client_ca: None,
    };
    let server = crate::tls::server_config(&files, &[]).unwrap();
    let mutual = crate::tls::server_config(
        &ServerTlsFiles {
            client_ca: Some(ca_file.clone()),
            ..files
        },
        &[],
    )
    .unwrap();
    let client = crate::tls::client_config(&ClientTlsFiles {
        ca: Some(ca_file.clone()),
        cert_key: None,
    })
    .unwrap();
    let alice = crate::tls::client_config(&ClientTlsFiles {
        ca: Some(ca_file),
        cert_key: Some((write("alice.pem", &ccert), write("alice.key", &ckey))),
    })
    .unwrap();
    Pki {
        dir,
        server,
        mutual,
        client,
        alice,
        alice_der,
    }
}

/// One end: a layer, its socket, what it queued and what it read.
struct End {
    tls: TlsLayer,
    sock: UnixStream,
    out: OutQueue,
    got: Vec<u8>,
}

const BIG: usize = 1 << 30;

impl End {
    fn new(tls: TlsLayer, sock: UnixStream) -> End {
        sock.set_nonblocking(true).unwrap();
        End {
            tls,
            sock,
            out: OutQueue::default(),
            got: Vec::new(),
        }
    }

    fn fd(&self) -> RawFd {
        self.sock.as_raw_fd()
    }

    fn read(&mut self) -> (usize, ReadEnd) {
        let fd = self.fd();
        self.tls.read_into(fd, &mut self.got, BIG, BIG).unwrap()
    }

    fn flush(&mut self) -> Flushed {
        let fd = self.fd();
        self.tls.flush(fd, &mut self.out).unwrap()
    }

    fn queue(&mut self, bytes: &[u8]) {
        self.out.own().extend_from_slice(bytes);
    }
}

/// A server end (no client certificate asked) and a client end, the
/// client's first flight queued.
fn pair(server: &Arc<ServerConfig>, client: &Arc<ClientConfig>) -> (End, End) {
    let (a, b) = UnixStream::pair().unwrap();
    let now = Instant::now();
    let s = TlsLayer::new(Arc::clone(server), PlainRefusal::Framed, now).unwrap();
    let c = TlsLayer::client(Arc::clone(client), "localhost", now).unwrap();
    (End::new(s, a), End::new(c, b))
}

/// Flushes and reads both ends until neither has anything to say.
fn settle(s: &mut End, c: &mut End) {
    for _ in 0..20 {
        assert_eq!(c.flush(), Flushed::Done);
        s.read();
        assert_eq!(s.flush(), Flushed::Done);
        c.read();
        let quiet = !s.tls.wants_write() && !c.tls.wants_write();
        if quiet && s.out.pending() == 0 && c.out.pending() == 0 {
            return;
        }
    }
    panic!("the two ends did not settle");
}

/// What the peer's socket holds now, without waiting.
fn drain(sock: &mut UnixStream) -> Vec<u8> {
    sock.set_nonblocking(true).unwrap();
    let mut all = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match sock.read(&mut buf) {
            Ok(0) => return all,
            Ok(n) => all.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return all,
            Err(e) => panic!("{e}"),
        }
    }
}

#[test]
fn a_handshake_step_by_step_then_data_both_ways() {
    let pki = pki();
    let (mut s, mut c) = pair(&pki.server, &pki.client);
    let since = s.tls.handshake_since;
    assert!(since.is_some());
    // The client's first flight waits in the layer, not in its queue.
    assert!(c.tls.wants_write());
    assert_eq!(c.tls.pending(), 1);
    assert!(!s.tls.wants_write());
    assert_eq!(s.tls.pending(), 0);
    // What the client's codec queues meanwhile waits for the handshake.
    c.queue(b"hello");
    assert_eq!(c.flush(), Flushed::Done);
    assert_eq!(c.out.pending(), 5);
    assert!(!c.tls.wants_write());
    // The server reads the ClientHello: nothing in plain text yet, the
    // handshake not done, its answer waiting to be written.
    assert_eq!(s.read(), (0, ReadEnd::Drained));
    assert_eq!(s.tls.handshake_since, since);
    assert_eq!(s.tls.take_peer_cert(), None);
    assert!(s.tls.wants_write());
    assert_eq!(s.tls.pending(), 1);
    s.queue(b"early");
    assert_eq!(s.flush(), Flushed::Done);
    assert_eq!(s.out.pending(), 5, "output waits for the handshake");
    assert!(!s.tls.wants_write());
    assert_eq!(s.tls.pending(), 0);
    // The client finishes its side: it now wants to write (its queue
    // waited), and its flush sends the rest of the handshake and "hello".
    assert_eq!(c.read(), (0, ReadEnd::Drained));
    assert_eq!(c.tls.handshake_since, None);
    assert!(c.tls.wants_write());
    assert_eq!(c.flush(), Flushed::Done);
    assert_eq!(c.out.pending(), 0);
    assert!(!c.tls.wants_write());
    assert_eq!(s.read(), (5, ReadEnd::Drained));
    assert_eq!(s.got, b"hello");
    assert_eq!(s.tls.handshake_since, None);
    // No client certificate: asked once, then never again.
    assert_eq!(s.tls.take_peer_cert(), Some(None));
    assert_eq!(s.tls.take_peer_cert(), None);
    assert_eq!(s.flush(), Flushed::Done);
    assert_eq!(s.out.pending(), 0);
    assert_eq!(c.read(), (5, ReadEnd::Drained));
    assert_eq!(c.got, b"early");
    // Later records do not make the certificate fresh again.
    c.queue(b"more");
    assert_eq!(c.flush(), Flushed::Done);
    assert_eq!(s.read(), (4, ReadEnd::Drained));
    assert_eq!(s.got, b"hellomore");
    assert_eq!(s.tls.take_peer_cert(), None);
    assert_eq!(s.tls.take_failure(), None);
    assert_eq!(c.tls.take_failure(), None);
    // Nothing more to read: drained, nothing added.
    assert_eq!(s.read(), (0, ReadEnd::Drained));
    assert_eq!(s.got, b"hellomore");
}

#[test]
fn a_client_certificate_is_handed_over_once() {
    let pki = pki();
    let (mut s, mut c) = pair(&pki.mutual, &pki.alice);
    settle(&mut s, &mut c);
    assert_eq!(s.tls.handshake_since, None);
    let der = s.tls.take_peer_cert().unwrap().unwrap();
    assert_eq!(der, pki.alice_der);
    assert_eq!(crate::tls::common_name(&der).as_deref(), Some("alice"));
    assert_eq!(s.tls.take_peer_cert(), None);
}

#[test]
fn a_client_without_the_required_certificate_fails_with_a_reason() {
    let pki = pki();
    let (mut s, mut c) = pair(&pki.mutual, &pki.client);
    for _ in 0..5 {
        c.flush();
        if s.read().1 == ReadEnd::Failed {
            break;
        }
        s.flush();
        c.read();
    }
    let why = s.tls.take_failure().unwrap();
    assert!(why.starts_with("TLS handshake failed: "), "{why}");
    assert_eq!(s.tls.take_failure(), None);
}

#[test]
fn reads_stop_at_the_limit_and_the_budget_and_go_on_after() {
    let pki = pki();
    let (mut s, mut c) = pair(&pki.server, &pki.client);
    settle(&mut s, &mut c);
    let data: Vec<u8> = (0..40_000u32).map(|i| (i % 251) as u8).collect();
    c.queue(&data);
    assert_eq!(c.flush(), Flushed::Done);
    let fd = s.fd();
    let mut buf = b"xyz".to_vec();
    // At the buffer's limit (three bytes were there before).
    let r = s.tls.read_into(fd, &mut buf, 10_003, BIG).unwrap();
    assert_eq!(r, (10_000, ReadEnd::Full));
    assert_eq!(buf.len(), 10_003);
    // At the budget.
    let r = s.tls.read_into(fd, &mut buf, BIG, 5_000).unwrap();
    assert_eq!(r, (5_000, ReadEnd::Full));
    assert_eq!(buf.len(), 15_003);
    // The rest, to the socket's end.
    let r = s.tls.read_into(fd, &mut buf, BIG, BIG).unwrap();
    assert_eq!(r, (25_000, ReadEnd::Drained));
    assert_eq!(&buf[..3], b"xyz");
    assert_eq!(&buf[3..], &data[..]);
}

#[test]
fn the_budget_counts_what_rustls_held_and_what_the_socket_brings() {
    let pki = pki();
    let (mut s, mut c) = pair(&pki.server, &pki.client);
    settle(&mut s, &mut c);
    let data: Vec<u8> = (0..20_000u32).map(|i| (i % 241) as u8).collect();
    c.queue(&data[..10_000]);
    assert_eq!(c.flush(), Flushed::Done);
    let fd = s.fd();
    let mut buf = Vec::new();
    // 4 000 bytes stay decrypted in rustls.
    let r = s.tls.read_into(fd, &mut buf, 6_000, BIG).unwrap();
    assert_eq!(r, (6_000, ReadEnd::Full));
    // The next 10 000 wait in the socket: a budget of 8 000 takes the
    // 4 000 and then 4 000 of those, not more.
    c.queue(&data[10_000..]);
    assert_eq!(c.flush(), Flushed::Done);
    let r = s.tls.read_into(fd, &mut buf, BIG, 8_000).unwrap();
    assert_eq!(r, (8_000, ReadEnd::Full));
    let r = s.tls.read_into(fd, &mut buf, BIG, BIG).unwrap();
    assert_eq!(r, (6_000, ReadEnd::Drained));
    assert!(buf == data);
}

#[test]
fn the_end_of_the_stream_is_eof() {
    let pki = pki();
    // A peer that closes before saying anything.
    let (a, b) = UnixStream::pair().unwrap();
    let layer = TlsLayer::new(
        Arc::clone(&pki.server),
        PlainRefusal::Framed,
        Instant::now(),
    );
    let mut s = End::new(layer.unwrap(), a);
    drop(b);
    assert_eq!(s.read(), (0, ReadEnd::Eof));
    assert_eq!(s.tls.take_failure(), None);
    // A client that closes cleanly after its data (close_notify).
    let (mut s, mut c) = pair(&pki.server, &pki.client);
    settle(&mut s, &mut c);
    c.queue(b"bye");
    c.flush();
    if let Connection::Client(conn) = &mut c.tls.conn {
        conn.send_close_notify();
    }
    c.flush();
    assert_eq!(s.read(), (3, ReadEnd::Eof));
    assert_eq!(s.got, b"bye");
    // A client gone without close_notify: the end of the socket, then,
    // asked again, the truncation rustls reports.
    let (mut s, mut c) = pair(&pki.server, &pki.client);
    settle(&mut s, &mut c);
    drop(c);
    assert_eq!(s.read(), (0, ReadEnd::Eof));
    assert_eq!(s.read(), (0, ReadEnd::Failed));
    let why = s.tls.take_failure().unwrap();
    assert!(why.starts_with("TLS: "), "{why}");
}

#[test]
fn a_reset_connection_is_an_error() {
    let pki = pki();
    let (mut s, mut c) = pair(&pki.server, &pki.client);
    settle(&mut s, &mut c);
    // The client leaves unread data behind: its peer sees a reset.
    s.queue(b"unread");
    assert_eq!(s.flush(), Flushed::Done);
    drop(c);
    let fd = s.fd();
    let e = s.tls.read_into(fd, &mut s.got, BIG, BIG).unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::ConnectionReset);
}

/// What a plain HTTP client on an HTTPS port is told.
fn http_refusal() -> Vec<u8> {
    b"HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\n\
      Content-Length: 29\r\nConnection: close\r\n\r\nthis port speaks HTTPS (TLS)\n"
        .to_vec()
}

#[test]
fn plain_text_on_a_tls_port_is_answered_in_plain_text() {
    let pki = pki();
    let nack = {
        let mut f = Vec::new();
        crate::transport::tcp::encode_frame(
            &crate::proto::message::nack(crate::proto::State::EMsgInv),
            &mut f,
        );
        f
    };
    let http = http_refusal();
    for (refusal, answer) in [
        (PlainRefusal::Framed, nack),
        (PlainRefusal::Http, http),
        (PlainRefusal::Close, Vec::new()),
    ] {
        let (a, mut b) = UnixStream::pair().unwrap();
        let layer = TlsLayer::new(Arc::clone(&pki.server), refusal, Instant::now()).unwrap();
        let mut s = End::new(layer, a);
        b.write_all(b"5\nhello").unwrap();
        s.queue(b"never sent");
        assert_eq!(s.read(), (0, ReadEnd::Failed), "{refusal:?}");
        assert_eq!(
            s.tls.take_failure().as_deref(),
            Some("plain-text client on a TLS port (refused)")
        );
        assert_eq!(s.tls.wants_write(), !answer.is_empty(), "{refusal:?}");
        assert_eq!(s.tls.pending(), answer.len(), "{refusal:?}");
        assert_eq!(s.flush(), Flushed::Done);
        assert!(!s.tls.wants_write());
        assert_eq!(drain(&mut b), answer, "{refusal:?}");
        // Nothing of the queue goes out after a failure.
        assert_eq!(s.out.pending(), 10, "{refusal:?}");
    }
}

#[test]
fn a_refusal_waits_for_a_full_socket_then_goes_out_whole() {
    let pki = pki();
    let (a, mut b) = UnixStream::pair().unwrap();
    let layer = TlsLayer::new(Arc::clone(&pki.server), PlainRefusal::Http, Instant::now());
    let mut s = End::new(layer.unwrap(), a);
    b.write_all(b"GET / HTTP/1.1\r\n\r\n").unwrap();
    assert_eq!(s.read(), (0, ReadEnd::Failed));
    // The socket is full before the refusal is written.
    let junk = [b'j'; 4096];
    let mut filled = 0;
    while let Ok(n) = s.sock.write(&junk) {
        filled += n;
    }
    assert_eq!(s.flush(), Flushed::Blocked);
    assert!(s.tls.wants_write());
    let mut got = drain(&mut b);
    assert_eq!(s.flush(), Flushed::Done);
    assert!(!s.tls.wants_write());
    got.extend(drain(&mut b));
    assert!(got[..filled].iter().all(|&x| x == b'j'));
    assert_eq!(got[filled..], http_refusal());
}

#[test]
fn output_is_encrypted_at_most_ahead_of_a_full_socket_and_all_arrives() {
    let pki = pki();
    let (mut s, mut c) = pair(&pki.server, &pki.client);
    settle(&mut s, &mut c);
    let total = 4 << 20;
    let data: Vec<u8> = (0..total as u32).map(|i| (i % 253) as u8).collect();
    s.queue(&data);
    // The client reads nothing: the socket fills and the flush stops.
    assert_eq!(s.flush(), Flushed::Blocked);
    let mut wire = drain(&mut c.sock);
    let encrypted = total - s.out.pending();
    // What the layer took from the queue is what the socket took (less,
    // with record overhead) plus at most AHEAD waiting in rustls.
    assert!(
        encrypted <= wire.len() + AHEAD,
        "{encrypted} {}",
        wire.len()
    );
    assert!(s.out.pending() > 0);
    // Drained step by step, everything arrives, in order.
    let mut plain = Vec::new();
    for _ in 0..1000 {
        let mut r = &wire[..];
        while !r.is_empty() {
            c.tls.conn.read_tls(&mut r).unwrap();
            c.tls.conn.process_new_packets().unwrap();
            // WouldBlock once the records read so far are taken.
            let _ = c.tls.conn.reader().read_to_end(&mut plain);
        }
        if s.out.pending() == 0 && !s.tls.wants_write() {
            break;
        }
        s.flush();
        let encrypted = total - s.out.pending();
        wire = drain(&mut c.sock);
        assert!(encrypted <= plain.len() + wire.len() + AHEAD);
    }
    assert_eq!(plain.len(), total);
    assert!(plain == data);
}

#[test]
fn ahead_of_a_socket_that_takes_nothing_exactly_ahead_is_encrypted() {
    use super::super::conn::SharedRef;
    let pki = pki();
    let (mut s, mut c) = pair(&pki.server, &pki.client);
    settle(&mut s, &mut c);
    // The layer's own bound, not rustls' buffer limit (which happens to be
    // as large), is what is pinned here.
    s.tls.conn.set_buffer_limit(None);
    // Fill the socket: nothing more goes out.
    let junk = [0u8; 4096];
    while s.sock.write(&junk).is_ok() {}
    // Four shared segments of 40 000 bytes (four buffers).
    let bufs: Vec<Rc<Vec<u8>>> = (0..4u8).map(|i| Rc::new(vec![i; 40_000])).collect();
    for b in &bufs {
        s.out.push_shared(SharedRef::Frozen(b), 0, b.len());
    }
    assert_eq!(s.out.pending(), 160_000);
    assert_eq!(s.flush(), Flushed::Blocked);
    assert_eq!(160_000 - s.out.pending(), AHEAD);
    // Still blocked: nothing more is encrypted.
    assert_eq!(s.flush(), Flushed::Blocked);
    assert_eq!(160_000 - s.out.pending(), AHEAD);
}

#[test]
fn a_peer_gone_while_output_waits_is_a_write_error() {
    let pki = pki();
    let (mut s, mut c) = pair(&pki.server, &pki.client);
    settle(&mut s, &mut c);
    drop(c);
    s.queue(b"to nobody");
    let fd = s.fd();
    let e = s.tls.flush(fd, &mut s.out).unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::BrokenPipe);
    // A refusal to a peer gone is the same error.
    let (a, mut b) = UnixStream::pair().unwrap();
    let layer = TlsLayer::new(Arc::clone(&pki.server), PlainRefusal::Http, Instant::now());
    let mut s = End::new(layer.unwrap(), a);
    b.write_all(b"GET / HTTP/1.1\r\n\r\n").unwrap();
    assert_eq!(s.read(), (0, ReadEnd::Failed));
    drop(b);
    let fd = s.fd();
    let e = s.tls.flush(fd, &mut s.out).unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::BrokenPipe);
}

#[test]
fn a_bad_server_name_is_refused_before_any_connection() {
    let pki = pki();
    let e = TlsLayer::client(Arc::clone(&pki.client), "not a name!", Instant::now()).err();
    assert_eq!(
        e.as_deref(),
        Some("'not a name!' is not a valid server name")
    );
}

#[test]
fn a_gated_client_layer_is_silent_until_its_gate_opens() {
    let pki = pki();
    let (a, b) = UnixStream::pair().unwrap();
    let now = Instant::now();
    let gate = std::rc::Rc::new(std::cell::Cell::new(false));
    let s = TlsLayer::new(Arc::clone(&pki.server), PlainRefusal::Framed, now).unwrap();
    let c = TlsLayer::client_after_greeting(
        Arc::clone(&pki.client),
        "localhost",
        now,
        std::rc::Rc::clone(&gate),
    )
    .unwrap();
    let (mut s, mut c) = (End::new(s, a), End::new(c, b));
    // Closed: nothing of TLS to write, no handshake timing, plain for now
    // (the connection reads the greeting and writes in the clear).
    assert!(!c.tls.wants_write());
    assert_eq!(c.tls.pending(), 0);
    assert_eq!(c.tls.handshake_since, None);
    assert!(c.tls.plain_for_now());
    // Open: the first look starts the handshake (and its timing); what the
    // codec queued waits for it, then goes out encrypted.
    gate.set(true);
    assert!(c.tls.wants_write());
    assert!(!c.tls.plain_for_now());
    assert!(c.tls.handshake_since.is_some());
    assert!(!c.tls.plain_for_now());
    c.queue(b"CONNECT {}");
    settle(&mut s, &mut c);
    assert_eq!(s.got, b"CONNECT {}");
}

/// The gate's answers one by one (the test above runs the handshake
/// through it): gated, nothing pending, plain and no clock until it opens;
/// the first look after starts the clock once; no gate, never plain.
#[test]
fn a_client_behind_a_greeting_stays_plain_until_its_gate_opens() {
    let pki = pki();
    let gate = Rc::new(std::cell::Cell::new(false));
    let now = Instant::now();
    let mut c = TlsLayer::client_after_greeting(
        Arc::clone(&pki.client),
        "localhost",
        now,
        Rc::clone(&gate),
    )
    .unwrap();
    assert_eq!(c.handshake_since, None);
    // The ClientHello is made, but gated.
    assert!(c.conn.wants_write());
    assert!(c.gated());
    assert!(!c.wants_write());
    assert_eq!(c.pending(), 0);
    assert!(c.plain_for_now());
    assert!(c.plain_for_now());
    assert_eq!(c.handshake_since, None);
    gate.set(true);
    assert!(!c.gated());
    assert!(c.wants_write());
    assert_eq!(c.pending(), 1);
    let before = Instant::now();
    assert!(!c.plain_for_now());
    let since = c.handshake_since.unwrap();
    assert!(since >= before);
    // Once: the gate is gone, the clock not restarted.
    assert!(!c.plain_for_now());
    assert_eq!(c.handshake_since, Some(since));
    // A layer without a gate was never plain.
    let mut plain = TlsLayer::client(Arc::clone(&pki.client), "localhost", now).unwrap();
    assert!(!plain.gated());
    assert!(!plain.plain_for_now());
    assert_eq!(plain.handshake_since, Some(now));
    assert!(plain.wants_write());
}
