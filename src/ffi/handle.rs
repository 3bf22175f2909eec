//! The `ducq_i` objects ducq makes. Each is a `Handle`: the interface
//! object (its table pointer first, as the original's) followed by what
//! the handle is — a client ([`super::client`]), a reactor's client
//! ([`super::lent`]) or an accepted descriptor ([`super::fdconn`]) — and
//! the bookkeeping every kind shares (its id string, its last error, the
//! deferred free of `ducq_listen`). The table at the end routes each
//! original entry to the kind's code.
//!
//! Without `std` (the device library) a handle is always a client: the
//! server-side kinds are left out with the server.

use alloc::borrow::ToOwned;
use alloc::boxed::Box;
use alloc::ffi::CString;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::cell::Cell;
use core::ffi::{c_char, c_int, c_void};
use core::time::Duration;

use super::client::{on_client, AnyClient, ClientSide};
#[cfg(feature = "std")]
use super::fdconn::FdSide;
#[cfg(feature = "std")]
use super::lent::ServerSide;
#[cfg(feature = "std")]
use super::reconnect;
use super::state::RawState;
use super::vtbl::{ducq_i, ducq_vtbl};
use super::{boundary, copy_out, slice_arg};
use crate::client::Error;
use crate::proto::{State, END, PARTS};

/// What a handle is.
pub(crate) enum Kind {
    /// A client of a server.
    Client(Box<ClientSide>),
    /// A client of one of our reactors, lent to a callback or kept.
    #[cfg(feature = "std")]
    Server(ServerSide),
    /// An accepted descriptor not (yet) added to a reactor.
    #[cfg(feature = "std")]
    Fd(Box<FdSide>),
}

/// A `ducq_i` made by ducq.
#[repr(C)]
pub(crate) struct Handle {
    /// The interface object: `base.tbl` is [`TABLE`].
    base: ducq_i,
    pub(crate) kind: Kind,
    id: Option<CString>,
    error: CString,
    /// The state the last NACK carried, when the last failure was one.
    nack: Option<State>,
    /// `ducq_listen` callbacks running on this handle.
    pub(crate) depth: Cell<u32>,
    /// `ducq_free` was called during a callback: free when it returns.
    pub(crate) free_pending: Cell<bool>,
    /// `ducq_buffer`'s scratch, made on first use.
    #[cfg(feature = "std")]
    buffer: Option<Box<[u8]>>,
    /// Made by `into_raw` for the caller: `ducq_free` releases it. Handles
    /// lent to callbacks or owned by a reactor are not.
    caller_owned: bool,
}

/// Bytes of `ducq_buffer`: a WebSocket header and the original's message
/// size, as the original's buffer was.
#[cfg(feature = "std")]
const BUFFER_SIZE: usize = 14 + 256;

impl Handle {
    /// A handle of this kind (not yet placed where C sees it).
    pub(crate) fn new(kind: Kind) -> Handle {
        Handle {
            base: ducq_i { tbl: &TABLE },
            kind,
            id: None,
            error: CString::default(),
            nack: None,
            depth: Cell::new(0),
            free_pending: Cell::new(false),
            #[cfg(feature = "std")]
            buffer: None,
            caller_owned: false,
        }
    }

    /// A handle the caller owns, freed by `ducq_free`.
    pub(crate) fn into_raw(kind: Kind) -> *mut ducq_i {
        let mut h = Handle::new(kind);
        h.caller_owned = true;
        Box::into_raw(Box::new(h)).cast()
    }

    /// Takes back a handle made by `into_raw` (a reactor taking it over);
    /// `ducq_free` is a no-op on it from now on.
    ///
    /// # Safety
    /// `p` is a caller-owned handle from `into_raw`, not freed, and nothing
    /// borrows it during the call.
    #[cfg(feature = "std")]
    pub(crate) unsafe fn take_over(p: *mut ducq_i) -> Box<Handle> {
        // SAFETY: forwarded caller contract.
        let mut h = unsafe { Box::from_raw(p.cast::<Handle>()) };
        h.caller_owned = false;
        h
    }

    /// Whether `ducq_free` releases it.
    #[cfg(feature = "std")]
    pub(crate) fn is_caller_owned(&self) -> bool {
        self.caller_owned
    }

    /// The interface pointer C sees for this handle.
    #[cfg(feature = "std")]
    pub(crate) fn as_ducq(&mut self) -> *mut ducq_i {
        (self as *mut Handle).cast()
    }

    /// Whether `p` is a handle made by ducq.
    ///
    /// # Safety
    /// `p` is NULL or a live `ducq_i`.
    pub(crate) unsafe fn is_ours(p: *mut ducq_i) -> bool {
        // SAFETY: NULL or a live object whose first member is its table.
        !p.is_null() && core::ptr::eq(unsafe { (*p).tbl }, &TABLE)
    }

    /// Borrows a handle made by ducq for the length of one call; `None`
    /// for NULL or an object made elsewhere.
    ///
    /// # Safety
    /// `p` is NULL or a live `ducq_i` not borrowed elsewhere for the call.
    /// Exports never keep this borrow across a call into C.
    pub(crate) unsafe fn from_ptr<'a>(p: *mut ducq_i) -> Option<&'a mut Handle> {
        // SAFETY: forwarded caller contract; our handles start with `base`
        // (repr(C)), so the pointer is the handle's.
        unsafe { Handle::is_ours(p).then(|| &mut *p.cast::<Handle>()) }
    }

    /// Records the detail of a failure for `ducq_last_error`.
    pub(crate) fn fail(&mut self, state: State, detail: &str) -> State {
        let text = if detail.is_empty() {
            state.text().to_owned()
        } else {
            detail.replace('\0', " ")
        };
        self.error = CString::new(text).unwrap_or_default();
        self.nack = None;
        state
    }

    /// The state the last NACK carried, when the last failure was one.
    pub(crate) fn last_nack(&self) -> Option<State> {
        self.nack
    }

    /// The state for a client error (a NACK gives the state it carries).
    fn client_error(&mut self, e: &Error) -> State {
        let state = match e {
            Error::Nack { state, .. } if state.is_error() => *state,
            other => other.state(),
        };
        self.fail(state, &e.to_string());
        if let Error::Nack { state, .. } = e {
            self.nack = Some(*state);
        }
        state
    }

    /// Runs an operation on the handle's blocking client, recording its
    /// error; a connection that closed or failed is dropped, so the handle
    /// reads as closed until `ducq_conn`.
    pub(crate) fn with_client<T>(
        &mut self,
        op: impl FnOnce(&mut AnyClient) -> Result<T, Error>,
    ) -> Result<T, State> {
        let conn = match &mut self.kind {
            Kind::Client(c) => c.conn.as_mut().ok_or(State::EConnClosed),
            #[cfg(feature = "std")]
            Kind::Fd(f) => f.engine(),
            #[cfg(feature = "std")]
            Kind::Server(_) => Err(State::ENoImpl),
        };
        let result = match conn {
            Ok(c) => op(c),
            Err(state) => return Err(self.fail(state, "")),
        };
        result.map_err(|e| {
            if matches!(e, Error::Closed | Error::Io { .. }) {
                match &mut self.kind {
                    Kind::Client(c) => {
                        c.conn = None;
                        #[cfg(feature = "std")]
                        {
                            c.resume.lost = true;
                        }
                    }
                    #[cfg(feature = "std")]
                    Kind::Fd(f) => f.engine = None,
                    #[cfg(feature = "std")]
                    Kind::Server(_) => {}
                }
            }
            self.client_error(&e)
        })
    }

    /// Connects a client handle.
    pub(crate) fn connect(&mut self) -> Result<(), State> {
        self.id = None;
        match &mut self.kind {
            #[cfg(feature = "std")]
            Kind::Client(c) => match reconnect::connect(c) {
                Ok(()) => Ok(()),
                Err((s, text)) => Err(self.fail(s, &text)),
            },
            #[cfg(not(feature = "std"))]
            Kind::Client(c) => c.connect().map_err(|(s, text)| self.fail(s, &text)),
            #[cfg(feature = "std")]
            Kind::Fd(_) | Kind::Server(_) => Err(self.fail(State::ENoImpl, "")),
        }
    }

    /// Sends one message body.
    pub(crate) fn send_msg(&mut self, msg: &[u8]) -> Result<(), State> {
        #[cfg(feature = "std")]
        if let Kind::Server(s) = &self.kind {
            let result = s.send(msg);
            return result.map_err(|e| self.fail(e, ""));
        }
        self.with_client(|c| on_client!(c, cl => cl.send(msg)))?;
        #[cfg(feature = "std")]
        if let Kind::Client(c) = &mut self.kind {
            c.resume.sent(msg);
        }
        Ok(())
    }

    /// The next message (PINGs answered and skipped). A client handle
    /// with a reconnect policy whose connection is lost under the receive
    /// connects again and goes on (`reconnect`).
    pub(crate) fn receive_msg(&mut self) -> Result<Vec<u8>, State> {
        loop {
            let result = self.with_client(|c| on_client!(c, cl => cl.receive()));
            #[cfg(feature = "std")]
            let recovered = match &mut self.kind {
                Kind::Client(c) if result.is_err() => reconnect::recover(c),
                _ => false,
            };
            // A device handle has no reconnect policy.
            #[cfg(not(feature = "std"))]
            let recovered = false;
            if !recovered {
                #[cfg(feature = "std")]
                if let (Kind::Client(c), Ok(m)) = (&mut self.kind, &result) {
                    c.resume.received(m);
                }
                return result;
            }
            // A new connection: a new address of this end.
            self.id = None;
        }
    }

    /// Keeps a publication for the next connection: a client handle whose
    /// connection is lost and whose reconnect policy has a buffer. `None`
    /// when it does not apply (the publish fails as it did); `Some(Ok)`
    /// kept; `Some(EMax)` the buffer is full (recorded as the last error).
    pub(crate) fn keep_offline(&mut self, route: &str, payload: &[u8]) -> Option<State> {
        let kept = match &mut self.kind {
            #[cfg(feature = "std")]
            Kind::Client(c) => c.resume.keep(route, payload),
            _ => {
                let _ = (route, payload);
                None
            }
        };
        match kept {
            Some(State::EMax) => Some(self.fail(
                State::EMax,
                "the buffer for publications while disconnected is full",
            )),
            other => other,
        }
    }

    /// Notes a subscription made with `ducq_sub`: a client handle with a
    /// reconnect policy makes it again on a new connection.
    pub(crate) fn subscribed(&mut self, route: &str, options: &str) {
        #[cfg(feature = "std")]
        if let Kind::Client(c) = &mut self.kind {
            c.resume.subscribed(route, options);
        }
        #[cfg(not(feature = "std"))]
        let _ = (route, options);
    }

    /// Notes credentials the server accepted: a client handle with a
    /// reconnect policy authenticates again on a new connection.
    #[cfg(feature = "std")]
    pub(crate) fn authenticated(&mut self, user: &str, password: &[u8]) {
        if let Kind::Client(c) = &mut self.kind {
            c.resume.authenticated(user, password);
        }
    }

    /// Puts a message back in front of the receive queue.
    pub(crate) fn unreceive(&mut self, msg: Vec<u8>) {
        let _ = self.with_client(|c| {
            on_client!(c, cl => cl.unreceive(msg));
            Ok(())
        });
    }

    /// Whether the handle has a connection (a reactor's client: whether it
    /// is still open).
    pub(crate) fn is_connected(&self) -> bool {
        match &self.kind {
            Kind::Client(c) => c.conn.is_some(),
            #[cfg(feature = "std")]
            Kind::Fd(f) => f.is_open(),
            #[cfg(feature = "std")]
            Kind::Server(s) => s.is_open(),
        }
    }

    fn id_string(&self) -> String {
        match &self.kind {
            Kind::Client(c) => c.id_string(),
            #[cfg(feature = "std")]
            Kind::Fd(f) => f.id_string(),
            #[cfg(feature = "std")]
            Kind::Server(s) => s.id_string(),
        }
    }

    /// The id as a string owned by the handle.
    pub(crate) fn id_ptr(&mut self) -> *const c_char {
        let id = CString::new(self.id_string()).unwrap_or_default();
        if self.id.as_ref() != Some(&id) {
            self.id = Some(id);
        }
        self.id.as_ref().map_or(core::ptr::null(), |s| s.as_ptr())
    }

    /// The detail of the last failure.
    pub(crate) fn last_error(&self) -> *const c_char {
        self.error.as_ptr()
    }

    /// The scratch buffer of `ducq_buffer` (WebSocket handles only).
    #[cfg(feature = "std")]
    pub(crate) fn buffer(&mut self) -> *mut c_char {
        let ws = match &self.kind {
            Kind::Client(c) => c.is_ws(),
            #[cfg(feature = "std")]
            Kind::Fd(f) => f.is_ws(),
            #[cfg(feature = "std")]
            Kind::Server(_) => false,
        };
        if !ws {
            return core::ptr::null_mut();
        }
        self.buffer
            .get_or_insert_with(|| alloc::vec![0; BUFFER_SIZE].into_boxed_slice())
            .as_mut_ptr()
            .cast()
    }

    fn set_timeout(&mut self, timeout: c_int) -> Result<(), State> {
        let t = u64::try_from(timeout)
            .ok()
            .filter(|&s| s > 0)
            .map(Duration::from_secs);
        let result = match &mut self.kind {
            Kind::Client(c) => c.set_timeout(t),
            #[cfg(feature = "std")]
            Kind::Fd(f) => f.set_timeout(t),
            #[cfg(feature = "std")]
            Kind::Server(_) => Ok(()),
        };
        result.map_err(|e| self.client_error(&e))
    }

    fn close(&mut self) -> Result<(), State> {
        self.id = None;
        match &mut self.kind {
            Kind::Client(c) => {
                c.conn = None;
                #[cfg(feature = "std")]
                c.resume.forget();
                Ok(())
            }
            #[cfg(feature = "std")]
            Kind::Fd(f) => f.close(),
            #[cfg(feature = "std")]
            Kind::Server(s) => s.close(),
        }
    }

    fn copy(&self) -> *mut ducq_i {
        match &self.kind {
            Kind::Client(c) => Handle::into_raw(Kind::Client(Box::new(c.copy()))),
            #[cfg(feature = "std")]
            Kind::Server(s) => Handle::into_raw(Kind::Server(s.keep())),
            #[cfg(feature = "std")]
            Kind::Fd(f) => Handle::into_raw(Kind::Fd(Box::new(f.copy()))),
        }
    }

    fn eq(&self, other: &Handle) -> bool {
        match (&self.kind, &other.kind) {
            #[cfg(feature = "std")]
            (Kind::Server(x), Kind::Server(y)) => x.same_client(y),
            #[cfg(feature = "std")]
            (Kind::Fd(x), Kind::Fd(y)) => x.fd() == y.fd() && x.fd() >= 0,
            (Kind::Client(_), Kind::Client(_)) => self.id_string() == other.id_string(),
            #[cfg(feature = "std")]
            _ => false,
        }
    }
}

/// Runs a table entry on one of our handles: `ENull` for anything else.
fn entry(ducq: *mut ducq_i, f: impl FnOnce(&mut Handle) -> Result<(), State>) -> RawState {
    boundary(|| {
        // SAFETY: the table's entries receive the handle they belong to.
        match unsafe { Handle::from_ptr(ducq) } {
            Some(h) => f(h).into(),
            None => State::ENull.into(),
        }
    })
}

unsafe extern "C" fn h_conn(ducq: *mut ducq_i) -> RawState {
    entry(ducq, Handle::connect)
}

unsafe extern "C" fn h_send(ducq: *mut ducq_i, buf: *const c_void, size: *mut usize) -> RawState {
    entry(ducq, |h| {
        super::nonnull(size)?;
        // SAFETY: `size` is valid and `buf` readable for `*size` bytes
        // (`ducq_send` contract, checked there).
        let msg = unsafe { slice_arg(buf.cast(), *size) }?;
        h.send_msg(msg)
    })
}

unsafe extern "C" fn h_parts(ducq: *mut ducq_i) -> RawState {
    entry(ducq, |h| h.send_msg(PARTS))
}

unsafe extern "C" fn h_end(ducq: *mut ducq_i) -> RawState {
    entry(ducq, |h| h.send_msg(END))
}

unsafe extern "C" fn h_recv(ducq: *mut ducq_i, buf: *mut c_char, size: *mut usize) -> RawState {
    entry(ducq, |h| {
        super::nonnull(buf)?;
        super::nonnull(size)?;
        let msg = h.receive_msg()?;
        // SAFETY: `buf` writable for `*size` bytes (`ducq_recv` contract).
        unsafe { copy_out(&msg, buf, size) }.inspect_err(|_| h.unreceive(msg))
    })
}

unsafe extern "C" fn h_id(ducq: *mut ducq_i) -> *const c_char {
    boundary(|| {
        // SAFETY: the table's entries receive the handle they belong to.
        unsafe { Handle::from_ptr(ducq) }.map_or(core::ptr::null(), Handle::id_ptr)
    })
}

unsafe extern "C" fn h_copy(ducq: *mut ducq_i) -> *mut ducq_i {
    boundary(|| {
        // SAFETY: the table's entries receive the handle they belong to.
        unsafe { Handle::from_ptr(ducq) }.map_or(core::ptr::null_mut(), |h| h.copy())
    })
}

unsafe extern "C" fn h_eq(a: *mut ducq_i, b: *mut ducq_i) -> bool {
    boundary(|| {
        // SAFETY: live handles (`ducq_eq` contract); only read.
        match unsafe { (Handle::from_ptr(a), Handle::from_ptr(b)) } {
            (Some(x), Some(y)) => x.eq(y),
            _ => false,
        }
    })
}

unsafe extern "C" fn h_timeout(ducq: *mut ducq_i, timeout: c_int) -> RawState {
    entry(ducq, |h| h.set_timeout(timeout))
}

unsafe extern "C" fn h_reuseaddr(ducq: *mut ducq_i) -> RawState {
    entry(ducq, |_| Ok(()))
}

unsafe extern "C" fn h_close(ducq: *mut ducq_i) -> RawState {
    entry(ducq, Handle::close)
}

unsafe extern "C" fn h_free(ducq: *mut ducq_i) {
    boundary(|| {
        // SAFETY: the table's entries receive the handle they belong to.
        let Some(h) = (unsafe { Handle::from_ptr(ducq) }) else {
            return;
        };
        if !h.caller_owned {
            return;
        }
        if h.depth.get() > 0 {
            // Inside a `ducq_listen` callback on this handle: let go of the
            // connection now, of the memory when the callback returns.
            h.free_pending.set(true);
            let _ = h.close();
            return;
        }
        // SAFETY: a caller-owned handle comes from `Handle::into_raw` and
        // is freed once (`ducq_free` contract).
        drop(unsafe { Box::from_raw(ducq.cast::<Handle>()) });
    })
}

unsafe extern "C" fn h_dtor(_ducq: *mut ducq_i) {}

/// The table of every handle ducq makes.
pub(crate) static TABLE: ducq_vtbl = ducq_vtbl {
    conn: Some(h_conn),
    send: Some(h_send),
    parts: Some(h_parts),
    end: Some(h_end),
    recv: Some(h_recv),
    id: Some(h_id),
    copy: Some(h_copy),
    eq: Some(h_eq),
    timeout: Some(h_timeout),
    reuseaddr: Some(h_reuseaddr),
    close: Some(h_close),
    free: Some(h_free),
    dtor: Some(h_dtor),
};

/// Frees a handle whose `ducq_free` was deferred (see `ducq_listen`).
///
/// # Safety
/// `ducq` is one of our handles, caller-owned, with no callback running.
pub(crate) unsafe fn free_deferred(ducq: *mut ducq_i) {
    // SAFETY: forwarded caller contract; made by `Handle::into_raw`.
    drop(unsafe { Box::from_raw(ducq.cast::<Handle>()) });
}
