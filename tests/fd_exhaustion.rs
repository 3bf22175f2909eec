//! Running out of file descriptors during accept (EMFILE): the server backs
//! off instead of spinning, logs it once, and recovers when descriptors are
//! free again. Its own test binary, since it lowers a process-wide limit.

mod util;

use std::net::TcpStream;
use std::time::{Duration, Instant};

use util::TestServer;

fn cpu_time() -> Duration {
    // SAFETY: getrusage fills a plain struct we own.
    let ru = unsafe {
        let mut ru: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut ru);
        ru
    };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

fn open_fds() -> u64 {
    std::fs::read_dir("/proc/self/fd").unwrap().count() as u64
}

#[test]
fn emfile_backs_off_without_spinning_and_recovers() {
    // Errors logged to `LOG` subscribers only (not to stderr).
    let srv = TestServer::with_setup(ducq::server::Settings::default(), |r| {
        let log = r.hub_mut().logger_mut();
        log.level = ducq::server::log::Level::Error;
        log.stderr = false;
    });
    let mut first = srv.peer();
    first.call(b"PING a\n", b"PONG a\n");
    let mut log = srv.peer();
    log.sub("LOG");

    // Leave room for a few connections only.
    let limit = open_fds() + 12;
    // SAFETY: setrlimit with a struct we own.
    let old = unsafe {
        let mut lim: libc::rlimit = std::mem::zeroed();
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim);
        let old = lim;
        lim.rlim_cur = limit;
        assert_eq!(libc::setrlimit(libc::RLIMIT_NOFILE, &lim), 0);
        old
    };
    // Each client uses two descriptors here (ours and the server's).
    let mut clients = Vec::new();
    for _ in 0..20 {
        match TcpStream::connect(srv.addr) {
            Ok(c) => clients.push(c),
            Err(_) => break,
        }
    }
    let before = cpu_time();
    std::thread::sleep(Duration::from_secs(1));
    let spent = cpu_time() - before;
    assert!(
        spent < Duration::from_millis(300),
        "spinning: {spent:?} of CPU in 1 s"
    );
    // The existing client is still served while accept is failing, and
    // the failure is logged, once.
    first.call(b"PING b\n", b"PONG b\n");
    let line = util::log_line(&mut log, "accept failed");
    assert!(
        line.ends_with("accept failed, pausing: Too many open files (os error 24)"),
        "{line}"
    );
    log.expect_silence(Duration::from_millis(300));

    // SAFETY: restoring the limit we read.
    unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &old) };
    // The clients left waiting in the kernel's queue are taken by the
    // retry alone: no new connection wakes the listener.
    for (i, c) in clients.iter().enumerate() {
        let mut p = util::Peer::from_stream(c.try_clone().unwrap());
        let ping = format!("PING {i}\n");
        let pong = format!("PONG {i}\n");
        p.call(ping.as_bytes(), pong.as_bytes());
    }
    drop(clients);
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let mut p = util::Peer::connect(srv.addr);
        p.send(b"PING c\n");
        match p.try_recv(Duration::from_secs(1)) {
            Ok(m) if m == b"PONG c\n" => break,
            other => assert!(Instant::now() < deadline, "no recovery: {other:?}"),
        }
    }
}
