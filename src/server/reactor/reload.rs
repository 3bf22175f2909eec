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
