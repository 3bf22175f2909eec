//! Build script: generates the device header `include/ducq_client.h` (at
//! the repository's root) from the `extern "C"` items of this crate with
//! cbindgen (`cbindgen.toml`), with the version macros `ducq.h` has. The header is committed; the embedded test
//! (`scripts/test-embedded.sh`) fails when the committed copy differs.

use std::env;
use std::fs;
use std::path::{Path, PathBuf};

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=cbindgen.toml");
    println!("cargo:rerun-if-changed=src");

    let crate_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    let mut config = cbindgen::Config::from_file(crate_dir.join("cbindgen.toml"))
        .expect("cbindgen.toml is readable and valid");
    // The same version macros as ducq.h, with this library's version.
    let version = |part: &str| env::var(format!("CARGO_PKG_VERSION_{part}")).expect("version");
    config.after_includes = Some(format!(
        "\n/** Version of the ducq library these declarations belong to. */\n\
         #define DUCQ_VERSION_MAJOR {}\n\
         #define DUCQ_VERSION_MINOR {}\n\
         #define DUCQ_VERSION_PATCH {}\n\
         #define DUCQ_VERSION \"{}\"\n",
        version("MAJOR"),
        version("MINOR"),
        version("PATCH"),
        env::var("CARGO_PKG_VERSION").expect("version"),
    ));
    let bindings = cbindgen::Builder::new()
        .with_crate(&crate_dir)
        .with_config(config)
        .generate()
        .expect("cbindgen could not generate the device header");
    let mut text = Vec::new();
    bindings.write(&mut text);
    let out = PathBuf::from(env::var("OUT_DIR").expect("OUT_DIR")).join("ducq_client.h");
    fs::write(&out, &text).expect("write the generated header");
    let committed = crate_dir.join("../../include/ducq_client.h");
    update_committed(&committed, &text);
}

/// Writes the header into the source tree when it changed, atomically; a
/// read-only tree only gets a warning.
fn update_committed(path: &Path, text: &[u8]) {
    if fs::read(path).is_ok_and(|old| old == text) {
        return;
    }
    let dir = path.parent().expect("include dir");
    let tmp = dir.join(format!(".ducq_client.h.{}.tmp", std::process::id()));
    let result = fs::create_dir_all(dir)
        .and_then(|()| fs::write(&tmp, text))
        .and_then(|()| fs::rename(&tmp, path));
    match result {
        Ok(()) => {
            println!("cargo:warning=include/ducq_client.h was regenerated: commit the change")
        }
        Err(e) => {
            let _ = fs::remove_file(&tmp);
            println!("cargo:warning=could not update include/ducq_client.h: {e}");
        }
    }
}
