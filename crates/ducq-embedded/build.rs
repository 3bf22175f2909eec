//! Build script: generates the device header `include/ducq_client.h` (at
//! the repository's root). It is `include/ducq.h` cut down to what the
//! device library exports: cbindgen reads the same sources with the same
//! settings (the main `cbindgen.toml`) plus this crate's, every item that
//! exists only with the `std` feature (the server, sockets of ducq's own)
//! is left out, and the hand-written parts are the client ones
//! (`src/ffi/c/client_prelude.h`). The header is committed; the embedded
//! test (`scripts/test-embedded.sh`) fails when the committed copy differs.

use std::env;
use std::fs;
use std::path::PathBuf;

/// The state table (the one definition of the 24 codes and their texts).
#[allow(dead_code)]
#[path = "../../src/proto/state.rs"]
mod state;

/// Header pieces shared with the main crate's build script.
#[path = "../../src/ffi/c/header.rs"]
mod header;

/// The define cbindgen writes for `cfg(feature = "std")`; the items under
/// it are dropped (the device library has none of them).
const STD: &str = "DUCQ_STD";
/// The same for `cfg(test)`.
const TEST: &str = "DUCQ_TEST";

const HEADER: &str = "/*
 * ducq: the client half of the C API, for devices (libducq_embedded.a).
 *
 * Generated from the same sources as ducq.h by cbindgen
 * (crates/ducq-embedded/build.rs); do not edit. Every declaration here is
 * the same as in ducq.h (a test compares them), but for the one marked
 * \"Device only\". ducq_new_tcp and ducq_new_ws_client come from the
 * platform port (ports/esp-idf/ducq_socket.c), the rest from the library.
 * See docs/EMBEDDED.md for the build and link lines.
 *
 * Rules that hold for every function: fallible functions return a
 * ducq_state (DUCQ_OK is 0, codes from DUCQ_ERROR (3) up are errors); a
 * NULL pointer argument gives DUCQ_ENULL (or NULL, false); handles are
 * the caller's, freed by ducq_free; strings and buffers passed in are only
 * read during the call; a handle is used by one thread at a time.
 * Callbacks must not throw C++ exceptions.
 */";

fn main() {
    let crate_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    let root = crate_dir.join("../..");
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=src");
    for watched in ["cbindgen.toml", "src"] {
        println!("cargo:rerun-if-changed={}", root.join(watched).display());
    }

    let mut config = cbindgen::Config::from_file(root.join("cbindgen.toml"))
        .expect("the main cbindgen.toml is readable and valid");
    config.header = Some(HEADER.to_owned());
    config.include_guard = Some("DUCQ_CLIENT_H".to_owned());
    config.autogen_warning =
        Some("/* Generated file: edit src/ffi/ or crates/ducq-embedded/src/ instead. */".into());
    config.sys_includes.clear();
    config.trailer = None;
    config.defines = [("feature = std", STD), ("test", TEST)]
        .into_iter()
        .map(|(cfg, define)| (cfg.to_owned(), define.to_owned()))
        .collect();
    // The C library functions `sys` calls, and its unwinding stub, are not
    // ours to declare.
    config
        .export
        .exclude
        .extend(["malloc", "free", "realloc", "abort", "rust_eh_personality"].map(String::from));
    let prelude = root.join("src/ffi/c/client_prelude.h");
    let prelude =
        fs::read_to_string(&prelude).unwrap_or_else(|e| panic!("read {}: {e}", prelude.display()));
    config.after_includes = Some(format!(
        "{}\n{}\n{prelude}",
        header::version_macros(),
        header::state_enum()
    ));

    let bindings = cbindgen::Builder::new()
        .with_config(config)
        .with_src(root.join("src/lib.rs"))
        .with_src(crate_dir.join("src/lib.rs"))
        .generate()
        .expect("cbindgen could not generate the device header");
    let mut text = Vec::new();
    bindings.write(&mut text);
    let text = String::from_utf8(text).expect("cbindgen writes UTF-8");
    let text = without_std(&text).into_bytes();
    let out = PathBuf::from(env::var("OUT_DIR").expect("OUT_DIR")).join("ducq_client.h");
    fs::write(&out, &text).expect("write the generated header");
    header::update_committed(&root.join("include/ducq_client.h"), &text);
}

/// An open `#if`, `#ifdef` or `#ifndef` of the generated text.
enum Open {
    /// A condition cbindgen wrote for a `cfg`: whether its lines are kept
    /// (the line itself and its `#endif` never are).
    Cfg(bool),
    /// One of the header's own (include guard, `extern "C"`, prelude):
    /// kept as it is.
    Own,
}

/// The header without the items cbindgen put under `#if defined(DUCQ_STD)`
/// (or `DUCQ_TEST`), and without the `#if`/`#endif` lines around the
/// items kept. (cbindgen writes an item's condition before its doc
/// comment, so the comment goes with it.)
fn without_std(text: &str) -> String {
    let mut out: Vec<&str> = Vec::new();
    let mut open: Vec<Open> = Vec::new();
    for line in text.lines() {
        let keeping = open.iter().all(|o| !matches!(o, Open::Cfg(false)));
        if let Some(cond) = line.strip_prefix("#if ") {
            open.push(Open::Cfg(keeping && evaluate(cond)));
            continue;
        }
        if line.starts_with("#ifdef") || line.starts_with("#ifndef") {
            open.push(Open::Own);
        } else if line.starts_with("#endif") {
            match open.pop() {
                Some(Open::Cfg(_)) => continue,
                Some(Open::Own) => {}
                None => panic!("an #endif without its #if in the device header"),
            }
        } else if line.starts_with("#el") {
            panic!("unexpected {line} in the device header");
        }
        if keeping {
            out.push(line);
        }
    }
    assert!(open.is_empty(), "an #if of the device header is not closed");
    let mut text = out.join("\n");
    text.push('\n');
    collapse_blank_lines(&text)
}

/// The value of a condition cbindgen writes (`defined(X)`, `!…`, `(… && …)`,
/// `(… || …)`) with every define unset. Anything else is a build error: a
/// new kind of condition must be looked at, not guessed.
fn evaluate(cond: &str) -> bool {
    let cond = cond.trim();
    if let Some(inner) = cond.strip_prefix('!') {
        return !evaluate(inner);
    }
    if let Some(name) = cond
        .strip_prefix("defined(")
        .and_then(|r| r.strip_suffix(')'))
    {
        assert!(
            name == STD || name == TEST,
            "unexpected define {name} in the device header"
        );
        return false;
    }
    if let Some(inner) = cond.strip_prefix('(').and_then(|r| r.strip_suffix(')')) {
        if let Some(parts) = split_top(inner, "&&") {
            return parts.iter().all(|p| evaluate(p));
        }
        if let Some(parts) = split_top(inner, "||") {
            return parts.iter().any(|p| evaluate(p));
        }
        return evaluate(inner);
    }
    panic!("unexpected condition in the device header: {cond}");
}

/// `text` split at `op` outside parentheses, when it holds one.
fn split_top<'a>(text: &'a str, op: &str) -> Option<Vec<&'a str>> {
    let (mut depth, mut start, mut parts) = (0i32, 0usize, Vec::new());
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'(' => depth += 1,
            b')' => depth -= 1,
            _ if depth == 0 && text[i..].starts_with(op) => {
                parts.push(&text[start..i]);
                i += op.len();
                start = i;
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    if parts.is_empty() {
        return None;
    }
    parts.push(&text[start..]);
    Some(parts)
}

/// Runs of blank lines (left where items were dropped) become one.
fn collapse_blank_lines(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut blank = false;
    for line in text.lines() {
        if line.trim().is_empty() {
            if blank {
                continue;
            }
            blank = true;
        } else {
            blank = false;
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}
