//! Tests of the embedder's descriptors on a reactor driven turn by turn:
//! a message-driven port (a Rust stand-in for a protocol written in C,
//! framing its messages with a 4-byte length on a Unix socket) bridged to
//! the hub both ways, turns shared between many messages, a port's refusal
//! and end, the hub ending it, large output waiting for the pair to drain,
//! and listening descriptors with an accept callback.

use std::cell::RefCell;
use std::io::{ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::fd::IntoRawFd;
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

use super::*;
use crate::server::adopt::Protocol;
use crate::server::test_server::{answer, logged_reactor};
use crate::server::{Reactor, Settings};

fn reactor() -> (Reactor, Sources, Rc<RefCell<Vec<String>>>) {
    let (mut r, lines) = logged_reactor(Settings::default());
    let sources = Sources::new().unwrap();
    r.add_command_set(Box::new(sources.clone())).unwrap();
    (r, sources, lines)
}

/// A port speaking 4-byte-length-framed messages on its end of a Unix
/// socket pair (blocking, as a C protocol's calls are). A message `skip`
/// is a protocol message to ignore; `bad` fails with `EMsgInv`.
struct Wire {
    sock: UnixStream,
}

impl Port for Wire {
    fn fd(&self) -> RawFd {
        self.sock.as_raw_fd()
    }

    fn recv(&mut self, _: &mut Hub, buf: &mut Vec<u8>) -> Result<bool, State> {
        let mut len = [0u8; 4];
        self.sock
            .read_exact(&mut len)
            .map_err(|_| State::ECommLayer)?;
        let mut body = vec![0; u32::from_be_bytes(len) as usize];
        self.sock
            .read_exact(&mut body)
            .map_err(|_| State::ECommLayer)?;
        match &body[..] {
            b"skip" => Ok(false),
            b"bad" => Err(State::EMsgInv),
            _ => {
                buf.extend_from_slice(&body);
                Ok(true)
            }
        }
    }

    fn send(&mut self, _: &mut Hub, msg: &[u8]) -> Result<(), State> {
        self.sock
            .write_all(&wire(msg))
            .map_err(|_| State::ECommLayer)
    }

    fn refuse(&mut self, _: &mut Hub, state: State) {
        let _ = self
            .sock
            .write_all(&wire(format!("refused {state:?}").as_bytes()));
    }
}

fn wire(msg: &[u8]) -> Vec<u8> {
    let mut out = (msg.len() as u32).to_be_bytes().to_vec();
    out.extend_from_slice(msg);
    out
}

/// A port of `sources` named `LINE`: the far end of its socket.
fn port(r: &mut Reactor, sources: &Sources) -> (UnixStream, ConnId) {
    let (near, far) = UnixStream::pair().unwrap();
    let peer = "192.0.2.1:4000".parse().unwrap();
    let id = sources
        .add_port(r.hub_mut(), Box::new(Wire { sock: near }), "LINE", peer)
        .map_err(|(s, _)| s)
        .unwrap();
    (far, id)
}

/// Runs `r` until `n` whole messages came out of `far`, or its end.
fn read_wire(r: &mut Reactor, far: &mut UnixStream, n: usize) -> Vec<Vec<u8>> {
    far.set_nonblocking(true).unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let (mut got, mut msgs) = (Vec::new(), Vec::new());
    let mut buf = [0u8; 65536];
    while msgs.len() < n {
        r.run_once(Some(Duration::from_millis(5))).unwrap();
        match far.read(&mut buf) {
            Ok(0) => break,
            Ok(k) => got.extend_from_slice(&buf[..k]),
            Err(e) if e.kind() == ErrorKind::WouldBlock => {}
            Err(e) => panic!("read: {e}"),
        }
        while got.len() >= 4 {
            let len = u32::from_be_bytes(got[..4].try_into().unwrap()) as usize;
            if got.len() < 4 + len {
                break;
            }
            msgs.push(got[4..4 + len].to_vec());
            got.drain(..4 + len);
        }
        assert!(Instant::now() < deadline, "{} of {n} messages", msgs.len());
    }
    msgs
}

fn pong(i: usize) -> Vec<u8> {
    format!("PONG r\n{i}").into_bytes()
}

#[test]
fn a_port_is_a_connection_of_the_hub_both_ways() {
    let (mut r, sources, lines) = reactor();
    let (mut far, id) = port(&mut r, &sources);
    let key = r.hub().resolve(id).unwrap();
    assert_eq!(r.hub().client_id(key).unwrap(), "LINE:192.0.2.1:4000");
    // A protocol message the port ignores, then two for the hub.
    far.write_all(&wire(b"skip")).unwrap();
    far.write_all(&wire(b"PING r\n1")).unwrap();
    far.write_all(&wire(b"PING r\n2")).unwrap();
    assert_eq!(read_wire(&mut r, &mut far, 2), [pong(1), pong(2)]);
    assert_eq!(
        *lines.borrow(),
        ["info,accept,LINE:192.0.2.1:4000,connected"]
    );
    // The set has no commands of its own.
    assert!(sources.list().is_empty());
    assert!(!sources.has(b"PING"));
    let mut s = sources.clone();
    let msg = Message::parse(b"PING r\nx").unwrap();
    assert_eq!(s.exec(r.hub_mut(), key, &msg), Err(State::ENoCmd));
}

#[test]
fn many_messages_at_once_are_all_served_a_turn_at_a_time() {
    let (mut r, sources, _lines) = reactor();
    // Two ports: the second one's descriptors are told apart from the
    // first one's.
    let (mut first, _) = port(&mut r, &sources);
    let (mut far, _) = port(&mut r, &sources);
    let n = TURNS * 2 + 6;
    let mut all = Vec::new();
    for i in 0..n {
        all.extend_from_slice(&wire(format!("PING r\n{i}").as_bytes()));
    }
    far.write_all(&all).unwrap();
    let want: Vec<Vec<u8>> = (0..n).map(pong).collect();
    assert_eq!(read_wire(&mut r, &mut far, n), want);
    first.write_all(&wire(b"PING r\nfirst")).unwrap();
    assert_eq!(
        read_wire(&mut r, &mut first, 1),
        [b"PONG r\nfirst".to_vec()]
    );
}

#[test]
fn a_failed_receive_is_refused_and_ends_the_connection() {
    let (mut r, sources, lines) = reactor();
    let (mut far, id) = port(&mut r, &sources);
    far.write_all(&wire(b"bad")).unwrap();
    let got = read_wire(&mut r, &mut far, 2);
    // The refusal, then the end of the port (dropped, its socket closed).
    assert_eq!(got, [b"refused EMsgInv".to_vec()]);
    let deadline = Instant::now() + Duration::from_secs(10);
    while r.hub().resolve(id).is_some() {
        r.run_once(Some(Duration::from_millis(5))).unwrap();
        assert!(Instant::now() < deadline, "the hub kept the connection");
    }
    let want = format!(
        "info,bridge,LINE:192.0.2.1:4000,disconnecting: {}",
        State::EMsgInv.text()
    );
    assert!(lines.borrow().contains(&want), "{:?}", lines.borrow());
}

#[test]
fn a_connection_the_hub_ends_ends_the_port() {
    let (mut r, sources, lines) = reactor();
    let (mut far, id) = port(&mut r, &sources);
    far.write_all(&wire(b"PING r\n1")).unwrap();
    assert_eq!(read_wire(&mut r, &mut far, 1), [pong(1)]);
    let key = r.hub().resolve(id).unwrap();
    r.hub_mut().close(key, "test");
    // The port is dropped: its socket's far end reads the end.
    assert!(read_wire(&mut r, &mut far, 1).is_empty());
    let want = "info,bridge,LINE:192.0.2.1:4000,closed by the server";
    assert!(
        lines.borrow().iter().any(|l| l == want),
        "{:?}",
        lines.borrow()
    );
}

#[test]
fn large_input_waits_for_the_pair_to_drain() {
    let (mut r, sources, _lines) = reactor();
    let addr = r.listen_tcp("127.0.0.1:0").unwrap();
    let (mut sub, _key) = crate::server::test_server::accept_client(&mut r, addr);
    let mut s = Vec::new();
    crate::transport::tcp::encode_frame(b"sub r\n", &mut s);
    sub.write_all(&s).unwrap();
    let mut ack = Vec::new();
    crate::transport::tcp::encode_frame(b"ACK", &mut ack);
    assert_eq!(answer(&mut r, &mut sub, ack.len()), ack);
    let (mut far, _) = port(&mut r, &sources);
    // Far more than a socket pair holds, in one turn of the port.
    let body = vec![b'x'; 100_000];
    let mut msg = b"pub r\n".to_vec();
    msg.extend_from_slice(&body);
    let n = 12;
    let writer = std::thread::spawn(move || {
        for _ in 0..n {
            far.write_all(&wire(&msg)).unwrap();
        }
        far
    });
    let mut delivery = Vec::new();
    crate::transport::tcp::encode_frame(&[b"pub r\n".as_slice(), &body].concat(), &mut delivery);
    let got = answer(&mut r, &mut sub, delivery.len() * n);
    let _far = writer.join().unwrap();
    assert_eq!(got.len(), delivery.len() * n);
    assert!(got.chunks(delivery.len()).all(|c| c == delivery));
}

/// Accepts TCP clients of `listener` into the hub; counts its calls.
struct Accepting {
    listener: TcpListener,
    calls: Rc<std::cell::Cell<usize>>,
}

impl Acceptor for Accepting {
    fn fd(&self) -> RawFd {
        self.listener.as_raw_fd()
    }

    fn accept(&mut self, hub: &mut Hub) {
        self.calls.set(self.calls.get() + 1);
        if let Ok((s, _)) = self.listener.accept() {
            let _ = adopt::adopt(hub, s.into_raw_fd(), Protocol::Tcp);
        }
    }
}

#[test]
fn a_listening_descriptor_is_served_by_its_callback() {
    let (mut r, sources, _lines) = reactor();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let addr = listener.local_addr().unwrap();
    let calls = Rc::new(std::cell::Cell::new(0));
    let acceptor = Accepting {
        listener,
        calls: Rc::clone(&calls),
    };
    sources.add_listener(Box::new(acceptor)).unwrap();
    // More clients at once than one turn accepts.
    let n = TURNS + 6;
    let clients: Vec<TcpStream> = (0..n).map(|_| TcpStream::connect(addr).unwrap()).collect();
    let deadline = Instant::now() + Duration::from_secs(10);
    while r.hub().len() < n {
        r.run_once(Some(Duration::from_millis(5))).unwrap();
        assert!(
            Instant::now() < deadline,
            "{} of {n} accepted",
            r.hub().len()
        );
    }
    // Called only while a client waits (as the original's, whose accept
    // blocks): once per client, also for one that comes alone.
    let late = TcpStream::connect(addr).unwrap();
    while r.hub().len() < n + 1 {
        r.run_once(Some(Duration::from_millis(5))).unwrap();
        assert!(Instant::now() < deadline, "the late client not accepted");
    }
    for _ in 0..3 {
        r.run_once(Some(Duration::from_millis(1))).unwrap();
    }
    assert_eq!(calls.get(), n + 1);
    drop(late);
    let mut c = clients.into_iter().last().unwrap();
    let mut ping = Vec::new();
    crate::transport::tcp::encode_frame(b"PING r\nx", &mut ping);
    c.write_all(&ping).unwrap();
    let mut want = Vec::new();
    crate::transport::tcp::encode_frame(b"PONG r\nx", &mut want);
    assert_eq!(answer(&mut r, &mut c, want.len()), want);
}

/// A port that notes when it received, for a listener's callback to see.
struct Noting {
    wire: Wire,
    seen: Rc<std::cell::Cell<bool>>,
}

impl Port for Noting {
    fn fd(&self) -> RawFd {
        self.wire.fd()
    }
    fn recv(&mut self, hub: &mut Hub, buf: &mut Vec<u8>) -> Result<bool, State> {
        self.seen.set(true);
        self.wire.recv(hub, buf)
    }
    fn send(&mut self, hub: &mut Hub, msg: &[u8]) -> Result<(), State> {
        self.wire.send(hub, msg)
    }
    fn refuse(&mut self, hub: &mut Hub, state: State) {
        self.wire.refuse(hub, state)
    }
}

/// Accepts clients; notes, at each call, whether the port had received.
struct Watching {
    listener: TcpListener,
    seen: Rc<std::cell::Cell<bool>>,
    log: Rc<RefCell<Vec<bool>>>,
}

impl Acceptor for Watching {
    fn fd(&self) -> RawFd {
        self.listener.as_raw_fd()
    }
    fn accept(&mut self, hub: &mut Hub) {
        self.log.borrow_mut().push(self.seen.get());
        if let Ok((s, _)) = self.listener.accept() {
            let _ = adopt::adopt(hub, s.into_raw_fd(), Protocol::Tcp);
        }
    }
}

#[test]
fn a_busy_listener_lets_a_port_take_its_turn() {
    let (mut r, sources, _lines) = reactor();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Rc::new(std::cell::Cell::new(false));
    let log = Rc::new(RefCell::new(Vec::new()));
    let watching = Watching {
        listener,
        seen: Rc::clone(&seen),
        log: Rc::clone(&log),
    };
    sources.add_listener(Box::new(watching)).unwrap();
    let (near, mut far) = UnixStream::pair().unwrap();
    let peer = "192.0.2.1:4000".parse().unwrap();
    let noting = Noting {
        wire: Wire { sock: near },
        seen: Rc::clone(&seen),
    };
    sources
        .add_port(r.hub_mut(), Box::new(noting), "LINE", peer)
        .map_err(|(s, _)| s)
        .unwrap();
    // The clients wait first, then the port's message.
    let n = TURNS + 6;
    let _clients: Vec<TcpStream> = (0..n).map(|_| TcpStream::connect(addr).unwrap()).collect();
    far.write_all(&wire(b"PING r\n1")).unwrap();
    assert_eq!(read_wire(&mut r, &mut far, 1), [pong(1)]);
    let deadline = Instant::now() + Duration::from_secs(10);
    while log.borrow().len() < n {
        r.run_once(Some(Duration::from_millis(5))).unwrap();
        assert!(
            Instant::now() < deadline,
            "{} of {n} accepted",
            log.borrow().len()
        );
    }
    // One turn of the listener, then the port, then the listener's rest.
    let before = log.borrow().iter().filter(|s| !**s).count();
    assert_eq!(before, TURNS);
}

/// A port that notes, at each receive, whether the other port had received.
struct Watched {
    wire: Wire,
    other: Rc<std::cell::Cell<bool>>,
    log: Rc<RefCell<Vec<bool>>>,
}

impl Port for Watched {
    fn fd(&self) -> RawFd {
        self.wire.fd()
    }
    fn recv(&mut self, hub: &mut Hub, buf: &mut Vec<u8>) -> Result<bool, State> {
        self.log.borrow_mut().push(self.other.get());
        self.wire.recv(hub, buf)
    }
    fn send(&mut self, hub: &mut Hub, msg: &[u8]) -> Result<(), State> {
        self.wire.send(hub, msg)
    }
    fn refuse(&mut self, hub: &mut Hub, state: State) {
        self.wire.refuse(hub, state)
    }
}

#[test]
fn a_busy_port_lets_another_take_its_turn() {
    let (mut r, sources, _lines) = reactor();
    let peer = "192.0.2.1:4000".parse().unwrap();
    let seen = Rc::new(std::cell::Cell::new(false));
    let log = Rc::new(RefCell::new(Vec::new()));
    let (near, mut busy) = UnixStream::pair().unwrap();
    let watched = Watched {
        wire: Wire { sock: near },
        other: Rc::clone(&seen),
        log: Rc::clone(&log),
    };
    sources
        .add_port(r.hub_mut(), Box::new(watched), "BUSY", peer)
        .map_err(|(s, _)| s)
        .unwrap();
    let (near, mut quiet) = UnixStream::pair().unwrap();
    let noting = Noting {
        wire: Wire { sock: near },
        seen: Rc::clone(&seen),
    };
    sources
        .add_port(r.hub_mut(), Box::new(noting), "QUIET", peer)
        .map_err(|(s, _)| s)
        .unwrap();
    // The busy port's messages wait first, then the quiet one's.
    let n = TURNS * 2 + 6;
    let mut all = Vec::new();
    for i in 0..n {
        all.extend_from_slice(&wire(format!("PING r\n{i}").as_bytes()));
    }
    busy.write_all(&all).unwrap();
    quiet.write_all(&wire(b"PING r\nq")).unwrap();
    assert_eq!(read_wire(&mut r, &mut quiet, 1), [b"PONG r\nq".to_vec()]);
    assert_eq!(read_wire(&mut r, &mut busy, n).len(), n);
    // One turn of the busy port, then the quiet one.
    let before = log.borrow().iter().filter(|s| !**s).count();
    assert_eq!(before, TURNS);
}

#[test]
fn a_pair_reset_by_the_hub_ends_the_port_with_the_error() {
    let (mut r, sources, lines) = reactor();
    let (mut far, id) = port(&mut r, &sources);
    let key = r.hub().resolve(id).unwrap();
    // The port's message goes into the pair; the hub closes its end
    // before reading it: our end of the pair is reset.
    far.write_all(&wire(b"PING r\n1")).unwrap();
    sources.on_ready(r.hub_mut());
    r.hub_mut().close(key, "test");
    assert!(read_wire(&mut r, &mut far, 1).is_empty());
    let want =
        "info,bridge,LINE:192.0.2.1:4000,bridge read: Connection reset by peer (os error 104)";
    assert!(
        lines.borrow().iter().any(|l| l == want),
        "{:?}",
        lines.borrow()
    );
}

#[test]
fn a_pair_the_hub_closed_ends_the_port_at_its_next_message() {
    let (mut r, sources, lines) = reactor();
    let (mut far, id) = port(&mut r, &sources);
    let key = r.hub().resolve(id).unwrap();
    // The hub's end gone before the port's message is written into it.
    r.hub_mut().close(key, "test");
    r.hub_mut().reap();
    far.write_all(&wire(b"PING r\n1")).unwrap();
    sources.serve(r.hub_mut(), 0, false);
    let want = "info,bridge,LINE:192.0.2.1:4000,bridge write: Broken pipe (os error 32)";
    assert!(
        lines.borrow().iter().any(|l| l == want),
        "{:?}",
        lines.borrow()
    );
    assert!(sources.0.entries.borrow().is_empty());
}
