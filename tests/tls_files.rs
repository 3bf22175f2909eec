//! Certificates and keys as deployments have them, made by `openssl` (not
//! rcgen, which writes PKCS#8 only): an RSA key in PKCS#1
//! (`BEGIN RSA PRIVATE KEY`) and an EC key in SEC1 (`BEGIN EC PRIVATE
//! KEY`) each serve TLS; a key that does not belong to its certificate,
//! a passphrase-protected key, a key file given as the certificate and a
//! certificate given as the key are refused by `--test-config`, each at
//! its listener's line and naming its file.

mod secure_util;

use std::process::Command;

use ducq::client::{Client, Wire};
use secure_util::*;

/// Runs `openssl ARGS` in `dir`; panics with its error output on failure.
fn openssl(dir: &TempDir, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(&dir.0)
        .output()
        .expect("run openssl");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        text(&out.stderr)
    );
}

/// A CA (`ca.pem`) and, signed by it for 127.0.0.1 and localhost, an RSA
/// certificate with a PKCS#1 key (`rsa.pem`, `rsa.key`) and an EC one
/// with a SEC1 key (`ec.pem`, `ec.key`).
fn openssl_pki() -> TempDir {
    assert!(
        ensure_tool("openssl", "openssl"),
        "openssl is not installed and could not be installed"
    );
    let dir = TempDir::new("tlsfiles");
    openssl(
        &dir,
        &[
            "ecparam",
            "-name",
            "prime256v1",
            "-genkey",
            "-noout",
            "-out",
            "ca.key",
        ],
    );
    openssl(
        &dir,
        &[
            "req",
            "-x509",
            "-new",
            "-key",
            "ca.key",
            "-subj",
            "/CN=files CA",
            "-days",
            "2",
            "-out",
            "ca.pem",
        ],
    );
    dir.write("san.ext", "subjectAltName=IP:127.0.0.1,DNS:localhost\n");
    openssl(&dir, &["genrsa", "-traditional", "-out", "rsa.key", "2048"]);
    openssl(
        &dir,
        &[
            "ecparam",
            "-name",
            "prime256v1",
            "-genkey",
            "-noout",
            "-out",
            "ec.key",
        ],
    );
    for name in ["rsa", "ec"] {
        let (key, csr, pem) = (
            format!("{name}.key"),
            format!("{name}.csr"),
            format!("{name}.pem"),
        );
        openssl(
            &dir,
            &[
                "req",
                "-new",
                "-key",
                &key,
                "-subj",
                "/CN=localhost",
                "-out",
                &csr,
            ],
        );
        openssl(
            &dir,
            &[
                "x509",
                "-req",
                "-in",
                &csr,
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-days",
                "2",
                "-extfile",
                "san.ext",
                "-out",
                &pem,
            ],
        );
    }
    openssl(
        &dir,
        &[
            "pkcs8",
            "-topk8",
            "-in",
            "ec.key",
            "-passout",
            "pass:secret",
            "-out",
            "locked.key",
        ],
    );
    dir
}

#[test]
fn pkcs1_and_sec1_keys_serve_tls() {
    let dir = openssl_pki();
    let (rsa_key, ec_key) = (
        std::fs::read_to_string(dir.path("rsa.key")).unwrap(),
        std::fs::read_to_string(dir.path("ec.key")).unwrap(),
    );
    assert!(
        rsa_key.starts_with("-----BEGIN RSA PRIVATE KEY-----"),
        "{rsa_key}"
    );
    assert!(
        ec_key.starts_with("-----BEGIN EC PRIVATE KEY-----"),
        "{ec_key}"
    );
    let trust = ducq::tls::client_config(&ducq::tls::ClientTlsFiles {
        ca: Some(dir.path("ca.pem")),
        cert_key: None,
    })
    .unwrap();
    for name in ["rsa", "ec"] {
        let (cert, key) = (
            dir.path(&format!("{name}.pem")),
            dir.path(&format!("{name}.key")),
        );
        let s = Server::start(&["--tls", "127.0.0.1:0", "--cert", &cert, "--key", &key]);
        let mut c = Client::connect_tls(&s.addr("tls", 0), WAIT, trust.clone(), Wire::Framed)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        c.subscribe("files", "").unwrap();
        c.publish("files", name.as_bytes()).unwrap();
        assert_eq!(
            c.receive().unwrap(),
            format!("pub files\n{name}").into_bytes()
        );
    }
}

#[test]
fn wrong_key_and_certificate_files_are_refused_at_their_lines() {
    let dir = openssl_pki();
    let listener = |cert: &str, key: &str| {
        format!(
            "[[listener]]\nkind = \"tls\"\naddr = \"127.0.0.1:0\"\ncert = \"{cert}\"\nkey = \"{key}\"\n\n"
        )
    };
    let config = dir.write(
        "bad.toml",
        &[
            listener("rsa.pem", "ec.key"),
            listener("ec.pem", "locked.key"),
            listener("ec.key", "ec.key"),
            listener("ec.pem", "ec.pem"),
        ]
        .concat(),
    );
    let out = Command::new(env!("CARGO_BIN_EXE_ducq-server"))
        .args(["--config", &config, "--test-config"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let f = |name: &str| dir.path(name);
    assert_eq!(
        text(&out.stderr),
        format!(
            "ducq-server: {config}:1: {}: the private key does not belong to the certificate in {}\n\
             ducq-server: {config}:7: {}: the private key is protected by a passphrase; give it \
             without one (openssl pkey -in KEY -out PLAIN)\n\
             ducq-server: {config}:13: {}: no certificate in it, only a private key \
             (certificate and key swapped?)\n\
             ducq-server: {config}:19: {}: no private key in it, only a certificate \
             (certificate and key swapped?)\n",
            f("ec.key"),
            f("rsa.pem"),
            f("locked.key"),
            f("ec.key"),
            f("ec.pem"),
        )
    );
    // The client's side says the same of a client certificate.
    let err = ducq::tls::client_config(&ducq::tls::ClientTlsFiles {
        ca: Some(f("ca.pem")),
        cert_key: Some((f("ec.pem"), f("rsa.key"))),
    })
    .err()
    .unwrap();
    assert_eq!(
        err,
        format!(
            "{}: the private key does not belong to the certificate in {}",
            f("rsa.key"),
            f("ec.pem")
        )
    );
}
