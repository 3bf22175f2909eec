//! The sockets a server listens and talks on: TCP or a Unix domain stream
//! socket, behind one type each so the reactor and the hub treat them the
//! same (both are read with `read(2)` and written with `send`/`sendmsg`).
//! It also owns the rule for binding a Unix socket path safely. It must not
//! read or write connection data: `conn.rs` does.

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::rc::Rc;

use mio::event::Source;
use mio::net::{TcpListener, TcpStream, UnixListener, UnixStream};
use mio::{Interest, Registry, Token};

/// A connected client socket.
#[derive(Debug)]
pub enum Socket {
    /// A TCP connection.
    Tcp(TcpStream),
    /// A Unix domain stream connection.
    Unix(UnixStream),
}

impl AsRawFd for Socket {
    fn as_raw_fd(&self) -> RawFd {
        match self {
            Socket::Tcp(s) => s.as_raw_fd(),
            Socket::Unix(s) => s.as_raw_fd(),
        }
    }
}

impl Source for Socket {
    fn register(&mut self, r: &Registry, t: Token, i: Interest) -> io::Result<()> {
        match self {
            Socket::Tcp(s) => s.register(r, t, i),
            Socket::Unix(s) => s.register(r, t, i),
        }
    }

    fn reregister(&mut self, r: &Registry, t: Token, i: Interest) -> io::Result<()> {
        match self {
            Socket::Tcp(s) => s.reregister(r, t, i),
            Socket::Unix(s) => s.reregister(r, t, i),
        }
    }

    fn deregister(&mut self, r: &Registry) -> io::Result<()> {
        match self {
            Socket::Tcp(s) => s.deregister(r),
            Socket::Unix(s) => s.deregister(r),
        }
    }
}

/// Who is at the other end of a connection, as shown in client ids.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PeerAddr {
    /// An IP peer.
    Inet(SocketAddr),
    /// A client of a Unix socket: the socket's path and a number unique in
    /// this server (Unix clients have no address of their own).
    Unix {
        /// The listening socket's path.
        path: Rc<str>,
        /// The connection's generation number.
        n: u64,
    },
}

impl PeerAddr {
    /// The peer's IP address (none for a Unix socket's client).
    pub fn ip(&self) -> Option<std::net::IpAddr> {
        match self {
            PeerAddr::Inet(a) => Some(a.ip()),
            PeerAddr::Unix { .. } => None,
        }
    }
}

impl fmt::Display for PeerAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PeerAddr::Inet(a) => write!(f, "{a}"),
            PeerAddr::Unix { path, n } => write!(f, "{path}:{n}"),
        }
    }
}

/// A listening socket.
#[derive(Debug)]
pub enum ListenSocket {
    /// TCP.
    Tcp(TcpListener),
    /// A Unix domain socket at `path`, removed when this is dropped.
    Unix {
        /// The socket.
        socket: UnixListener,
        /// Its path.
        path: Rc<str>,
    },
}

impl ListenSocket {
    /// Accepts one connection. The peer of a Unix client is numbered later
    /// (its `n` is 0 here).
    pub fn accept(&self) -> io::Result<(Socket, PeerAddr)> {
        match self {
            ListenSocket::Tcp(l) => {
                let (s, peer) = l.accept()?;
                let _ = s.set_nodelay(true);
                Ok((Socket::Tcp(s), PeerAddr::Inet(peer)))
            }
            ListenSocket::Unix { socket, path } => {
                let (s, _) = socket.accept()?;
                let peer = PeerAddr::Unix {
                    path: Rc::clone(path),
                    n: 0,
                };
                Ok((Socket::Unix(s), peer))
            }
        }
    }

    /// What clients connect to, for logs and `local_addrs`: the address, or
    /// `unix:<path>`.
    pub fn describe(&self) -> String {
        match self {
            ListenSocket::Tcp(l) => l
                .local_addr()
                .map_or_else(|e| format!("tcp ({e})"), |a| a.to_string()),
            ListenSocket::Unix { path, .. } => format!("unix:{path}"),
        }
    }

    /// The TCP address, when it is a TCP listener.
    pub fn tcp_addr(&self) -> Option<SocketAddr> {
        match self {
            ListenSocket::Tcp(l) => l.local_addr().ok(),
            ListenSocket::Unix { .. } => None,
        }
    }

    /// Binds a Unix socket at `path`, with permission bits `mode` when
    /// given: the socket appears at `path` with them already, so no client
    /// the mode shuts out can connect in between. A file already there is
    /// replaced only when it is a socket nobody listens on (a server that
    /// died without cleaning up); a live socket or any other kind of file
    /// is an error, never removed.
    pub fn bind_unix(path: &Path, mode: Option<u32>) -> io::Result<ListenSocket> {
        remove_stale_socket(path)?;
        let socket = match mode {
            Some(mode) => bind_with_mode(path, mode)?,
            None => UnixListener::bind(path)?,
        };
        let text: Rc<str> = path.to_string_lossy().into();
        Ok(ListenSocket::Unix { socket, path: text })
    }
}

impl Drop for ListenSocket {
    fn drop(&mut self) {
        if let ListenSocket::Unix { path, .. } = self {
            let _ = std::fs::remove_file(PathBuf::from(&**path));
        }
    }
}

impl Source for ListenSocket {
    fn register(&mut self, r: &Registry, t: Token, i: Interest) -> io::Result<()> {
        match self {
            ListenSocket::Tcp(s) => s.register(r, t, i),
            ListenSocket::Unix { socket, .. } => socket.register(r, t, i),
        }
    }

    fn reregister(&mut self, r: &Registry, t: Token, i: Interest) -> io::Result<()> {
        match self {
            ListenSocket::Tcp(s) => s.reregister(r, t, i),
            ListenSocket::Unix { socket, .. } => socket.reregister(r, t, i),
        }
    }

    fn deregister(&mut self, r: &Registry) -> io::Result<()> {
        match self {
            ListenSocket::Tcp(s) => s.deregister(r),
            ListenSocket::Unix { socket, .. } => socket.deregister(r),
        }
    }
}

/// Removes `path` if it is a Unix socket that refuses connections. Nothing
/// there: fine. A socket someone accepts on, or a file that is not a
/// socket: `AddrInUse` / `AlreadyExists` with the reason.
fn remove_stale_socket(path: &Path) -> io::Result<()> {
    let meta = match std::fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    if !meta.file_type().is_socket() {
        return Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            format!("{} exists and is not a socket", path.display()),
        ));
    }
    match std::os::unix::net::UnixStream::connect(path) {
        Ok(_) => Err(io::Error::new(
            io::ErrorKind::AddrInUse,
            format!("another server listens on {}", path.display()),
        )),
        Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => std::fs::remove_file(path),
        Err(e) => Err(e),
    }
}

/// Binds a Unix socket that nobody can reach with other permission bits
/// than `mode`. `bind(2)` makes the file with the umask's bits, and a
/// `chmod` after it leaves a moment in which others may connect (and stay
/// connected). So the socket is bound in a fresh folder only its owner may
/// enter, given `mode` there, then hard-linked at `path`, which fails
/// rather than replace a file that appeared there meanwhile.
fn bind_with_mode(path: &Path, mode: u32) -> io::Result<UnixListener> {
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let private = private_dir(parent)?;
    let staged = private.join("s");
    let bound = UnixListener::bind(&staged).and_then(|socket| {
        std::fs::set_permissions(&staged, std::fs::Permissions::from_mode(mode))?;
        std::fs::hard_link(&staged, path).map_err(|e| match e.kind() {
            io::ErrorKind::AlreadyExists => io::Error::new(
                io::ErrorKind::AddrInUse,
                format!("{} appeared while binding", path.display()),
            ),
            _ => e,
        })?;
        Ok(socket)
    });
    let _ = std::fs::remove_file(&staged);
    let _ = std::fs::remove_dir(&private);
    bound
}

/// A new folder in `parent` that only this user may enter, with a short
/// name (a socket path is limited to 107 bytes).
fn private_dir(parent: &Path) -> io::Result<PathBuf> {
    use std::os::unix::fs::DirBuilderExt;
    let mut last = None;
    for n in 0..64 {
        let dir = parent.join(format!(".dq{n}"));
        match std::fs::DirBuilder::new().mode(0o700).create(&dir) {
            Ok(()) => return Ok(dir),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => last = Some(e),
            Err(e) => return Err(e),
        }
    }
    Err(last.unwrap_or_else(|| io::Error::other("no free folder name")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("ducq-sock-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir.join("s.sock")
    }

    #[test]
    fn stale_socket_is_replaced_live_one_and_files_are_not() {
        let path = temp("stale");
        // A socket file left behind: bound, then its listener closed
        // without removing the file.
        drop(std::os::unix::net::UnixListener::bind(&path).unwrap());
        assert!(path.exists());
        let live = ListenSocket::bind_unix(&path, Some(0o600)).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        // Bound elsewhere and linked here: nothing of that is left behind.
        let dir = path.parent().unwrap();
        let names: Vec<_> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["s.sock"]);
        // Someone listens now: a second server must not steal the path.
        let err = ListenSocket::bind_unix(&path, None).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::AddrInUse);
        assert!(std::os::unix::net::UnixStream::connect(&path).is_ok());
        drop(live);
        assert!(!path.exists(), "the socket file is removed on drop");
        // A regular file is never removed.
        std::fs::write(&path, b"data").unwrap();
        let err = ListenSocket::bind_unix(&path, None).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::AlreadyExists);
        assert_eq!(std::fs::read(&path).unwrap(), b"data");
    }

    #[test]
    fn a_live_socket_of_another_kind_is_not_taken_for_a_stale_one() {
        // Only a refused connection means nobody is there. A datagram
        // socket someone holds answers a stream connect with EPROTOTYPE
        // (as another user's socket answers with EACCES): its file stays.
        let path = temp("dgram");
        let held = std::os::unix::net::UnixDatagram::bind(&path).unwrap();
        let err = ListenSocket::bind_unix(&path, None).unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::EPROTOTYPE), "{err}");
        assert!(path.exists());
        held.send_to(b"still here", &path).unwrap();
    }

    /// The tokens `poll` reports within a short wait, with whether each
    /// was writable.
    fn events(poll: &mut mio::Poll) -> Vec<(usize, bool)> {
        let mut events = mio::Events::with_capacity(8);
        poll.poll(&mut events, Some(std::time::Duration::from_millis(50)))
            .unwrap();
        events
            .iter()
            .map(|e| (e.token().0, e.is_writable()))
            .collect()
    }

    #[test]
    fn a_socket_of_either_kind_is_registered_changed_and_removed_as_asked() {
        use std::io::Write as _;
        let tcp = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let tcp_peer = std::net::TcpStream::connect(tcp.local_addr().unwrap()).unwrap();
        let accepted = tcp.accept().unwrap().0;
        accepted.set_nonblocking(true).unwrap();
        let tcp_ours = TcpStream::from_std(accepted);
        let (unix_ours, unix_peer) = UnixStream::pair().unwrap();
        let peers: [Box<dyn std::io::Write>; 2] = [Box::new(tcp_peer), Box::new(unix_peer)];
        for (mut sock, mut peer) in [Socket::Tcp(tcp_ours), Socket::Unix(unix_ours)]
            .into_iter()
            .zip(peers)
        {
            let mut poll = mio::Poll::new().unwrap();
            sock.register(poll.registry(), Token(7), Interest::READABLE)
                .unwrap();
            // Connected and idle: nothing to read, so nothing reported.
            assert_eq!(events(&mut poll), []);
            sock.reregister(
                poll.registry(),
                Token(8),
                Interest::READABLE | Interest::WRITABLE,
            )
            .unwrap();
            assert_eq!(events(&mut poll), [(8, true)], "{sock:?}");
            sock.deregister(poll.registry()).unwrap();
            peer.write_all(b"x").unwrap();
            assert_eq!(events(&mut poll), [], "{sock:?} after deregister");
        }
    }

    #[test]
    fn a_listener_of_either_kind_is_registered_changed_and_removed_as_asked() {
        let path = temp("listen");
        let mut listeners = [
            ListenSocket::Tcp(TcpListener::bind("127.0.0.1:0".parse().unwrap()).unwrap()),
            ListenSocket::bind_unix(&path, None).unwrap(),
        ];
        for l in listeners.iter_mut() {
            let connect = |l: &ListenSocket| -> Box<dyn std::any::Any> {
                match l.tcp_addr() {
                    Some(a) => Box::new(std::net::TcpStream::connect(a).unwrap()),
                    None => Box::new(std::os::unix::net::UnixStream::connect(&path).unwrap()),
                }
            };
            let mut poll = mio::Poll::new().unwrap();
            l.register(poll.registry(), Token(1), Interest::READABLE)
                .unwrap();
            l.reregister(poll.registry(), Token(2), Interest::READABLE)
                .unwrap();
            let _first = connect(l);
            assert_eq!(events(&mut poll), [(2, false)], "{}", l.describe());
            let _accepted = l.accept().unwrap();
            l.deregister(poll.registry()).unwrap();
            let _second = connect(l);
            assert_eq!(events(&mut poll), [], "{} after deregister", l.describe());
        }
    }

    #[test]
    fn a_mode_bind_never_replaces_a_file_that_appeared_and_leaves_nothing() {
        let path = temp("appeared");
        let dir = path.parent().unwrap().to_path_buf();
        // Another program's folder of the same name is stepped around.
        std::fs::create_dir(dir.join(".dq0")).unwrap();
        // A file made at the path after the stale-socket check: the link
        // fails, the file stays, the staging folder goes.
        std::fs::write(&path, b"theirs").unwrap();
        let err = bind_with_mode(&path, 0o600).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::AddrInUse);
        assert_eq!(
            err.to_string(),
            format!("{} appeared while binding", path.display())
        );
        assert_eq!(std::fs::read(&path).unwrap(), b"theirs");
        let mut names: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        names.sort();
        assert_eq!(names, [".dq0", "s.sock"]);
        // With the path free: a listening socket of that mode, linked there.
        std::fs::remove_file(&path).unwrap();
        let socket = bind_with_mode(&path, 0o640).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o7777, 0o640);
        let _client = std::os::unix::net::UnixStream::connect(&path).unwrap();
        assert!(socket.accept().is_ok());
        assert!(!dir.join(".dq1").exists());
        drop(socket);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_listener_describes_its_address_or_its_path() {
        let tcp = ListenSocket::Tcp(TcpListener::bind("127.0.0.1:0".parse().unwrap()).unwrap());
        let addr = tcp.tcp_addr().unwrap();
        assert_eq!(tcp.describe(), addr.to_string());
        let path = temp("describe");
        let unix = ListenSocket::bind_unix(&path, None).unwrap();
        assert_eq!(unix.describe(), format!("unix:{}", path.display()));
        assert_eq!(unix.tcp_addr(), None);
    }
}
