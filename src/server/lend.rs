//! Lending the hub to code the borrow checker cannot follow — C callbacks
//! and Lua scripts — for the length of one call, and the reply rule of
//! commands written outside Rust. It is the one place that turns a
//! `&mut Hub` into a pointer: C commands, `ducq_reactor_loop` callbacks and
//! Lua commands all reach the hub through a [`HubSlot`].
//!
//! Two promises keep this sound. [`HubSlot::lend`] holds the `&mut Hub` it
//! was given until it returns, and puts the previous state back on the way
//! out (panics included), so the pointer never outlives the borrow. And
//! [`HubSlot::with`] takes the pointer out of the slot while its closure
//! runs, so a call that comes back in meanwhile (a log hook calling C, C
//! calling ducq) finds the slot empty and is refused instead of making a
//! second `&mut Hub`. Closures given to `with` must not call C or Lua code.

use std::cell::Cell;
use std::marker::PhantomData;
use std::ptr::NonNull;

use super::conn::ConnId;
use super::hub::Hub;
use crate::proto::State;

/// The hub could not be reached: nothing lends it now, or it is in use by
/// the call that led here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unreachable;

/// Where a lent hub waits for the callbacks of one call.
#[derive(Default)]
pub struct HubSlot {
    hub: Cell<Option<NonNull<Hub>>>,
    /// Lent at all (even while `with` has taken the pointer out).
    lent: Cell<bool>,
    /// The connection whose command runs, and whether it was sent anything.
    caller: Cell<Option<ConnId>>,
    replied: Cell<bool>,
    _not_send: PhantomData<*mut Hub>,
}

/// Puts a slot back as it was when a lending ends, even by a panic.
struct Restore<'s> {
    slot: &'s HubSlot,
    hub: Option<NonNull<Hub>>,
    lent: bool,
    caller: Option<ConnId>,
    replied: bool,
}

impl Drop for Restore<'_> {
    fn drop(&mut self) {
        self.slot.hub.set(self.hub);
        self.slot.lent.set(self.lent);
        self.slot.caller.set(self.caller);
        self.slot.replied.set(self.replied);
    }
}

impl HubSlot {
    /// An empty slot.
    pub fn new() -> HubSlot {
        HubSlot::default()
    }

    /// Lends `hub` to the calls made while `f` runs. `caller` is the
    /// connection whose command runs (none for other work); the result
    /// says whether that connection was sent anything through
    /// [`HubSlot::send`] meanwhile. Lendings nest: the previous one is back
    /// when this returns.
    pub fn lend<R>(
        &self,
        hub: &mut Hub,
        caller: Option<ConnId>,
        f: impl FnOnce() -> R,
    ) -> (R, bool) {
        let restore = Restore {
            slot: self,
            hub: self.hub.replace(Some(NonNull::from(hub))),
            lent: self.lent.replace(true),
            caller: self.caller.replace(caller),
            replied: self.replied.replace(false),
        };
        let out = f();
        let replied = self.replied.get();
        drop(restore);
        (out, replied)
    }

    /// Whether a hub is lent now (it may be in use by `with`).
    pub fn is_lent(&self) -> bool {
        self.lent.get()
    }

    /// The connection whose command runs, if any.
    pub fn caller(&self) -> Option<ConnId> {
        self.caller.get()
    }

    /// Counts an answer that will reach `id` later (a request whose reply
    /// comes from another connection) as the running command's reply when
    /// `id` is its caller. Returns whether it was the caller.
    pub fn reply_deferred(&self, id: ConnId) -> bool {
        let caller = self.caller.get() == Some(id);
        if caller {
            self.replied.set(true);
        }
        caller
    }

    /// Runs `f` with the lent hub. `Unreachable` when none is lent or it is
    /// in use by an outer `with` (a re-entrant call). `f` must not call C or
    /// Lua code.
    pub fn with<R>(&self, f: impl FnOnce(&mut Hub) -> R) -> Result<R, Unreachable> {
        let mut ptr = self.hub.take().ok_or(Unreachable)?;
        struct PutBack<'s>(&'s Cell<Option<NonNull<Hub>>>, NonNull<Hub>);
        impl Drop for PutBack<'_> {
            fn drop(&mut self) {
                self.0.set(Some(self.1));
            }
        }
        let _back = PutBack(&self.hub, ptr);
        // SAFETY: the pointer comes from the `&mut Hub` a running `lend`
        // holds (it leaves the slot before that borrow ends), so it is valid
        // and unaliased by Rust code, which waits for `lend` to return. It
        // was taken out of the slot, so no other `&mut Hub` is made from it
        // until it is put back, after `f`. One thread: the slot is not Sync.
        Ok(f(unsafe { ptr.as_mut() }))
    }

    /// Sends one message to `id` as a command's reply or notice, with the
    /// checks every sender gets: `EMsgInv` for an empty message (on TCP an
    /// empty frame means "closed"), `EMsgSize` past the largest message,
    /// `ENotFound` when the connection is gone, `Error` when the hub cannot
    /// be reached. A message to the running command's caller counts as its
    /// reply (see [`command_result`]).
    pub fn send(&self, id: ConnId, msg: &[u8]) -> Result<(), State> {
        self.with(|hub| {
            if msg.is_empty() {
                return Err(State::EMsgInv);
            }
            if msg.len() > hub.settings().max_message {
                return Err(State::EMsgSize);
            }
            let key = hub.resolve(id).ok_or(State::ENotFound)?;
            if self.caller.get() == Some(id) {
                self.replied.set(true);
            }
            hub.send(key, msg)
        })
        .unwrap_or(Err(State::Error))
    }
}

/// The reply rule of commands written in C or Lua: they answer their caller
/// themselves; one that returns an error state (3 and up) without having
/// sent its caller anything gets it answered with a NACK of that state
/// (`Err`, which the dispatcher turns into the NACK). Any other outcome
/// needs nothing more.
pub fn command_result(state: State, replied: bool) -> Result<(), State> {
    if state.is_error() && !replied {
        Err(state)
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reply_rule() {
        assert_eq!(command_result(State::Ok, false), Ok(()));
        assert_eq!(command_result(State::Protocol, false), Ok(()));
        assert_eq!(command_result(State::Nack, false), Ok(()));
        assert_eq!(command_result(State::EAck, false), Err(State::EAck));
        assert_eq!(command_result(State::EAck, true), Ok(()));
    }

    #[test]
    fn a_call_coming_back_in_is_refused_and_lending_ends_cleanly() {
        let mut r = crate::server::Reactor::new(crate::server::Settings::default()).unwrap();
        let slot = HubSlot::new();
        let ((outer, inner), replied) = slot.lend(r.hub_mut(), None, || {
            let inner = std::cell::Cell::new(None);
            let outer = slot.with(|hub| {
                inner.set(Some(slot.with(|_| ()) == Err(Unreachable)));
                hub.len()
            });
            assert!(slot.is_lent());
            (outer, inner.get())
        });
        assert_eq!((outer, inner, replied), (Ok(0), Some(true), false));
        assert!(!slot.is_lent());
        assert_eq!(slot.with(|_| ()), Err(Unreachable));
    }

    #[test]
    fn a_panic_inside_a_lending_leaves_nothing_lent() {
        let mut r = crate::server::Reactor::new(crate::server::Settings::default()).unwrap();
        let slot = HubSlot::new();
        let hook = std::panic::take_hook();
        std::panic::set_hook(Box::new(|_| {}));
        let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            slot.lend(r.hub_mut(), None, || slot.with(|_| panic!("in a callback")))
        }));
        std::panic::set_hook(hook);
        assert!(caught.is_err());
        assert!(!slot.is_lent());
        assert_eq!(slot.with(|_| ()), Err(Unreachable));
    }

    #[test]
    fn nothing_lent_is_unreachable() {
        let slot = HubSlot::new();
        assert!(!slot.is_lent());
        assert_eq!(slot.with(|_| ()), Err(Unreachable));
        let id = ConnId { key: 0, gen: 1 };
        assert_eq!(slot.send(id, b"x"), Err(State::Error));
    }

    #[test]
    fn sends_are_checked_and_only_the_callers_count_as_its_reply() {
        use crate::server::hub::tests::{frame, hub, read_now, tcp};
        let (mut hub, _poll) = hub();
        hub.settings.max_message = 5;
        let (a, mut pa) = tcp(&mut hub);
        let (b, mut pb) = tcp(&mut hub);
        let (ida, idb) = (hub.conn_id(a).unwrap(), hub.conn_id(b).unwrap());
        let slot = HubSlot::new();
        assert_eq!(slot.caller(), None);
        let (sent, replied) = slot.lend(&mut hub, Some(ida), || {
            assert_eq!(slot.caller(), Some(ida));
            [
                slot.send(idb, b""),
                slot.send(idb, b"123456"),
                slot.send(idb, b"12345"),
                slot.send(ConnId { key: b, gen: 9 }, b"x"),
            ]
        });
        let want = [
            Err(State::EMsgInv),
            Err(State::EMsgSize),
            Ok(()),
            Err(State::ENotFound),
        ];
        assert_eq!((sent, replied), (want, false));
        assert_eq!(slot.caller(), None);
        let (sent, replied) = slot.lend(&mut hub, Some(ida), || slot.send(ida, b"hi"));
        assert_eq!((sent, replied), (Ok(()), true));
        // A deferred answer counts only for the caller.
        let (deferred, replied) = slot.lend(&mut hub, Some(ida), || slot.reply_deferred(idb));
        assert_eq!((deferred, replied), (false, false));
        let (deferred, replied) = slot.lend(&mut hub, Some(ida), || slot.reply_deferred(ida));
        assert_eq!((deferred, replied), (true, true));
        // A lending inside another has its own caller and reply; the
        // outer one's are back after it.
        let ((inner, caller), replied) = slot.lend(&mut hub, Some(ida), || {
            let inner = slot
                .with(|hub| slot.lend(hub, Some(idb), || (slot.caller(), slot.send(idb, b"in"))))
                .unwrap();
            (inner, slot.caller())
        });
        assert_eq!(inner, ((Some(idb), Ok(())), true));
        assert_eq!((caller, replied), (Some(ida), false));
        hub.flush_dirty();
        assert_eq!(read_now(&mut pb), [frame(b"12345"), frame(b"in")].concat());
        assert_eq!(read_now(&mut pa), frame(b"hi"));
    }
}
