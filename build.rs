//! Build script: generates the C header `include/ducq.h` from the `extern "C"`
//! items of `src/ffi/` with cbindgen (configured by `cbindgen.toml`), adding
//! version macros taken from `Cargo.toml`. The header is committed; the test
//! `ffi_header` fails when the committed copy differs from the generated one.
//! Besides the header it only asks for `ducq-server` to be linked with
//! `-rdynamic`, so command objects it loads can call the C API, and gives
//! `libducq.so` its SONAME.

use std::env;
use std::fs;
use std::path::{Path, PathBuf};

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=cbindgen.toml");
    println!("cargo:rerun-if-changed=Cargo.toml");
    println!("cargo:rerun-if-changed=src");
    // Command objects loaded with `--commands` call the C API of the server
    // that loads them: export its symbols to them.
    println!("cargo:rustc-link-arg-bin=ducq-server=-rdynamic");
    // libducq.so carries the ABI major version in its SONAME, so programs
    // linked against it find the compatible file of an install
    // (`scripts/install.sh` names it libducq.so.MAJOR.MINOR.PATCH).
    let major = env::var("CARGO_PKG_VERSION_MAJOR").expect("version");
    println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libducq.so.{major}");

    let crate_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    let out_dir = PathBuf::from(env::var("OUT_DIR").expect("OUT_DIR"));

    let mut config = cbindgen::Config::from_file(crate_dir.join("cbindgen.toml"))
        .expect("cbindgen.toml is readable and valid");
    let version = |part: &str| env::var(format!("CARGO_PKG_VERSION_{part}")).expect("version");
    let macros = format!(
        "\n/** Version of the ducq library these declarations belong to. */\n\
         #define DUCQ_VERSION_MAJOR {}\n\
         #define DUCQ_VERSION_MINOR {}\n\
         #define DUCQ_VERSION_PATCH {}\n\
         #define DUCQ_VERSION \"{}\"\n",
        version("MAJOR"),
        version("MINOR"),
        version("PATCH"),
        env::var("CARGO_PKG_VERSION").expect("version"),
    );
    config.after_includes = Some(match config.after_includes.take() {
        Some(extra) => format!("{macros}{extra}"),
        None => macros,
    });

    let bindings = cbindgen::Builder::new()
        .with_crate(&crate_dir)
        .with_config(config)
        .generate()
        .expect("cbindgen could not generate include/ducq.h");
    let mut text = Vec::new();
    bindings.write(&mut text);

    let generated = out_dir.join("ducq.h");
    fs::write(&generated, &text).expect("write the generated header");
    println!(
        "cargo:rustc-env=DUCQ_GENERATED_HEADER={}",
        generated.display()
    );

    update_committed(&crate_dir.join("include").join("ducq.h"), &text);
}

/// Writes the header into the source tree when it changed, atomically, so
/// two builds running at once never leave a half-written file. A read-only
/// source tree (a packaged crate) only gets a warning.
fn update_committed(path: &Path, text: &[u8]) {
    if fs::read(path).is_ok_and(|old| old == text) {
        return;
    }
    let dir = path.parent().expect("include dir");
    let tmp = dir.join(format!(".ducq.h.{}.tmp", std::process::id()));
    let result = fs::create_dir_all(dir)
        .and_then(|()| fs::write(&tmp, text))
        .and_then(|()| fs::rename(&tmp, path));
    match result {
        Ok(()) => println!("cargo:warning=include/ducq.h was regenerated: commit the change"),
        Err(e) => {
            let _ = fs::remove_file(&tmp);
            println!("cargo:warning=could not update include/ducq.h: {e}");
        }
    }
}
