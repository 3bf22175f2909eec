//! `ducq`'s command line: the usage text, the global options (connection
//! and output) and a command's own options. Nothing here connects.

use std::time::Duration;

use super::connect::Conn;
use super::output::When;
use crate::{usage, Failure};

/// `ducq --help`.
pub const USAGE: &str = "\
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
  --tls                   connect over TLS (a tls listener, or with --ws an
                          https one)                    [port: 59092, 59093]
  --ca FILE               trust the CA certificates of FILE (PEM) instead
                          of the system's
  --cert FILE, --key FILE present this client certificate (PEM)
  --unix PATH             connect to the Unix socket PATH instead of a port
  --user NAME             authenticate as NAME; the password is read from
                          the environment variable DUCQ_PASSWORD
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

/// Options about the output rather than the connection.
pub struct Ui {
    pub json: bool,
    pub colour: When,
    pub progress: bool,
}

/// The parsed command line.
pub struct Cli {
    pub conn: Conn,
    pub ui: Ui,
    pub command: Option<String>,
    /// The command's arguments before `--` (options allowed) and after it.
    pub args: Vec<String>,
    pub literal: Vec<String>,
}

/// Whether `a` is written like an option (`-x`, `--x`; not `-`, not `-5`).
pub fn looks_like_option(a: &str) -> bool {
    a.len() > 1
        && a.starts_with('-')
        && !a[1..].starts_with(|c: char| c.is_ascii_digit() || c == '.')
}

/// The command line parsed; `None` when it was `--help` or `--version`
/// (answered here).
pub fn parse(argv: Vec<String>) -> Result<Option<Cli>, Failure> {
    let mut cli = defaults();
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
            "--tls" => cli.conn.tls = true,
            "--ca" => cli.conn.ca = Some(value("--ca")?),
            "--cert" => cli.conn.cert = Some(value("--cert")?),
            "--key" => cli.conn.key = Some(value("--key")?),
            "--unix" => cli.conn.unix = Some(value("--unix")?),
            "--user" => cli.conn.user = Some(value("--user")?),
            "--port" => cli.conn.port = Some(port(&value("--port")?)?),
            "--timeout" => cli.conn.timeout = timeout(&value("--timeout")?)?,
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
pub fn take_options(
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

/// The command line before any argument: the local server, 5 s.
fn defaults() -> Cli {
    Cli {
        conn: Conn {
            host: "127.0.0.1".into(),
            port: None,
            ws: false,
            tls: false,
            ca: None,
            cert: None,
            key: None,
            unix: None,
            user: None,
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
    }
}

/// `--port`'s value: 1 to 65535.
fn port(v: &str) -> Result<u16, Failure> {
    v.parse()
        .ok()
        .filter(|&p: &u16| p > 0)
        .ok_or_else(|| usage(format!("--port: '{v}' is not a port (1-65535)")))
}

/// `--timeout`'s value: positive seconds (at least a millisecond is waited).
fn timeout(v: &str) -> Result<Duration, Failure> {
    let secs = positive_seconds("--timeout", v)?;
    Ok(Duration::from_secs_f64(secs.max(0.001)))
}

/// A flag's value in seconds: a finite positive number below 10⁹.
pub(crate) fn positive_seconds(flag: &str, v: &str) -> Result<f64, Failure> {
    v.parse::<f64>()
        .ok()
        .filter(|s| s.is_finite() && *s > 0.0 && *s < 1e9)
        .ok_or_else(|| usage(format!("{flag}: '{v}' is not a positive number of seconds")))
}
