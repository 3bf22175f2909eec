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

mod server_bin;

use server_bin::listening;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `target/<profile>` of this test run.
fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.parent().and_then(Path::parent).unwrap().to_path_buf()
}

/// The script and its node_modules in `target/<profile>/browser`, installed
/// with `npm ci` when the committed lock changed (or never was installed).
fn prepared() -> PathBuf {
    let dir = profile_dir().join("browser");
    std::fs::create_dir_all(&dir).unwrap();
    let src = root().join("tests/browser");
    let lock = std::fs::read(src.join("package-lock.json")).unwrap();
    let stamp = dir.join("node_modules/.installed-lock");
    if std::fs::read(&stamp).ok().as_deref() != Some(&lock[..]) {
        for f in ["package.json", "package-lock.json"] {
            std::fs::copy(src.join(f), dir.join(f)).unwrap();
        }
        let cache = profile_dir().join("npm-cache");
        let out = Command::new("npm")
            .args([
                "ci",
                "--no-audit",
                "--no-fund",
                "--prefer-offline",
                "--cache",
            ])
            .arg(&cache)
            .current_dir(&dir)
            .output()
            .expect("run npm (Node 20 and npm are needed)");
        assert!(
            out.status.success(),
            "npm ci failed:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        std::fs::write(&stamp, &lock).unwrap();
    }
    std::fs::copy(src.join("dashboard.mjs"), dir.join("dashboard.mjs")).unwrap();
    dir
}

#[test]
fn the_dashboard_shows_live_data_in_chromium() {
    assert!(
        Path::new("/usr/bin/chromium").is_file(),
        "Debian's chromium is not installed (scripts/test.sh installs it)"
    );
    let dir = prepared();
    let mut server = Command::new(env!("CARGO_BIN_EXE_ducq-server"))
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
        .unwrap();
    let addrs = listening(&mut server, 2);

    let shot = profile_dir().join("dashboard.png");
    let _ = std::fs::remove_file(&shot);
    let profile = dir.join(format!("profile-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&profile);
    std::fs::create_dir_all(&profile).unwrap();
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
    let _ = server.kill();
    let _ = server.wait();
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
