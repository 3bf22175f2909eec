//! How C calls reach a reactor. A reactor is in one of three states: idle
//! (the C program may use it whole), running (`ducq_loop`: only the hub is
//! reachable, and only while it is lent to a C callback through the
//! server's [`HubSlot`]), or gone. `FfiCtx` is what the C-facing pieces
//! of one reactor share: that slot, the owner handle, the C commands, the
//! Lua host, and the `ducq_i` handles the reactor lends or owns. A call
//! that would alias a live borrow is refused with `DUCQ_ERROR`.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::ffi::CString;
use std::rc::Rc;

use super::command::CCommand;
use super::handle::{Handle, Kind};
use super::lent::ServerSide;
use super::reactor::ducq_reactor;
use super::vtbl::ducq_i;
use crate::lua::LuaCommands;
use crate::proto::State;
use crate::server::bridge::Sources;
use crate::server::{ConnId, Hub, HubSlot, Reactor, StopHandle};

/// Lent handles kept beyond this many (and beyond twice the connections)
/// are swept of those whose client is gone.
const SWEEP_ABOVE: usize = 64;

/// What the C-facing pieces of one reactor share.
pub(crate) struct FfiCtx {
    /// The hub, while lent to C callbacks.
    pub(crate) slot: HubSlot,
    /// Rust code holds the whole reactor (it runs, or an entry on the idle
    /// reactor is in progress).
    busy: Cell<bool>,
    /// The C handle owning the reactor (null for a reactor owned by Rust
    /// code, and after `ducq_reactor_free`).
    owner: Cell<*mut ducq_reactor>,
    /// The C commands (registered or from plugins), in registration order.
    pub(crate) commands: RefCell<Vec<CCommand>>,
    /// The Lua host of `ducq_dispatcher_add`, once created (also held by
    /// the reactor's dispatcher as a command set).
    pub(crate) lua: RefCell<Option<Rc<RefCell<LuaCommands>>>>,
    pub(crate) stop: StopHandle,
    /// The descriptors the C program gave the reactor to poll
    /// (`ducq_reactor_add_server`, table-driven clients); C-owned reactors.
    pub(crate) sources: RefCell<Option<Sources>>,
    /// The string `ducq_get_last_msg` returned last.
    pub(crate) last_msg: RefCell<CString>,
    /// One handle per client lent to callbacks, so a client is the same
    /// `ducq_i *` in every callback (C code compares pointers), including
    /// the handle a C program gave `ducq_reactor_add_client`.
    lent: RefCell<HashMap<ConnId, Box<Handle>>>,
}

/// Clears `busy` when an entry on the whole reactor ends, panics included.
struct Busy<'a>(&'a Cell<bool>);

impl Drop for Busy<'_> {
    fn drop(&mut self) {
        self.0.set(false);
    }
}

impl FfiCtx {
    pub(crate) fn new(stop: StopHandle) -> Rc<FfiCtx> {
        Rc::new(FfiCtx {
            slot: HubSlot::new(),
            busy: Cell::new(false),
            owner: Cell::new(std::ptr::null_mut()),
            commands: RefCell::new(Vec::new()),
            lua: RefCell::new(None),
            stop,
            sources: RefCell::new(None),
            last_msg: RefCell::new(CString::default()),
            lent: RefCell::new(HashMap::new()),
        })
    }

    /// The handle to give C callbacks as their reactor: the owner, or null
    /// for a reactor owned by Rust code.
    pub(crate) fn owner(&self) -> *mut ducq_reactor {
        self.owner.get()
    }

    pub(crate) fn set_owner(&self, owner: *mut ducq_reactor) {
        self.owner.set(owner);
    }

    /// Whether the whole reactor can be taken now: a C-owned reactor that
    /// is neither running nor lent to a callback.
    pub(crate) fn is_idle(&self) -> bool {
        !self.busy.get() && !self.slot.is_lent() && !self.owner.get().is_null()
    }

    /// Runs `f` with the whole reactor: refused (`Error`) while it runs, is
    /// lent to a callback, or for a reactor owned by Rust code.
    pub(crate) fn with_reactor<R>(&self, f: impl FnOnce(&mut Reactor) -> R) -> Result<R, State> {
        if !self.is_idle() {
            return Err(State::Error);
        }
        let owner = self.owner.get();
        // SAFETY: a non-null owner is a live `ducq_reactor` (it clears
        // itself here before it is freed).
        let Some(cell) = (unsafe { &*owner }).reactor.as_ref() else {
            return Err(State::Error);
        };
        self.busy.set(true);
        let _busy = Busy(&self.busy);
        // SAFETY: not busy and not lent, so no other borrow of the reactor
        // is live; `busy` keeps every other entry away until `f` ends.
        Ok(f(unsafe { &mut *cell.get() }))
    }

    /// Runs `f` with the hub lent to C: the lending in progress, or the idle
    /// reactor's hub, lent for the call.
    pub(crate) fn lent<R>(&self, f: impl FnOnce() -> R) -> Result<R, State> {
        if self.slot.is_lent() {
            return Ok(f());
        }
        self.with_reactor(|re| self.slot.lend(re.hub_mut(), None, f).0)
    }

    /// Runs `f` on the hub (see [`HubSlot::with`]); `f` must not call C.
    pub(crate) fn with_hub<R>(&self, f: impl FnOnce(&mut Hub) -> R) -> Result<R, State> {
        self.lent(|| self.slot.with(f))?.map_err(|_| State::Error)
    }

    /// The handle lent to callbacks for client `id`: the same pointer for
    /// the same client as long as it is open.
    pub(crate) fn lent_handle(self: &Rc<Self>, id: ConnId) -> *mut ducq_i {
        let mut map = self.lent.borrow_mut();
        let h = map
            .entry(id)
            .or_insert_with(|| Box::new(Handle::new(Kind::Server(ServerSide::lent(self, id)))));
        h.as_ducq()
    }

    /// Forgets the lent handles of clients that are gone, once there are
    /// many. Only called when no C callback runs (none can hold one).
    pub(crate) fn sweep(&self, hub: &Hub) {
        let mut map = self.lent.borrow_mut();
        if map.len() > SWEEP_ABOVE && map.len() > 2 * hub.len() {
            map.retain(|id, _| hub.resolve(*id).is_some());
        }
    }

    /// Takes over a handle a C program made for client `id`
    /// (`ducq_reactor_add_client`): from now on it is the handle lent for
    /// that client, freed by the reactor.
    pub(crate) fn adopt_handle(&self, id: ConnId, handle: Box<Handle>) {
        self.lent.borrow_mut().insert(id, handle);
    }

    /// Lets go of every handle (when the reactor is freed).
    pub(crate) fn release_handles(&self) {
        let handles = std::mem::take(&mut *self.lent.borrow_mut());
        drop(handles);
    }
}
