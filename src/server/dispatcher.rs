//! The dispatcher: finds the command a message names and runs it.
//! Order (PROTOCOL.md §5): the core protocol (pub, sub, PING, PONG, lscmd,
//! and their aliases) can never be replaced; then command sets added by the
//! embedder (C commands, Lua scripts) in the order they were added; then the
//! remaining built-ins, which those sets may replace. Unknown commands get
//! NACK 17 and the connection stays open.

use std::time::Instant;

use super::commands::{self, Builtin};
use super::hub::Hub;
use super::log::Level;
use crate::proto::{message, Message, State};

/// A group of commands defined outside the core (C commands, Lua scripts).
pub trait CommandSet {
    /// `(name, doc)` of every command of the set, for `lscmd`.
    fn list(&self) -> Vec<(String, String)>;
    /// Whether the set defines `name`.
    fn has(&self, name: &[u8]) -> bool;
    /// Runs command `msg.command` for connection `caller`. The command sends
    /// its own replies through the hub; an `Err` is answered with a NACK of
    /// that state by the dispatcher.
    fn exec(&mut self, hub: &mut Hub, caller: usize, msg: &Message<'_>) -> Result<(), State>;
    /// A descriptor the reactor should watch for this set (a file watcher);
    /// `on_event` is called when it is readable.
    fn event_fd(&self) -> Option<std::os::fd::RawFd> {
        None
    }
    /// Called when `event_fd` is readable.
    fn on_event(&mut self, _hub: &mut Hub) {}
    /// Called once when the set joins a reactor, with its hub (a Lua host
    /// hands over the channels its files define).
    fn on_attach(&mut self, _hub: &mut Hub) {}
    /// The name its calls, failures and time are counted under in
    /// `/metrics` (`lua` for Lua scripts).
    fn name(&self) -> &str {
        "commands"
    }
}

/// Routes messages to commands.
pub struct Dispatcher {
    core: Vec<Builtin>,
    sets: Vec<Box<dyn CommandSet>>,
    rest: Vec<Builtin>,
}

impl Default for Dispatcher {
    fn default() -> Dispatcher {
        Dispatcher::new()
    }
}

impl Dispatcher {
    /// A dispatcher with the built-in commands.
    pub fn new() -> Dispatcher {
        Dispatcher {
            core: commands::core(),
            sets: Vec::new(),
            rest: commands::replaceable(),
        }
    }

    /// Adds a set of commands; later sets are consulted after earlier ones.
    pub fn add_set(&mut self, set: Box<dyn CommandSet>) {
        self.sets.push(set);
    }

    /// How many command sets were added (the index the next one gets).
    pub fn set_count(&self) -> usize {
        self.sets.len()
    }

    /// The command sets added so far, in consultation order.
    pub fn sets_mut(&mut self) -> &mut [Box<dyn CommandSet>] {
        &mut self.sets
    }

    /// `(name, doc)` of every command a client can call, `lscmd` first, each
    /// name once (a replaced built-in shows its replacement's doc).
    pub fn list(&self) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = Vec::new();
        let mut push = |name: String, doc: String| {
            if !out.iter().any(|(n, _)| *n == name) {
                out.push((name, doc));
            }
        };
        for b in self.core.iter().filter(|b| b.name == "lscmd") {
            push(b.name.into(), b.doc.into());
        }
        for b in &self.core {
            push(b.name.into(), b.doc.into());
        }
        for set in &self.sets {
            for (n, d) in set.list() {
                push(n, d);
            }
        }
        for b in &self.rest {
            push(b.name.into(), b.doc.into());
        }
        out
    }

    /// Parses and runs one message from connection `caller`.
    pub fn dispatch(&mut self, hub: &mut Hub, caller: usize, raw: &[u8]) {
        let _ = self.dispatch_state(hub, caller, raw);
    }

    /// `dispatch`, returning the state the caller was answered a NACK
    /// with, if any (the original's `ducq_dispatch`).
    pub fn dispatch_state(
        &mut self,
        hub: &mut Hub,
        caller: usize,
        raw: &[u8],
    ) -> Result<(), State> {
        hub.metrics.messages_in += 1;
        let msg = match Message::parse(raw) {
            Ok(m) => m,
            Err(state) => {
                hub.metrics.nack(state);
                let _ = hub.send(caller, &message::nack(state));
                return Err(state);
            }
        };
        if hub.logger.enabled(Level::Debug) {
            let id = hub.client_id(caller).unwrap_or_default();
            let text = format!(
                "{} {}",
                String::from_utf8_lossy(msg.command),
                String::from_utf8_lossy(msg.route)
            );
            hub.log(Level::Debug, "dispatch", &id, &text);
        }
        // Access control first: users, access lists, anonymous policy.
        if let Err(state) = hub.authorize(caller, &msg) {
            hub.metrics.nack(state);
            let _ = hub.send(caller, &super::auth::refusal_reply(&msg, state));
            return Err(state);
        }
        let result = self.run(hub, caller, &msg);
        if let Err(state) = result {
            hub.metrics.nack(state);
            let _ = hub.send(caller, &message::nack(state));
        }
        result
    }

    fn run(&mut self, hub: &mut Hub, caller: usize, msg: &Message<'_>) -> Result<(), State> {
        if msg.command == b"lscmd" || msg.command == b"help" {
            return commands::lscmd::exec(hub, caller, &self.list());
        }
        if let Some(b) = self.core.iter().find(|b| b.name.as_bytes() == msg.command) {
            return (b.exec)(hub, caller, msg);
        }
        if let Some(set) = self.sets.iter_mut().find(|s| s.has(msg.command)) {
            // Only command sets are timed: two clock reads per Lua or C
            // command, none on the publish path.
            let start = Instant::now();
            let result = set.exec(hub, caller, msg);
            let nanos = start.elapsed().as_nanos() as u64;
            if let Some(c) = hub.metrics.set(set.name()) {
                c.calls += 1;
                c.nanos += nanos;
                c.errors += u64::from(result == Err(State::ELua));
            }
            return result;
        }
        if let Some(b) = self.rest.iter().find(|b| b.name.as_bytes() == msg.command) {
            return (b.exec)(hub, caller, msg);
        }
        Err(State::ENoCmd)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::hub::tests::{frame, hub, read_now, tcp};

    /// One command, `echo`, answering its payload, or failing with `fails`;
    /// counted under `name` (`None`: the trait's default).
    struct Echo {
        fails: Option<State>,
        name: Option<&'static str>,
    }

    impl CommandSet for Echo {
        fn list(&self) -> Vec<(String, String)> {
            vec![("echo".into(), "say it back".into())]
        }
        fn has(&self, name: &[u8]) -> bool {
            name == b"echo"
        }
        fn exec(&mut self, hub: &mut Hub, caller: usize, msg: &Message<'_>) -> Result<(), State> {
            // Long enough that the time counted for the set cannot be zero.
            std::thread::sleep(std::time::Duration::from_millis(1));
            match self.fails {
                Some(state) => Err(state),
                None => hub.send(caller, msg.payload),
            }
        }
        fn name(&self) -> &str {
            match self.name {
                Some(n) => n,
                None => "commands",
            }
        }
    }

    /// The trait's own default name, not `Echo`'s stand-in for it.
    struct Unnamed;

    impl CommandSet for Unnamed {
        fn list(&self) -> Vec<(String, String)> {
            Vec::new()
        }
        fn has(&self, _: &[u8]) -> bool {
            false
        }
        fn exec(&mut self, _: &mut Hub, _: usize, _: &Message<'_>) -> Result<(), State> {
            Ok(())
        }
    }

    #[test]
    fn a_set_is_counted_under_its_name_default_commands() {
        assert_eq!(Unnamed.name(), "commands");
        assert_eq!(Unnamed.event_fd(), None);
    }

    #[test]
    fn sets_are_counted_as_added_and_their_runs_under_their_names() {
        let (mut hub, _poll) = hub();
        let (a, mut peer) = tcp(&mut hub);
        let mut d = Dispatcher::new();
        assert_eq!(d.set_count(), 0);
        d.add_set(Box::new(Echo {
            fails: None,
            name: None,
        }));
        assert_eq!(d.set_count(), 1);
        d.add_set(Box::new(Unnamed));
        d.add_set(Box::new(Echo {
            fails: Some(State::ELua),
            name: Some("lua"),
        }));
        assert_eq!(d.set_count(), 3);
        assert_eq!(d.sets_mut().len(), 3);

        assert_eq!(d.dispatch_state(&mut hub, a, b"echo r\nhi"), Ok(()));
        assert_eq!(d.dispatch_state(&mut hub, a, b"echo r\nho"), Ok(()));
        // The first set that has the command runs it; the failing one is
        // reached once the first is gone from the list.
        d.sets_mut().swap(0, 2);
        assert_eq!(
            d.dispatch_state(&mut hub, a, b"echo r\nx"),
            Err(State::ELua)
        );
        let calls: Vec<(&str, u64, u64)> = hub
            .metrics
            .sets
            .iter()
            .map(|s| (s.name.as_str(), s.calls, s.errors))
            .collect();
        assert_eq!(calls, [("commands", 2, 0), ("lua", 1, 1)]);
        // Each run's time is added to its set's (a lower bound: the sleep).
        let nanos: Vec<bool> = hub
            .metrics
            .sets
            .iter()
            .map(|s| s.nanos >= s.calls * 1_000_000)
            .collect();
        assert_eq!(nanos, [true, true]);
        assert_eq!(hub.metrics.messages_in, 3);
        hub.flush_dirty();
        let mut want = frame(b"hi");
        want.extend(frame(b"ho"));
        want.extend(frame(&message::nack(State::ELua)));
        assert_eq!(read_now(&mut peer), want);
    }
}
