//! The process-level helpers (`server::os`) in a program of their own
//! (`harness = false`): `stop_on_signals` needs SIGINT and SIGTERM blocked
//! in every thread, which only `main` can ensure, and `raise_fd_limit`
//! changes a process-wide limit. Each check panics on failure, which fails
//! the test; a signal left unhandled kills the program, which fails it too.

use std::time::{Duration, Instant};

use std::io::Read;
use std::os::fd::FromRawFd;

use ducq::server::dispatcher::CommandSet as _;
use ducq::server::log::{Logger, Record};
use ducq::server::observe::Observe;
use ducq::server::{os, Level, Reactor, Settings};

fn main() {
    a_signal_interrupting_the_wait_is_not_an_error();
    stops_on_each_signal();
    reloads_on_hangup_and_stops_on_term();
    raises_the_open_file_limit_to_the_hard_limit();
    log_lines_go_to_stderr_with_a_timestamp_unless_hooked();
    a_write_past_the_file_size_limit_does_not_kill();
    no_dashboard_timer_without_a_free_descriptor();
    println!("process: 7 checks passed");
}

extern "C" fn ignore(_: libc::c_int) {}

/// A signal handled while the reactor waits interrupts the wait (EINTR):
/// the turn ends normally, it is not an error.
fn a_signal_interrupting_the_wait_is_not_an_error() {
    // SAFETY: installs a handler that does nothing, without SA_RESTART, so
    // the wait is interrupted rather than resumed.
    unsafe {
        let mut act: libc::sigaction = std::mem::zeroed();
        act.sa_sigaction = ignore as extern "C" fn(libc::c_int) as libc::sighandler_t;
        libc::sigemptyset(&mut act.sa_mask);
        assert_eq!(
            libc::sigaction(libc::SIGUSR1, &act, std::ptr::null_mut()),
            0
        );
    }
    let mut reactor = Reactor::new(Settings {
        log_level: Level::Off,
        ..Settings::default()
    })
    .expect("reactor");
    reactor.run_once(Some(Duration::ZERO)).expect("first turn");
    // SAFETY: the calling thread's own id.
    let me = unsafe { libc::pthread_self() };
    for _ in 0..3 {
        let sender = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(50));
            // SAFETY: signals the main thread, which outlives this one.
            assert_eq!(unsafe { libc::pthread_kill(me, libc::SIGUSR1) }, 0);
        });
        reactor
            .run_once(Some(Duration::from_secs(2)))
            .expect("an interrupted wait is a normal turn");
        sender.join().expect("sender");
    }
}

/// `stop_on_signals` first thing, as `ducq-server` does; then a reactor
/// stops when the process gets SIGTERM, and again for SIGINT.
fn stops_on_each_signal() {
    for signal in [libc::SIGTERM, libc::SIGINT] {
        let mut reactor = Reactor::new(Settings {
            log_level: Level::Off,
            ..Settings::default()
        })
        .expect("reactor");
        os::stop_on_signals(reactor.stop_handle()).expect("signals blocked");
        // From a thread started after the signals were blocked.
        let pid = std::process::id() as libc::pid_t;
        let sender = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            // SAFETY: sends a signal to this process, in which every
            // thread blocks it and one waits for it.
            assert_eq!(unsafe { libc::kill(pid, signal) }, 0);
        });
        let deadline = Instant::now() + Duration::from_secs(5);
        while !reactor.is_stopped() {
            assert!(Instant::now() < deadline, "signal {signal} did not stop it");
            reactor
                .run_once(Some(Duration::from_millis(10)))
                .expect("run_once");
        }
        sender.join().expect("sender");
    }
}

/// `stop_and_reload_on_signals`, as `ducq-server` with a configuration
/// file does: SIGHUP sets the flag (taken once) and leaves the reactor
/// running; SIGTERM still stops it.
fn reloads_on_hangup_and_stops_on_term() {
    let mut reactor = Reactor::new(Settings {
        log_level: Level::Off,
        ..Settings::default()
    })
    .expect("reactor");
    let hangup = os::stop_and_reload_on_signals(reactor.stop_handle()).expect("signals blocked");
    assert!(!hangup.take(), "no SIGHUP yet");
    let pid = std::process::id() as libc::pid_t;
    // SAFETY: sends a signal to this process, in which every thread blocks
    // it and one waits for it.
    let send = |signal| assert_eq!(unsafe { libc::kill(pid, signal) }, 0);
    send(libc::SIGHUP);
    let deadline = Instant::now() + Duration::from_secs(5);
    while !hangup.take() {
        assert!(Instant::now() < deadline, "SIGHUP was not seen");
        reactor
            .run_once(Some(Duration::from_millis(10)))
            .expect("run_once");
    }
    assert!(!hangup.take(), "taken once");
    reactor.run_once(Some(Duration::ZERO)).expect("run_once");
    assert!(!reactor.is_stopped(), "SIGHUP must not stop the server");
    send(libc::SIGTERM);
    while !reactor.is_stopped() {
        assert!(Instant::now() < deadline, "SIGTERM did not stop it");
        reactor
            .run_once(Some(Duration::from_millis(10)))
            .expect("run_once");
    }
}

/// After `survive_file_size_limit`, SIGXFSZ is ignored: a write past
/// `ulimit -f` fails with EFBIG instead of ending the process.
fn a_write_past_the_file_size_limit_does_not_kill() {
    os::survive_file_size_limit().expect("SIGXFSZ ignored");
    // SAFETY: reads the current disposition into a struct we own.
    let handler = unsafe {
        let mut old: libc::sigaction = std::mem::zeroed();
        assert_eq!(
            libc::sigaction(libc::SIGXFSZ, std::ptr::null(), &mut old),
            0
        );
        old.sa_sigaction
    };
    assert_eq!(handler, libc::SIG_IGN);
}

/// With no descriptor free (the soft limit at 0 for a moment), the
/// observing commands' one-second timer cannot be made: `Observe::new`
/// says so (EMFILE) rather than keep a descriptor of -1.
fn no_dashboard_timer_without_a_free_descriptor() {
    let (soft, hard) = limits();
    let set = |cur: u64| {
        let lim = libc::rlimit {
            rlim_cur: cur as libc::rlim_t,
            rlim_max: hard as libc::rlim_t,
        };
        // SAFETY: setrlimit reads a plain struct we own; the soft limit
        // stays within the hard one.
        assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lim) }, 0);
    };
    set(0);
    let made = Observe::new(false);
    set(soft);
    let err = made.err().expect("a timer made with no descriptor free");
    assert_eq!(err.raw_os_error(), Some(libc::EMFILE), "{err}");
    // Descriptor 0 is a descriptor like any other (a daemon may have
    // closed its standard input): a timer given 0 works.
    // SAFETY: duplicates and closes this process' own standard input, and
    // puts it back below; nothing else reads it meanwhile.
    let saved = unsafe { libc::dup(0) };
    assert!(saved > 0);
    // SAFETY: as above.
    assert_eq!(unsafe { libc::close(0) }, 0);
    let observe = Observe::new(false);
    let fd = observe.as_ref().ok().and_then(|o| o.event_fd());
    drop(observe);
    // SAFETY: as above: standard input back where it was.
    unsafe {
        assert_eq!(libc::dup2(saved, 0), 0);
        libc::close(saved);
    }
    assert_eq!(fd, Some(0));
}

fn limits() -> (u64, u64) {
    // SAFETY: getrlimit fills a plain struct we own.
    unsafe {
        let mut lim: libc::rlimit = std::mem::zeroed();
        assert_eq!(libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim), 0);
        (lim.rlim_cur as u64, lim.rlim_max as u64)
    }
}

fn raises_the_open_file_limit_to_the_hard_limit() {
    let (_, hard) = limits();
    // From below the hard limit.
    // SAFETY: setrlimit reads a plain struct we own; lowering the soft
    // limit is always allowed.
    unsafe {
        let lim = libc::rlimit {
            rlim_cur: 256,
            rlim_max: hard as libc::rlim_t,
        };
        assert_eq!(libc::setrlimit(libc::RLIMIT_NOFILE, &lim), 0);
    }
    assert_eq!(limits(), (256, hard));
    assert_eq!(os::raise_fd_limit().expect("raised"), hard);
    assert_eq!(limits(), (hard, hard));
    // Already there: unchanged.
    assert_eq!(os::raise_fd_limit().expect("raised"), hard);
    assert_eq!(limits(), (hard, hard));
}

/// What `f` writes to this process's stderr (fd 2 is a pipe meanwhile).
fn stderr_of(f: impl FnOnce()) -> String {
    let mut fds = [0; 2];
    // SAFETY: pipe fills two descriptors; dup/dup2 swap fd 2 and back; no
    // other thread writes to stderr meanwhile (this program has none).
    let saved = unsafe {
        assert_eq!(libc::pipe(fds.as_mut_ptr()), 0);
        let saved = libc::dup(2);
        assert!(saved >= 0);
        assert_eq!(libc::dup2(fds[1], 2), 2);
        saved
    };
    f();
    // SAFETY: as above; the read end is owned by the File from here on.
    let mut read_end = unsafe {
        assert_eq!(libc::dup2(saved, 2), 2);
        libc::close(saved);
        libc::close(fds[1]);
        std::fs::File::from_raw_fd(fds[0])
    };
    let mut text = String::new();
    read_end.read_to_string(&mut text).expect("utf-8");
    text
}

fn log_lines_go_to_stderr_with_a_timestamp_unless_hooked() {
    let rec = Record {
        level: Level::Warn,
        function: "fn",
        sender: "TCP:127.0.0.1:1",
        text: "what happened",
    };
    let before = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let text = stderr_of(|| Logger::new(Level::Info).write(&rec));
    // `<unix seconds>.<milliseconds> <level, 5 wide> <function>: <sender>: <text>`
    let (stamp, rest) = text.split_once(' ').expect("a timestamp");
    assert_eq!(rest, "WARN  fn: TCP:127.0.0.1:1: what happened\n");
    let (secs, millis) = stamp.split_once('.').expect("seconds.millis");
    let secs: u64 = secs.parse().expect("seconds");
    assert!(secs >= before && secs <= before + 5, "{stamp}");
    assert_eq!(millis.len(), 3);
    assert!(millis.bytes().all(|b| b.is_ascii_digit()), "{stamp}");
    // A hook takes the records instead of stderr.
    let seen = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
    let mut logger = Logger::new(Level::Info);
    let sink = std::rc::Rc::clone(&seen);
    logger.set_hook(Box::new(move |r: &Record<'_>| {
        sink.borrow_mut().push(r.line())
    }));
    assert_eq!(stderr_of(|| logger.write(&rec)), "");
    assert_eq!(*seen.borrow(), ["warning,fn,TCP:127.0.0.1:1,what happened"]);
}
