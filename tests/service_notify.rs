//! `ducq-server` under a service manager (issue 18): the test plays systemd,
//! binding its own unix datagram socket and starting the server with
//! `NOTIFY_SOCKET` pointing at it. The server says `READY=1` only once its
//! listeners answer, pings the watchdog from its loop, answers SIGHUP with
//! `RELOADING=1` then `READY=1` while clients stay connected, and says
//! `STOPPING=1` on SIGTERM before a clean exit.

use std::os::unix::net::UnixDatagram;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use ducq::client::Client;

const WAIT: Duration = Duration::from_secs(10);

struct Manager {
    dir: PathBuf,
    socket: UnixDatagram,
}

impl Manager {
    fn new(name: &str) -> Manager {
        let dir = std::env::temp_dir().join(format!("ducq-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let socket = UnixDatagram::bind(dir.join("notify")).unwrap();
        socket.set_read_timeout(Some(WAIT)).unwrap();
        Manager { dir, socket }
    }

    fn path(&self) -> PathBuf {
        self.dir.join("notify")
    }

    fn recv(&self) -> String {
        let mut buf = [0u8; 4096];
        let n = self
            .socket
            .recv(&mut buf)
            .expect("a notification within the wait");
        String::from_utf8(buf[..n].to_vec()).unwrap()
    }

    /// The next notification that is not a watchdog ping.
    fn recv_state(&self) -> String {
        loop {
            let m = self.recv();
            if m != "WATCHDOG=1" {
                return m;
            }
        }
    }
}

impl Drop for Manager {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn server(notify: &std::ffi::OsStr, watchdog_usec: Option<&str>) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_ducq-server"));
    cmd.args(["--tcp", "127.0.0.1:0", "--http", "127.0.0.1:0"])
        .env("NOTIFY_SOCKET", notify)
        .env_remove("WATCHDOG_PID")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    match watchdog_usec {
        Some(u) => cmd.env("WATCHDOG_USEC", u),
        None => cmd.env_remove("WATCHDOG_USEC"),
    };
    cmd
}

fn signal(child: &Child, sig: &str) {
    let ok = Command::new("kill")
        .args([sig, &child.id().to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok, "kill {sig}");
}

fn wait_exit(mut child: Child) -> i32 {
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status.code().unwrap_or(-1);
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("server did not exit");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn ready_watchdog_reload_and_stop_are_notified() {
    let manager = Manager::new("notify");
    let child = server(manager.path().as_os_str(), Some("200000"))
        .spawn()
        .unwrap();

    let ready = manager.recv_state();
    let status = ready
        .strip_prefix("READY=1\nSTATUS=serving on ")
        .unwrap_or_else(|| panic!("{ready:?}"));
    let addrs: Vec<&str> = status.split(", ").collect();
    assert_eq!(addrs.len(), 2, "{status}");
    // Ready means serving: the TCP listener answers at once.
    let mut client = Client::connect(addrs[0], WAIT).unwrap();
    client.publish("svc/a", b"1").unwrap();

    // 200 ms watchdog: pinged at half of it, from the loop, again and again.
    assert_eq!(manager.recv(), "WATCHDOG=1");
    assert_eq!(manager.recv(), "WATCHDOG=1");

    signal(&child, "-HUP");
    let reloading = manager.recv_state();
    assert!(
        reloading.starts_with("RELOADING=1\nMONOTONIC_USEC="),
        "{reloading:?}"
    );
    assert_eq!(manager.recv_state(), ready);
    // SIGHUP did not end the process, nor this connection.
    client.publish("svc/a", b"2").unwrap();
    client.subscribe("svc/a", "last").unwrap();
    assert_eq!(manager.recv(), "WATCHDOG=1");

    signal(&child, "-TERM");
    assert_eq!(manager.recv_state(), "STOPPING=1");
    assert_eq!(wait_exit(child), 0);
}

#[test]
fn without_a_watchdog_only_state_changes_are_sent() {
    let manager = Manager::new("nowatchdog");
    let child = server(manager.path().as_os_str(), None).spawn().unwrap();
    let ready = manager.recv();
    assert!(
        ready.starts_with("READY=1\nSTATUS=serving on 127.0.0.1:"),
        "{ready:?}"
    );
    signal(&child, "-TERM");
    // The very next datagram is the stop: no ping came in between.
    assert_eq!(manager.recv(), "STOPPING=1");
    assert_eq!(wait_exit(child), 0);
}

#[test]
fn an_unusable_notify_socket_stops_the_start_with_a_clear_error() {
    let out = server(std::ffi::OsStr::new("relative/notify"), None)
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("cannot notify the service manager: NOTIFY_SOCKET 'relative/notify' is neither an absolute path nor @abstract"),
        "{err}"
    );
}
