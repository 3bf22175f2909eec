//! One device client: the socket layer it connects through, its receive
//! timeout, its buffer limits (how much the input grows per read, the
//! largest message), and the connected blocking client. It knows nothing
//! of C pointers (`exports` converts) and nothing of the protocol (the
//! core's client speaks it).

use alloc::boxed::Box;
use alloc::format;
use alloc::string::{String, ToString};
use core::time::Duration;

use ducq::client::{Client, Error, DEFAULT_READ_CHUNK};
use ducq::proto::State;
use ducq::transport::tcp::TcpCodec;

use crate::layer::{ducq_vtbl, Layer, LayerStream, OwnedCtx};

/// Largest message a device client accepts unless told otherwise
/// (`ducq_set_limits`). A larger one is skipped as it arrives, never
/// buffered: a frame header cannot make a device allocate more.
pub const DEFAULT_MAX_MESSAGE: usize = 16 * 1024;

/// The client of a connected handle.
pub type LayerClient = Client<LayerStream>;

/// Why a call failed: the state C gets, and the detail `ducq_last_error`
/// gives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// The state returned.
    pub state: State,
    /// What went wrong, in a few words.
    pub detail: String,
}

impl Failure {
    /// A failure whose detail is the state's own text.
    pub fn plain(state: State) -> Failure {
        Failure {
            state,
            detail: state.text().to_string(),
        }
    }

    /// The failure of a client call: a NACK's own error state (its text
    /// as detail), else the error's state.
    pub fn of(e: &Error) -> Failure {
        let state = match e {
            Error::Nack { state, .. } if state.is_error() => *state,
            other => other.state(),
        };
        Failure {
            state,
            detail: e.to_string(),
        }
    }
}

/// A device client handle's state.
pub struct Handle {
    layer: Layer,
    /// The layer's context when the handle owns it.
    owned: Option<OwnedCtx>,
    timeout: Option<Duration>,
    read_chunk: usize,
    max_message: usize,
    conn: Option<Box<LayerClient>>,
}

impl Handle {
    /// An unconnected handle over `layer`, with no timeout and the default
    /// limits.
    pub fn new(layer: Layer) -> Handle {
        Handle {
            layer,
            owned: None,
            timeout: None,
            read_chunk: DEFAULT_READ_CHUNK,
            max_message: DEFAULT_MAX_MESSAGE,
            conn: None,
        }
    }

    /// An unconnected handle over `vtbl` that owns its context: a copy of
    /// `template`.
    pub fn with_own_ctx(vtbl: ducq_vtbl, template: &[u8]) -> Handle {
        let mut owned = OwnedCtx::new(template);
        let ctx = owned.ptr();
        let mut handle = Handle::new(Layer { vtbl, ctx });
        handle.owned = Some(owned);
        handle
    }

    /// An unconnected handle with the same layer, timeout and limits (a
    /// fresh copy of an owned context's template, or the same borrowed
    /// context).
    pub fn copy(&self) -> Handle {
        let mut owned = self.owned.as_ref().map(OwnedCtx::again);
        let ctx = owned.as_mut().map_or(self.layer.ctx, OwnedCtx::ptr);
        Handle {
            layer: Layer { ctx, ..self.layer },
            owned,
            timeout: self.timeout,
            read_chunk: self.read_chunk,
            max_message: self.max_message,
            conn: None,
        }
    }

    /// Connects (dropping the current connection first) and completes the
    /// codec's handshake within the timeout.
    pub fn connect(&mut self) -> Result<(), Failure> {
        self.conn = None;
        let stream = self.layer.open(self.timeout).map_err(|state| Failure {
            state,
            detail: "the socket layer could not connect".to_string(),
        })?;
        let codec = Box::new(TcpCodec::new(self.max_message));
        match Client::from_io(stream, codec, self.timeout) {
            Ok(mut client) => {
                client.set_read_chunk(self.read_chunk);
                self.conn = Some(Box::new(client));
                Ok(())
            }
            Err(e) => Err(Failure {
                state: match e {
                    Error::Timeout => State::ETimeout,
                    _ => State::EConnect,
                },
                detail: e.to_string(),
            }),
        }
    }

    /// Closes the connection (the layer's `close` runs); a closed handle
    /// stays closed.
    pub fn close(&mut self) {
        self.conn = None;
    }

    /// Whether the handle has a connection.
    pub fn is_connected(&self) -> bool {
        self.conn.is_some()
    }

    /// Runs a call on the connected client. A connection the server
    /// closed, or whose layer failed, is dropped: the handle then reads as
    /// closed until the next connect.
    pub fn run<T>(
        &mut self,
        op: impl FnOnce(&mut LayerClient) -> Result<T, Error>,
    ) -> Result<T, Failure> {
        let Some(client) = self.conn.as_mut() else {
            return Err(Failure::plain(State::EConnClosed));
        };
        op(client).map_err(|e| {
            if matches!(e, Error::Closed | Error::Io { .. }) {
                self.conn = None;
            }
            Failure::of(&e)
        })
    }

    /// Like [`Handle::run`], connecting first when not connected (the
    /// device calls of the original API publish on a fresh handle).
    pub fn run_connected<T>(
        &mut self,
        op: impl FnOnce(&mut LayerClient) -> Result<T, Error>,
    ) -> Result<T, Failure> {
        if self.conn.is_none() {
            self.connect()?;
        }
        self.run(op)
    }

    /// Sets the receive (and connect) timeout of this and later
    /// connections; `None` waits without limit.
    pub fn set_timeout(&mut self, timeout: Option<Duration>) -> Result<(), Failure> {
        self.timeout = timeout;
        match self.conn.as_mut() {
            Some(c) => c.set_timeout(timeout).map_err(|e| Failure::of(&e)),
            None => Ok(()),
        }
    }

    /// Sets how much the input buffer grows per read (now) and the largest
    /// message accepted (from the next connect). Zero keeps a value as it
    /// is.
    pub fn set_limits(&mut self, read_chunk: usize, max_message: usize) {
        if read_chunk > 0 {
            self.read_chunk = read_chunk;
            if let Some(c) = self.conn.as_mut() {
                c.set_read_chunk(read_chunk);
            }
        }
        if max_message > 0 {
            self.max_message = max_message;
        }
    }

    /// The id: `TCP:` and this end's address as the layer names it.
    pub fn id(&self) -> String {
        match &self.conn {
            Some(c) => c.id(),
            None => "TCP:".to_string(),
        }
    }

    /// Whether two handles name the same connection (the same id, and
    /// both connected, or the same layer context).
    pub fn same_as(&self, other: &Handle) -> bool {
        match (&self.conn, &other.conn) {
            (Some(_), Some(_)) => self.id() == other.id(),
            _ => self.layer.ctx == other.layer.ctx,
        }
    }

    /// The read chunk and largest message now in force.
    pub fn limits(&self) -> (usize, usize) {
        (self.read_chunk, self.max_message)
    }
}

impl Drop for Handle {
    /// The connection goes first: its layer `close` still needs the
    /// context, which an owned context takes with it.
    fn drop(&mut self) {
        self.conn = None;
    }
}

/// The detail of an invalid argument.
pub fn invalid(what: &str) -> Failure {
    Failure {
        state: State::EMsgInv,
        detail: format!("invalid {what}"),
    }
}
