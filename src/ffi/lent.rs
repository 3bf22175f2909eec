//! Handles to a reactor's clients: the `ducq_i` a C command, a loop
//! callback or the client iterator receives (lent: the same pointer for
//! the same client, never freed by C), and the lasting copy `ducq_copy`
//! makes of one (freed by `ducq_free`). A handle names its client by
//! [`ConnId`], so one used after its client left answers
//! `DUCQ_ENOTFOUND`; it holds its reactor weakly, so one used after the
//! reactor was freed answers `DUCQ_ERROR`. Sends go through the server's
//! lending rules; nothing here touches the broker directly.

use std::rc::{Rc, Weak};

use super::access::FfiCtx;
use crate::proto::State;
use crate::server::{clients, ConnId, Hub};

/// A handle to one client of a reactor.
pub(crate) struct ServerSide {
    ctx: Weak<FfiCtx>,
    conn: ConnId,
}

impl ServerSide {
    /// The handle lent to callbacks for client `conn`.
    pub(crate) fn lent(ctx: &Rc<FfiCtx>, conn: ConnId) -> ServerSide {
        ServerSide {
            ctx: Rc::downgrade(ctx),
            conn,
        }
    }

    /// A lasting copy (the caller owns the handle made of it).
    pub(crate) fn keep(&self) -> ServerSide {
        ServerSide {
            ctx: self.ctx.clone(),
            conn: self.conn,
        }
    }

    /// The client it names.
    pub(crate) fn conn(&self) -> ConnId {
        self.conn
    }

    /// Whether it belongs to the reactor of `ctx`.
    pub(crate) fn belongs_to(&self, ctx: &Rc<FfiCtx>) -> bool {
        std::ptr::eq(self.ctx.as_ptr(), Rc::as_ptr(ctx))
    }

    /// Whether both name the same client of the same reactor.
    pub(crate) fn same_client(&self, other: &ServerSide) -> bool {
        Weak::ptr_eq(&self.ctx, &other.ctx) && self.conn == other.conn
    }

    /// Runs `f` on the reactor's hub: `Error` when the reactor is gone or
    /// cannot be reached now.
    fn with_hub<R>(&self, f: impl FnOnce(&mut Hub) -> R) -> Result<R, State> {
        self.ctx.upgrade().ok_or(State::Error)?.with_hub(f)
    }

    /// Queues one message for the client (a reply, when its command runs).
    pub(crate) fn send(&self, msg: &[u8]) -> Result<(), State> {
        let ctx = self.ctx.upgrade().ok_or(State::Error)?;
        ctx.lent(|| ctx.slot.send(self.conn, msg))?
    }

    /// Whether the client is still open.
    pub(crate) fn is_open(&self) -> bool {
        self.with_hub(|hub| clients::is_open(hub, self.conn))
            .unwrap_or(false)
    }

    /// Its id as `lsconn` lists it (empty once gone or out of reach).
    pub(crate) fn id_string(&self) -> String {
        self.with_hub(|hub| hub.resolve(self.conn).and_then(|k| hub.client_id(k)))
            .ok()
            .flatten()
            .unwrap_or_default()
    }

    /// Closes the client once what was queued for it is written.
    pub(crate) fn close(&self) -> Result<(), State> {
        match self.with_hub(|hub| clients::close(hub, self.conn))? {
            true => Ok(()),
            false => Err(State::ENotFound),
        }
    }
}
