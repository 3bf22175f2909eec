//! The C API of secure deployment, from C programs compiled with
//! `-Wall -Wextra -Werror` against `include/ducq.h` and `libducq.a`: a TLS
//! client handle and a Unix socket client handle against `ducq-server`, a
//! C broker with TLS and Unix listeners, users and a reloaded
//! configuration file, and password hashing.

mod ffi_util;
mod mqtt_util;
mod secure_util;

use std::path::PathBuf;
use std::process::Command;

use ducq::client::{Client, Wire};
use secure_util::*;

/// Compiles `source` into an executable in `dir`.
fn compile(dir: &TempDir, name: &str, source: &str) -> PathBuf {
    let c = dir.write(&format!("{name}.c"), source);
    let exe = dir.0.join(name);
    ffi_util::compile_c(std::path::Path::new(&c), &exe, &["-pedantic"]);
    exe
}

const CLIENT: &str = r#"
#include <stdio.h>
#include <string.h>
#include "ducq.h"

/* usage: client tls HOST PORT CA | client unix PATH; publishes secure/c */
int main(int argc, char **argv) {
    ducq_i *d;
    ducq_state st;
    if (argc < 3)
        return 64;
    if (strcmp(argv[1], "tls") == 0)
        d = ducq_new_tls(argv[2], argv[3], argc > 4 ? argv[4] : NULL);
    else
        d = ducq_new_unix(argv[2]);
    if (d == NULL) {
        printf("no handle\n");
        return 1;
    }
    st = ducq_conn(d);
    if (st != DUCQ_OK) {
        printf("conn %d %s\n", (int)st, ducq_last_error(d));
        ducq_free(d);
        return 2;
    }
    st = ducq_pub(d, "secure/c", "from C", 6);
    printf("pub %d\n", (int)st);
    ducq_free(d);
    return st == DUCQ_OK ? 0 : 3;
}
"#;

#[test]
fn c_tls_and_unix_client_handles() {
    let pki = Pki::new();
    let dir = TempDir::new("ffisec");
    let sock = dir.path("c.sock");
    let s = Server::start(&[
        "--tcp",
        "127.0.0.1:0",
        "--tls",
        "127.0.0.1:0",
        "--unix",
        &sock,
        "--cert",
        &pki.cert,
        "--key",
        &pki.key,
    ]);
    let exe = compile(&dir, "client", CLIENT);
    let mut sub = Client::connect(&s.addr("", 0), WAIT).unwrap();
    sub.subscribe("secure/*", "").unwrap();
    let out = Command::new(&exe)
        .args(["tls", "127.0.0.1", &s.port("tls"), &pki.ca])
        .output()
        .unwrap();
    assert_eq!(text(&out.stdout), "pub 0\n", "{}", text(&out.stderr));
    assert_eq!(sub.receive().unwrap(), b"pub secure/c\nfrom C");
    let out = Command::new(&exe).args(["unix", &sock]).output().unwrap();
    assert_eq!(text(&out.stdout), "pub 0\n");
    assert_eq!(sub.receive().unwrap(), b"pub secure/c\nfrom C");
    // The wrong CA: DUCQ_ECONNECT (9) and the reason.
    let out = Command::new(&exe)
        .args(["tls", "127.0.0.1", &s.port("tls"), &pki.other_ca])
        .output()
        .unwrap();
    let got = text(&out.stdout);
    assert!(
        got.starts_with("conn 9 ") && got.contains("UnknownIssuer"),
        "{got}"
    );
    assert_eq!(out.status.code(), Some(2));
}

const BROKER: &str = r#"
#define _POSIX_C_SOURCE 200809L
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "ducq.h"

/* usage: broker CERT KEY SOCK CONFIG: TLS, HTTPS, MQTTS and Unix
 * listeners, the configuration file, then a user and the anonymous lists
 * from C; prints the ports, then serves. Each
 * line "reload" on stdin reloads the file and prints how it went; the end
 * of stdin stops it. */
int main(int argc, char **argv) {
    ducq_reactor *r;
    uint16_t tls = 0, https = 0, mqtts = 0;
    char phc[128];
    char line[64];
    size_t have = 0;
    (void)argc;
    r = ducq_reactor_new();
    if (ducq_hash_password("s3cret", phc, sizeof phc) != DUCQ_OK)
        return 1;
    if (ducq_hash_password("s3cret", phc, 10) != DUCQ_EMAX)
        return 2;
    if (ducq_reactor_listen_tls(r, "127.0.0.1:0", argv[1], argv[2], NULL, &tls) != DUCQ_OK)
        return 3;
    if (ducq_reactor_listen_https(r, "127.0.0.1:0", argv[1], argv[2], NULL, &https) != DUCQ_OK)
        return 4;
    if (ducq_reactor_listen_tls(r, "127.0.0.1:0", "/nonexistent.pem", argv[2], NULL, NULL) != DUCQ_EFILE)
        return 5;
    if (ducq_reactor_listen_unix(r, argv[3], 0600) != DUCQ_OK)
        return 6;
    if (ducq_reactor_listen_mqtts(r, "127.0.0.1:0", argv[1], argv[2], NULL, &mqtts) != DUCQ_OK)
        return 12;
    if (ducq_reactor_reload(r) != DUCQ_ENOIMPL)
        return 9;
    if (ducq_reactor_load_config(r, argv[4]) != DUCQ_OK)
        return 10;
    if (ducq_reactor_reload(r) != DUCQ_OK)
        return 11;
    /* Users from C after the file: a reload replaces them with the file's. */
    if (ducq_reactor_add_user(r, "carol", phc, "carol/*", "carol/*\npublic/*", 0) != DUCQ_OK)
        return 7;
    if (ducq_reactor_add_user(r, "bad", "not-a-hash", "", "", 0) != DUCQ_EMSGINV)
        return 8;
    /* Anonymous clients: publish to three patterns, subscribe to nothing. */
    if (ducq_reactor_set_anonymous(r, "unix/*\nany\npublic/*", "") != DUCQ_OK)
        return 13;
    printf("tls %u\nhttps %u\nmqtts %u\n", (unsigned)tls, (unsigned)https, (unsigned)mqtts);
    fflush(stdout);
    for (;;) {
        struct pollfd in;
        ssize_t n;
        ducq_loop_once(r, 10);
        in.fd = 0;
        in.events = POLLIN;
        if (poll(&in, 1, 0) != 1)
            continue;
        n = read(0, line + have, sizeof line - 1 - have);
        if (n <= 0)
            break;
        have += (size_t)n;
        line[have] = '\0';
        if (strchr(line, '\n') == NULL)
            continue;
        if (strcmp(line, "reload\n") == 0) {
            ducq_state st = ducq_reactor_reload(r);
            printf("reload %s\n", st == DUCQ_OK ? "ok" : st == DUCQ_ERROR ? "refused" : "other");
            fflush(stdout);
        }
        have = 0;
    }
    ducq_reactor_free(r);
    return 0;
}
"#;

#[test]
fn c_broker_with_tls_unix_users_and_config() {
    let pki = Pki::new();
    let dir = TempDir::new("ffibroker");
    let sock = dir.path("b.sock");
    let config = dir.write(
        "c.toml",
        "[[listener]]\nkind = \"tcp\"\naddr = \"127.0.0.1:0\"\n",
    );
    let exe = compile(&dir, "broker", BROKER);
    let mut child = Command::new(&exe)
        .args([&pki.cert, &pki.key, &sock, &config])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut lines = std::io::BufRead::lines(std::io::BufReader::new(child.stdout.take().unwrap()));
    let mut next = || lines.next().unwrap().unwrap();
    let tls = next();
    let https = next();
    let mqtts = next();
    let tls_port = tls.strip_prefix("tls ").unwrap_or_else(|| panic!("{tls}"));
    let https_port = https.strip_prefix("https ").unwrap();
    let tls_addr = format!("127.0.0.1:{tls_port}");
    let config_tls = pki.client(&pki.ca, None);
    let mut c = Client::connect_tls(&tls_addr, WAIT, config_tls.clone(), Wire::Framed).unwrap();
    c.authenticate("carol", b"s3cret").unwrap();
    c.publish("carol/x", b"1").unwrap();
    nack24(c.publish("dave/x", b"1"));
    let mut w = Client::connect_tls(
        &format!("127.0.0.1:{https_port}"),
        WAIT,
        config_tls.clone(),
        Wire::Ws,
    )
    .unwrap();
    w.publish("any", b"1").unwrap();
    let mut u = Client::connect_unix(sock.as_ref(), WAIT).unwrap();
    u.publish("unix/x", b"1").unwrap();
    // ducq_reactor_set_anonymous: anonymous clients publish within its
    // list and subscribe to nothing.
    nack24(u.publish("other/x", b"1"));
    nack24(u.subscribe("unix/*", "").map(drop));
    // The MQTTS listener: mosquitto_pub over TLS, anonymous, reaches
    // carol.
    c.subscribe("public/*", "").unwrap();
    let mqtts_port = mqtts.strip_prefix("mqtts ").unwrap().parse().unwrap();
    let out = mqtt_util::clients::mosquitto(
        "mosquitto_pub",
        mqtts_port,
        &["--cafile", &pki.ca, "-t", "public/m", "-m", "over mqtts"],
    )
    .output()
    .unwrap();
    mqtt_util::clients::ok(out);
    assert_eq!(c.receive().unwrap(), b"pub public/m\nover mqtts");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&sock).unwrap().permissions().mode() & 0o777,
        0o600
    );

    // ducq_reactor_reload applies a changed file: its user dave replaces
    // carol, anonymous clients may publish to open/* alone. Nobody is
    // disconnected; carol's connection is judged as anonymous from now on.
    let reload = |stdin: &mut std::process::ChildStdin| {
        use std::io::Write;
        stdin.write_all(b"reload\n").unwrap();
    };
    let dave = hash("d4ve");
    dir.write(
        "c.toml",
        &format!(
            "[[listener]]\nkind = \"tcp\"\naddr = \"127.0.0.1:0\"\nanonymous = false\n\n\
             [[user]]\nname = \"dave\"\npassword = \"{dave}\"\npublish = [\"dave/*\"]\n\n\
             [anonymous]\npublish = [\"open/*\"]\nsubscribe = []\n"
        ),
    );
    reload(&mut stdin);
    assert_eq!(next(), "reload ok");
    nack24(u.publish("unix/y", b"1"));
    u.publish("open/y", b"1").unwrap();
    nack24(c.publish("carol/y", b"1"));
    let mut d = Client::connect_tls(&tls_addr, WAIT, config_tls.clone(), Wire::Framed).unwrap();
    nack24(d.authenticate("carol", b"s3cret"));
    d.authenticate("dave", b"d4ve").unwrap();
    d.publish("dave/y", b"1").unwrap();
    // The file's TCP listener no longer admits anonymous clients; the
    // listeners opened from C before the file are not the file's and
    // still do.
    let mut anon_tls =
        Client::connect_tls(&tls_addr, WAIT, config_tls.clone(), Wire::Framed).unwrap();
    anon_tls.publish("open/tls", b"1").unwrap();
    // A broken file is refused whole: dave and the lists stay.
    dir.write("c.toml", "[limits]\nmax_message = \"big\"\n");
    reload(&mut stdin);
    assert_eq!(next(), "reload refused");
    d.publish("dave/z", b"1").unwrap();
    nack24(u.publish("unix/z", b"1"));
    let mut e = Client::connect_tls(&tls_addr, WAIT, config_tls, Wire::Framed).unwrap();
    e.authenticate("dave", b"d4ve").unwrap();
    // The end of its stdin stops the broker cleanly.
    drop(stdin);
    assert!(child.wait().unwrap().success());
}
