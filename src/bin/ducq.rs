//! `ducq`: the command-line client, in the spirit of mosquitto_pub and
//! mosquitto_sub. Argument parsing and calls only; the protocol lives in
//! the library's blocking client, the look of the output in `ducq_cli`.

mod ducq_cli;

use std::cell::Cell;
use std::io::{IsTerminal, Read, Write};
use std::process::ExitCode;
use std::rc::Rc;
use std::time::Duration;

use ducq::client::reconnect::{Connector, Event, Reconnecting};
use ducq::client::{Client, Error, Flow};
use ducq::lua::client::{run_script, ScriptError, ScriptOptions};
use ducq::proto::{classify, message::nack_text, Kind};
use ducq::server::channels::{quoted, ChannelSpec};
use ducq_cli::assemble::SubWriter;
use ducq_cli::completions;
use ducq_cli::events::reconnect_line;
use ducq_cli::output::{error_prefix, Printer, When};
use ducq_cli::progress::{bytes, Progress};
use ducq_cli::reconnect::Reconnect;

const USAGE: &str = "\
ducq: command-line client for a ducq server

Usage: ducq [OPTIONS] COMMAND [ARGS]

Commands:
  pub ROUTE PAYLOAD [--stream [--part-size BYTES]]
                          publish PAYLOAD on ROUTE ('-' reads it from stdin);
                          --stream sends it in parts as it is read (CONT/END),
                          so it may be of any length   [part size: 65536]
  sub ROUTE [--last [N]] [--add ROUTE]... [--count N] [-v]
      [--no-reconnect] [--reconnect-max SECS]
                          print each message on ROUTE (wildcards * + #), one
                          per line; --last first prints the stored message(s),
                          up to N per route; --add follows more routes;
                          --count stops after N messages; -v prints the route
                          before the payload. A streamed payload is written
                          out whole, as one message. When the connection is
                          lost, sub reconnects (waits doubling from 0.1 s to
                          --reconnect-max, default 30) and subscribes again,
                          saying so on stderr; with --last, stored messages
                          it already printed are not printed again.
                          --no-reconnect exits instead (status 1)
  lscmd                   list the server's commands
  lsconn                  list connections and their subscriptions
  send [--no-reply] COMMAND [ROUTE [PAYLOAD]]
                          send any command and print its reply; --no-reply
                          does not wait for one (for commands that answer
                          nothing): it prints what the command did answer and
                          returns once the server has handled it
  chan add NAME PATTERN [SETTING]...
                          define a channel: behaviour for the routes matching
                          PATTERN; settings: history=N retain[=N]
                          rate=N[/s|/m|/h] burst=N max_payload=BYTES read_only
  chan rm NAME | chan ls | chan show NAME
                          remove, list or show channels
  lua SCRIPT [ARGS]       run a Lua client script; everything after SCRIPT is
                          its own (options before 'lua' give its defaults for
                          Ducq.connect())
  completions SHELL       print the completion script for bash, zsh or fish
                          (bash: source <(ducq completions bash))
Queues and request/reply:
  queues                  list queues: name, depth, ready, in flight,
                          consumers, age of the oldest message
  enq QUEUE PAYLOAD       enqueue ('-' reads stdin); prints the id once the
                          message is durable
  deq QUEUE [--count N] [--no-ack] [--no-reconnect] [--reconnect-max SECS]
                          print N messages (default 1), waiting for them;
                          each is acknowledged once printed, or before it is
                          printed with --no-ack (at most once). Reconnects
                          as sub does and consumes again
  serve ROUTE [--no-reconnect] [--reconnect-max SECS] -- CMD [ARGS...]
                          serve requests to ROUTE: CMD runs per request with
                          the payload on stdin; its stdout is the reply, a
                          non-zero exit an error reply. Reconnects as sub
                          does and serves again
  req ROUTE PAYLOAD       send a request ('-' reads stdin) and print the
                          reply, waiting at most --timeout; no member
                          serving ROUTE exits 2, no reply in time 3
Options:
  --host HOST             server host                   [default: 127.0.0.1]
  --port PORT             server port       [default: 59090, or 59091 with --ws]
  --ws                    connect over WebSocket (the server's HTTP port)
  --timeout SECS          connect and reply timeout     [default: 5]
  --json                  JSON output: lscmd, lsconn and queues print one
                          array, sub one object per message:
                          {\"route\":..,\"payload\":..} ({\"route\":..,
                          \"payload_base64\":..} when the payload is not
                          UTF-8), deq one object per message:
                          {\"queue\":..,\"id\":..,\"deliveries\":..,
                          \"payload\":..} (or \"payload_base64\")
  --color WHEN            auto, always or never         [default: auto: when
                          the output is a terminal and NO_COLOR is unset]
  --no-color              same as --color never
  --no-progress           no progress line (shown on stderr when it is a
                          terminal, for pub from stdin, and sub and deq
                          into a file)
  --                      what follows is not an option (a payload '-x')
  -h, --help              this text
  -V, --version           version

Exit status:
  0   success
  1   the server cannot be reached, or the connection failed
  2   the server answered NACK (its text goes to stderr)
  3   no reply within the timeout (see send --no-reply)
  4   req: the member serving the route failed (its error on stderr)
  64  usage error: a bad option, argument or value
  lua: 1 when the script fails (file:line and the error on stderr), 130
  when interrupted, or what it passes to os.exit
";

enum Failure {
    Usage(String),
    Nack(String),
    NoReply(String),
    Other(String),
    /// A served request failed.
    Service(String),
    /// A Lua client script failed.
    Script(ScriptError),
}

impl From<Error> for Failure {
    fn from(e: Error) -> Failure {
        match e {
            Error::Nack { state, text } => {
                Failure::Nack(format!("NACK {}: {}", state.code(), text))
            }
            Error::Timeout => Failure::NoReply("no reply within the timeout".into()),
            other => Failure::Other(other.to_string()),
        }
    }
}

/// A NACK received outside a client call, worded as the client's own.
fn nack(state: ducq::State, msg: &[u8]) -> Failure {
    Failure::from(Error::Nack {
        state,
        text: nack_text(msg),
    })
}

fn usage(text: impl Into<String>) -> Failure {
    Failure::Usage(text.into())
}

fn stdout_error(e: std::io::Error) -> Failure {
    Failure::Other(format!("stdout: {e}"))
}

struct Conn {
    host: String,
    port: Option<u16>,
    ws: bool,
    timeout: Duration,
}

impl Conn {
    fn addr(&self) -> String {
        let port = self.port.unwrap_or(if self.ws { 59091 } else { 59090 });
        format!("{}:{}", self.host, port)
    }

    fn open(&self) -> Result<Client, Failure> {
        let addr = self.addr();
        (self.connector())()
            .map_err(|e| Failure::Other(format!("could not connect to {addr}: {e}")))
    }

    /// Makes a fresh connection each time it is called (for reconnecting).
    fn connector(&self) -> Connector<std::net::TcpStream> {
        let (addr, ws, timeout) = (self.addr(), self.ws, self.timeout);
        Box::new(move || {
            if ws {
                Client::connect_ws(&addr, timeout)
            } else {
                Client::connect(&addr, timeout)
            }
        })
    }
}

/// Options about the output rather than the connection.
struct Ui {
    json: bool,
    colour: When,
    progress: bool,
}

/// The parsed command line.
struct Cli {
    conn: Conn,
    ui: Ui,
    command: Option<String>,
    /// The command's arguments before `--` (options allowed) and after it.
    args: Vec<String>,
    literal: Vec<String>,
}

/// Whether `a` is written like an option (`-x`, `--x`; not `-`, not `-5`).
fn looks_like_option(a: &str) -> bool {
    a.len() > 1
        && a.starts_with('-')
        && !a[1..].starts_with(|c: char| c.is_ascii_digit() || c == '.')
}

fn parse(argv: Vec<String>) -> Result<Option<Cli>, Failure> {
    let mut cli = Cli {
        conn: Conn {
            host: "127.0.0.1".into(),
            port: None,
            ws: false,
            timeout: Duration::from_secs(5),
        },
        ui: Ui {
            json: false,
            colour: When::Auto,
            progress: true,
        },
        command: None,
        args: Vec::new(),
        literal: Vec::new(),
    };
    let mut it = argv.into_iter();
    while let Some(a) = it.next() {
        let mut value = |name: &str| {
            it.next()
                .ok_or_else(|| usage(format!("{name} needs a value")))
        };
        match a.as_str() {
            "--" => {
                cli.literal.extend(it.by_ref());
                break;
            }
            "-h" | "--help" => {
                print!("{USAGE}");
                return Ok(None);
            }
            "-V" | "--version" => {
                println!("ducq {}", env!("CARGO_PKG_VERSION"));
                return Ok(None);
            }
            "--host" => cli.conn.host = value("--host")?,
            "--ws" => cli.conn.ws = true,
            "--port" => {
                let v = value("--port")?;
                cli.conn.port = Some(
                    v.parse()
                        .ok()
                        .filter(|&p: &u16| p > 0)
                        .ok_or_else(|| usage(format!("--port: '{v}' is not a port (1-65535)")))?,
                );
            }
            "--timeout" => {
                let v = value("--timeout")?;
                let secs = v
                    .parse::<f64>()
                    .ok()
                    .filter(|s| s.is_finite() && *s > 0.0 && *s < 1e9)
                    .ok_or_else(|| {
                        usage(format!(
                            "--timeout: '{v}' is not a positive number of seconds"
                        ))
                    })?;
                cli.conn.timeout = Duration::from_secs_f64(secs.max(0.001));
            }
            "--json" => cli.ui.json = true,
            "--color" | "--colour" => cli.ui.colour = value("--color")?.parse().map_err(usage)?,
            "--no-color" | "--no-colour" => cli.ui.colour = When::Never,
            "--no-progress" => cli.ui.progress = false,
            _ if cli.command.as_deref() == Some("lua") => {
                // The script and everything after it are the script's.
                cli.args.push(a);
                cli.args.extend(it.by_ref());
                break;
            }
            _ if cli.command.is_none() && looks_like_option(&a) => {
                return Err(usage(format!("unknown option '{a}'")))
            }
            _ if cli.command.is_none() => cli.command = Some(a),
            _ => cli.args.push(a),
        }
    }
    if cli.command.is_none() {
        cli.command = cli.literal.first().cloned();
        if cli.command.is_some() {
            cli.literal.remove(0);
        }
    }
    Ok(Some(cli))
}

/// Takes a command's own options out of `args` (through `own`, which says
/// whether it knew the option and may take its value from the iterator);
/// returns the positional arguments. An unknown option is a usage error.
fn take_options(
    command: &str,
    args: Vec<String>,
    literal: Vec<String>,
    mut own: impl FnMut(&str, &mut std::vec::IntoIter<String>) -> Result<bool, Failure>,
) -> Result<Vec<String>, Failure> {
    let mut positional = Vec::new();
    let mut it = args.into_iter();
    while let Some(a) = it.next() {
        if own(&a, &mut it)? {
            continue;
        }
        if looks_like_option(&a) {
            return Err(usage(format!("{command}: unknown option '{a}'")));
        }
        positional.push(a);
    }
    positional.extend(literal);
    Ok(positional)
}

fn run(cli: Cli) -> Result<(), Failure> {
    let Cli {
        conn,
        ui,
        command,
        args,
        literal,
    } = cli;
    let command = command.ok_or_else(|| usage("no command given"))?;
    if ui.json
        && !matches!(
            command.as_str(),
            "lscmd" | "lsconn" | "sub" | "queues" | "deq"
        )
    {
        return Err(usage(format!(
            "--json applies to lscmd, lsconn, sub, queues and deq, not {command}"
        )));
    }
    let printer = Printer {
        json: ui.json,
        verbose: false,
        colour: ui.colour.colour(std::io::stdout().is_terminal()),
    };
    match command.as_str() {
        "pub" => {
            let (mut stream, mut part) = (false, 64 << 10);
            let args = take_options("pub", args, literal, |a, it| {
                match a {
                    "--stream" => stream = true,
                    "--part-size" => {
                        let v = it
                            .next()
                            .ok_or_else(|| usage("--part-size needs a number"))?;
                        part = v.parse().ok().filter(|&n| n > 0).ok_or_else(|| {
                            usage(format!("--part-size: '{v}' is not a positive size"))
                        })?;
                    }
                    _ => return Ok(false),
                }
                Ok(true)
            })?;
            let [route, payload] = &args[..] else {
                return Err(usage("usage: ducq pub ROUTE PAYLOAD ('-' reads stdin)"));
            };
            let mut progress =
                Progress::new(ui.progress && payload == "-" && std::io::stderr().is_terminal());
            if stream {
                let mut client = conn.open()?;
                let sent = if payload == "-" {
                    let stdin = std::io::stdin().lock();
                    publish_stream(&mut client, route, stdin, part, &mut progress)
                } else {
                    publish_stream(&mut client, route, payload.as_bytes(), part, &mut progress)
                };
                return match sent {
                    Ok(n) => {
                        progress.finish(&format!("streamed {} on {route}", bytes(n)));
                        Ok(())
                    }
                    Err(e) => {
                        progress.clear();
                        Err(e)
                    }
                };
            }
            let payload = if payload == "-" {
                read_stdin(&mut progress)?
            } else {
                payload.clone().into_bytes()
            };
            let size = bytes(payload.len() as u64);
            progress.update(|| format!("publishing {size} on {route}"));
            match conn.open()?.publish(route, &payload) {
                Ok(()) => progress.finish(&format!("published {size} on {route}")),
                Err(e) => {
                    progress.clear();
                    return Err(e.into());
                }
            }
            Ok(())
        }
        "sub" => sub(&conn, &ui, printer, args, literal),
        "lscmd" | "lsconn" => {
            let args = take_options(&command, args, literal, |_, _| Ok(false))?;
            if let Some(extra) = args.first() {
                return Err(usage(format!(
                    "{command} takes no arguments (got '{extra}')"
                )));
            }
            // With a route, as the original CLI sends them: old servers
            // answer only `lscmd *` / `lsconn *`.
            let parts = conn.open()?.list(&format!("{command} *\n"))?;
            let mut out = std::io::stdout().lock();
            printer
                .listing(&mut out, &command, &parts)
                .map_err(stdout_error)
        }
        "send" => {
            let mut no_reply = false;
            let args = take_options("send", args, literal, |a, _| {
                Ok(a == "--no-reply" && {
                    no_reply = true;
                    true
                })
            })?;
            send(&conn, &args, no_reply)
        }
        "chan" => chan(&conn, args, literal),
        "lua" => {
            let mut args = args;
            args.extend(literal);
            let Some((script, rest)) = args.split_first() else {
                return Err(usage("usage: ducq lua SCRIPT [ARGS]"));
            };
            let options = ScriptOptions {
                host: conn.host.clone(),
                port: conn.port,
                ws: conn.ws,
                timeout: conn.timeout,
            };
            run_script(script.as_ref(), rest, &options).map_err(Failure::Script)
        }
        "completions" => {
            let args = take_options("completions", args, literal, |_, _| Ok(false))?;
            let [shell] = &args[..] else {
                return Err(usage("usage: ducq completions bash|zsh|fish"));
            };
            let script = completions::script(shell).ok_or_else(|| {
                usage(format!(
                    "completions: unknown shell '{shell}' (bash, zsh or fish)"
                ))
            })?;
            std::io::stdout()
                .write_all(script.as_bytes())
                .map_err(stdout_error)
        }
        "queues" => ducq_cli::queue::queues(&conn, &args, &ui),
        "enq" => ducq_cli::queue::enq(&conn, &args),
        "deq" => ducq_cli::queue::deq(&conn, &args, &ui),
        "serve" => ducq_cli::queue::serve(&conn, &args, &literal),
        "req" => ducq_cli::queue::req(&conn, &args, conn.timeout),
        other => Err(usage(format!("unknown command '{other}'"))),
    }
}

/// `ducq chan add NAME PATTERN [SETTING]...`, `rm NAME`, `ls`, `show NAME`:
/// the `chan` command (PROTOCOL.md §15). Settings are checked here first,
/// so a mistake is told in words, not as a NACK code.
fn chan(conn: &Conn, args: Vec<String>, literal: Vec<String>) -> Result<(), Failure> {
    let args = take_options("chan", args, literal, |_, _| Ok(false))?;
    let words: Vec<&str> = args.iter().map(String::as_str).collect();
    let (route, payload, listing) = match &words[..] {
        ["add", name, pattern, settings @ ..] => {
            let mut spec = format!("pattern={}", quoted(pattern));
            for s in settings {
                spec.push(' ');
                spec.push_str(s);
            }
            ChannelSpec::parse(&spec, usize::MAX).map_err(|e| usage(format!("chan add: {e}")))?;
            (format!("add {name}"), spec, false)
        }
        ["rm", name] => (format!("rm {name}"), String::new(), false),
        ["ls"] => ("ls".to_string(), String::new(), true),
        ["show", name] => (format!("show {name}"), String::new(), true),
        _ => {
            return Err(usage(
                "usage: ducq chan add NAME PATTERN [SETTING]... | rm NAME | ls | show NAME",
            ))
        }
    };
    let mut client = conn.open()?;
    client.emit("chan", &route, payload.as_bytes())?;
    if !listing {
        let reply = client.receive_reply()?;
        if classify(&reply) != Kind::Ack {
            return Err(Failure::Other(format!(
                "unexpected reply: {}",
                String::from_utf8_lossy(&reply)
            )));
        }
        return Ok(());
    }
    print_reply(&mut client)
}

/// Parts sent before their ACKs are waited for: enough to keep the pipe
/// full, few enough that a NACK stops the stream early.
const PARTS_IN_FLIGHT: usize = 16;

/// Streams what `input` yields as `CONT` parts of at most `part` bytes (one
/// per read, so a slow source is forwarded as it comes), then `END`.
/// Returns the bytes sent.
fn publish_stream(
    client: &mut Client,
    route: &str,
    mut input: impl Read,
    part: usize,
    progress: &mut Progress,
) -> Result<u64, Failure> {
    let mut buf = vec![0; part];
    let (mut unacked, mut sent) = (0usize, 0u64);
    loop {
        let n = match input.read(&mut buf) {
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            // Leaving ends the stream with an error for its subscribers.
            Err(e) => return Err(Failure::Other(format!("stdin: {e}"))),
        };
        let Some(bytes_read) = buf.get(..n).filter(|b| !b.is_empty()) else {
            break;
        };
        client.emit("CONT", route, bytes_read)?;
        sent += n as u64;
        progress.update(|| format!("streaming on {route}: {}", bytes(sent)));
        unacked += 1;
        while unacked > PARTS_IN_FLIGHT {
            expect_ack(client)?;
            unacked -= 1;
        }
    }
    client.emit("END", route, b"")?;
    for _ in 0..=unacked {
        expect_ack(client)?;
    }
    Ok(sent)
}

/// Waits for the next ACK; a NACK or anything else but data is an error.
fn expect_ack(client: &mut Client) -> Result<(), Failure> {
    loop {
        let m = client.receive_reply()?;
        match classify(&m) {
            Kind::Ack => return Ok(()),
            // A message for a subscription of this connection: not ours.
            Kind::Data => {}
            _ => {
                return Err(Failure::Other(format!(
                    "unexpected reply: {}",
                    String::from_utf8_lossy(&m)
                )))
            }
        }
    }
}

/// Reads the whole of stdin, showing how much came so far.
fn read_stdin(progress: &mut Progress) -> Result<Vec<u8>, Failure> {
    let mut buf = Vec::new();
    let mut stdin = std::io::stdin().lock();
    let mut chunk = vec![0u8; 64 << 10];
    loop {
        match stdin.read(&mut chunk) {
            Ok(0) => return Ok(buf),
            Ok(n) => {
                buf.extend_from_slice(chunk.get(..n).unwrap_or_default());
                progress.update(|| format!("reading stdin: {}", bytes(buf.len() as u64)));
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => {
                progress.clear();
                return Err(Failure::Other(format!("stdin: {e}")));
            }
        }
    }
}

/// The marker `send --no-reply` sends after the command: its echo tells
/// that the server has handled everything sent before it.
fn no_reply_marker() -> Vec<u8> {
    format!("PING _\nducq-cli-done-{}", std::process::id()).into_bytes()
}

fn send(conn: &Conn, args: &[String], no_reply: bool) -> Result<(), Failure> {
    let (cmd, route, payload) = match args {
        [c] => (c.as_str(), None, ""),
        [c, r] => (c.as_str(), Some(r.as_str()), ""),
        [c, r, p] => (c.as_str(), Some(r.as_str()), p.as_str()),
        _ => {
            return Err(usage(
                "usage: ducq send [--no-reply] COMMAND [ROUTE [PAYLOAD]]",
            ))
        }
    };
    let mut client = conn.open()?;
    match route {
        Some(r) => client.emit(cmd, r, payload.as_bytes())?,
        None => client.send(cmd.as_bytes())?,
    }
    if !no_reply {
        return print_reply(&mut client).map_err(|e| match e {
            Failure::NoReply(_) => Failure::NoReply(format!(
                "no reply within {} s to '{cmd}' (for a command that answers nothing, use send --no-reply)",
                conn.timeout.as_secs_f64()
            )),
            other => other,
        });
    }
    // Commands run in order: once the marker's PONG is back, the command
    // was handled, and whatever it answered came before.
    let marker = no_reply_marker();
    client.send(&marker)?;
    let pong = ducq::proto::message::pong_for(&marker);
    let mut out = std::io::stdout().lock();
    loop {
        let m = client.receive()?;
        if m == pong {
            return Ok(());
        }
        if let Kind::Nack(state) = classify(&m) {
            return Err(nack(state, &m));
        }
        out.write_all(&m).map_err(stdout_error)?;
        out.write_all(b"\n").map_err(stdout_error)?;
    }
}

fn print_reply(client: &mut Client) -> Result<(), Failure> {
    let first = client.receive_reply()?;
    let mut out = std::io::stdout().lock();
    if classify(&first) != Kind::Parts {
        out.write_all(&first).map_err(stdout_error)?;
        out.write_all(b"\n").map_err(stdout_error)?;
        return Ok(());
    }
    loop {
        let m = client.receive_reply()?;
        if classify(&m) == Kind::End {
            return Ok(());
        }
        out.write_all(&m).map_err(stdout_error)?;
        if !m.ends_with(b"\n") {
            out.write_all(b"\n").map_err(stdout_error)?;
        }
    }
}

fn sub(
    conn: &Conn,
    ui: &Ui,
    mut printer: Printer,
    args: Vec<String>,
    literal: Vec<String>,
) -> Result<(), Failure> {
    let mut extra = Vec::new();
    let (mut last, mut count) = (None::<String>, None::<u64>);
    let mut reconnect = Reconnect::default();
    let args = take_options("sub", args, literal, |a, it| {
        if reconnect.take(a, || it.next())? {
            return Ok(true);
        }
        match a {
            "--last" => {
                // An optional count: `--last 10`.
                let n = it
                    .as_slice()
                    .first()
                    .filter(|v| !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()))
                    .cloned();
                if n.is_some() {
                    it.next();
                }
                last = Some(n.map_or("last".into(), |n| format!("last {n}")));
            }
            "-v" | "--verbose" => printer.verbose = true,
            "--add" => extra.push(it.next().ok_or_else(|| usage("--add needs a route"))?),
            "--count" => {
                let v = it.next().ok_or_else(|| usage("--count needs a number"))?;
                count = Some(v.parse().ok().filter(|&n| n > 0).ok_or_else(|| {
                    usage(format!("--count: '{v}' is not a positive whole number"))
                })?);
            }
            _ => return Ok(false),
        }
        Ok(true)
    })?;
    let route = match &args[..] {
        [route] => route.clone(),
        [] => return Err(usage("usage: ducq sub ROUTE")),
        [_, unexpected, ..] => {
            return Err(usage(format!("sub: unexpected argument '{unexpected}'")))
        }
    };
    let addr = conn.addr();
    let mut client = Reconnecting::new(conn.connector(), reconnect.policy(), Some(conn.timeout))
        .map_err(|e| Failure::Other(format!("could not connect to {addr}: {e}")))?;
    let lost = Rc::new(Cell::new(false));
    let flag = Rc::clone(&lost);
    client.on_event(move |e| {
        if matches!(e, Event::Disconnected { .. }) {
            flag.set(true);
        }
        if let Some(line) = reconnect_line(&addr, e) {
            eprintln!("ducq: {line}");
        }
    });
    // Buffered: a streamed payload is written in large pieces, not per line.
    let mut out = std::io::BufWriter::with_capacity(64 << 10, std::io::stdout().lock());
    let mut writer = SubWriter::new(printer);
    // Progress only where it does not mix with the messages themselves.
    let mut progress = Progress::new(
        ui.progress && std::io::stderr().is_terminal() && !std::io::stdout().is_terminal(),
    );
    let counted = |seen: u64| match count {
        Some(c) => format!("received {seen}/{c} messages"),
        None => format!("received {seen} messages"),
    };
    let done = |seen: u64| count.is_some_and(|c| seen >= c);
    let opts = last.clone().unwrap_or_default();
    if let Some(m) = client.subscribe(&route, &opts)? {
        writer.message(&mut out, &m).map_err(stdout_error)?;
    }
    for r in &extra {
        let opts = last.as_ref().map_or("add".into(), |l| format!("{l} add"));
        if let Some(m) = client.subscribe(r, &opts)? {
            writer.message(&mut out, &m).map_err(stdout_error)?;
        }
    }
    if !done(writer.seen) {
        client.set_timeout(None)?;
        let mut failure = None;
        let listened = client.listen(|msg| {
            // Streams cut by a lost connection never end: give them up.
            if lost.take() {
                if let Err(e) = writer.connection_lost(&mut out) {
                    failure = Some(stdout_error(e));
                    return Flow::Break;
                }
            }
            if let Kind::Nack(state) = classify(msg) {
                failure = Some(nack(state, msg));
                return Flow::Break;
            }
            if let Err(e) = writer.message(&mut out, msg) {
                failure = Some(stdout_error(e));
                return Flow::Break;
            }
            let seen = writer.seen;
            progress.update(|| counted(seen));
            if done(seen) {
                Flow::Break
            } else {
                Flow::Continue
            }
        });
        if let Some(f) = failure.or(listened.err().map(Failure::from)) {
            progress.clear();
            return Err(f);
        }
    }
    out.flush().map_err(stdout_error)?;
    progress.finish(&counted(writer.seen));
    Ok(())
}

fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    // The error prefix follows --color too, when it could be read.
    let when = argv
        .iter()
        .position(|a| a == "--color" || a == "--colour")
        .and_then(|i| argv.get(i + 1)?.parse().ok())
        .or_else(|| {
            argv.iter()
                .any(|a| a == "--no-color")
                .then_some(When::Never)
        })
        .unwrap_or(When::Auto);
    let prefix = error_prefix(when.colour(std::io::stderr().is_terminal()));
    let result = match parse(argv) {
        Ok(Some(cli)) => run(cli),
        Ok(None) => Ok(()),
        Err(e) => Err(e),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Usage(e)) => {
            eprintln!("{prefix}{e}\nTry 'ducq --help'.");
            ExitCode::from(64)
        }
        Err(Failure::Nack(e)) => {
            eprintln!("{prefix}{e}");
            ExitCode::from(2)
        }
        Err(Failure::NoReply(e)) => {
            eprintln!("{prefix}{e}");
            ExitCode::from(3)
        }
        Err(Failure::Service(e)) => {
            eprintln!("{prefix}{e}");
            ExitCode::from(4)
        }
        Err(Failure::Other(e)) => {
            eprintln!("{prefix}{e}");
            ExitCode::from(1)
        }
        Err(Failure::Script(e)) => {
            eprintln!("{prefix}{e}");
            ExitCode::from(e.exit_code())
        }
    }
}
