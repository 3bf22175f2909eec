//! Reloading a running server: whoever built it from a configuration file
//! installs a hook that re-reads the file and applies it to the reactor
//! (users, access lists, limits, origin rules, Lua folders, certificates);
//! SIGHUP (through a [`ReloadHandle`], from any thread) and the `reload`
//! admin command ask for it, and the reactor runs it between turns, so no
//! connection is dropped. A hook that refuses the file has changed nothing
//! (it validates everything first); the refusal is logged and the `reload`
//! caller gets a NACK. It must not parse files itself: the hook does.

use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use mio::unix::SourceFd;
use mio::{Interest, Token, Waker};

use super::{Reactor, SOURCE_BASE};
use crate::proto::message::nack;
use crate::proto::{State, ACK};
use crate::server::dispatcher::CommandSet;
use crate::server::log::Level;
use crate::transport::http::OriginPolicy;

/// Re-reads the configuration and applies it to the reactor; `Err` holds
/// every reason the new configuration was refused (nothing was applied).
pub type ReloadHook = Box<dyn FnMut(&mut Reactor) -> Result<(), Vec<String>>>;

/// Asks a running reactor to reload, from any thread or a signal-handling
/// thread (an atomic flag and a wake-up; nothing else).
#[derive(Clone)]
pub struct ReloadHandle {
    flag: Arc<AtomicBool>,
    waker: Arc<Waker>,
}

impl ReloadHandle {
    /// Asks for a reload; it runs at the end of the reactor's next turn.
    pub fn request(&self) {
        self.flag.store(true, Ordering::SeqCst);
        let _ = self.waker.wake();
    }
}

impl Reactor {
    /// Installs the hook that reloads the configuration.
    pub fn set_reload_hook(&mut self, hook: ReloadHook) {
        self.reload_hook = Some(hook);
    }

    /// A handle that asks for a reload from another thread (SIGHUP).
    pub fn reload_handle(&self) -> ReloadHandle {
        ReloadHandle {
            flag: Arc::clone(&self.reload_flag),
            waker: Arc::clone(&self.stop.waker),
        }
    }

    /// Runs the reload hook now. `Err` when there is none or it refused
    /// the configuration (each reason logged).
    pub fn reload(&mut self) -> Result<(), Vec<String>> {
        let Some(mut hook) = self.reload_hook.take() else {
            let text = "no configuration file to re-read, settings unchanged";
            self.hub.log(Level::Info, "reload", "server", text);
            return Err(vec!["not started from a configuration file".into()]);
        };
        let result = hook(self);
        self.reload_hook = Some(hook);
        match &result {
            Ok(()) => self
                .hub
                .log(Level::Info, "reload", "server", "configuration reloaded"),
            Err(errors) => {
                for e in errors {
                    self.hub.log(Level::Error, "reload", "server", e);
                }
                let text = "configuration refused; the running one stays";
                self.hub.log(Level::Error, "reload", "server", text);
            }
        }
        result
    }

    /// A reload asked for by SIGHUP or the `reload` command: run it and
    /// answer the command's caller.
    pub(super) fn reload_now(&mut self) {
        self.reload_flag.store(false, Ordering::SeqCst);
        let caller = self.hub.reload_asked.take();
        let result = self.reload();
        let Some(key) = caller.and_then(|id| self.hub.resolve(id)) else {
            return;
        };
        let reply = match result {
            Ok(()) => ACK.to_vec(),
            Err(_) if self.reload_hook.is_none() => nack(State::ENoImpl),
            Err(_) => nack(State::Error),
        };
        let _ = self.hub.send(key, &reply);
    }

    /// Replaces the browser origin and Host rules of HTTP listeners (for
    /// connections accepted from now on).
    pub fn set_http_policy(&mut self, policy: OriginPolicy) {
        self.http_policy = Rc::new(policy);
    }

    /// Replaces command set `index` (a Lua host with other folders, say),
    /// moving the event-source registration to the new set's descriptor.
    /// False when there is no such set.
    pub fn replace_command_set(&mut self, index: usize, set: Box<dyn CommandSet>) -> bool {
        let token = Token(SOURCE_BASE - index);
        let registry = self.poll.registry();
        let Some(slot) = self.dispatcher.sets_mut().get_mut(index) else {
            return false;
        };
        if let Some(fd) = slot.event_fd() {
            let _ = registry.deregister(&mut SourceFd(&fd));
        }
        if let Some(fd) = set.event_fd() {
            if let Err(e) = registry.register(&mut SourceFd(&fd), token, Interest::READABLE) {
                let text = format!("cannot watch the new command set: {e}");
                self.hub.log(Level::Error, "reload", "server", &text);
            } else if !self.sources.contains(&index) {
                self.sources.push(index);
            }
        }
        *slot = set;
        true
    }
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;
    use std::io::{Read, Write};
    use std::net::TcpStream;
    use std::os::fd::AsRawFd;
    use std::os::unix::net::UnixStream;
    use std::time::{Duration, Instant};

    use super::*;
    use crate::proto::Message;
    use crate::server::hub::Hub;
    use crate::server::test_server::{accept_client, logged_reactor};
    use crate::server::Settings;

    /// A hook that counts its calls and refuses from the second on.
    fn counting(calls: &Rc<Cell<usize>>) -> ReloadHook {
        let calls = Rc::clone(calls);
        Box::new(move |_| {
            calls.set(calls.get() + 1);
            match calls.get() {
                1 => Ok(()),
                _ => Err(vec!["line 3: bad".into(), "line 9: worse".into()]),
            }
        })
    }

    #[test]
    fn a_reload_runs_the_hook_and_logs_what_came_of_it() {
        let (mut r, lines) = logged_reactor(Settings::default());
        let refused = Err(vec!["not started from a configuration file".to_string()]);
        assert_eq!(r.reload(), refused);
        let calls = Rc::new(Cell::new(0));
        r.set_reload_hook(counting(&calls));
        assert_eq!(r.reload(), Ok(()));
        let errors = vec!["line 3: bad".to_string(), "line 9: worse".to_string()];
        assert_eq!(r.reload(), Err(errors.clone()));
        // The hook stays for the next reload.
        assert_eq!(r.reload(), Err(errors));
        assert_eq!(calls.get(), 3);
        let want = [
            "info,reload,server,no configuration file to re-read, settings unchanged",
            "info,reload,server,configuration reloaded",
            "error,reload,server,line 3: bad",
            "error,reload,server,line 9: worse",
            "error,reload,server,configuration refused; the running one stays",
        ];
        assert_eq!(lines.borrow()[..5], want);
    }

    #[test]
    fn a_requested_reload_runs_at_the_end_of_a_turn() {
        let (mut r, _lines) = logged_reactor(Settings::default());
        let calls = Rc::new(Cell::new(0));
        r.set_reload_hook(counting(&calls));
        let handle = r.reload_handle();
        // From another thread, as a signal handler's would: the poll wakes.
        std::thread::spawn(move || handle.request()).join().unwrap();
        r.run_once(Some(Duration::from_secs(30))).unwrap();
        assert_eq!(calls.get(), 1);
        // Asked once, run once.
        r.run_once(Some(Duration::from_millis(1))).unwrap();
        assert_eq!(calls.get(), 1);
    }

    /// A client of `r` on a fresh TCP listener, and its hub key.
    fn client(r: &mut Reactor) -> (TcpStream, usize) {
        let addr = r.listen_tcp("127.0.0.1:0").unwrap();
        client_of(r, addr)
    }

    /// A client of the listener at `addr`, and its hub key.
    fn client_of(r: &mut Reactor, addr: std::net::SocketAddr) -> (TcpStream, usize) {
        let (s, key) = accept_client(r, addr);
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        (s, key)
    }

    fn frame(msg: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        crate::transport::tcp::encode_frame(msg, &mut out);
        out
    }

    #[test]
    fn the_reload_command_is_answered_by_how_the_reload_went() {
        let (mut r, _lines) = logged_reactor(Settings::default());
        let (mut s, key) = client(&mut r);
        let id = r.hub().conn_id(key).unwrap();
        let answer = |r: &mut Reactor, s: &mut TcpStream, want: Vec<u8>| {
            r.hub_mut().reload_asked = Some(id);
            r.run_once(Some(Duration::from_millis(1))).unwrap();
            let mut got = vec![0; want.len()];
            s.read_exact(&mut got).unwrap();
            assert_eq!(got, want);
        };
        // No configuration file: not implemented here.
        answer(&mut r, &mut s, frame(&nack(State::ENoImpl)));
        let calls = Rc::new(Cell::new(0));
        r.set_reload_hook(counting(&calls));
        answer(&mut r, &mut s, frame(ACK));
        answer(&mut r, &mut s, frame(&nack(State::Error)));
        assert_eq!(calls.get(), 2);
        // A caller gone by then is not answered; the reload still runs.
        r.hub_mut().close(key, "test");
        r.run_once(Some(Duration::from_millis(1))).unwrap();
        r.hub_mut().reload_asked = Some(id);
        r.run_once(Some(Duration::from_millis(1))).unwrap();
        assert_eq!(calls.get(), 3);
    }

    #[test]
    fn a_new_http_policy_holds_for_connections_accepted_after_it() {
        let (mut r, _lines) = logged_reactor(Settings::default());
        let addr = r.listen_http("127.0.0.1:0").unwrap();
        let status = |r: &mut Reactor| {
            let (mut s, _) = client_of(r, addr);
            s.write_all(b"GET /nowhere HTTP/1.1\r\nHost: elsewhere\r\n\r\n")
                .unwrap();
            s.set_nonblocking(true).unwrap();
            let mut line = Vec::new();
            let deadline = Instant::now() + Duration::from_secs(10);
            while line.len() < 12 {
                assert!(Instant::now() < deadline, "no answer");
                r.run_once(Some(Duration::from_millis(10))).unwrap();
                let mut buf = [0u8; 64];
                if let Ok(n) = s.read(&mut buf) {
                    line.extend_from_slice(&buf[..n]);
                }
            }
            String::from_utf8_lossy(&line[..12]).into_owned()
        };
        assert_eq!(status(&mut r), "HTTP/1.1 404");
        r.set_http_policy(OriginPolicy {
            allow_hosts: vec!["broker.lan".into()],
            ..OriginPolicy::default()
        });
        assert_eq!(status(&mut r), "HTTP/1.1 421");
    }

    /// A command set without commands whose event source is a socket the
    /// test writes to; it counts its events.
    struct Watching {
        fd: Option<UnixStream>,
        events: Rc<Cell<usize>>,
    }

    impl CommandSet for Watching {
        fn list(&self) -> Vec<(String, String)> {
            Vec::new()
        }
        fn has(&self, _: &[u8]) -> bool {
            false
        }
        fn exec(&mut self, _: &mut Hub, _: usize, _: &Message<'_>) -> Result<(), State> {
            Err(State::ENoImpl)
        }
        fn event_fd(&self) -> Option<std::os::fd::RawFd> {
            self.fd.as_ref().map(|s| s.as_raw_fd())
        }
        fn on_event(&mut self, _: &mut Hub) {
            self.events.set(self.events.get() + 1);
            if let Some(s) = &mut self.fd {
                let mut buf = [0u8; 16];
                let _ = s.read(&mut buf);
            }
        }
    }

    fn watching() -> (Box<Watching>, UnixStream, Rc<Cell<usize>>) {
        let (ours, theirs) = UnixStream::pair().unwrap();
        ours.set_nonblocking(true).unwrap();
        let events = Rc::new(Cell::new(0));
        let set = Watching {
            fd: Some(ours),
            events: Rc::clone(&events),
        };
        (Box::new(set), theirs, events)
    }

    #[test]
    fn a_replaced_command_set_is_watched_under_its_own_index() {
        let (mut r, _lines) = logged_reactor(Settings::default());
        let quiet = || {
            Box::new(Watching {
                fd: None,
                events: Rc::new(Cell::new(0)),
            })
        };
        r.add_command_set(quiet()).unwrap();
        r.add_command_set(quiet()).unwrap();
        assert!(!r.replace_command_set(2, quiet()));
        for index in [1, 0] {
            let (set, mut peer, events) = watching();
            assert!(r.replace_command_set(index, set));
            peer.write_all(b"!").unwrap();
            let deadline = Instant::now() + Duration::from_secs(10);
            while events.get() == 0 {
                assert!(Instant::now() < deadline, "set {index} not told");
                r.run_once(Some(Duration::from_millis(10))).unwrap();
            }
            assert_eq!(events.get(), 1, "set {index}");
        }
    }
}
