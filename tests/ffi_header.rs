//! The C headers (issues 3 and 11): the committed `include/ducq.h` is
//! exactly what build.rs generates (its hand-written parts included); it and
//! each of the original's header names compile cleanly, alone, as C99, C11,
//! C++11 and C++17 (so does `ducq.hpp`); every function is documented;
//! every export is declared and every declaration exported (Rust's and the
//! C files'); only `src/ffi/` exports symbols; the NULL-pointer program
//! calls them all.

mod ffi_util;

use std::fs;
use std::process::Command;

use ffi_util::root;

fn generated() -> String {
    fs::read_to_string(env!("DUCQ_GENERATED_HEADER")).expect("generated header")
}

/// The header as committed: from git when this is a work tree, else the
/// file on disk.
fn committed() -> String {
    let inside = Command::new("git")
        .args(["rev-parse", "--is-inside-work-tree"])
        .current_dir(root())
        .output()
        .is_ok_and(|o| o.status.success());
    if !inside {
        return fs::read_to_string(root().join("include/ducq.h")).expect("include/ducq.h");
    }
    let out = Command::new("git")
        .args(["show", "HEAD:include/ducq.h"])
        .current_dir(root())
        .output()
        .expect("git show");
    assert!(out.status.success(), "include/ducq.h is not committed");
    String::from_utf8(out.stdout).expect("UTF-8 header")
}

/// Function names declared in the header, with the comment just above each.
fn declarations(header: &str) -> Vec<(String, String)> {
    let lines: Vec<&str> = header.lines().collect();
    let mut out = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let l = line.trim();
        if l.starts_with("typedef")
            || l.starts_with('*')
            || l.starts_with("/*")
            || !l.ends_with(");")
        {
            continue;
        }
        let Some(open) = l.find('(') else { continue };
        let name = l[..open].rsplit([' ', '*']).next().unwrap_or("").to_owned();
        if !name.starts_with("ducq_") {
            continue;
        }
        let mut doc = Vec::new();
        let mut j = i;
        while j > 0 {
            j -= 1;
            let t = lines[j].trim();
            if t.starts_with("/**") || t.starts_with('*') || t.starts_with("*/") {
                doc.push(t.trim_start_matches(['/', '*']).trim().to_owned());
                if t.starts_with("/**") {
                    break;
                }
            } else {
                break;
            }
        }
        doc.reverse();
        out.push((name, doc.join(" ")));
    }
    out
}

#[test]
fn committed_header_is_the_generated_one() {
    let (gen, com) = (generated(), committed());
    assert!(
        gen == com,
        "include/ducq.h differs from what build.rs generates: build, then commit it"
    );
    assert_eq!(
        fs::read_to_string(root().join("include/ducq.h")).unwrap(),
        gen
    );
}

#[test]
fn header_has_guards_and_version_macros() {
    let h = generated();
    assert!(h.contains("#ifndef DUCQ_H\n#define DUCQ_H"));
    assert!(h.contains("#ifdef __cplusplus\nextern \"C\" {"));
    let v = env!("CARGO_PKG_VERSION");
    assert!(h.contains(&format!("#define DUCQ_VERSION \"{v}\"")));
    for (part, value) in [
        ("MAJOR", env!("CARGO_PKG_VERSION_MAJOR")),
        ("MINOR", env!("CARGO_PKG_VERSION_MINOR")),
        ("PATCH", env!("CARGO_PKG_VERSION_PATCH")),
    ] {
        assert!(
            h.contains(&format!("#define DUCQ_VERSION_{part} {value}\n")),
            "{part}"
        );
    }
    // The state codes keep their numbers (PROTOCOL.md §11).
    for (name, n) in [
        ("DUCQ_OK", 0),
        ("DUCQ_ENULL", 4),
        ("DUCQ_EMSGINV", 15),
        ("DUCQ_UNKNOWN", 23),
    ] {
        assert!(h.contains(&format!("    {name} = {n},")), "{name}");
    }
}

#[test]
fn every_type_and_enumerator_lives_in_the_ducq_namespace() {
    // A C program includes this header into its own namespace: a stray
    // `Ok` or `Error` enumerator would collide with its code.
    let header = generated();
    for line in header.lines() {
        let t = line.trim();
        for kw in ["typedef enum ", "typedef struct ", "enum ", "struct "] {
            if let Some(rest) = t.strip_prefix(kw) {
                let name = rest
                    .split(|c: char| !c.is_alphanumeric() && c != '_')
                    .next()
                    .unwrap();
                if !name.is_empty() && t.ends_with('{') {
                    assert!(
                        name.starts_with("ducq"),
                        "type outside the ducq namespace: {t}"
                    );
                }
            }
        }
        if let Some((name, _)) = t.split_once(" = ") {
            if !name.contains(' ') && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                assert!(
                    name.starts_with("DUCQ_"),
                    "enumerator outside the DUCQ_ prefix: {t}"
                );
            }
        }
    }
}

#[test]
fn every_function_is_documented() {
    let decls = declarations(&generated());
    assert!(decls.len() >= 50, "found only {} functions", decls.len());
    for (name, doc) in &decls {
        assert!(
            doc.len() >= 60,
            "{name} has no real documentation comment: {doc:?}"
        );
    }
}

/// Functions the C files of `src/ffi/c/` define (`ducq__` ones are
/// internal).
fn c_definitions() -> Vec<String> {
    let mut out = Vec::new();
    for entry in fs::read_dir(root().join("src/ffi/c")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "c") {
            continue;
        }
        for line in fs::read_to_string(&path).unwrap().lines() {
            // A definition starts at the line's start and ends with `{`.
            if line.starts_with(' ') || line.starts_with("static") || !line.ends_with('{') {
                continue;
            }
            let Some(open) = line.find('(') else { continue };
            let name = line[..open].rsplit([' ', '*']).next().unwrap_or("");
            if name.starts_with("ducq_") && !name.starts_with("ducq__") {
                out.push(name.to_owned());
            }
        }
    }
    out
}

#[test]
fn every_export_is_declared_and_only_ffi_exports() {
    let mut declared: Vec<String> = declarations(&generated())
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    let lua = fs::read_to_string(root().join("include/ducq_lua.h")).unwrap();
    declared.extend(declarations(&lua).into_iter().map(|(n, _)| n));
    let mut exports = c_definitions();
    let mut stack = vec![root().join("src")];
    while let Some(dir) = stack.pop() {
        for entry in fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let text = fs::read_to_string(&path).unwrap();
            let in_ffi = path.starts_with(root().join("src/ffi"));
            if !in_ffi {
                assert!(
                    !text.contains("#[no_mangle]"),
                    "{} exports a symbol",
                    path.display()
                );
                continue;
            }
            for line in text.lines() {
                if let Some(rest) = line.split("extern \"C\" fn ").nth(1) {
                    if line.trim_start().starts_with("pub") {
                        exports.push(rest.split('(').next().unwrap().to_owned());
                    }
                }
            }
        }
    }
    assert!(exports.len() >= 90, "found only {} exports", exports.len());
    for name in &exports {
        assert!(declared.contains(name), "{name} is not in a header");
    }
    for name in &declared {
        assert!(
            exports.contains(name),
            "{name} is declared but nobody defines it"
        );
    }
    assert_eq!(exports.len(), declared.len(), "a function is defined twice");
}

#[test]
fn null_pointer_program_calls_every_function() {
    let program = fs::read_to_string(root().join("ffi-examples/c/null_calls.c")).unwrap();
    for (name, _) in declarations(&generated()) {
        assert!(
            program.contains(&format!("{name}(")),
            "null_calls.c never calls {name}"
        );
    }
}

fn compile(compiler: &str, std: &str, file: &str, source: &str) {
    let dir = ffi_util::examples().join("header-check");
    fs::create_dir_all(&dir).unwrap();
    let path = dir.join(file);
    fs::write(&path, source).unwrap();
    let out = Command::new(compiler)
        .arg(format!("-std={std}"))
        .args(["-Wall", "-Wextra", "-Werror", "-pedantic", "-fsyntax-only"])
        .arg("-I")
        .arg(root().join("include"))
        .arg(&path)
        .output()
        .unwrap_or_else(|e| panic!("run {compiler}: {e}"));
    assert!(
        out.status.success(),
        "{compiler} -std={std} {file}:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

const USES: &str = r#"
#include "ducq.h"
#include "ducq.h"
static ducq_state exec(ducq_reactor *r, ducq_i *d, char *m, size_t s) {
    (void)r; (void)m; (void)s;
    return ducq_send_ack(d, DUCQ_OK);
}
int main(void) {
    ducq_cmd_t cmd = {"x", "doc", exec};
    ducq_listen_ctx listen = {0, 0, 0, 0, false, 0};
    (void)cmd; (void)listen;
    return ducq_state_tostr(DUCQ_VERSION_MAJOR) == 0;
}
"#;

#[test]
fn header_compiles_as_c99_and_cpp11() {
    compile("gcc", "c99", "check.c", USES);
    compile("gcc", "c11", "check11.c", USES);
    compile("g++", "c++11", "check.cpp", USES);
    compile("g++", "c++17", "check17.cpp", USES);
}

/// The original's header names: each alone is a complete header.
const ORIGINAL_HEADERS: [&str; 8] = [
    "ducq.h",
    "ducq_vtbl.h",
    "ducq_tcp.h",
    "ducq_ws.h",
    "ducq_http.h",
    "ducq_reactor.h",
    "ducq_dispatcher.h",
    "ducq_log.h",
];

#[test]
fn each_original_header_compiles_alone() {
    for (i, h) in ORIGINAL_HEADERS.iter().enumerate() {
        let source = format!(
            "#include \"{h}\"\n#include \"{h}\"\nint main(void) {{ return ducq_state_tostr(DUCQ_OK) == 0; }}\n"
        );
        compile("gcc", "c99", &format!("alone{i}.c"), &source);
        compile("g++", "c++11", &format!("alone{i}.cpp"), &source);
    }
}

#[test]
fn cpp_wrapper_compiles_as_cpp11() {
    compile(
        "g++",
        "c++11",
        "wrapper.cpp",
        "#include \"ducq.hpp\"\nint main() { ducq::Connection c(\"h\", \"1\"); return c.valid() ? 0 : 1; }\n",
    );
}

#[test]
fn pkg_config_file_builds_a_program() {
    let pc = fs::read_to_string(root().join("ducq.pc")).unwrap();
    assert!(
        pc.contains(&format!("\nVersion: {}\n", env!("CARGO_PKG_VERSION"))),
        "ducq.pc's Version differs from Cargo.toml"
    );
    // A prefix holding only the header and the static library.
    let prefix = ffi_util::examples().join(format!("prefix-{}", std::process::id()));
    fs::create_dir_all(prefix.join("include")).unwrap();
    fs::create_dir_all(prefix.join("lib")).unwrap();
    fs::create_dir_all(prefix.join("pkgconfig")).unwrap();
    fs::copy(root().join("include/ducq.h"), prefix.join("include/ducq.h")).unwrap();
    fs::copy(ffi_util::staticlib_path(), prefix.join("lib/libducq.a")).unwrap();
    fs::copy(root().join("ducq.pc"), prefix.join("pkgconfig/ducq.pc")).unwrap();
    let flags = Command::new("pkg-config")
        .arg(format!("--define-variable=prefix={}", prefix.display()))
        .args(["--static", "--cflags", "--libs", "ducq"])
        .env("PKG_CONFIG_PATH", prefix.join("pkgconfig"))
        .output()
        .expect("run pkg-config");
    assert!(
        flags.status.success(),
        "{}",
        String::from_utf8_lossy(&flags.stderr)
    );
    let flags = String::from_utf8(flags.stdout).unwrap();
    let out = Command::new("gcc")
        .args(["-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic", "-o"])
        .arg(prefix.join("pub"))
        .arg(root().join("ffi-examples/c/pub.c"))
        .args(flags.split_whitespace())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{flags}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let _ = fs::remove_dir_all(&prefix);
}
