//! The MQTT bridge over TLS to a real Mosquitto (issue 17): certificates
//! made by the test (rcgen; no key is committed), a bridge configured in
//! the configuration file with `tls`, `ca`, `user` and `password`,
//! messages both ways with Debian's `mosquitto_pub`/`mosquitto_sub` on the
//! TLS side, and a CA that did not sign Mosquitto's certificate: refused
//! with a log line, dialled again, the local broker serving meanwhile,
//! until a reload brings the right CA under the same file name.

mod procs;
mod secure_util;

use std::process::Command;

use ducq::client::Client;
use procs::{free_port, Proc};
use secure_util::{Pki, Server, TempDir, WAIT};

/// A Mosquitto with one TLS listener (the test PKI's server certificate)
/// that knows one user, `bridge` / `s3cret`.
struct Mosquitto {
    proc: Proc,
    port: u16,
    ca: String,
    _dir: TempDir,
}

impl Mosquitto {
    fn start(pki: &Pki) -> Mosquitto {
        let dir = TempDir::new("mosq-tls");
        let port = free_port();
        let passwd = dir.path("passwd");
        let out = Command::new("mosquitto_passwd")
            .args(["-b", "-c", &passwd, "bridge", "s3cret"])
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        let conf = dir.write(
            "mosquitto.conf",
            &format!(
                "listener {port} 127.0.0.1\ncafile {}\ncertfile {}\nkeyfile {}\n\
                 allow_anonymous false\npassword_file {passwd}\npersistence false\n\
                 log_dest stderr\nlog_type all\n",
                pki.ca, pki.cert, pki.key
            ),
        );
        let bin = ["/usr/sbin/mosquitto", "/usr/bin/mosquitto"]
            .into_iter()
            .find(|p| std::path::Path::new(p).exists())
            .unwrap_or("mosquitto");
        let proc = Proc::spawn(Command::new(bin).args(["-c", &conf]));
        proc.err().until(" running");
        Mosquitto {
            proc,
            port,
            ca: pki.ca.clone(),
            _dir: dir,
        }
    }

    fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// The TLS and credential arguments of `mosquitto_pub`/`mosquitto_sub`.
    fn args(&self) -> Vec<String> {
        [
            "-h",
            "127.0.0.1",
            "-p",
            &self.port.to_string(),
            "--cafile",
            &self.ca,
            "-u",
            "bridge",
            "-P",
            "s3cret",
        ]
        .map(String::from)
        .to_vec()
    }

    /// `mosquitto_sub -v` on `topic` as `id`, once Mosquitto has its
    /// subscription.
    fn sub(&self, id: &str, topic: &str) -> Proc {
        let p = Proc::spawn(
            Command::new("mosquitto_sub")
                .args(self.args())
                .args(["-i", id, "-t", topic, "-v", "-q", "1"]),
        );
        self.proc
            .err()
            .until(&format!("Received SUBSCRIBE from {id}"));
        p
    }

    fn publish(&self, topic: &str, payload: &str) {
        let out = Command::new("mosquitto_pub")
            .args(self.args())
            .args(["-t", topic, "-m", payload, "-q", "1"])
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
    }
}

/// A ducq-server whose configuration file bridges to `m` over TLS,
/// trusting the CA in `ca_file` (a path relative to the file).
fn ducq(dir: &TempDir, m: &Mosquitto, ca_file: &str) -> (Server, String) {
    let path = dir.write(
        "ducq.toml",
        &format!(
            "[[listener]]\nkind = \"tcp\"\naddr = \"127.0.0.1:0\"\n\n[queues]\ndata_dir = \"none\"\n\n\
             [[bridge]]\nkind = \"mqtt\"\nname = \"m\"\naddr = \"{}\"\ntls = true\nca = \"{ca_file}\"\n\
             user = \"bridge\"\npassword = \"s3cret\"\nout = [\"up/#\"]\nin = [\"down/#\"]\n\
             backoff_max = 0.1\n",
            m.addr()
        ),
    );
    let s = Server::start_kinds(&["--config", &path], &[""]);
    let addr = s.addr("", 0);
    (s, addr)
}

#[test]
fn messages_cross_both_ways_over_tls_with_a_password() {
    let pki = Pki::new();
    let m = Mosquitto::start(&pki);
    let dir = TempDir::new("bridge-tls");
    std::fs::copy(&pki.ca, dir.path("ca.pem")).unwrap();
    let (s, addr) = ducq(&dir, &m, "ca.pem");
    s.wait_log(&format!("bridge-m: connected to {}", m.addr()));
    // Mosquitto saw the bridge's user over TLS.
    m.proc.err().until("u'bridge'");
    let ms = m.sub("watch", "up/#");
    let mut local = Client::connect(&addr, WAIT).unwrap();
    local.publish("up/t", b"21.5").unwrap();
    assert_eq!(ms.out().next(), "up/t 21.5");
    let mut sub = Client::connect(&addr, WAIT).unwrap();
    sub.subscribe("down/#", "").unwrap();
    m.publish("down/door", "open");
    sub.set_timeout(Some(WAIT)).unwrap();
    assert_eq!(sub.receive().unwrap(), b"pub down/door\nopen");
}

#[test]
fn a_wrong_ca_is_refused_and_dialled_again_until_a_reload_brings_the_right_one() {
    let pki = Pki::new();
    let m = Mosquitto::start(&pki);
    let dir = TempDir::new("bridge-tls-ca");
    std::fs::copy(&pki.other_ca, dir.path("trusted.pem")).unwrap();
    let (s, addr) = ducq(&dir, &m, "trusted.pem");
    // Mosquitto's certificate is not signed by the CA the bridge trusts.
    let line = s.wait_log("TLS handshake failed");
    assert!(line.contains("invalid peer certificate"), "{line}");
    s.wait_log(&format!("bridge-m: could not connect to {}", m.addr()));
    s.wait_log("(attempt 2)");
    // The local broker serves meanwhile.
    let mut sub = Client::connect(&addr, WAIT).unwrap();
    sub.subscribe("local", "").unwrap();
    let mut p = Client::connect(&addr, WAIT).unwrap();
    p.publish("local", b"served").unwrap();
    sub.set_timeout(Some(WAIT)).unwrap();
    assert_eq!(sub.receive().unwrap(), b"pub local\nserved");
    // The right CA under the same file name: a reload notices the new
    // bytes, and the bridge connects.
    std::fs::copy(&pki.ca, dir.path("trusted.pem")).unwrap();
    s.signal("HUP");
    s.wait_log("bridge-m: changed by the reload");
    s.wait_log(&format!("bridge-m: connected to {}", m.addr()));
    let ms = m.sub("after", "up/#");
    p.publish("up/x", b"now trusted").unwrap();
    assert_eq!(ms.out().next(), "up/x now trusted");
    p.publish("local", b"still").unwrap();
    assert_eq!(sub.receive().unwrap(), b"pub local\nstill");
}
