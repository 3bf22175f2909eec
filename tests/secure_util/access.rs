//! Client-side steps the auth and ACL tests share: logging in, expecting
//! the access-denied NACK, reading `lsconn`, an HTTP Basic header, one
//! HTTP exchange. It starts no server (that is `Server`'s job).

use std::io::{Read, Write};
use std::net::TcpStream;

use base64::Engine as _;
use ducq::client::{Client, Error, Stream};

use super::{text, WAIT};

/// A TCP client of `addr`, authenticated as `user` with `password`, or
/// anonymous when `user` is empty.
pub fn login(addr: &str, user: &str, password: &str) -> Client {
    let mut c = Client::connect(addr, WAIT).unwrap();
    if !user.is_empty() {
        c.authenticate(user, password.as_bytes()).unwrap();
    }
    c
}

/// Asserts that `r` is the access-denied NACK: state 24, "access denied".
pub fn nack24<T: std::fmt::Debug>(r: Result<T, Error>) {
    match r {
        Err(Error::Nack { state, text }) => {
            assert_eq!((state.code(), text.as_str()), (24, "access denied"));
        }
        other => panic!("expected NACK 24, got {other:?}"),
    }
}

/// The lines `lsconn` lists, as text.
pub fn lsconn_lines<S: Stream>(c: &mut Client<S>) -> Vec<String> {
    c.list("lsconn").unwrap().iter().map(|l| text(l)).collect()
}

/// The `Authorization: Basic …` header line (with its CRLF) for `user`.
pub fn basic(user: &str, password: &str) -> String {
    let b = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    format!("Authorization: Basic {b}\r\n")
}

/// Sends one HTTP request (which should ask to close the connection) to
/// `addr` and returns the whole answer.
pub fn http(addr: &str, req: &str) -> String {
    let mut t = TcpStream::connect(addr).unwrap();
    t.set_read_timeout(Some(WAIT)).unwrap();
    t.write_all(req.as_bytes()).unwrap();
    let mut out = Vec::new();
    t.read_to_end(&mut out).unwrap();
    text(&out)
}
