//! Helpers for the C ABI tests: find (or build) `libducq.a`, build the C and
//! C++ examples with their Makefile once per test binary, compile a test's
//! own C program against the library, and run example programs as child
//! processes that are stopped when dropped.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::{mpsc, OnceLock};
use std::time::Duration;

/// How long a test waits for a program's line or exit.
pub const WAIT: Duration = Duration::from_secs(20);

/// The source tree.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The profile directory of this test run (`target/debug`).
fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    // target/debug/deps/<test> -> target/debug
    exe.parent()
        .and_then(Path::parent)
        .expect("test executable lives in <target>/<profile>/deps")
        .to_path_buf()
}

/// The static library to link against. `cargo test` builds the library's
/// staticlib beside the test executables (`deps/libducq.a`) as part of the
/// same build, so it is current. When it is not there (another build tool),
/// it is built with cargo into a target directory of its own, so this never
/// waits on the lock of the running `cargo test`. `DUCQ_STATICLIB` overrides.
fn staticlib() -> PathBuf {
    if let Some(p) = std::env::var_os("DUCQ_STATICLIB") {
        return PathBuf::from(p);
    }
    let beside = profile_dir().join("deps").join("libducq.a");
    if beside.is_file() {
        return beside;
    }
    let target = profile_dir().join("ffi-lib");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(cargo)
        .args(["build", "--lib", "--target-dir"])
        .arg(&target)
        .current_dir(root())
        .env_remove("CARGO_TARGET_DIR")
        .status()
        .expect("run cargo build --lib");
    assert!(status.success(), "cargo build --lib failed");
    target.join("debug").join("libducq.a")
}

/// The static library the examples link (found or built once).
pub fn staticlib_path() -> &'static Path {
    static LIB: OnceLock<PathBuf> = OnceLock::new();
    LIB.get_or_init(staticlib)
}

/// The system libraries `libducq.a` needs, as `cargo rustc -- --print
/// native-static-libs` lists them (ffi-examples/Makefile's `NATIVE`).
pub const NATIVE_LIBS: &[&str] = &[
    "-lgcc_s",
    "-lutil",
    "-lrt",
    "-lpthread",
    "-lm",
    "-ldl",
    "-lc",
];

/// Compiles the C program `src` against include/ and `libducq.a` into
/// `exe`: C99, every warning an error, `extra` flags added. Panics with
/// the compiler's output when it fails.
pub fn compile_c(src: &Path, exe: &Path, extra: &[&str]) {
    let out = Command::new("cc")
        .args(["-std=c99", "-Wall", "-Wextra", "-Werror"])
        .args(extra)
        .arg("-I")
        .arg(root().join("include"))
        .arg("-o")
        .arg(exe)
        .arg(src)
        .arg(staticlib_path())
        .args(NATIVE_LIBS)
        .output()
        .expect("run cc");
    assert!(
        out.status.success(),
        "cc failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Builds the examples (once per test binary) and returns their folder.
pub fn examples() -> &'static Path {
    static OUT: OnceLock<PathBuf> = OnceLock::new();
    OUT.get_or_init(|| {
        let out = profile_dir().join("ffi-examples");
        let lib = staticlib_path();
        let output = Command::new("make")
            .arg("-C")
            .arg(root().join("ffi-examples"))
            .arg(format!("LIBDUCQ={}", lib.display()))
            .arg(format!("OUT={}", out.display()))
            .arg(format!("LUA_INCLUDE={}", env!("DUCQ_LUA_INCLUDE")))
            .output()
            .expect("run make (install make, gcc and g++)");
        assert!(
            output.status.success(),
            "building the examples failed:\n{}\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        out
    })
}

/// Path of one built example.
pub fn example(name: &str) -> PathBuf {
    examples().join(name)
}

/// Whether valgrind is installed.
pub fn have_valgrind() -> bool {
    Command::new("valgrind")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// A command running `program` directly or under valgrind (no errors, no
/// definite leaks, or exit status 99).
pub fn command(program: &Path, valgrind: bool) -> Command {
    if valgrind {
        let mut c = Command::new("valgrind");
        c.args([
            "--quiet",
            "--error-exitcode=99",
            "--leak-check=full",
            "--errors-for-leak-kinds=definite",
            "--show-leak-kinds=definite",
        ])
        .arg(program);
        c
    } else {
        Command::new(program)
    }
}

/// A running example program; killed (by its own pid) when dropped.
pub struct Running {
    pub child: Child,
    lines: mpsc::Receiver<String>,
    stderr_path: PathBuf,
    /// How long a line may take: longer under valgrind, which runs a
    /// program many times slower, more so beside other valgrind runs.
    wait: Duration,
}

impl Running {
    /// Starts `cmd` with stdout captured line by line and stderr in a file.
    pub fn start(mut cmd: Command, name: &str) -> Running {
        let wait = if cmd.get_program() == "valgrind" {
            WAIT * 4
        } else {
            WAIT
        };
        let stderr_path = examples().join(format!("{name}.{}.stderr", std::process::id()));
        let stderr = std::fs::File::create(&stderr_path).expect("stderr file");
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(stderr)
            .stdin(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("start {name}: {e}"));
        let stdout: ChildStdout = child.stdout.take().expect("stdout");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Running {
            child,
            lines,
            stderr_path,
            wait,
        }
    }

    /// The next line of output, within `WAIT` (four times that under
    /// valgrind).
    pub fn line(&mut self) -> String {
        match self.lines.recv_timeout(self.wait) {
            Ok(l) => l,
            Err(_) => panic!("no output line; stderr:\n{}", self.stderr()),
        }
    }

    /// Reads lines until one starts with `prefix`; returns the rest of it.
    pub fn value(&mut self, prefix: &str) -> String {
        loop {
            let line = self.line();
            if let Some(rest) = line.strip_prefix(prefix) {
                return rest.trim().to_owned();
            }
        }
    }

    /// What the program wrote to stderr so far.
    pub fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr_path).unwrap_or_default()
    }

    /// Sends SIGTERM to this child (by its pid) and nothing else.
    pub fn terminate(&self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -TERM failed");
    }

    /// Waits for the exit status within the line wait; the remaining output lines
    /// are returned too.
    pub fn wait(mut self) -> (i32, Vec<String>) {
        let deadline = std::time::Instant::now() + self.wait;
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                // The reader thread ends at the end of the output.
                let mut rest = Vec::new();
                while let Ok(line) = self.lines.recv_timeout(WAIT) {
                    rest.push(line);
                }
                let code = status.code().unwrap_or(-1);
                if code != 0 {
                    eprintln!("stderr:\n{}", self.stderr());
                }
                return (code, rest);
            }
            if std::time::Instant::now() > deadline {
                panic!("program did not exit; stderr:\n{}", self.stderr());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.stderr_path);
    }
}

/// Runs a program to completion; returns (status, stdout, stderr).
pub fn run(mut cmd: Command) -> (i32, String, String) {
    let out = cmd.output().expect("run program");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A `ducq-server` process with a TCP and an HTTP/WebSocket listener on
/// free ports (read from its "listening on" log lines).
pub struct DucqServer {
    pub running: Running,
    pub tcp: String,
    pub http: String,
}

impl DucqServer {
    /// Starts `ducq-server` (the binary `server_exe`) on 127.0.0.1.
    pub fn start(server_exe: &Path) -> DucqServer {
        DucqServer::start_with(server_exe, &[])
    }

    /// `start`, with more arguments (`--commands DIR`, say).
    pub fn start_with(server_exe: &Path, extra: &[&str]) -> DucqServer {
        let mut cmd = Command::new(server_exe);
        cmd.args([
            "--tcp",
            "127.0.0.1:0",
            "--http",
            "127.0.0.1:0",
            "--log-level",
            "info",
        ])
        .args(extra);
        static STARTED: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = STARTED.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let running = Running::start(cmd, &format!("ducq-server-{n}"));
        let deadline = std::time::Instant::now() + WAIT;
        let ports = loop {
            let log = running.stderr();
            let ports: Vec<String> = log
                .lines()
                .filter_map(|l| l.split("listening on ").nth(1))
                .filter_map(|a| a.trim().rsplit(':').next().map(str::to_owned))
                .collect();
            if ports.len() >= 2 {
                break ports;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "ducq-server did not listen:\n{log}"
            );
            std::thread::sleep(Duration::from_millis(20));
        };
        // Listeners are opened in the order given: TCP first.
        DucqServer {
            running,
            tcp: ports[0].clone(),
            http: ports[1].clone(),
        }
    }
}

/// Lower-case hexadecimal of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A folder of Lua scripts under the examples' build folder, removed when
/// dropped.
pub struct LuaDir {
    pub path: PathBuf,
}

impl LuaDir {
    /// An empty folder named after `name` and this process.
    pub fn new(name: &str) -> LuaDir {
        let path = examples().join(format!("lua-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).expect("create the Lua folder");
        LuaDir { path }
    }

    /// Writes (or rewrites) one file of the folder.
    pub fn write(&self, file: &str, text: &str) {
        std::fs::write(self.path.join(file), text).expect("write a Lua file");
    }
}

impl Drop for LuaDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// A Lua command `name` answering `reply` and the route.
pub fn lua_command(name: &str, doc: &str, reply: &str) -> String {
    format!(
        "commands.{name} = {{ doc = '{doc}', exec = function(ducq, msg)\n  \
         return ducq:send('{reply} ' .. msg.route)\nend }}\n"
    )
}
