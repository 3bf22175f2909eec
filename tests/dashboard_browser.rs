//! The dashboard in a real browser (issue 18): headless Debian Chromium,
//! driven by puppeteer-core (tests/browser/dashboard.mjs; Node and the
//! system browser, never a downloaded one), against a `ducq-server` this
//! test starts. The script's steps are listed in its header; this test
//! prepares its npm packages (from the committed lock, with `npm ci`, into
//! the target folder only), runs it, and keeps the screenshot at
//! `target/<profile>/dashboard.png`.
//!
//! puppeteer-core rather than Playwright or a Rust CDP crate: it drives a
//! browser it did not download (`executablePath`), it is maintained with
//! Chromium's DevTools protocol, and its lock pins every package.

mod browser_util;
mod server_bin;

use browser_util::{fresh_profile, need_chromium, prepared, profile_dir};
use server_bin::{listening, KillOnDrop};
use std::process::{Command, Stdio};

#[test]
fn the_dashboard_shows_live_data_in_chromium() {
    need_chromium();
    let dir = prepared("dashboard.mjs");
    let mut server = KillOnDrop(
        Command::new(env!("CARGO_BIN_EXE_ducq-server"))
            .args([
                "--tcp",
                "127.0.0.1:0",
                "--http",
                "127.0.0.1:0",
                "--log-level",
                "info",
                "--data-dir",
                "none",
            ])
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let addrs = listening(&mut server.0, 2);

    let shot = profile_dir().join("dashboard.png");
    let _ = std::fs::remove_file(&shot);
    let profile = fresh_profile(&dir, "dashboard");
    let out = Command::new("node")
        .arg(dir.join("dashboard.mjs"))
        .env("DUCQ_URL", format!("http://{}/", addrs[1]))
        .env("DUCQ_CLI", env!("CARGO_BIN_EXE_ducq"))
        .env("DUCQ_PORT", addrs[0].port().to_string())
        .env("SCREENSHOT", &shot)
        .env("PROFILE_DIR", &profile)
        .current_dir(&dir)
        .output()
        .expect("run node");
    drop(server);
    let _ = std::fs::remove_dir_all(&profile);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "the browser test failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.ends_with("step: done\n"), "{stdout}");
    let png = std::fs::read(&shot).expect("the screenshot");
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
}
