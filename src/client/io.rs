//! The byte-stream vocabulary the client is written in: `std::io`'s
//! `Read`, `Write`, `Error` and `ErrorKind` where there is an operating
//! system, and a stand-in with the same names and the few members the
//! client uses where there is none (`no_std`: a device's socket layer).
//! It must not grow into an I/O library: what the client does not call
//! stays out.

#[cfg(feature = "std")]
pub use std::io::{Error, ErrorKind, Read, Result, Write};

#[cfg(not(feature = "std"))]
pub use bare::{Error, ErrorKind, Read, Result, Write};

#[cfg(not(feature = "std"))]
mod bare {
    use core::fmt;

    /// What kind of failure a stream reported (the members of
    /// `std::io::ErrorKind` the client tells apart).
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum ErrorKind {
        /// Nothing arrived within the read timeout.
        WouldBlock,
        /// Nothing arrived within the read timeout.
        TimedOut,
        /// The peer reset the connection.
        ConnectionReset,
        /// The peer is gone.
        BrokenPipe,
        /// The stream ended early.
        UnexpectedEof,
        /// Interrupted: try again.
        Interrupted,
        /// A bad argument.
        InvalidInput,
        /// The stream cannot do this.
        Unsupported,
        /// A write accepted no byte.
        WriteZero,
        /// Anything else.
        Other,
    }

    /// A stream failure: its kind and, for `Other`, a fixed text.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct Error {
        kind: ErrorKind,
        text: &'static str,
    }

    /// What stream calls return.
    pub type Result<T> = core::result::Result<T, Error>;

    impl Error {
        /// An error of kind `Other` with a fixed text.
        pub fn other(text: &'static str) -> Error {
            Error {
                kind: ErrorKind::Other,
                text,
            }
        }

        /// Its kind.
        pub fn kind(&self) -> ErrorKind {
            self.kind
        }
    }

    impl From<ErrorKind> for Error {
        fn from(kind: ErrorKind) -> Error {
            let text = match kind {
                ErrorKind::WouldBlock | ErrorKind::TimedOut => "timed out",
                ErrorKind::ConnectionReset => "connection reset",
                ErrorKind::BrokenPipe => "broken pipe",
                ErrorKind::UnexpectedEof => "unexpected end of stream",
                ErrorKind::Interrupted => "interrupted",
                ErrorKind::InvalidInput => "invalid input",
                ErrorKind::Unsupported => "unsupported",
                ErrorKind::WriteZero => "write accepted no byte",
                ErrorKind::Other => "error",
            };
            Error { kind, text }
        }
    }

    impl fmt::Display for Error {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(self.text)
        }
    }

    impl core::error::Error for Error {}

    /// A source of bytes.
    pub trait Read {
        /// Reads up to `buf.len()` bytes; `Ok(0)` means the peer closed.
        fn read(&mut self, buf: &mut [u8]) -> Result<usize>;
    }

    /// A sink of bytes.
    pub trait Write {
        /// Writes some of `buf`; returns how many bytes.
        fn write(&mut self, buf: &[u8]) -> Result<usize>;

        /// Pushes out anything buffered.
        fn flush(&mut self) -> Result<()>;

        /// Writes all of `buf`, retrying after interruptions.
        fn write_all(&mut self, mut buf: &[u8]) -> Result<()> {
            while !buf.is_empty() {
                match self.write(buf) {
                    Ok(0) => return Err(ErrorKind::WriteZero.into()),
                    Ok(n) => buf = buf.get(n..).unwrap_or_default(),
                    Err(e) if e.kind() == ErrorKind::Interrupted => {}
                    Err(e) => return Err(e),
                }
            }
            Ok(())
        }
    }
}

#[cfg(all(test, not(feature = "std")))]
mod tests {
    use super::*;

    /// Takes at most 3 bytes a call, after one interruption.
    struct Dribble {
        got: Vec<u8>,
        interrupted: bool,
    }

    impl Write for Dribble {
        fn write(&mut self, buf: &[u8]) -> Result<usize> {
            if !self.interrupted {
                self.interrupted = true;
                return Err(ErrorKind::Interrupted.into());
            }
            let n = buf.len().min(3);
            self.got.extend_from_slice(&buf[..n]);
            Ok(n)
        }

        fn flush(&mut self) -> Result<()> {
            Ok(())
        }
    }

    #[test]
    fn write_all_writes_everything_through_short_writes() {
        let mut d = Dribble {
            got: Vec::new(),
            interrupted: false,
        };
        d.write_all(b"hello world").unwrap();
        assert_eq!(d.got, b"hello world");
    }

    #[test]
    fn a_write_of_nothing_is_an_error() {
        struct Full;
        impl Write for Full {
            fn write(&mut self, _: &[u8]) -> Result<usize> {
                Ok(0)
            }
            fn flush(&mut self) -> Result<()> {
                Ok(())
            }
        }
        let e = Full.write_all(b"x").unwrap_err();
        assert_eq!(e.kind(), ErrorKind::WriteZero);
        assert_eq!(Error::other("boom").to_string(), "boom");
    }
}
