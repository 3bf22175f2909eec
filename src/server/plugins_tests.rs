//! Tests of plugin loading with shared objects compiled from C here (the
//! system's `cc`): a good command, each way an export can be wrong, texts
//! at and over their bound, a folder's order, filter and refusals, and the
//! object unloaded with its last command.

use std::path::PathBuf;
use std::process::Command;

use super::*;

/// A scratch folder of compiled plugins, removed on drop.
struct Dir(PathBuf);

impl Dir {
    fn new(what: &str) -> Dir {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static N: AtomicUsize = AtomicUsize::new(0);
        let n = N.fetch_add(1, Ordering::SeqCst);
        let dir =
            std::env::temp_dir().join(format!("ducq-plugins-{what}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Dir(dir)
    }

    /// Compiles `source` into `<name>.so`; its path.
    fn plugin(&self, name: &str, source: &str) -> PathBuf {
        let c = self.0.join(format!("{name}.c"));
        std::fs::write(&c, source).unwrap();
        let so = self.0.join(format!("{name}.so"));
        let status = Command::new("cc")
            .args(["-shared", "-fPIC", "-o"])
            .arg(&so)
            .arg(&c)
            .status()
            .expect("run cc");
        assert!(status.success(), "cc {name}.c");
        std::fs::remove_file(&c).unwrap();
        so
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// `struct ducq_cmd_t` and a function to point at.
const HEAD: &str = "struct cmd { const char *name; const char *doc; void *exec; };\n\
                    static int run(void) { return 0; }\n";

fn command(name: &str, doc: &str, exec: &str) -> String {
    format!("{HEAD}struct cmd command = {{ {name}, {doc}, {exec} }};\n")
}

fn refusal(path: &Path) -> String {
    match load_file(path) {
        Ok(p) => panic!("{} loaded as '{}'", path.display(), p.name),
        Err(e) => e,
    }
}

#[test]
fn a_good_command_is_read_whole() {
    let dir = Dir::new("good");
    let path = dir.plugin(
        "hello",
        &command("\"hello\"", "\"says hello\"", "(void *)run"),
    );
    let p = load_file(&path).unwrap();
    assert_eq!(p.name, "hello");
    assert_eq!(p.doc, "says hello");
    assert!(is_code(p.exec));
    assert_eq!(p.library.path(), path);
    // No doc: an empty one.
    let path = dir.plugin("quiet", &command("\"quiet\"", "0", "(void *)run"));
    assert_eq!(load_file(&path).unwrap().doc, "");
}

#[test]
fn a_command_is_unloaded_with_its_last_holder() {
    let dir = Dir::new("unload");
    let path = dir.plugin("gone", &command("\"gone\"", "\"d\"", "(void *)run"));
    let p = load_file(&path).unwrap();
    let exec = p.exec as usize;
    assert!(segment(exec).is_some());
    drop(p);
    assert_eq!(segment(exec), None);
}

#[test]
fn each_wrong_export_is_refused_with_its_reason() {
    let dir = Dir::new("wrong");
    let cases = [
        (
            "nocommand",
            "int other = 1;\n".to_string(),
            "no symbol 'command'".to_string(),
        ),
        (
            "function",
            "int command(void) { return 0; }\n".to_string(),
            "'command' is a function".to_string(),
        ),
        (
            "small",
            "char command[8] = { 1 };\n".to_string(),
            "'command' is not a struct (8 bytes), not a struct ducq_cmd_t".to_string(),
        ),
        (
            "nullname",
            command("0", "\"d\"", "(void *)run"),
            "its name is NULL".to_string(),
        ),
        (
            "outside",
            command("(const char *)16", "\"d\"", "(void *)run"),
            "its name points outside loaded memory".to_string(),
        ),
        (
            "docoutside",
            command("\"x\"", "(const char *)16", "(void *)run"),
            "its doc points outside loaded memory".to_string(),
        ),
        (
            "notutf8",
            command("\"x\"", "\"\\xff\\xfe\"", "(void *)run"),
            "its doc is not UTF-8".to_string(),
        ),
        (
            "badname",
            command("\"two words\"", "\"d\"", "(void *)run"),
            "its name 'two words' is not a command word".to_string(),
        ),
        (
            "noexec",
            command("\"x\"", "\"d\"", "0"),
            "'x' has no exec function (NULL)".to_string(),
        ),
        (
            "dataexec",
            format!(
                "static int data = 1;\n{}",
                command("\"x\"", "\"d\"", "(void *)&data")
            ),
            "'x': exec does not point to code".to_string(),
        ),
    ];
    for (name, source, want) in cases {
        let path = dir.plugin(name, &source);
        let got = refusal(&path);
        assert!(got.starts_with(&want), "{name}: {got}");
    }
    // As large as the struct, but all zeros: read, and its name is NULL.
    let path = dir.plugin("zeros", "char command[24] = { 0 };\n");
    assert_eq!(refusal(&path), "its name is NULL");
    // Not a shared object at all: the loader's own words.
    let path = dir.0.join("broken.so");
    std::fs::write(&path, b"\x7fELF but not really").unwrap();
    let got = refusal(&path);
    assert!(got.contains("broken.so"), "{got}");
}

#[test]
fn texts_up_to_their_bound_are_read_and_longer_ones_refused() {
    let dir = Dir::new("texts");
    let long = |n: usize| format!("\"{}\"", "d".repeat(n));
    let path = dir.plugin("atbound", &command("\"x\"", &long(MAX_TEXT), "(void *)run"));
    assert_eq!(load_file(&path).unwrap().doc.len(), MAX_TEXT);
    let path = dir.plugin(
        "over",
        &command("\"x\"", &long(MAX_TEXT + 1), "(void *)run"),
    );
    assert_eq!(refusal(&path), "its doc is longer than 4096 bytes");
}

#[test]
fn a_folder_loads_its_shared_objects_in_name_order() {
    let dir = Dir::new("folder");
    let b = dir.plugin("b", &command("\"bcmd\"", "\"second\"", "(void *)run"));
    let a = dir.plugin("a", &command("\"acmd\"", "\"first\"", "(void *)run"));
    let core = dir.plugin("c", &command("\"pub\"", "\"mine\"", "(void *)run"));
    let bad = dir.plugin("d", "int command(void) { return 0; }\n");
    // Neither a file that is not `.so` nor a folder named like one.
    std::fs::write(dir.0.join("readme.txt"), "not a plugin").unwrap();
    std::fs::copy(&a, dir.0.join("a.so.bak")).unwrap();
    std::fs::create_dir(dir.0.join("e.so")).unwrap();
    let mut lines = Vec::new();
    let loaded = load_dir(&dir.0, |level, text| lines.push((level, text))).unwrap();
    let names: Vec<&str> = loaded.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["acmd", "bcmd"]);
    let bad_reason = refusal(&bad);
    assert_eq!(
        lines,
        [
            (
                Level::Info,
                format!("loaded command 'acmd' from {}", a.display())
            ),
            (
                Level::Info,
                format!("loaded command 'bcmd' from {}", b.display())
            ),
            (
                Level::Warn,
                format!(
                    "refused {}: 'pub' is a core command and cannot be replaced",
                    core.display()
                )
            ),
            (
                Level::Error,
                format!("refused {}: {bad_reason}", bad.display())
            ),
        ]
    );
    assert!(load_dir(&dir.0.join("absent"), |_, _| {}).is_err());
}

/// A text is read up to the end of the memory it lies in and no further:
/// one that runs to the end without a NUL is refused even when the byte
/// just past the end is a NUL (here, the buffer's own last byte, outside
/// the range the lookup names).
#[test]
fn a_text_stops_at_the_end_of_its_readable_memory() {
    let buf = *b"abc\0";
    let start = buf.as_ptr() as usize;
    let range = |len: usize| {
        move |a: usize| {
            (start..start + len)
                .contains(&a)
                .then_some((libc::PF_R, start + len))
        }
    };
    let text = buf.as_ptr().cast::<c_char>();
    assert_eq!(read_text_within(text, "name", range(4)), Ok("abc".into()));
    assert_eq!(
        read_text_within(text, "name", range(3)),
        Err("its name points outside loaded memory".into())
    );
    // Readable memory that is not flagged readable is outside too.
    let unreadable = |a: usize| (start..start + 4).contains(&a).then_some((0, start + 4));
    assert_eq!(
        read_text_within(text, "doc", unreadable),
        Err("its doc points outside loaded memory".into())
    );
}
