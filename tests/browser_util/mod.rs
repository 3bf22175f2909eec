//! The browser tests' common steps: the system Chromium must be there,
//! the Node scripts of `tests/browser/` get their npm packages (from the
//! committed lock, with `npm ci`, into the target folder only), and a
//! fresh Chromium profile folder per run. It starts no server and judges
//! nothing: each test does.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

pub const CHROMIUM: &str = "/usr/bin/chromium";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `target/<profile>` of this test run.
pub fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.parent().and_then(Path::parent).unwrap().to_path_buf()
}

/// Fails the test when Debian's Chromium is missing.
pub fn need_chromium() {
    assert!(
        Path::new(CHROMIUM).is_file(),
        "Debian's chromium is not installed (scripts/test.sh installs it)"
    );
}

/// A fresh, empty Chromium user-data folder named after `tag` in `dir`.
pub fn fresh_profile(dir: &Path, tag: &str) -> PathBuf {
    let profile = dir.join(format!("profile-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&profile);
    std::fs::create_dir_all(&profile).unwrap();
    profile
}

/// The script `tests/browser/<script>` and the node_modules in
/// `target/<profile>/browser`, installed with `npm ci` when the committed
/// lock changed (or never was installed).
pub fn prepared(script: &str) -> PathBuf {
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
    std::fs::copy(src.join(script), dir.join(script)).unwrap();
    dir
}
