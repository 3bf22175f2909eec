//! The C side of the original's descriptor calls: a `ducq_i` written in C
//! (or any table) added with `ducq_reactor_add_client` becomes a
//! [`Port`] of the reactor's bridge, driven through its table; a listening
//! descriptor given to `ducq_reactor_add_server` becomes an [`Acceptor`]
//! calling the C accept callback. Both run their C calls with the hub lent,
//! so the callbacks may call the reactor. The bridging itself is
//! [`crate::server::bridge`]'s.

use std::cell::Cell;
use std::ffi::{c_int, c_void, CStr};
use std::net::SocketAddr;
use std::os::fd::RawFd;
use std::rc::{Rc, Weak};

use super::access::FfiCtx;
use super::calls::ducq_send_ack;
use super::handle::Handle;
use super::vtbl::{ducq_close, ducq_free, ducq_i, ducq_id, table};
use crate::proto::State;
use crate::server::bridge::{Acceptor, Port};
use crate::server::Hub;

type AcceptFn = unsafe extern "C" fn(*mut super::reactor::ducq_reactor, c_int, *mut c_void);

/// A `ducq_i` driven through its table by the reactor.
struct CPort {
    ducq: *mut ducq_i,
    fd: RawFd,
    ctx: Weak<FfiCtx>,
    /// Set once the reactor owns the handle: only then does dropping the
    /// port close and free it.
    owned: Rc<Cell<bool>>,
}

impl CPort {
    /// Runs C code with `hub` lent to it (for the calls it may make).
    fn lent<R>(&self, hub: &mut Hub, f: impl FnOnce() -> R) -> R {
        match self.ctx.upgrade() {
            Some(ctx) => ctx.slot.lend(hub, None, f).0,
            None => f(),
        }
    }
}

impl Port for CPort {
    fn fd(&self) -> RawFd {
        self.fd
    }

    fn recv(&mut self, hub: &mut Hub, buf: &mut Vec<u8>) -> Result<bool, State> {
        let cap = hub.settings().max_message + 1;
        buf.resize(cap, 0);
        let mut size = cap;
        let ducq = self.ducq;
        // SAFETY: the handle's own table (add_client contract); `buf` is
        // writable for `size` bytes.
        let rc = self.lent(hub, || match unsafe { table(ducq) }.and_then(|t| t.recv) {
            Some(recv) => unsafe { recv(ducq, buf.as_mut_ptr().cast(), &mut size) },
            None => State::ENoImpl.into(),
        });
        match rc.state() {
            State::Ok => {
                buf.truncate(size.min(cap));
                Ok(true)
            }
            State::Protocol => Ok(false),
            s => Err(s),
        }
    }

    fn send(&mut self, hub: &mut Hub, msg: &[u8]) -> Result<(), State> {
        let mut size = msg.len();
        let ducq = self.ducq;
        // SAFETY: the handle's own table; `msg` readable for `size` bytes.
        let rc = self.lent(hub, || match unsafe { table(ducq) }.and_then(|t| t.send) {
            Some(send) => unsafe { send(ducq, msg.as_ptr().cast(), &mut size) },
            None => State::ENoImpl.into(),
        });
        match rc.state() {
            State::Ok => Ok(()),
            s => Err(s),
        }
    }

    fn refuse(&mut self, hub: &mut Hub, state: State) {
        let ducq = self.ducq;
        // SAFETY: a live handle, owned by the reactor.
        self.lent(hub, || unsafe { ducq_send_ack(ducq, state.into()) });
    }
}

impl Drop for CPort {
    fn drop(&mut self) {
        if self.owned.get() {
            // SAFETY: the reactor owns the handle (add_client succeeded) and
            // releases it once, as the original did: close, then free.
            unsafe {
                ducq_close(self.ducq);
                ducq_free(self.ducq);
            }
        }
    }
}

/// The id prefix and peer a bridged connection is listed under, from the
/// handle's own id (`LINE:127.0.0.1:4000`): the part before the first `:`
/// and the address after it; the descriptor's peer when the id has none.
fn name_and_peer(id: &str, fd: RawFd) -> (String, SocketAddr) {
    let (name, rest) = id.split_once(':').unwrap_or((id, ""));
    let clean: String = name
        .chars()
        .filter(|c| !c.is_control() && *c != ',' && *c != ' ')
        .collect();
    let name = if clean.is_empty() {
        "C".to_owned()
    } else {
        clean
    };
    let peer = rest.parse::<SocketAddr>().ok().or_else(|| {
        // SAFETY: the descriptor is borrowed for this lookup only.
        let s = std::mem::ManuallyDrop::new(unsafe {
            <std::net::TcpStream as std::os::fd::FromRawFd>::from_raw_fd(fd)
        });
        s.peer_addr().ok()
    });
    (
        name,
        peer.unwrap_or_else(|| SocketAddr::from(([0, 0, 0, 0], 0))),
    )
}

/// `ducq_reactor_add_client` for a handle ducq did not make from a
/// descriptor.
///
/// # Safety
/// `ducq` is a live handle whose table reads and writes `fd`.
pub(crate) unsafe fn add_client(
    ctx: &Rc<FfiCtx>,
    fd: c_int,
    ducq: *mut ducq_i,
) -> Result<(), State> {
    // SAFETY: a live handle (caller contract).
    if unsafe { Handle::is_ours(ducq) } || fd < 0 {
        // ducq's clients buffer input where the reactor's poll cannot see
        // it, and its lent handles are clients already.
        return Err(State::EMsgInv);
    }
    // SAFETY: as above.
    if unsafe { table(ducq) }.is_none_or(|t| t.recv.is_none() || t.send.is_none()) {
        return Err(State::ENoImpl);
    }
    let sources = ctx.sources.borrow().clone().ok_or(State::Error)?;
    // SAFETY: as above; the id is copied at once.
    let id = unsafe { ducq_id(ducq) };
    let id = if id.is_null() {
        String::new()
    } else {
        // SAFETY: a NUL-terminated string owned by the handle.
        unsafe { CStr::from_ptr(id) }.to_string_lossy().into_owned()
    };
    let (name, peer) = name_and_peer(&id, fd);
    let owned = Rc::new(Cell::new(false));
    let port = Box::new(CPort {
        ducq,
        fd,
        ctx: Rc::downgrade(ctx),
        owned: owned.clone(),
    });
    match ctx.with_hub(|hub| sources.add_port(hub, port, &name, peer))? {
        Ok(_) => {
            owned.set(true);
            Ok(())
        }
        Err((state, _port)) => Err(state),
    }
}

/// A listening descriptor whose readiness calls a C accept callback.
struct CAcceptor {
    fd: RawFd,
    accept: AcceptFn,
    user: *mut c_void,
    ctx: Weak<FfiCtx>,
}

impl Acceptor for CAcceptor {
    fn fd(&self) -> RawFd {
        self.fd
    }

    fn accept(&mut self, hub: &mut Hub) {
        let Some(ctx) = self.ctx.upgrade() else {
            return;
        };
        let (accept, fd, user, owner) = (self.accept, self.fd, self.user, ctx.owner());
        // SAFETY: the C program's callback and its context
        // (`ducq_reactor_add_server` contract), with the reactor and its
        // hub lent for the call.
        ctx.slot
            .lend(hub, None, || unsafe { accept(owner, fd, user) });
    }
}

/// `ducq_reactor_add_server`'s body.
pub(crate) fn add_server(
    ctx: &Rc<FfiCtx>,
    fd: RawFd,
    accept: AcceptFn,
    user: *mut c_void,
) -> Result<(), State> {
    let sources = ctx.sources.borrow().clone().ok_or(State::Error)?;
    sources.add_listener(Box::new(CAcceptor {
        fd,
        accept,
        user,
        ctx: Rc::downgrade(ctx),
    }))
}
