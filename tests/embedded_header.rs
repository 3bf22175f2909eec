//! The device header (`include/ducq_client.h`, generated from
//! crates/ducq-embedded) is a view of `include/ducq.h`: every type and
//! function it declares is declared the same way there, but for the one
//! the device library adds (it says "Device only"). Both are generated
//! from the same `src/ffi/` (the device library runs that very code
//! without `std`), so the device calls have the original C API's forms
//! (`ducq_vtbl` first in `ducq_i`, the four-argument `ducq_publish`, the
//! original `ducq_listen_ctx`, `ducq_emit` without `close`). A program
//! written against one compiles against the other, and the two never
//! drift.
//! (scripts/test-embedded.sh checks the library exports what it declares.)

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

/// What only the device header declares.
const DEVICE_ONLY: [&str; 1] = ["ducq_seed_entropy"];

fn header(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("include")
        .join(name);
    fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The text without comments, preprocessor lines and the C++ guard.
fn code(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("/*") {
        out.push_str(&rest[..start]);
        let end = rest[start..].find("*/").expect("closed comment");
        rest = &rest[start + end + 2..];
    }
    out.push_str(rest);
    // A preprocessor line goes with the lines its `\` continues on.
    let mut in_directive = false;
    out.lines()
        .map(|l| l.split("//").next().unwrap_or(""))
        .filter(|l| {
            let t = l.trim();
            let directive = in_directive || t.starts_with('#');
            in_directive = directive && t.ends_with('\\');
            !directive && t != "extern \"C\" {" && t != "}"
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Top-level declarations by name, in one spelling: single spaces, no
/// `struct`/`enum` keywords (both headers typedef every tag), no `extern`.
fn declarations(text: &str) -> BTreeMap<String, String> {
    let code = code(text);
    let mut decls = BTreeMap::new();
    let (mut depth, mut start) = (0i32, 0usize);
    for (i, c) in code.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ';' if depth == 0 => {
                let decl = normalize(&code[start..i]);
                start = i + 1;
                if decl.is_empty() {
                    continue;
                }
                let name = name_of(&decl);
                if let Some(old) = decls.insert(name.clone(), decl.clone()) {
                    panic!("{name} declared twice: {old} / {decl}");
                }
            }
            _ => {}
        }
    }
    decls
}

fn normalize(decl: &str) -> String {
    let mut spaced = String::new();
    for c in decl.chars() {
        if "(),*{}".contains(c) {
            spaced.extend([' ', c, ' ']);
        } else {
            spaced.push(c);
        }
    }
    let words: Vec<&str> = spaced
        .split_whitespace()
        .filter(|w| *w != "struct" && *w != "enum")
        .collect();
    let joined = words.join(" ");
    joined.strip_prefix("extern ").unwrap_or(&joined).to_owned()
}

/// A function pointer type's name follows `( *`; another typedef's is its
/// last word; a function's is the word before `(`.
fn name_of(decl: &str) -> String {
    let words: Vec<&str> = decl.split(' ').collect();
    let at = if words.get(1) == Some(&"{") {
        // A tag defined without a typedef (`struct ducq_file_logger {…}`).
        0
    } else if decl.starts_with("typedef") && words.contains(&"{") {
        // A typedef'd struct, union or enum: its name follows the body.
        words.len() - 1
    } else if decl.starts_with("typedef") {
        match words.windows(2).position(|w| w == ["(", "*"]) {
            Some(i) => i + 2,
            None => words.len() - 1,
        }
    } else {
        words.iter().position(|w| *w == "(").expect("a function") - 1
    };
    words[at].to_owned()
}

#[test]
fn the_device_header_declares_what_ducq_h_does() {
    let full = declarations(&header("ducq.h"));
    let device = declarations(&header("ducq_client.h"));
    assert!(device.len() > 20, "parsed {} declarations", device.len());
    for (name, decl) in &device {
        if DEVICE_ONLY.contains(&name.as_str()) {
            assert!(
                !full.contains_key(name),
                "{name} is in ducq.h now: not device only"
            );
            continue;
        }
        match full.get(name) {
            Some(there) => assert_eq!(decl, there, "{name} differs from ducq.h"),
            None => panic!("{name} is in ducq_client.h but not in ducq.h"),
        }
    }
    for name in DEVICE_ONLY {
        assert!(device.contains_key(name), "{name} is no longer declared");
    }
    // The client half is there: the calls a device program makes, the
    // original's parse helpers, and the socket layer's table.
    for name in [
        "ducq_new_tcp",
        "ducq_publish",
        "ducq_listen",
        "ducq_listen_ctx",
        "ducq_emit",
        "ducq_vtbl",
        "ducq_state_tostr",
        "ducq_parse_msg",
        "ducq_parse_route",
        "ducq_parse_payload",
        "ducq_socket_vtbl",
        "ducq_new_socket",
    ] {
        assert!(
            device.contains_key(name),
            "{name} missing from the device header"
        );
    }
    // The original's device call forms, spelled out.
    assert_eq!(
        device["ducq_publish"],
        "ducq_state ducq_publish ( ducq_i * ducq , const char * route , \
         const char * payload , size_t size )"
    );
    assert_eq!(
        device["ducq_emit"],
        "ducq_state ducq_emit ( ducq_i * ducq , const char * command , \
         const char * route , const char * payload , size_t payload_size )"
    );
    // And nothing of the server half.
    assert!(!device.keys().any(|n| n.starts_with("ducq_reactor")));
}

#[test]
fn the_parser_sees_a_changed_declaration() {
    let a = declarations("typedef struct x { int a; } x;\nint ducq_f(struct x *p);\n");
    let b = declarations("typedef struct x { int a; } x;\nint ducq_f(x *p, int n);\n");
    assert_eq!(a["ducq_f"], "int ducq_f ( x * p )");
    assert_ne!(a["ducq_f"], b["ducq_f"]);
    assert_eq!(a["x"], "typedef x { int a; } x");
}

#[test]
fn the_parser_names_struct_bodies_and_skips_continued_macros() {
    let d = declarations(
        "#define CHECK(f) do { \\\n  int s = (f); \\\n} while (0)\n\
         struct logger { int color; };\n\
         typedef struct tbl { int (*conn)(void *ctx); } tbl;\n\
         typedef struct ducq_i ducq_i;\n",
    );
    let names: Vec<&str> = d.keys().map(String::as_str).collect();
    assert_eq!(names, ["ducq_i", "logger", "tbl"]);
}
