//! Helpers for the TLS, Unix socket, auth and configuration tests: a
//! throw-away PKI made at run time (rcgen; no key is ever committed), a
//! `ducq-server` process whose listeners are read from its log, and a raw
//! TLS client. `config` builds the TOML those servers read; `access`
//! holds the client-side steps of the auth tests.
#![allow(dead_code)]

mod access;
mod config;

// Not every test file uses every piece.
#[allow(unused_imports)]
pub use access::*;
#[allow(unused_imports)]
pub use config::*;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStderr, Command, Stdio};
use std::sync::{mpsc, Arc};
use std::time::Duration;

use rcgen::{
    date_time_ymd, BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair,
};

pub const WAIT: Duration = Duration::from_secs(10);

/// A fresh temporary directory, removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let dir = std::env::temp_dir().join(format!("ducq-{tag}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    pub fn path(&self, name: &str) -> String {
        self.0.join(name).to_string_lossy().into_owned()
    }

    pub fn write(&self, name: &str, text: &str) -> String {
        let p = self.path(name);
        std::fs::write(&p, text).unwrap();
        p
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Certificates for one test: a CA, a server certificate for `localhost`
/// and `127.0.0.1` signed by it, an expired one, a client certificate
/// whose CN is `alice` (and an expired one), and a second, unrelated CA.
pub struct Pki {
    pub dir: TempDir,
    pub ca: String,
    pub other_ca: String,
    pub cert: String,
    pub key: String,
    pub expired_cert: String,
    pub expired_key: String,
    pub client_cert: String,
    pub client_key: String,
    /// A client certificate signed by the other CA.
    pub stranger_cert: String,
    pub stranger_key: String,
    /// Alice's certificate from the right CA, expired.
    pub expired_client_cert: String,
    pub expired_client_key: String,
}

fn ca(name: &str) -> CertifiedIssuer<'static, KeyPair> {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, name);
    CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap()
}

fn leaf(
    issuer: &CertifiedIssuer<'static, KeyPair>,
    sans: &[&str],
    cn: &str,
    expired: bool,
) -> (String, String) {
    let sans: Vec<String> = sans.iter().map(|s| s.to_string()).collect();
    let mut params = CertificateParams::new(sans).unwrap();
    params.distinguished_name.push(DnType::CommonName, cn);
    if expired {
        params.not_before = date_time_ymd(2001, 1, 1);
        params.not_after = date_time_ymd(2002, 1, 1);
    }
    let key = KeyPair::generate().unwrap();
    let cert = params.signed_by(&key, issuer).unwrap();
    (cert.pem(), key.serialize_pem())
}

impl Pki {
    pub fn new() -> Pki {
        let dir = TempDir::new("pki");
        let root = ca("ducq test CA");
        let other = ca("someone else's CA");
        let (cert, key) = leaf(&root, &["localhost", "127.0.0.1"], "ducq server", false);
        let (xcert, xkey) = leaf(&root, &["localhost", "127.0.0.1"], "ducq server", true);
        let (ccert, ckey) = leaf(&root, &[], "alice", false);
        let (scert, skey) = leaf(&other, &[], "alice", false);
        let (xccert, xckey) = leaf(&root, &[], "alice", true);
        Pki {
            ca: dir.write("ca.pem", &root.pem()),
            other_ca: dir.write("other-ca.pem", &other.pem()),
            cert: dir.write("server.pem", &cert),
            key: dir.write("server.key", &key),
            expired_cert: dir.write("expired.pem", &xcert),
            expired_key: dir.write("expired.key", &xkey),
            client_cert: dir.write("alice.pem", &ccert),
            client_key: dir.write("alice.key", &ckey),
            stranger_cert: dir.write("stranger.pem", &scert),
            stranger_key: dir.write("stranger.key", &skey),
            expired_client_cert: dir.write("alice-expired.pem", &xccert),
            expired_client_key: dir.write("alice-expired.key", &xckey),
            dir,
        }
    }

    /// A client configuration trusting `ca`, optionally presenting a
    /// client certificate.
    pub fn client(&self, ca: &str, cert: Option<(&str, &str)>) -> Arc<rustls::ClientConfig> {
        ducq::tls::client_config(&ducq::tls::ClientTlsFiles {
            ca: Some(ca.into()),
            cert_key: cert.map(|(c, k)| (c.to_string(), k.to_string())),
        })
        .unwrap()
    }
}

/// A `ducq-server` process; killed on drop. Its log lines are kept.
pub struct Server {
    pub child: Child,
    /// `(address, kind)` of each listener, in the order they opened
    /// (kind: "" for tcp, "tls", "http", "https", "unix").
    pub listeners: Vec<(String, String)>,
    pub log: mpsc::Receiver<String>,
}

impl Server {
    pub fn start(args: &[&str]) -> Server {
        Server::try_start(args).unwrap_or_else(|e| panic!("ducq-server {args:?}: {e}"))
    }

    /// Starts the server and waits for listeners of these kinds, in this
    /// order ("" for tcp; a configuration file's, which flags do not tell).
    pub fn start_kinds(args: &[&str], kinds: &[&str]) -> Server {
        Server::try_start_kinds(args, kinds).unwrap_or_else(|e| panic!("ducq-server {args:?}: {e}"))
    }

    /// The kinds of listeners the flags ask for, in the order the server
    /// opens them: tcp and http as given, then tls and https, then unix.
    pub fn try_start(args: &[&str]) -> Result<Server, String> {
        let mut plain = Vec::new();
        let mut secure = Vec::new();
        let mut unix = Vec::new();
        for a in args {
            match *a {
                "--tcp" => plain.push(""),
                "--http" => plain.push("http"),
                "--tls" => secure.push("tls"),
                "--https" => secure.push("https"),
                "--unix" => unix.push("unix"),
                _ => {}
            }
        }
        plain.extend(secure);
        plain.extend(unix);
        Server::try_start_kinds(args, &plain)
    }

    /// Starts the server and waits until listeners of `kinds` are open, or
    /// returns its error output when it exits first.
    pub fn try_start_kinds(args: &[&str], kinds: &[&str]) -> Result<Server, String> {
        let n = kinds.len();
        let mut child = Command::new(env!("CARGO_BIN_EXE_ducq-server"))
            .args(args)
            .stderr(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .expect("start ducq-server");
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = mpsc::channel();
        spawn_reader(stderr, tx);
        let mut listeners = Vec::new();
        let mut errors = String::new();
        while listeners.len() < n {
            match rx.recv_timeout(WAIT) {
                Ok(line) => {
                    if let Some(rest) = line.split("listening on ").nth(1) {
                        let addr = rest.split(" (").next().unwrap_or(rest).trim().to_string();
                        let kind = kinds
                            .get(listeners.len())
                            .copied()
                            .unwrap_or("")
                            .to_string();
                        listeners.push((addr, kind));
                    } else if line.starts_with("ducq-server:") {
                        errors.push_str(&line);
                        errors.push('\n');
                    }
                }
                Err(_) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err(errors);
                }
            }
        }
        Ok(Server {
            child,
            listeners,
            log: rx,
        })
    }

    /// The address of the `n`-th listener of `kind`.
    pub fn addr(&self, kind: &str, n: usize) -> String {
        self.listeners
            .iter()
            .filter(|(_, k)| k == kind)
            .nth(n)
            .map(|(a, _)| a.clone())
            .unwrap_or_else(|| panic!("no {kind} listener #{n} in {:?}", self.listeners))
    }

    pub fn port(&self, kind: &str) -> String {
        self.addr(kind, 0).rsplit(':').next().unwrap().to_string()
    }

    /// Waits for a log line containing `needle`; returns it.
    pub fn wait_log(&self, needle: &str) -> String {
        let deadline = std::time::Instant::now() + WAIT;
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match self.log.recv_timeout(left) {
                Ok(line) if line.contains(needle) => return line,
                Ok(_) => {}
                Err(_) => panic!("no log line with '{needle}'"),
            }
        }
    }

    pub fn signal(&self, sig: &str) {
        let ok = Command::new("kill")
            .args([&format!("-{sig}"), &self.child.id().to_string()])
            .status()
            .unwrap()
            .success();
        assert!(ok, "kill -{sig}");
    }

    /// Whether the process is still running.
    pub fn alive(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn spawn_reader(stderr: ChildStderr, tx: mpsc::Sender<String>) {
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { return };
            if std::env::var_os("DUCQ_TEST_LOG").is_some() {
                eprintln!("server: {line}");
            }
            if tx.send(line).is_err() {
                // Nobody listens any more: keep draining so the server
                // never blocks on a full pipe.
                continue;
            }
        }
    });
}

/// Writes `toml` as `ducq.toml` in a fresh directory (named after
/// `tag`) and starts `ducq-server --config` on it at log level info,
/// waiting for listeners of `kinds` (see `Server::start_kinds`). The
/// directory lives as long as the returned `TempDir`.
pub fn config_server(tag: &str, toml: &str, kinds: &[&str]) -> (TempDir, Server) {
    let dir = TempDir::new(tag);
    let config = dir.write("ducq.toml", toml);
    let s = Server::start_kinds(&["--config", &config, "--log-level", "info"], kinds);
    (dir, s)
}

/// The PHC string `ducq-server hash-password` prints for `password`.
pub fn hash(password: &str) -> String {
    use std::io::Write;
    let mut child = Command::new(env!("CARGO_BIN_EXE_ducq-server"))
        .arg("hash-password")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(format!("{password}\n").as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let phc = text(&out.stdout).trim().to_string();
    assert!(phc.starts_with("$argon2id$v=19$m="), "{phc}");
    phc
}

/// Runs the `ducq` CLI with `args`.
pub fn ducq(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_ducq"))
        .args(args)
        .output()
        .expect("run ducq")
}

pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Whether a command-line tool exists.
pub fn have(tool: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Installs a Debian package when its tool is missing (the test script's
/// habit; only as root).
pub fn ensure_tool(tool: &str, package: &str) -> bool {
    if have(tool) {
        return true;
    }
    let _ = Command::new("sh")
        .args([
            "-c",
            &format!("(apt-get install -y -qq {package} || (apt-get update -qq && apt-get install -y -qq {package})) >/dev/null 2>&1"),
        ])
        .status();
    have(tool)
}

pub fn exists(p: &str) -> bool {
    Path::new(p).exists()
}
