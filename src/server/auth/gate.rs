//! The hub's side of authentication and access control: the check the
//! dispatcher runs before every command, the `auth` command's work
//! (verification on the worker, the ACK at once or the NACK after its
//! delay, input held meanwhile), a client certificate naming its user, and
//! the timer that releases delayed answers. It must not read sockets.

use std::rc::Rc;
use std::time::Instant;

use super::rights::{admin, needs, Admin, Need};
use super::verify::Job;
use super::{Acl, AuthConfig};
use crate::proto::message::nack;
use crate::proto::{Message, State, ACK};
use crate::server::commands::find_client;
use crate::server::hub::Hub;
use crate::server::log::Level;
use crate::server::queues::rpc::{correlation, nack_for};

/// Commands anyone may send, authenticated or not.
const ALWAYS: [&[u8]; 3] = [b"auth", b"PING", b"PONG"];
/// Why a subscription-like command was refused (logged).
const SUB_DENIED: &str = "subscription beyond the access list";

/// The answer to a command the gate refused: `NACK *\n24\naccess denied`,
/// or for a request `NACK CORR\n24\naccess denied`, so a requester with
/// many requests in flight knows which one (PROTOCOL.md §14).
pub(crate) fn refusal_reply(msg: &Message<'_>, state: State) -> Vec<u8> {
    match correlation(msg.payload).filter(|_| msg.command == b"req") {
        Some(corr) => nack_for(corr, state, state.text().as_bytes()),
        None => nack(state),
    }
}

impl Hub {
    /// Replaces users, access lists and the failure policy. Connections
    /// keep their user names; the new lists judge their next command.
    pub fn set_auth(&mut self, config: AuthConfig) {
        self.auth.replace(config);
    }

    /// The users and access lists in force.
    pub fn auth_config(&self) -> &AuthConfig {
        self.auth.config()
    }

    /// Whether `caller` may run `msg`: its user's (or anonymous clients')
    /// lists for pub and sub, nothing but `auth` and keep-alives before
    /// authenticating where anonymous use is off, admin commands for
    /// admins. A refusal is logged; the dispatcher answers NACK 24.
    #[inline]
    pub(crate) fn authorize(&mut self, caller: usize, msg: &Message<'_>) -> Result<(), State> {
        // Every message passes here. The common case (no restrictions, an
        // anonymous connection, not `reload`) is decided inline; the rest,
        // with its logging, is a call.
        let open = !self.auth.strict
            && self.conns.get(caller).is_some_and(|c| c.auth.anonymous)
            && admin(msg) != Admin::Always;
        if open {
            return Ok(());
        }
        self.authorize_checked(caller, msg)
    }

    /// `authorize` beyond its common case.
    #[inline(never)]
    fn authorize_checked(&mut self, caller: usize, msg: &Message<'_>) -> Result<(), State> {
        let auth = match self.conns.get(caller) {
            Some(conn) => &conn.auth,
            // A message dispatched from no connection acts for whom it was
            // kept (a delayed MQTT will: its session's client).
            None => self.acting.as_ref().ok_or(State::ENotFound)?,
        };
        let admin_rule = admin(msg);
        if !self.auth.strict && auth.anonymous && admin_rule != Admin::Always {
            return Ok(());
        }
        if ALWAYS.contains(&msg.command) {
            return Ok(());
        }
        let config = self.auth.config();
        let user = auth.user.as_deref().and_then(|n| config.user(n));
        let verdict = match user {
            None if !auth.anonymous => Err("authenticate first"),
            _ if admin_rule != Admin::No => {
                let is_admin = user.is_some_and(|u| u.admin);
                // Without restrictions these stay open to all as they always
                // were; a codec closing the connection an MQTT session was
                // taken from is not its client's request.
                let open = (admin_rule == Admin::WhenRestricted && !self.auth.strict)
                    || (msg.command == b"unsub" && self.own_request);
                (is_admin || open).then_some(()).ok_or("admin only")
            }
            _ => {
                let acl = user.map_or(&config.anonymous, |u| &u.acl);
                let refused = needs(msg).into_iter().find_map(|n| self.refusal(acl, n));
                refused.map_or(Ok(()), Err)
            }
        };
        let Err(why) = verdict else {
            return Ok(());
        };
        let who = auth.user.as_deref().unwrap_or("anonymous").to_owned();
        let id = self
            .conns
            .get(caller)
            .map_or_else(|| "parked".to_owned(), |c| c.id_string());
        let text = format!(
            "denied {who}: {} {}: {why}",
            String::from_utf8_lossy(msg.command),
            String::from_utf8_lossy(msg.route)
        );
        self.log(Level::Warn, "auth", &id, &text);
        Err(State::EAccess)
    }

    /// Why `acl` does not grant `need`, if it does not.
    fn refusal(&self, acl: &Acl, need: Need<'_>) -> Option<&'static str> {
        let granted = match need {
            Need::Publish(r) => acl.may_publish(r),
            Need::PublishAll(p) => acl.may_publish_all(p),
            Need::PublishTo(q) => acl.may_publish(&q),
            Need::Subscribe(p) => return (!acl.may_subscribe(p)).then_some(SUB_DENIED),
            Need::Direct(id) => {
                // The receiver as lsconn lists it, so `root@*` names a
                // user's connections; an unknown id is the command's 19.
                let label = find_client(self, id).and_then(|k| self.client_label(k));
                let named = label.as_deref().map_or(id, str::as_bytes);
                return (!acl.may_publish(named))
                    .then_some("direct message outside the access list");
            }
        };
        (!granted).then_some("publish outside the access list")
    }

    /// Whether `caller` may act without authenticating now: it is a user
    /// already, or its listener admits anonymous clients.
    pub(crate) fn may_act(&self, caller: usize) -> bool {
        self.conns
            .get(caller)
            .is_some_and(|c| c.auth.user.is_some() || c.auth.anonymous)
    }

    /// `auth <user>\n<password>`: checks the password on the worker thread
    /// and holds the connection's input until the answer is sent.
    pub(crate) fn authenticate(&mut self, caller: usize, user: &[u8], password: &[u8]) {
        let Some(id) = self.conn_id(caller) else {
            return;
        };
        let name = String::from_utf8_lossy(user).into_owned();
        let phc = self
            .auth
            .config()
            .user(&name)
            .and_then(|u| u.password.clone());
        if let Some(conn) = self.conns.get_mut(caller) {
            conn.auth.held = true;
            // A new attempt drops the old identity until it succeeds.
            conn.auth.user = None;
        }
        self.auth.verifier.submit(Job {
            conn: id,
            user: name,
            password: password.to_vec(),
            phc,
            received: Instant::now(),
        });
    }

    /// A verified client certificate's common name: the connection is that
    /// user when such a user exists.
    pub(crate) fn auth_by_cert(&mut self, key: usize, cn: Option<String>) {
        let Some(cn) = cn else {
            return;
        };
        if self.auth.config().user(&cn).is_none() {
            return;
        }
        let Some(conn) = self.conns.get_mut(key) else {
            return;
        };
        conn.auth.user = Some(Rc::from(cn.as_str()));
        let id = conn.id_string();
        let text = format!("authenticated as {cn} (client certificate)");
        self.log(Level::Info, "auth", &id, &text);
    }

    /// Applies verdicts that came back and sends answers that are due.
    /// Returns connections whose held input may be read again.
    pub(crate) fn auth_tick(&mut self, now: Instant, resume: &mut Vec<usize>) {
        if self.auth.idle() {
            return;
        }
        while let Some(v) = self.auth.verifier.poll() {
            let Some(key) = self.resolve(v.conn) else {
                continue;
            };
            let peer = match self.conns.get(key) {
                Some(c) => c.peer.clone(),
                None => continue,
            };
            let id = self.client_id(key).unwrap_or_default();
            if v.ok {
                self.auth.forget_failures(&peer);
                if let Some(conn) = self.conns.get_mut(key) {
                    conn.auth.user = Some(Rc::from(v.user.as_str()));
                    conn.auth.held = false;
                }
                let _ = self.send(key, ACK);
                resume.push(key);
                self.log(
                    Level::Info,
                    "auth",
                    &id,
                    &format!("authenticated as {}", v.user),
                );
                continue;
            }
            let n = self.auth.count_failure(&peer, now);
            let delay = self.auth.config().delay_for(n);
            self.auth.due.push((v.received + delay, v.conn));
            let text = format!(
                "authentication failed for '{}' ({n} in a row from this address; answered after {} ms)",
                v.user,
                delay.as_millis()
            );
            self.log(Level::Warn, "auth", &id, &text);
        }
        let mut i = 0;
        while let Some(&(due, conn)) = self.auth.due.get(i) {
            if due > now {
                i += 1;
                continue;
            }
            self.auth.due.swap_remove(i);
            let Some(key) = self.resolve(conn) else {
                continue;
            };
            if let Some(c) = self.conns.get_mut(key) {
                c.auth.held = false;
            }
            let _ = self.send(key, &nack(State::EAccess));
            resume.push(key);
        }
    }
}

#[cfg(test)]
mod tests {
    //! The gate in one process, over real sockets: the test files that
    //! cover it end to end (auth, acl_commands, observe_auth) start the
    //! `ducq-server` program, which a mutation run does not build.
    use super::*;
    use crate::server::auth::{hash_password, User};
    use crate::server::test_server::accept_client;
    use crate::server::{Reactor, Settings};
    use crate::transport::tcp::TcpCodec;
    use std::io::{ErrorKind, Read, Write};
    use std::net::TcpStream;
    use std::time::Duration;

    /// The hash of `pw`, made once (a fresh salt each time would make two
    /// equal configurations differ).
    fn pw() -> &'static str {
        static PW: std::sync::OnceLock<String> = std::sync::OnceLock::new();
        PW.get_or_init(|| hash_password(b"pw").unwrap())
    }

    fn user(name: &str, publish: &[&str], subscribe: &[&str], admin: bool) -> User {
        let list = |l: &[&str]| l.iter().map(|p| p.as_bytes().to_vec()).collect();
        User {
            name: name.to_owned(),
            password: Some(pw().to_owned()),
            acl: Acl {
                publish: list(publish),
                subscribe: list(subscribe),
            },
            admin,
        }
    }

    /// alice may publish to `a/*` and to bob's connections, subscribe
    /// within `a/#`; bob anything; root is an admin; anonymous clients may
    /// publish to `open/*` only.
    fn config() -> AuthConfig {
        AuthConfig {
            users: vec![
                user("alice", &["a/*", "bob@*"], &["a/#"], false),
                user("bob", &["*"], &["*"], false),
                user("root", &[], &[], true),
            ],
            anonymous: Acl {
                publish: vec![b"open/*".to_vec()],
                subscribe: Vec::new(),
            },
            fail_delay: Duration::from_millis(1),
            ..AuthConfig::default()
        }
    }

    /// A reactor with two TCP listeners, the second admitting no anonymous
    /// clients, and clients connected to them.
    struct Rig {
        r: Reactor,
        /// Each client's stream, hub key and unread input.
        peers: Vec<(TcpStream, usize, Vec<u8>)>,
    }

    impl Rig {
        /// `open` clients of the anonymous listener, then one of the other.
        fn new(config: AuthConfig, open: usize) -> Rig {
            let mut r = Reactor::new(Settings::default()).unwrap();
            r.hub_mut().logger_mut().stderr = false;
            r.hub_mut().set_auth(config);
            let anonymous = r.listen_tcp("127.0.0.1:0").unwrap();
            let closed = r.listen_tcp("127.0.0.1:0").unwrap();
            assert!(r.set_listener_anonymous(1, false));
            let mut rig = Rig {
                r,
                peers: Vec::new(),
            };
            for addr in std::iter::repeat_n(anonymous, open).chain([closed]) {
                let (s, key) = accept_client(&mut rig.r, addr);
                s.set_nonblocking(true).unwrap();
                rig.peers.push((s, key, Vec::new()));
            }
            rig
        }

        fn key(&self, i: usize) -> usize {
            self.peers[i].1
        }

        /// Client `i`'s id as lsconn lists it (`alice@TCP:…` once it is a user).
        fn label(&self, i: usize) -> String {
            self.r.hub().client_label(self.key(i)).unwrap()
        }

        fn send(&mut self, i: usize, msg: &str) {
            let frame = TcpCodec::frame(msg.as_bytes());
            self.peers[i].0.write_all(&frame).unwrap();
        }

        /// The next message to client `i`, waiting up to 5 s.
        fn next(&mut self, i: usize) -> Option<String> {
            let deadline = Instant::now() + Duration::from_secs(5);
            while Instant::now() < deadline {
                self.r.run_once(Some(Duration::from_millis(5))).unwrap();
                let (s, _, buf) = &mut self.peers[i];
                let mut chunk = [0u8; 4096];
                match s.read(&mut chunk) {
                    Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                    Err(e) => panic!("{e}"),
                }
                if let Some(m) = take_frame(buf) {
                    return Some(String::from_utf8(m).unwrap());
                }
            }
            None
        }

        /// Sends `msg` from client `i` and returns the answer.
        fn ask(&mut self, i: usize, msg: &str) -> String {
            self.send(i, msg);
            self.next(i)
                .unwrap_or_else(|| panic!("no answer to {msg:?}"))
        }

        /// Whether client `i` has been sent nothing, after a few turns.
        fn quiet(&mut self, i: usize) -> bool {
            for _ in 0..20 {
                self.r.run_once(Some(Duration::from_millis(1))).unwrap();
            }
            let (s, _, buf) = &mut self.peers[i];
            let unread = s.read(&mut [0u8; 1]);
            buf.is_empty() && unread.is_err_and(|e| e.kind() == ErrorKind::WouldBlock)
        }

        /// Authenticates client `i` as `name` (every password is `pw`).
        fn login(&mut self, i: usize, name: &str) {
            assert_eq!(self.ask(i, &format!("auth {name}\npw")), "ACK", "{name}");
        }

        /// The gate's verdict on `raw` from client `i`, without running it.
        fn verdict(&mut self, i: usize, raw: &str) -> Result<(), State> {
            let key = self.key(i);
            let msg = Message::parse(raw.as_bytes()).unwrap();
            self.r.hub_mut().authorize(key, &msg)
        }
    }

    /// One whole `<len>\n<body>` frame off the front of `buf`.
    fn take_frame(buf: &mut Vec<u8>) -> Option<Vec<u8>> {
        let nl = buf.iter().position(|&b| b == b'\n')?;
        let len: usize = std::str::from_utf8(&buf[..nl]).ok()?.parse().ok()?;
        let body = buf.get(nl + 1..nl + 1 + len)?.to_vec();
        buf.drain(..nl + 1 + len);
        Some(body)
    }

    const DENIED: &str = "NACK *\n24\naccess denied";

    #[test]
    fn the_configuration_in_force_is_the_one_set() {
        let rig = Rig::new(config(), 0);
        assert_eq!(rig.r.hub().auth_config(), &config());
    }

    #[test]
    fn users_get_what_their_lists_allow_and_nothing_more() {
        let mut rig = Rig::new(config(), 2);
        rig.login(0, "alice");
        rig.login(1, "bob");
        assert_eq!(rig.ask(0, "pub a/x\n1"), "ACK");
        assert_eq!(rig.ask(0, "pub b/x\n1"), DENIED);
        assert_eq!(rig.ask(0, "sub a/+\n"), "ACK");
        assert_eq!(rig.ask(0, "sub *\n"), DENIED);
        // A direct message publishes to the receiver as lsconn lists it:
        // `bob@TCP:…` is within alice's `bob@*`, the anonymous client's
        // `TCP:…` is not, whichever form of the id is sent.
        let bob = rig.label(1);
        let plain = bob.strip_prefix("bob@").unwrap().to_owned();
        assert_eq!(rig.ask(0, &format!("to {plain}\nhi")), "ACK");
        let alice_id = rig.r.hub().client_id(rig.key(0)).unwrap();
        assert_eq!(rig.next(1).unwrap(), format!("from {alice_id}\nhi"));
        let stranger = rig.label(2);
        assert_eq!(rig.ask(0, &format!("to {stranger}\nhi")), DENIED);
        assert!(rig.quiet(2));
    }

    #[test]
    fn anonymous_clients_get_the_anonymous_list_where_the_listener_admits_them() {
        let mut rig = Rig::new(config(), 1);
        // Client 0: an anonymous listener's; client 1: the other's.
        assert_eq!(rig.ask(0, "auth \n"), "ACK");
        assert_eq!(rig.ask(0, "pub open/x\n1"), "ACK");
        assert_eq!(rig.ask(0, "pub a/x\n1"), DENIED);
        assert_eq!(rig.ask(0, "sub open/x\n"), DENIED);
        assert_eq!(rig.ask(1, "auth \n"), DENIED);
        assert_eq!(rig.ask(1, "pub open/x\n1"), DENIED);
        assert_eq!(rig.ask(1, "PING x\ny"), "PONG x\ny");
        rig.login(1, "alice");
        assert_eq!(rig.ask(1, "auth \n"), "ACK");
        assert_eq!(rig.ask(1, "pub a/x\n1"), "ACK");
    }

    #[test]
    fn without_users_only_reload_is_refused() {
        let mut rig = Rig::new(AuthConfig::default(), 1);
        assert_eq!(rig.ask(0, "pub x\n1"), "ACK");
        assert_eq!(rig.ask(0, "reload _\n"), DENIED);
        let other = rig.label(1);
        assert_eq!(rig.ask(0, &format!("unsub _\n{other}")), "ACK");
        // A listener without anonymous access still wants a user.
        let mut rig = Rig::new(AuthConfig::default(), 0);
        assert_eq!(rig.ask(0, "pub x\n1"), DENIED);
    }

    #[test]
    fn admin_commands_are_an_admins_once_access_is_restricted() {
        let mut rig = Rig::new(config(), 2);
        rig.login(0, "alice");
        rig.login(1, "root");
        let target = rig.label(2);
        assert_eq!(rig.ask(0, &format!("unsub _\n{target}")), DENIED);
        assert_eq!(rig.ask(0, "reload _\n"), DENIED);
        assert_eq!(rig.ask(0, "chan add x\npattern=x"), DENIED);
        assert_eq!(rig.ask(1, &format!("unsub _\n{target}")), "ACK");
        // A codec closing a connection its session was taken from passes;
        // nothing else does on that ground.
        rig.r.hub_mut().own_request = true;
        assert_eq!(rig.verdict(0, "unsub _\nx"), Ok(()));
        assert_eq!(rig.verdict(0, "stats _\n"), Err(State::EAccess));
        rig.r.hub_mut().own_request = false;
        assert_eq!(rig.verdict(0, "unsub _\nx"), Err(State::EAccess));
        assert_eq!(rig.verdict(1, "stats _\n"), Ok(()));
    }

    #[test]
    fn a_refused_request_keeps_its_correlation_id_and_nothing_else_does() {
        let mut rig = Rig::new(config(), 0);
        assert_eq!(
            rig.ask(0, "req svc/x\nc1\nnow"),
            "NACK c1\n24\naccess denied"
        );
        assert_eq!(rig.ask(0, "pub svc/x\nc1\nnow"), DENIED);
    }

    #[test]
    fn a_certificate_names_a_user_that_exists() {
        let mut rig = Rig::new(config(), 0);
        let key = rig.key(0);
        rig.r.hub_mut().auth_by_cert(key, None);
        rig.r.hub_mut().auth_by_cert(key, Some("mallory".into()));
        assert_eq!(rig.ask(0, "auth \n"), DENIED);
        rig.r.hub_mut().auth_by_cert(key, Some("alice".into()));
        assert_eq!(
            rig.label(0),
            format!("alice@{}", rig.r.hub().client_id(key).unwrap())
        );
        assert_eq!(rig.ask(0, "auth \n"), "ACK");
        assert_eq!(rig.ask(0, "pub a/x\n1"), "ACK");
    }

    #[test]
    fn a_failure_is_answered_when_its_delay_is_up_and_input_waits_until_then() {
        // An hour: it cannot pass during the test, so an answer before the
        // forced tick below is an answer too early.
        let mut rig = Rig::new(
            AuthConfig {
                fail_delay: Duration::from_secs(3600),
                max_fail_delay: Duration::from_secs(3600),
                ..config()
            },
            1,
        );
        rig.send(0, "auth alice\nwrong");
        let deadline = Instant::now() + Duration::from_secs(5);
        while rig.r.hub().auth.due.is_empty() {
            assert!(Instant::now() < deadline, "no verdict");
            rig.r.run_once(Some(Duration::from_millis(5))).unwrap();
        }
        rig.send(0, "pub open/x\n1");
        assert!(rig.quiet(0));
        let due = rig.r.hub().auth.due[0].0;
        let mut resume = Vec::new();
        rig.r
            .hub_mut()
            .auth_tick(due - Duration::from_millis(1), &mut resume);
        assert!(resume.is_empty());
        rig.r.hub_mut().auth_tick(due, &mut resume);
        assert_eq!(resume, [rig.key(0)]);
        assert!(rig.r.hub().auth.due.is_empty());
        assert_eq!(rig.next(0).unwrap(), DENIED);
        // The input held meanwhile is read now, in order.
        rig.send(0, "pub open/y\n2");
        assert_eq!(rig.next(0).unwrap(), "ACK");
        assert_eq!(rig.next(0).unwrap(), "ACK");
    }

    /// Whether a thread of this process is named `name`.
    fn a_thread_named(name: &str) -> bool {
        std::fs::read_dir("/proc/self/task").unwrap().any(|t| {
            let comm = t.unwrap().path().join("comm");
            std::fs::read_to_string(comm).is_ok_and(|c| c.trim_end() == name)
        })
    }

    #[test]
    fn passwords_are_checked_off_the_reactor_thread() {
        let mut rig = Rig::new(
            AuthConfig {
                fail_delay: Duration::from_millis(200),
                ..config()
            },
            1,
        );
        assert_eq!(rig.ask(0, "auth alice\npw"), "ACK");
        // The check ran on the worker, which lives as long as the hub; the
        // reactor itself never hashes (it would stall every client).
        assert!(a_thread_named("ducq-auth"));
        // A failure is answered once its delay is up, through the turns.
        assert_eq!(rig.ask(0, "auth alice\nwrong"), DENIED);
    }
}
