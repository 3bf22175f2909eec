//! Build script:
//! - generates the C header `include/ducq.h` from the `extern "C"` items of
//!   `src/ffi/` with cbindgen (configured by `cbindgen.toml`), adding the
//!   version macros from `Cargo.toml`, the `ducq_state` enum written from
//!   the one state table (`src/proto/state.rs`), and the hand-written parts
//!   cbindgen cannot express (`src/ffi/c/client_prelude.h`, `prelude.h`,
//!   `tail.h`: the original's macros, opaque types and C-implemented
//!   functions). The header is committed; the test `ffi_header` fails when
//!   it differs. (`src/ffi/c/header.rs` holds what the device library's
//!   header, include/ducq_client.h, is written with too.)
//! - compiles the two small C files of the C API (`src/ffi/c/log.c`:
//!   printf-style logging, which stable Rust cannot write; `lua.c`: the
//!   original's Lua binding, which must longjmp over C frames only) into
//!   the library, and exports their functions from `libducq.so` too.
//! - asks for `ducq-server` to be linked with `-rdynamic`, so command
//!   plugins it loads can call the C API, and gives `libducq.so` its
//!   SONAME.

use std::env;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

/// The state table, shared with the library (the one definition of the
/// 24 codes and their texts).
#[allow(dead_code)]
#[path = "src/proto/state.rs"]
mod state;

/// Header pieces shared with the device library's build script.
#[path = "src/ffi/c/header.rs"]
mod header;

/// Functions written in C that `libducq.so` must export.
const C_EXPORTS: [&str; 6] = [
    "ducq_reactor_log",
    "ducq_log_tofile",
    "ducq_getnow",
    "ducq_push_ducq",
    "ducq_push_reactor",
    "ducq_push_msg",
];

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=cbindgen.toml");
    println!("cargo:rerun-if-changed=Cargo.toml");
    println!("cargo:rerun-if-changed=src");
    println!("cargo:rerun-if-changed=include");
    // Command plugins loaded with `--commands` call the C API of the
    // server that loads them: export its symbols to them.
    println!("cargo:rustc-link-arg-bin=ducq-server=-rdynamic");
    // libducq.so carries the ABI major version in its SONAME, so programs
    // linked against it find the compatible file of an install
    // (`scripts/install.sh` names it libducq.so.MAJOR.MINOR.PATCH).
    let major = env::var("CARGO_PKG_VERSION_MAJOR").expect("version");
    println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libducq.so.{major}");

    let crate_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    let out_dir = PathBuf::from(env::var("OUT_DIR").expect("OUT_DIR"));

    let header = generate_header(&crate_dir);
    let generated = out_dir.join("ducq.h");
    fs::write(&generated, &header).expect("write the generated header");
    println!(
        "cargo:rustc-env=DUCQ_GENERATED_HEADER={}",
        generated.display()
    );
    header::update_committed(&crate_dir.join("include").join("ducq.h"), &header);

    // Without the `std` feature there is no C API (`src/ffi/` is left
    // out; the portable core is built for devices): nothing to compile.
    if env::var_os("CARGO_FEATURE_STD").is_some() {
        compile_c(&crate_dir, &out_dir);
    }
}

/// The whole `ducq.h`.
fn generate_header(crate_dir: &Path) -> Vec<u8> {
    let mut config = cbindgen::Config::from_file(crate_dir.join("cbindgen.toml"))
        .expect("cbindgen.toml is readable and valid");
    let read = |name: &str| {
        let path = crate_dir.join("src/ffi/c").join(name);
        fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
    };
    let mut after = header::version_macros();
    after.push('\n');
    after.push_str(&header::state_enum());
    after.push('\n');
    after.push_str(&read("client_prelude.h"));
    after.push('\n');
    after.push_str(&read("prelude.h"));
    config.after_includes = Some(after);
    // The include guard is ours: the hand-written tail must sit inside it.
    let guard = config
        .include_guard
        .take()
        .expect("cbindgen.toml sets include_guard");
    let header = config.header.take().unwrap_or_default();
    config.header = Some(format!("{header}\n\n#ifndef {guard}\n#define {guard}"));
    config.trailer = Some(read("tail.h"));

    let bindings = cbindgen::Builder::new()
        .with_crate(crate_dir)
        .with_config(config)
        .generate()
        .expect("cbindgen could not generate include/ducq.h");
    let mut text = Vec::new();
    bindings.write(&mut text);
    text
}

/// Compiles the C files into the library and exports them from the cdylib.
fn compile_c(crate_dir: &Path, out_dir: &Path) {
    let lua = env::var("DEP_DUCQ_LUA_INCLUDE").expect("ducq-lua-bundle gives the Lua headers");
    // The C programs of the tests include ducq_lua.h with these headers.
    println!("cargo:rustc-env=DUCQ_LUA_INCLUDE={lua}");
    cc::Build::new()
        .file(crate_dir.join("src/ffi/c/log.c"))
        .file(crate_dir.join("src/ffi/c/lua.c"))
        .include(out_dir)
        .include(crate_dir.join("include"))
        .include(&lua)
        .flag_if_supported("-std=c99")
        .warnings(true)
        .extra_warnings(true)
        .flag_if_supported("-pedantic")
        .compile("ducq_c");
    // A cdylib exports only Rust's own symbols (rustc writes a version
    // script); a second script adds the C ones (GNU ld and lld merge them),
    // and `-u` pulls their objects in.
    let map = out_dir.join("c_exports.map");
    let mut text = String::from("{\n  global:\n");
    for sym in C_EXPORTS {
        let _ = writeln!(text, "    {sym};");
        println!("cargo:rustc-cdylib-link-arg=-Wl,-u,{sym}");
        println!("cargo:rustc-link-arg-bin=ducq-server=-Wl,-u,{sym}");
    }
    text.push_str("};\n");
    fs::write(&map, text).expect("write the export map");
    println!(
        "cargo:rustc-cdylib-link-arg=-Wl,--version-script={}",
        map.display()
    );
}
