//! The `ducq` CLI's output and arguments (issue 18): `--json` for listings
//! and `sub` (parsed here), colour only on a terminal (a real pty through
//! `script`) or when asked, the progress line on stderr, shell completions
//! (bash and fish run them, zsh parses them), `send --no-reply` for commands
//! that answer nothing, a clear message and exit status 64 for every bad
//! argument, and the documented exit statuses.

mod ports;
mod server_bin;

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::Value;
use server_bin::ServerBin;

const DUCQ: &str = env!("CARGO_BIN_EXE_ducq");

type Server = ServerBin;

/// `ducq-server` with the `wall` Lua command (it answers nothing but a
/// PING to everyone).
fn start() -> Server {
    let wall = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("extensions/wall.lua");
    ServerBin::start(&["--data-dir", "none", "--lua", wall.to_str().unwrap()])
}

impl ServerBin {
    /// `ducq ARGS` in a shell under a pseudo-terminal (`script`), so stdin,
    /// stdout and stderr are a terminal unless `redirect` sends one
    /// elsewhere. Returns what appeared on the terminal, `\r\n` made `\n`.
    fn on_terminal(&self, args: &str, redirect: &str, env: &[(&str, &str)]) -> (i32, String) {
        let cmd = format!("{DUCQ} --port {} {args} {redirect}", self.port);
        let mut script = Command::new("script");
        script
            .args(["-qec", &cmd, "/dev/null"])
            .env_remove("NO_COLOR");
        for (k, v) in env {
            script.env(k, v);
        }
        let out = script
            .stdin(Stdio::null())
            .output()
            .expect("run script (util-linux)");
        (
            out.status.code().unwrap_or(-1),
            text(&out.stdout).replace("\r\n", "\n"),
        )
    }
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn scratch(name: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    // A folder per file: tests remove theirs while others still run.
    let dir = exe
        .parent()
        .unwrap()
        .join(format!("cli-output-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

#[test]
fn lscmd_and_lsconn_json_parse_as_arrays_of_objects() {
    let srv = start();
    let out = srv.run(&["--json", "lscmd"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let cmds: Value = serde_json::from_slice(&out.stdout).expect("lscmd --json is JSON");
    let cmds = cmds.as_array().unwrap();
    let find = |name: &str| {
        cmds.iter()
            .find(|c| c["name"] == name)
            .unwrap_or_else(|| panic!("{name} not in {cmds:?}"))
    };
    assert_eq!(
        find("wall")["doc"],
        // (the line break of the Lua doc is a space in listings)
        "PING every client (the caller too) with the payload: wall _ <text>"
    );
    assert!(find("pub")["doc"].as_str().unwrap().contains("publish"));

    let mut c = srv.client();
    c.subscribe("json/a", "").unwrap();
    c.subscribe("json/\"b\"", "add").unwrap();
    let out = srv.run(&["lsconn", "--json"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let conns: Value = serde_json::from_slice(&out.stdout).expect("lsconn --json is JSON");
    let mine: Vec<&str> = conns
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["id"] == c.id().as_str())
        .map(|e| e["route"].as_str().unwrap())
        .collect();
    assert_eq!(mine, ["json/a", "json/\"b\""]);
}

#[test]
fn sub_json_prints_one_object_per_message_binary_as_base64() {
    let srv = start();
    let mut c = srv.client();
    c.publish("j/stored", b"kept").unwrap();
    let sub = srv
        .ducq(&["sub", "j/*", "--json", "--last", "--count", "3"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    srv.wait_for_subscriber("j/*");
    c.publish("j/text", b"line \"one\"\nline two").unwrap();
    c.publish("j/bin", &[0xff, 0x00, 0x80]).unwrap();
    let out = sub.wait_with_output().unwrap();
    assert!(out.status.success());
    let objects: Vec<Value> = text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}")))
        .collect();
    assert_eq!(
        objects,
        [
            serde_json::json!({"route": "j/stored", "payload": "kept"}),
            serde_json::json!({"route": "j/text", "payload": "line \"one\"\nline two"}),
            serde_json::json!({"route": "j/bin", "payload_base64": "/wCA"}),
        ]
    );
}

#[test]
fn colour_only_on_a_terminal_or_when_asked() {
    let srv = start();
    let mut c = srv.client();
    c.publish("col/a", b"x").unwrap();
    let cyan = "\x1b[36mcol/a\x1b[0m x\n";

    // Piped: plain, unless --color always.
    let out = srv.run(&["sub", "col/a", "--last", "--count", "1", "-v"]);
    assert_eq!(text(&out.stdout), "col/a x\n");
    let out = srv.run(&[
        "--color", "always", "sub", "col/a", "--last", "--count", "1", "-v",
    ]);
    assert_eq!(text(&out.stdout), cyan);

    // On a terminal: colour, unless told otherwise.
    let args = "sub col/a --last --count 1 -v";
    assert_eq!(srv.on_terminal(args, "", &[]), (0, cyan.to_owned()));
    let never = format!("--color never {args}");
    assert_eq!(
        srv.on_terminal(&never, "", &[]),
        (0, "col/a x\n".to_owned())
    );
    let no_color = format!("--no-color {args}");
    assert_eq!(
        srv.on_terminal(&no_color, "", &[]),
        (0, "col/a x\n".to_owned())
    );
    assert_eq!(
        srv.on_terminal(args, "", &[("NO_COLOR", "1")]),
        (0, "col/a x\n".to_owned())
    );

    // Listings: command names bold on a terminal only.
    let (code, listing) = srv.on_terminal("lscmd", "", &[]);
    assert_eq!(code, 0);
    assert!(
        listing.contains("\"\x1b[1mwall\x1b[0m\",\"PING every client"),
        "{listing:?}"
    );
    let out = srv.run(&["lscmd"]);
    assert!(text(&out.stdout).contains("\"wall\",\"PING every client"));

    // The error prefix, red on a terminal's stderr.
    let (code, err) = srv.on_terminal("send nope r x", "", &[]);
    assert_eq!(
        (code, err),
        (
            2,
            "\x1b[1;31mducq:\x1b[0m NACK 17: command unknown\n".to_owned()
        )
    );
    let out = srv.run(&["send", "nope", "r", "x"]);
    assert_eq!(text(&out.stderr), "ducq: NACK 17: command unknown\n");
}

#[test]
fn progress_line_on_a_terminal_stderr_only() {
    let srv = start();
    let mut c = srv.client();
    for i in 0..3 {
        c.publish(&format!("prog/{i}"), b"p").unwrap();
    }
    // sub into a file, stderr on the terminal: the count, left at the end.
    let file = scratch("sub.out");
    let (code, screen) = srv.on_terminal(
        "sub 'prog/*' --last --count 3",
        &format!("> {}", file.display()),
        &[],
    );
    assert_eq!(code, 0);
    assert!(
        screen.ends_with("\r\x1b[Kreceived 3/3 messages\n"),
        "{screen:?}"
    );
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "p\np\np\n");
    // --no-progress, or stderr not a terminal: nothing.
    let (code, screen) = srv.on_terminal(
        "--no-progress sub 'prog/*' --last --count 3",
        &format!("> {}", file.display()),
        &[],
    );
    assert_eq!((code, screen.as_str()), (0, ""));
    let out = srv.run(&["sub", "prog/*", "--last", "--count", "3"]);
    assert_eq!(text(&out.stderr), "");

    // pub from stdin: what was read, then what was published.
    let payload = scratch("payload");
    std::fs::write(&payload, vec![b'z'; 600 << 10]).unwrap();
    let (code, screen) =
        srv.on_terminal("pub prog/big -", &format!("< {}", payload.display()), &[]);
    assert_eq!(code, 0);
    assert!(
        screen.ends_with("\r\x1b[Kpublished 600.0 KiB on prog/big\n"),
        "{screen:?}"
    );
    assert_eq!(
        c.subscribe("prog/big", "last").unwrap().unwrap().len(),
        13 + (600 << 10)
    );
    let mut p = srv
        .ducq(&["pub", "prog/piped", "-"])
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    p.stdin.take().unwrap().write_all(b"quiet").unwrap();
    let out = p.wait_with_output().unwrap();
    assert!(out.status.success());
    assert_eq!(text(&out.stderr), "");
    let _ = std::fs::remove_dir_all(file.parent().unwrap());
    let _ = std::fs::remove_dir_all(payload.parent().unwrap());
}

#[test]
fn deq_count_shows_progress_on_a_terminal_stderr_only() {
    let srv = start();
    let mut c = srv.client();
    for p in ["a", "b", "c", "d", "e", "f"] {
        c.enqueue("prog.q", p.as_bytes()).unwrap();
    }
    // deq into a file, stderr on the terminal: the count, left at the end.
    let file = scratch("deq.out");
    let (code, screen) = srv.on_terminal(
        "deq prog.q --count 3",
        &format!("> {}", file.display()),
        &[],
    );
    assert_eq!(code, 0);
    assert!(
        screen.ends_with("\r\x1b[Kdequeued 3/3 messages from prog.q\n"),
        "{screen:?}"
    );
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "a\nb\nc\n");
    // --no-progress, stdout on the terminal too, or stderr not a terminal:
    // nothing on stderr.
    let (code, screen) = srv.on_terminal(
        "--no-progress deq prog.q",
        &format!("> {}", file.display()),
        &[],
    );
    assert_eq!((code, screen.as_str()), (0, ""));
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "d\n");
    let (code, screen) = srv.on_terminal("deq prog.q", "", &[]);
    assert_eq!((code, screen.as_str()), (0, "e\n"));
    let out = srv.run(&["deq", "prog.q"]);
    assert!(out.status.success());
    assert_eq!(
        (text(&out.stdout), text(&out.stderr)),
        ("f\n".into(), "".into())
    );
    let _ = std::fs::remove_dir_all(file.parent().unwrap());
}

#[test]
fn send_no_reply_for_commands_that_answer_nothing() {
    let srv = start();
    // `wall` answers its caller with nothing but a PING: waiting for a
    // reply ends in a clear "no reply" (exit 3), not a bare timeout.
    let out = srv.run(&["--timeout", "0.3", "send", "wall", "_", "hello"]);
    assert_eq!(out.status.code(), Some(3));
    assert_eq!(
        text(&out.stderr),
        "ducq: no reply within 0.3 s to 'wall' (for a command that answers nothing, use send --no-reply)\n"
    );
    // --no-reply: done once the server handled it, and the PING reached
    // another client (a raw one, known to be accepted: it got its PONG).
    let mut other = std::net::TcpStream::connect(("127.0.0.1", srv.port)).unwrap();
    other
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    other.write_all(b"6\nPING _").unwrap();
    let mut frame = [0u8; 8];
    std::io::Read::read_exact(&mut other, &mut frame).unwrap();
    assert_eq!(&frame, b"6\nPONG _");
    let out = srv.run(&["send", "--no-reply", "wall", "_", "hello"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "");
    let mut frame = [0u8; 15];
    std::io::Read::read_exact(&mut other, &mut frame).unwrap();
    assert_eq!(&frame, b"12\nPING _\nhello");
    // What did come is printed; a NACK is still an error.
    let out = srv.run(&["send", "--no-reply", "epoch"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(
        text(&out.stdout).trim().parse::<u64>().is_ok(),
        "{}",
        text(&out.stdout)
    );
    let out = srv.run(&["send", "nope", "r", "x", "--no-reply"]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(text(&out.stderr), "ducq: NACK 17: command unknown\n");
}

#[test]
fn bash_completion_completes_commands_options_and_values() {
    let script = Command::new(DUCQ)
        .args(["completions", "bash"])
        .output()
        .unwrap();
    assert!(script.status.success());
    let file = scratch("ducq.bash");
    std::fs::write(&file, &script.stdout).unwrap();
    let complete = |words: &[&str]| -> String {
        let quoted: Vec<String> = words.iter().map(|w| format!("'{w}'")).collect();
        let program = format!(
            "source '{}'; COMP_WORDS=({}); COMP_CWORD={}; _ducq; echo \"${{COMPREPLY[*]}}\"",
            file.display(),
            quoted.join(" "),
            words.len() - 1
        );
        let out = Command::new("bash")
            .args(["-c", &program])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", text(&out.stderr));
        text(&out.stdout).trim_end().to_owned()
    };
    assert_eq!(complete(&["ducq", "su"]), "sub");
    assert_eq!(complete(&["ducq", "l"]), "lscmd lsconn lua");
    assert_eq!(complete(&["ducq", "chan", ""]), "add rm ls show");
    assert_eq!(complete(&["ducq", "sub", "--l"]), "--last");
    assert_eq!(
        complete(&["ducq", "--port", "1", "send", "--no-r"]),
        "--no-reply"
    );
    assert_eq!(complete(&["ducq", "--color", "a"]), "auto always");
    assert_eq!(complete(&["ducq", "completions", ""]), "bash zsh fish");
    assert_eq!(complete(&["ducq", "--j"]), "--json");
    let _ = std::fs::remove_dir_all(file.parent().unwrap());
}

fn have(program: &str) -> bool {
    Command::new(program)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

#[test]
fn fish_completion_completes_and_zsh_completion_parses() {
    // The test script installs both shells; without them, say so loudly.
    assert!(
        have("fish"),
        "fish is not installed (scripts/test.sh installs it)"
    );
    assert!(
        have("zsh"),
        "zsh is not installed (scripts/test.sh installs it)"
    );
    let fish = |line: &str| -> String {
        let program = format!("{DUCQ} completions fish | source; complete -C '{line}'");
        let out = Command::new("fish")
            .args(["-c", &program])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", text(&out.stderr));
        text(&out.stdout)
    };
    assert_eq!(fish("ducq su"), "sub\tprint each message on a route\n");
    assert_eq!(
        fish("ducq sub --la"),
        "--last\tfirst print the stored last message(s)\n"
    );
    assert_eq!(fish("ducq --color n"), "never\twhen to colour output\n");
    assert_eq!(fish("ducq completions z"), "zsh\n");
    let out = Command::new(DUCQ)
        .args(["completions", "fish"])
        .output()
        .unwrap();
    assert!(text(&out.stdout).contains("-a lscmd -d 'list the server\\'s commands'"));

    let out = Command::new(DUCQ)
        .args(["completions", "zsh"])
        .output()
        .unwrap();
    let file = scratch("_ducq");
    std::fs::write(&file, &out.stdout).unwrap();
    let check = Command::new("zsh").arg("-n").arg(&file).output().unwrap();
    assert!(check.status.success(), "{}", text(&check.stderr));
    // Loaded by compinit: defines _ducq and registers it for ducq.
    let program = format!(
        "autoload -U compinit && compinit -u -D && source '{}' && echo $_comps[ducq]",
        file.display()
    );
    let out = Command::new("zsh")
        .args(["-f", "-c", &program])
        .output()
        .unwrap();
    assert_eq!(text(&out.stdout), "_ducq\n", "{}", text(&out.stderr));
    let _ = std::fs::remove_dir_all(file.parent().unwrap());
}

#[test]
fn every_completed_option_is_one_the_parser_accepts() {
    // Nothing listens on this port: an accepted command line fails to
    // connect (exit 1); a refused one is a usage error (64).
    let port = ports::free_port().to_string();
    let accepted: &[&[&str]] = &[
        &["--host", "127.0.0.1", "lscmd"],
        &["--ws", "lscmd"],
        &["--timeout", "2", "lscmd"],
        &["--json", "lsconn"],
        &["--color", "always", "lscmd"],
        &["--no-color", "lscmd"],
        &["--no-progress", "lscmd"],
        &["sub", "r", "--last", "--add", "s", "--count", "2", "-v"],
        &["sub", "r", "--verbose"],
        &["send", "--no-reply", "epoch"],
        &["pub", "r", "--", "--not-an-option"],
        &["pub", "r", "-5"],
    ];
    for args in accepted {
        let out = Command::new(DUCQ)
            .args(["--port", &port])
            .args(*args)
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(1),
            "{args:?}: {}",
            text(&out.stderr)
        );
        let err = text(&out.stderr);
        assert!(
            err.contains("ducq:\x1b[0m could not connect")
                || err.starts_with("ducq: could not connect to 127.0.0.1:"),
            "{args:?}: {err}"
        );
    }
    for shell in ["bash", "zsh", "fish"] {
        let out = Command::new(DUCQ)
            .args(["completions", shell])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{shell}");
        let script = text(&out.stdout);
        for option in [
            "host",
            "port",
            "ws",
            "timeout",
            "json",
            "color",
            "no-color",
            "no-progress",
        ] {
            assert!(script.contains(option), "{shell} lacks --{option}");
        }
        for option in ["last", "add", "count", "verbose", "no-reply"] {
            assert!(script.contains(option), "{shell} lacks --{option}");
        }
    }
}

#[test]
fn every_bad_argument_is_a_clear_usage_error() {
    let cases: &[(&[&str], &str)] = &[
        (&[], "no command given"),
        (&["--frob", "lscmd"], "unknown option '--frob'"),
        (&["--port"], "--port needs a value"),
        (
            &["--port", "http", "lscmd"],
            "--port: 'http' is not a port (1-65535)",
        ),
        (
            &["--port", "0", "lscmd"],
            "--port: '0' is not a port (1-65535)",
        ),
        (
            &["--port", "70000", "lscmd"],
            "--port: '70000' is not a port (1-65535)",
        ),
        (
            &["--timeout", "-1", "lscmd"],
            "--timeout: '-1' is not a positive number of seconds",
        ),
        (
            &["--timeout", "inf", "lscmd"],
            "--timeout: 'inf' is not a positive number of seconds",
        ),
        (
            &["--timeout", "NaN", "lscmd"],
            "--timeout: 'NaN' is not a positive number of seconds",
        ),
        (
            &["sub", "r", "--reconnect-max", "0"],
            "--reconnect-max: '0' is not a positive number of seconds",
        ),
        (
            &["--color", "sometimes", "lscmd"],
            "--color: 'sometimes' is not auto, always or never",
        ),
        (
            &["--json", "pub", "r", "p"],
            "--json applies to lscmd, lsconn, sub, queues and deq, not pub",
        ),
        (
            &["--json", "send", "epoch"],
            "--json applies to lscmd, lsconn, sub, queues and deq, not send",
        ),
        (&["bogus"], "unknown command 'bogus'"),
        (
            &["pub", "r"],
            "usage: ducq pub ROUTE PAYLOAD ('-' reads stdin)",
        ),
        (
            &["pub", "r", "p", "q"],
            "usage: ducq pub ROUTE PAYLOAD ('-' reads stdin)",
        ),
        (&["pub", "r", "--frob"], "pub: unknown option '--frob'"),
        (&["sub"], "usage: ducq sub ROUTE"),
        (&["sub", "a", "b"], "sub: unexpected argument 'b'"),
        (&["sub", "a", "--add"], "--add needs a route"),
        (&["sub", "a", "--count"], "--count needs a number"),
        (
            &["sub", "a", "--count", "x"],
            "--count: 'x' is not a positive whole number",
        ),
        (
            &["sub", "a", "--count", "0"],
            "--count: '0' is not a positive whole number",
        ),
        (&["sub", "a", "-x"], "sub: unknown option '-x'"),
        (
            &["lscmd", "extra"],
            "lscmd takes no arguments (got 'extra')",
        ),
        (&["lsconn", "--last"], "lsconn: unknown option '--last'"),
        (
            &["send"],
            "usage: ducq send [--no-reply] COMMAND [ROUTE [PAYLOAD]]",
        ),
        (
            &["send", "a", "b", "c", "d"],
            "usage: ducq send [--no-reply] COMMAND [ROUTE [PAYLOAD]]",
        ),
        (&["send", "--last", "x"], "send: unknown option '--last'"),
        (&["completions"], "usage: ducq completions bash|zsh|fish"),
        (
            &["completions", "tcsh"],
            "completions: unknown shell 'tcsh' (bash, zsh or fish)",
        ),
    ];
    for (args, message) in cases {
        let out = Command::new(DUCQ).args(*args).output().unwrap();
        assert_eq!(out.status.code(), Some(64), "{args:?}");
        assert_eq!(
            text(&out.stderr),
            format!("ducq: {message}\nTry 'ducq --help'.\n"),
            "{args:?}"
        );
        assert_eq!(text(&out.stdout), "", "{args:?}");
    }
}

#[test]
fn help_documents_the_exit_statuses() {
    let out = Command::new(DUCQ).arg("--help").output().unwrap();
    let help = text(&out.stdout);
    for line in [
        "  0   success",
        "  1   the server cannot be reached, or the connection failed",
        "  2   the server answered NACK (its text goes to stderr)",
        "  3   no reply within the timeout (see send --no-reply)",
        "  64  usage error: a bad option, argument or value",
    ] {
        assert!(help.lines().any(|l| l == line), "{line}");
    }
}
