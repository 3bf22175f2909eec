//! Browser origins in a real browser: headless Debian Chromium, driven by
//! puppeteer-core (tests/browser/origins.mjs), against a `ducq-server`
//! whose `[http] allow_origins` lists one page server's origin and not
//! another's (both on loopback, so `allow_loopback = false`). A page of
//! the unlisted origin can neither read the stored messages, nor publish
//! with or without credentials, nor open a WebSocket; the listed page does
//! all of it, its credentials included (a preflighted request). The
//! broker's store shows what got through.

mod browser_util;
mod secure_util;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::process::Command;

use browser_util::{fresh_profile, need_chromium, prepared};
use secure_util::*;

/// Serves an empty HTML page to every request on a loopback port of its
/// own (a thread, for the test's lifetime); its origin.
fn page_server() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let origin = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut s) = stream else { continue };
            let _ = s.set_read_timeout(Some(WAIT));
            let mut head = Vec::new();
            let mut byte = [0u8; 1];
            while !head.ends_with(b"\r\n\r\n") {
                match s.read(&mut byte) {
                    Ok(1) => head.push(byte[0]),
                    _ => break,
                }
            }
            let page = "<!doctype html><title>page</title>";
            let _ = write!(
                s,
                "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: {}\r\n\
                 Connection: close\r\n\r\n{page}",
                page.len()
            );
        }
    });
    origin
}

/// `GET /last/<route>` as `user`, without an `Origin`; the whole answer.
fn last(addr: &str, route: &str) -> String {
    let auth = basic("sensor1", "pw1");
    http(
        addr,
        &format!("GET /last/{route} HTTP/1.1\r\nHost: x\r\n{auth}Connection: close\r\n\r\n"),
    )
}

#[test]
fn a_foreign_page_gets_nothing_and_a_listed_one_everything_in_chromium() {
    need_chromium();
    let dir = prepared("origins.mjs");
    let (listed, foreign) = (page_server(), page_server());
    let toml = [
        listener("http", ""),
        user(
            "sensor1",
            Some(&hash("pw1")),
            &["sensors/*", "home/*"],
            &["*"],
        ),
        anonymous(&["home/*"], &["home/*"]),
        format!("\n[http]\nallow_origins = [\"{listed}\"]\nallow_loopback = false\n"),
    ]
    .concat();
    let (_config, s) = config_server("origins-browser", &toml, &["http"]);
    let h = s.addr("http", 0);
    // What a hostile page would like to read.
    let r = http(&h, "POST /pub/home/door HTTP/1.1\r\nHost: x\r\nContent-Length: 8\r\nConnection: close\r\n\r\ncode1234");
    assert!(r.starts_with("HTTP/1.1 200 "), "{r}");

    let profile = fresh_profile(&dir, "origins");
    let out = Command::new("node")
        .arg(dir.join("origins.mjs"))
        .env("BROKER", format!("http://{h}"))
        .env("FOREIGN", format!("{foreign}/"))
        .env("LISTED", format!("{listed}/"))
        .env("USER", "sensor1:pw1")
        .env("PROFILE_DIR", &profile)
        .current_dir(&dir)
        .output()
        .expect("run node");
    let _ = std::fs::remove_dir_all(&profile);
    let stdout = text(&out.stdout);
    assert!(
        out.status.success(),
        "the browser script failed:\n{stdout}\n{}",
        text(&out.stderr)
    );
    let stored = r#"[{"route":"home/door","payload":"code1234"}]"#;
    assert_eq!(
        stdout,
        format!(
            "foreign {{\"read\":\"blocked\",\"publish\":\"blocked\",\"credentials\":\"blocked\",\
             \"websocket\":\"error\"}}\n\
             listed {{\"read\":\"200 {}\",\"publish\":\"200 {{\\\"ok\\\":true}}\",\
             \"credentials\":\"200 {{\\\"ok\\\":true}}\",\"websocket\":\"message ACK\"}}\n",
            stored.replace('"', "\\\"")
        )
    );
    // The foreign page's publications never reached the broker (its simple
    // POST was refused with 403, its credentialed one never left the
    // browser); the listed page's did.
    assert!(last(&h, "home/foreign").starts_with("HTTP/1.1 204 "));
    assert!(last(&h, "sensors/foreign").starts_with("HTTP/1.1 204 "));
    assert!(last(&h, "home/listed").ends_with("\r\n\r\nx"));
    assert!(last(&h, "sensors/listed").ends_with("\r\n\r\n21"));
}
