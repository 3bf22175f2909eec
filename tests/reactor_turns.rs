//! The reactor's turn, pinned (issue 12): each command set's event source
//! reaches that set, a transport's greeting goes out on connect, the poll
//! descriptor is readable exactly when there is work, the next turn is due
//! at once while input or closing connections wait, and waking or
//! stopping from another thread. The server runs turn by turn in the
//! test's thread (`driven`); its clients are real loopback sockets.

mod driven;

use std::cell::RefCell;
use std::os::fd::RawFd;
use std::rc::Rc;
use std::time::Duration;

use driven::Driven;
use ducq::proto::{Message, State};
use ducq::server::{CommandSet, Hub, Settings};
use ducq::transport::tcp::TcpCodec;
use ducq::transport::{Step, Transport};

/// A command set with a pipe as its event source: notes each event (and
/// drains the pipe, since readiness is edge-triggered).
struct Piped {
    name: &'static str,
    read_end: Option<RawFd>,
    events: Rc<RefCell<Vec<&'static str>>>,
}

impl CommandSet for Piped {
    fn list(&self) -> Vec<(String, String)> {
        vec![(self.name.into(), "a test command".into())]
    }
    fn has(&self, name: &[u8]) -> bool {
        name == self.name.as_bytes()
    }
    fn exec(&mut self, hub: &mut Hub, caller: usize, _: &Message<'_>) -> Result<(), State> {
        hub.send(caller, self.name.as_bytes())
    }
    fn event_fd(&self) -> Option<RawFd> {
        self.read_end
    }
    fn on_event(&mut self, _: &mut Hub) {
        let mut buf = [0u8; 64];
        if let Some(fd) = self.read_end {
            // SAFETY: reads into a live buffer of its length from our pipe.
            while unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) } > 0 {}
        }
        self.events.borrow_mut().push(self.name);
    }
}

/// A non-blocking pipe: (read end, write end).
fn pipe() -> (RawFd, RawFd) {
    let mut fds = [0; 2];
    // SAFETY: pipe2 fills two descriptors.
    assert_eq!(
        unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_NONBLOCK) },
        0
    );
    (fds[0], fds[1])
}

fn poke(fd: RawFd) {
    // SAFETY: writes one byte from a live buffer to our pipe.
    assert_eq!(unsafe { libc::write(fd, b"x".as_ptr().cast(), 1) }, 1);
}

/// Whether `fd` is readable right now.
fn readable(fd: RawFd) -> bool {
    let mut p = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one live pollfd, no wait.
    let n = unsafe { libc::poll(&mut p, 1, 0) };
    assert!(n >= 0);
    n == 1 && p.revents & libc::POLLIN != 0
}

#[test]
fn each_event_source_reaches_its_own_command_set() {
    let mut d = Driven::new(Settings::default());
    let events = Rc::new(RefCell::new(Vec::new()));
    let (b_read, b_write) = pipe();
    let (c_read, c_write) = pipe();
    for (name, read_end) in [
        ("seta", None),
        ("setb", Some(b_read)),
        ("setc", Some(c_read)),
    ] {
        let set = Piped {
            name,
            read_end,
            events: Rc::clone(&events),
        };
        d.reactor.add_command_set(Box::new(set)).expect("set");
    }
    poke(c_write);
    d.until("setc's event", |_| events.borrow().len() == 1);
    poke(b_write);
    d.until("setb's event", |_| events.borrow().len() == 2);
    assert_eq!(*events.borrow(), ["setc", "setb"]);
    // The sets are commands too, listed by the reactor's dispatcher.
    let names: Vec<String> = d
        .reactor
        .dispatcher()
        .list()
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    for name in ["seta", "setb", "setc"] {
        assert!(names.iter().any(|n| n == name), "{name} in {names:?}");
    }
    let (mut c, _) = d.connect();
    assert_eq!(d.call(&mut c, b"setb"), b"setb");
    for fd in [b_read, b_write, c_read, c_write] {
        // SAFETY: closing our own descriptors, no longer used.
        unsafe { libc::close(fd) };
    }
}

/// Length-framed TCP that greets each peer first.
struct Greeting(TcpCodec);

impl Transport for Greeting {
    fn name(&self) -> &str {
        "GREET"
    }
    fn open(&mut self, out: &mut Vec<u8>) {
        self.0.encode(b"hello", out);
    }
    fn decode<'a>(&mut self, input: &'a mut [u8], out: &mut Vec<u8>) -> Step<'a> {
        self.0.decode(input, out)
    }
    fn encode(&mut self, msg: &[u8], out: &mut Vec<u8>) {
        self.0.encode(msg, out);
    }
}

#[test]
fn a_transport_greeting_goes_out_on_connect() {
    let mut d = Driven::new(Settings::default());
    let addr = d
        .reactor
        .listen(
            "127.0.0.1:0",
            Box::new(|| Box::new(Greeting(TcpCodec::new(1024)))),
        )
        .expect("listener");
    assert_eq!(d.reactor.local_addrs(), [d.tcp, d.http, addr]);
    let (mut c, key) = d.connect_to(addr);
    assert_eq!(d.recv(&mut c), b"hello");
    assert_eq!(d.call(&mut c, b"PING x\n"), b"PONG x\n");
    let id = d.reactor.hub().client_id(key).unwrap();
    assert_eq!(id, format!("GREET:{}", c.stream.local_addr().unwrap()));
}

#[test]
fn the_poll_descriptor_is_readable_exactly_when_there_is_work() {
    let mut d = Driven::new(Settings::default());
    let fd = d.reactor.fd();
    d.turn();
    assert!(!readable(fd));
    let _pending = std::net::TcpStream::connect(d.tcp).unwrap();
    d.until("the connection to be seen", |r| readable(r.fd()));
    d.until("accepted", |r| r.hub().len() == 1);
    assert!(!readable(fd));
    // A wake from any thread makes it readable; the next turn consumes it.
    let handle = d.reactor.stop_handle();
    std::thread::spawn(move || handle.wake()).join().unwrap();
    assert!(readable(fd));
    assert!(!d.reactor.is_stopped());
    d.turn();
    assert!(!readable(fd));
    // So does a stop, which the reactor then reports.
    d.reactor.stop_handle().stop();
    assert!(readable(fd));
    assert!(d.reactor.is_stopped());
}

#[test]
fn the_next_turn_is_due_at_once_while_input_or_closing_connections_wait() {
    let mut d = Driven::new(Settings::default());
    let addr = d.listen_tcp_with_rcvbuf(2 << 20);
    let (mut c, key) = d.connect_to(addr);
    d.turn();
    assert!(d.reactor.next_timeout() > Duration::ZERO);
    // More than a turn's read budget waiting: the next turn goes on at once.
    for _ in 0..600 {
        c.send(&[b'p'; 1000]);
    }
    c.wait_sent();
    d.turn();
    assert_eq!(d.reactor.next_timeout(), Duration::ZERO);
    let mut answers = 0;
    while answers < 600 {
        assert_eq!(d.recv(&mut c), b"NACK *\n17\ncommand unknown");
        answers += 1;
    }
    assert!(d.reactor.next_timeout() > Duration::ZERO);
    // A connection marked for closing is removed at once too.
    d.reactor.hub_mut().close(key, "test");
    assert_eq!(d.reactor.next_timeout(), Duration::ZERO);
    d.turn();
    assert!(d.reactor.next_timeout() > Duration::ZERO);
}

#[test]
fn lscmd_is_answered_by_the_dispatcher_alone() {
    // The dispatcher answers lscmd and help itself (it alone knows every
    // command set); their built-in entries only stand in the listing, and
    // run directly they refuse.
    let mut d = Driven::new(Settings::default());
    let (_c, key) = d.connect();
    let core = ducq::server::commands::core();
    let msg = Message::parse(b"lscmd").unwrap();
    for name in ["lscmd", "help"] {
        let b = core.iter().find(|b| b.name == name).expect("listed");
        let (hub, _) = d.reactor.parts_mut();
        assert_eq!((b.exec)(hub, key, &msg), Err(State::Error), "{name}");
    }
    assert_eq!(
        d.reactor.hub().conn(key).map(|c| c.pending_output()),
        Some(0)
    );
}
