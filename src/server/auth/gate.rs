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
    pub(crate) fn authorize(&mut self, caller: usize, msg: &Message<'_>) -> Result<(), State> {
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
