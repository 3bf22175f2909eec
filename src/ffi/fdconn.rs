//! Handles made from a descriptor the C program accepted itself, the
//! original's way to run a server: `ducq_new_tcp_connection`,
//! `ducq_new_ws_connection`, `ducq_new_http_connection` (and
//! `ducq_new_ws_upgrade_from_http`, `ducq_tcp_apply`). Handed to
//! `ducq_reactor_add_client`, such a handle's descriptor becomes an
//! ordinary connection of the reactor ([`crate::server::adopt`]); used on
//! its own, it is a blocking server-side connection (the codec of its
//! protocol over the descriptor). Conversion and checks only.

use std::ffi::{c_char, c_int, c_void, CStr};
use std::io::{self, Read, Write};
use std::os::fd::RawFd;
use std::time::Duration;

use super::boundary;
use super::calls::ducq_apply_f;
use super::client::AnyClient;
use super::handle::{Handle, Kind};
use super::state::RawState;
use super::vtbl::ducq_i;
use crate::client::{Client, Error, Stream, DEFAULT_MAX_MESSAGE};
use crate::proto::State;
use crate::server::adopt::{self, Protocol};
use crate::server::Settings;
use crate::transport::ws::handshake::{self, HeadPoll, HeadReader};

/// How long an HTTP connection's reads wait, as in the original.
const HTTP_TIMEOUT: Duration = Duration::from_secs(5);

/// A blocking byte stream over a descriptor the handle does not own: it
/// is closed by `ducq_close` only (as in the original, `ducq_free` leaves
/// it open).
pub(crate) struct FdStream {
    fd: RawFd,
}

impl Read for FdStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        // SAFETY: `buf` is writable for its length; a bad descriptor is an
        // error result, not undefined behaviour.
        let n = unsafe { libc::read(self.fd, buf.as_mut_ptr().cast(), buf.len()) };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(n as usize)
    }
}

impl Write for FdStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        // SAFETY: `buf` is readable for its length. MSG_NOSIGNAL: a closed
        // peer is an error result, not a SIGPIPE.
        let n = unsafe { libc::send(self.fd, buf.as_ptr().cast(), buf.len(), libc::MSG_NOSIGNAL) };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(n as usize)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Stream for FdStream {
    fn set_read_timeout(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        let t = timeout.unwrap_or_default();
        let tv = libc::timeval {
            tv_sec: t.as_secs() as libc::time_t,
            tv_usec: t.subsec_micros() as libc::suseconds_t,
        };
        // SAFETY: a valid timeval of the size given.
        let rc = unsafe {
            libc::setsockopt(
                self.fd,
                libc::SOL_SOCKET,
                libc::SO_RCVTIMEO,
                (&tv as *const libc::timeval).cast(),
                std::mem::size_of::<libc::timeval>() as libc::socklen_t,
            )
        };
        if rc != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }
}

/// The peer's address of a socket, if it has one.
fn peer_of(fd: RawFd) -> Option<String> {
    // SAFETY: the descriptor is borrowed for the call only; ManuallyDrop
    // keeps the std socket from closing it.
    let s = std::mem::ManuallyDrop::new(unsafe {
        <std::net::TcpStream as std::os::fd::FromRawFd>::from_raw_fd(fd)
    });
    s.peer_addr().ok().map(|a| a.to_string())
}

/// An accepted descriptor as a handle.
pub(crate) struct FdSide {
    proto: Protocol,
    fd: RawFd,
    timeout: Option<Duration>,
    /// The blocking engine, made on first use on its own.
    pub(crate) engine: Option<AnyClient>,
}

impl FdSide {
    fn new(fd: RawFd, proto: Protocol) -> FdSide {
        FdSide {
            proto,
            fd,
            timeout: (proto == Protocol::Http).then_some(HTTP_TIMEOUT),
            engine: None,
        }
    }

    /// The descriptor (-1 once closed).
    pub(crate) fn fd(&self) -> RawFd {
        self.fd
    }

    /// Its protocol.
    pub(crate) fn protocol(&self) -> Protocol {
        self.proto
    }

    /// A handle on the same descriptor (closing either closes it).
    pub(crate) fn copy(&self) -> FdSide {
        FdSide {
            engine: None,
            ..FdSide::new(self.fd, self.proto)
        }
    }

    pub(crate) fn is_open(&self) -> bool {
        self.fd >= 0
    }

    pub(crate) fn is_ws(&self) -> bool {
        matches!(self.proto, Protocol::Ws | Protocol::WsUpgraded)
    }

    /// `TCP:<peer>` (`WS:`, `HTTP:`), as the reactor will name it.
    pub(crate) fn id_string(&self) -> String {
        let kind = match self.proto {
            Protocol::Tcp => "TCP",
            Protocol::Ws | Protocol::WsUpgraded => "WS",
            Protocol::Http => "HTTP",
        };
        let peer = peer_of(self.fd).unwrap_or_default();
        format!("{kind}:{peer}")
    }

    /// The blocking engine over the descriptor, made on first use.
    pub(crate) fn engine(&mut self) -> Result<&mut AnyClient, State> {
        if self.fd < 0 {
            return Err(State::EConnClosed);
        }
        if self.engine.is_none() {
            let settings = Settings {
                max_message: DEFAULT_MAX_MESSAGE,
                ..Settings::default()
            };
            let codec = adopt::transport(self.proto, &settings);
            let stream = FdStream { fd: self.fd };
            let client = Client::from_io(stream, codec, self.timeout).map_err(|e| e.state())?;
            self.engine = Some(AnyClient::Fd(client));
        }
        self.engine.as_mut().ok_or(State::Error)
    }

    pub(crate) fn set_timeout(&mut self, t: Option<Duration>) -> Result<(), Error> {
        self.timeout = t;
        match self.engine.as_mut() {
            Some(AnyClient::Fd(cl)) => cl.set_timeout(t),
            _ => Ok(()),
        }
    }

    /// Closes the descriptor.
    pub(crate) fn close(&mut self) -> Result<(), State> {
        self.engine = None;
        if self.fd < 0 {
            return Ok(());
        }
        // SAFETY: closing the descriptor this handle was made for, once.
        let rc = unsafe { libc::close(self.fd) };
        self.fd = -1;
        if rc != 0 {
            return Err(State::EClose);
        }
        Ok(())
    }

    /// Gives up the descriptor (to a reactor): it is no longer this
    /// handle's to read, write or close.
    pub(crate) fn release(&mut self) -> RawFd {
        self.engine = None;
        std::mem::replace(&mut self.fd, -1)
    }
}

fn new_fd_handle(fd: c_int, proto: Protocol) -> *mut ducq_i {
    if fd < 0 {
        return std::ptr::null_mut();
    }
    Handle::into_raw(Kind::Fd(Box::new(FdSide::new(fd, proto))))
}

/// Wraps a connected TCP descriptor (from `accept`) speaking ducq's
/// length-framed protocol: give it to `ducq_reactor_add_client`, or use it
/// as a blocking server-side connection (`ducq_recv`, `ducq_send`, …).
///
/// The handle does not own `fd` until added to a reactor: `ducq_close`
/// closes it, `ducq_free` does not (as in the original). NULL for a
/// negative `fd`. The caller owns the handle (`ducq_free`) until
/// `ducq_reactor_add_client` takes it.
#[no_mangle]
pub extern "C" fn ducq_new_tcp_connection(fd: c_int) -> *mut ducq_i {
    boundary(|| new_fd_handle(fd, Protocol::Tcp))
}

/// Wraps a connected descriptor speaking WebSocket. The opening handshake
/// is answered when the peer starts with one (the original expected it
/// done already, which also works: frames are then read at once). One
/// WebSocket message is one ducq message. Otherwise as
/// `ducq_new_tcp_connection`.
#[no_mangle]
pub extern "C" fn ducq_new_ws_connection(fd: c_int) -> *mut ducq_i {
    boundary(|| new_fd_handle(fd, Protocol::Ws))
}

/// Wraps a connected descriptor speaking HTTP/1.1 on ducq's HTTP port:
/// requests (`POST /pub/<route>`, `GET /lscmd`, …) and the WebSocket
/// upgrade, as `ducq_reactor_listen_http` serves them. Reads wait at most
/// 5 s by default, as in the original. Otherwise as
/// `ducq_new_tcp_connection`.
#[no_mangle]
pub extern "C" fn ducq_new_http_connection(fd: c_int) -> *mut ducq_i {
    boundary(|| new_fd_handle(fd, Protocol::Http))
}

/// Completes a WebSocket opening handshake on `fd`, whose HTTP request
/// head (`GET / HTTP/1.1` … up to the blank line, which may be left out)
/// the caller already read into `http_header`: writes the
/// `101 Switching Protocols` answer and stores a WebSocket connection
/// handle (as `ducq_new_ws_connection`, handshake done) in `*ws`.
///
/// Returns `DUCQ_PROTOCOL` on success, as the original. A request that is
/// not a valid upgrade (no `Sec-WebSocket-Key`, …) is answered
/// `400 Bad Request` on `fd` and gives `DUCQ_EMSGINV`; `DUCQ_EWRITE` when
/// the answer cannot be written; `DUCQ_ENULL` for NULL pointers. `*ws` is
/// written on success only; the caller owns the new handle.
///
/// # Safety
/// `ws` is NULL or writable; `http_header` is NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn ducq_new_ws_upgrade_from_http(
    ws: *mut *mut ducq_i,
    fd: c_int,
    http_header: *mut c_char,
) -> RawState {
    boundary(|| {
        if ws.is_null() || http_header.is_null() {
            return State::ENull.into();
        }
        // SAFETY: NUL-terminated (caller contract); copied.
        let mut head = unsafe { CStr::from_ptr(http_header) }.to_bytes().to_vec();
        while !head.ends_with(b"\r\n\r\n") && !head.ends_with(b"\n\n") {
            head.extend_from_slice(b"\r\n");
            if head.len() > 64 << 10 {
                return State::EMsgInv.into();
            }
        }
        let mut answer = Vec::new();
        let accepted = match HeadReader::new(64 << 10).read_request(&head) {
            HeadPoll::Complete(req) => handshake::validate_upgrade(&req),
            HeadPoll::Error(r) => Err(r),
            HeadPoll::Partial => Err(handshake::Reject::bad("incomplete request head")),
        };
        match &accepted {
            Ok(accept) => handshake::write_switching(accept, &mut answer),
            Err(reject) => reject.write(&mut answer),
        }
        if (FdStream { fd }).write_all(&answer).is_err() {
            return State::EWrite.into();
        }
        if accepted.is_err() {
            return State::EMsgInv.into();
        }
        let handle = new_fd_handle(fd, Protocol::WsUpgraded);
        if handle.is_null() {
            return State::EMsgInv.into();
        }
        // SAFETY: non-null and writable (caller contract).
        unsafe { *ws = handle };
        State::Protocol.into()
    })
}

/// The original's WebSocket scratch buffer: for a WebSocket handle, a
/// buffer of `14 + DUCQ_MSGSZ` bytes that lives as long as the handle
/// (ducq never reads it); NULL for any other handle and for NULL.
///
/// # Safety
/// `ducq` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn ducq_buffer(ducq: *mut ducq_i) -> *mut c_char {
    boundary(|| {
        // SAFETY: NULL or a live handle (caller contract).
        unsafe { Handle::from_ptr(ducq) }.map_or(std::ptr::null_mut(), Handle::buffer)
    })
}

/// Wraps the connected TCP descriptor `cfd` in a connection handle (as
/// `ducq_new_tcp_connection`), calls `apply(ctx, handle)`, frees the handle
/// (the descriptor stays open unless `apply` closed the handle) and
/// returns what `apply` returned. The handle is lent for the call.
/// `DUCQ_ENULL` for a NULL `apply`, `DUCQ_EMSGINV` for a negative `cfd`.
///
/// # Safety
/// `apply` is a valid function.
#[no_mangle]
pub unsafe extern "C" fn ducq_tcp_apply(
    cfd: c_int,
    apply: ducq_apply_f,
    ctx: *mut c_void,
) -> RawState {
    boundary(|| {
        let Some(apply) = apply else {
            return State::ENull.into();
        };
        if cfd < 0 {
            return State::EMsgInv.into();
        }
        let mut handle = Handle::new(Kind::Fd(Box::new(FdSide::new(cfd, Protocol::Tcp))));
        // SAFETY: a valid function (caller contract); the handle outlives
        // the call, and `ducq_free` on it is a no-op (it is not one the
        // caller owns).
        let state = unsafe { apply(ctx, handle.as_ducq()) };
        drop(handle);
        state
    })
}
