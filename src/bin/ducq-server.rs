//! `ducq-server`: runs a ducq broker with embedded defaults, a configuration
//! file, and the listeners and limits given as flags on top. Argument
//! parsing and wiring only; everything else lives in the library (the
//! configuration in `ducq::config`). Under a service manager
//! (`$NOTIFY_SOCKET`) it reports readiness, watchdog pings, reloads and the
//! stop (`ducq.service`, `Type=notify`).

use std::path::Path;
use std::process::ExitCode;
use std::time::Instant;

use ducq::config::{self, ListenerConfig, Overrides};
use ducq::server::bridges::config::BridgeConfig;
use ducq::server::notify::Notifier;
use ducq::server::observe::Observe;
use ducq::server::os::Hangup;
use ducq::server::{os, Level, Reactor};

const USAGE: &str = "\
ducq-server: a LAN message broker (TCP, WebSocket, HTTP clients)

Usage: ducq-server [OPTIONS]
       ducq-server hash-password < password

With no listener option (and none in the configuration file), listens for
TCP clients on 0.0.0.0:59090 and for HTTP and WebSocket clients on
0.0.0.0:59091. Once any listener flag is given, only the listeners given as
flags are opened.

Configuration:
  --config FILE           read the configuration file FILE (TOML: listeners,
                          limits, users and access lists, Lua, HTTP origins);
                          flags override it. SIGHUP re-reads it.
  --test-config           check the configuration and exit: 0 when valid,
                          else each error with its line and exit status 1

Listeners:
  --tcp ADDR              TCP listener, e.g. 127.0.0.1:59090 (repeatable)
                          [default: 0.0.0.0:59090]
  --http ADDR             HTTP and WebSocket listener (repeatable)
                          [default: 0.0.0.0:59091]
  --tls ADDR              TLS listener, length-framed ducq (repeatable;
                          needs --cert and --key), e.g. 0.0.0.0:59092
  --https ADDR            HTTPS and secure WebSocket listener (repeatable;
                          needs --cert and --key), e.g. 0.0.0.0:59093
  --mqtt ADDR             MQTT 3.1.1 and 5 listener, e.g. 127.0.0.1:1883
                          (repeatable; see docs/MQTT.md)
  --mqtts ADDR            MQTT over TLS (repeatable; needs --cert and --key),
                          e.g. 0.0.0.0:8883
  --unix PATH             Unix domain socket listener (repeatable); a stale
                          socket file is replaced, a live one refused
  --unix-mode MODE        permission bits of the Unix sockets, octal (0660)
  --no-anonymous          clients of the listeners given as flags must
                          authenticate before anything but auth and PING
TLS:
  --cert FILE             PEM certificate chain of the TLS listeners
  --key FILE              PEM private key of the TLS listeners
  --client-ca FILE        require client certificates signed by a CA of FILE
Bridges (docs/BRIDGES.md):
  --bridge KIND=ADDR[,KEY=VALUE]...
                          dial another ducq broker, an MQTT broker or a NATS
                          server (KIND ducq, mqtt, nats) and forward the
                          local routes of each out=PATTERN to it, the remote
                          routes of each in=PATTERN from it; reconnects on
                          its own (repeatable). Keys: addr (more addresses,
                          tried in turn), out, in, name, local_prefix,
                          remote_prefix, qos, retain, mqtt_version,
                          client_id, clean_session, user, password,
                          keepalive, backoff_initial, backoff_max, buffer,
                          tls, ca, server_name, cert, key. The same keys make
                          [[bridge]] tables of the --config file
Commands:
  --commands DIR          load C commands from the *.so files of DIR, each
                          exporting `struct ducq_cmd_t command` (repeatable)
Limits:
  --max-message BYTES     largest message body            [default: 1048576]
  --max-route BYTES       longest route                   [default: 1024]
  --max-stored-routes N   routes whose last message is kept [default: 10000]
  --max-stored-bytes B    bytes of stored messages; the oldest go first
                                                          [default: 67108864]
  --history N             messages stored per route, for 'sub R' with
                          'last N' and GET /last/R?n=N   [default: 1]
  --max-connections N     simultaneous clients            [default: 16384]
  --max-output BYTES      hard limit of output queued for one client: past
                          it the client is disconnected at once as a slow
                          consumer                        [default: 67108864]
  --output-high-water B   when a message takes a client's queued output past
                          this, the client that sent it is not read until
                          that queue drains to the low-water mark
                          (back-pressure; at or above --max-output: none)
                                                          [default: 1048576]
  --output-low-water B    see --output-high-water         [default: 262144]
  --output-timeout SECS   a client above the high-water mark that takes no
                          output at all this long is disconnected as a slow
                          consumer (one that keeps draining never is);
                          0 disables (the hard limit remains) [default: 10]
  --idle-timeout SECS     close clients silent this long (pinged at half);
                          0 disables                      [default: 300]
  --frame-timeout SECS    close clients that leave a message, handshake or
                          HTTP request incomplete this long; 0 disables
                                                          [default: 30]
Queues:
  --data-dir DIR          where durable queues are kept (queues.redb, made
                          when a queue is first used); 'none' keeps queues
                          in memory only                  [default: ./ducq-data]
  --max-queue-bytes B     payload bytes all queues may hold [default: 268435456]
  --max-queues N          number of queues                [default: 10000]
Streamed payloads (CONT/END):
  --stream-window BYTES   bytes of a stream queued for one subscriber before
                          its publisher is paused          [default: 4194304]
  --stream-timeout SECS   end a stream silent this long with an error, close
                          a subscriber holding it up this long; 0 disables
                                                          [default: 30]
Lua commands:
  --lua PATH              load every .lua file of folder PATH (or the one
                          file PATH) and reload on change (repeatable)
  --lua-instructions N    VM instructions one call may run [default: 10000000]
  --lua-memory BYTES      memory of all scripts together [default: 67108864]
Logging:
  --log-level LEVEL       debug, info, warn, error, off   [default: info]
Observing:
  --no-dashboard          do not serve the web dashboard at GET / of the
                          HTTP listeners (GET /metrics and /stats stay)
Other:
  ducq-server hash-password
                          read a password on stdin, print its argon2id PHC
                          string (for a [[user]] of the configuration file)
  -h, --help              this text
  -V, --version           version

Signals: SIGINT and SIGTERM stop the server; SIGHUP re-reads the
configuration file (a refused file changes nothing; without --config it is
logged and ignored). Started with $NOTIFY_SOCKET set (systemd Type=notify),
it sends READY=1 once listening, WATCHDOG=1 at half of $WATCHDOG_USEC,
RELOADING=1 and STOPPING=1.
";

struct Args {
    overrides: Overrides,
    config: Option<String>,
    test_config: bool,
    commands: Vec<String>,
    dashboard: bool,
}

/// Flags that make listeners, gathered before they become entries.
#[derive(Default)]
struct ListenerFlags {
    plain: Vec<(&'static str, String)>,
    secure: Vec<(&'static str, String)>,
    unix: Vec<String>,
    unix_mode: Option<String>,
    cert: Option<String>,
    key: Option<String>,
    client_ca: Option<String>,
    no_anonymous: bool,
}

impl ListenerFlags {
    fn into_configs(self) -> Result<Vec<ListenerConfig>, String> {
        if !self.secure.is_empty() && (self.cert.is_none() || self.key.is_none()) {
            return Err("--tls, --https and --mqtts need --cert and --key".into());
        }
        let anonymous = (!self.no_anonymous).then_some(true).or(Some(false));
        let mut out = Vec::new();
        for (kind, addr) in self.plain {
            out.push(ListenerConfig {
                kind: kind.into(),
                addr: Some(addr),
                anonymous,
                ..ListenerConfig::default()
            });
        }
        for (kind, addr) in self.secure {
            out.push(ListenerConfig {
                kind: kind.into(),
                addr: Some(addr),
                cert: self.cert.clone(),
                key: self.key.clone(),
                client_ca: self.client_ca.clone(),
                anonymous,
                ..ListenerConfig::default()
            });
        }
        for path in self.unix {
            out.push(ListenerConfig {
                kind: "unix".into(),
                path: Some(path),
                mode: self.unix_mode.clone(),
                anonymous,
                ..ListenerConfig::default()
            });
        }
        Ok(out)
    }
}

fn parse_args(mut argv: impl Iterator<Item = String>) -> Result<Option<Args>, String> {
    let mut args = Args {
        overrides: Overrides::default(),
        config: None,
        test_config: false,
        commands: Vec::new(),
        dashboard: true,
    };
    let mut lf = ListenerFlags::default();
    let o = &mut args.overrides;
    while let Some(flag) = argv.next() {
        if flag == "-h" || flag == "--help" {
            print!("{USAGE}");
            return Ok(None);
        }
        if flag == "-V" || flag == "--version" {
            println!("ducq-server {}", env!("CARGO_PKG_VERSION"));
            return Ok(None);
        }
        let mut value = || {
            argv.next()
                .ok_or_else(|| format!("{flag} needs a value (see --help)"))
        };
        let num = |v: String| -> Result<usize, String> {
            v.parse()
                .map_err(|_| format!("{flag}: '{v}' is not a whole number"))
        };
        let l = &mut o.limits;
        match flag.as_str() {
            "--config" => args.config = Some(value()?),
            "--test-config" => args.test_config = true,
            "--tcp" => lf.plain.push(("tcp", value()?)),
            "--http" => lf.plain.push(("http", value()?)),
            "--mqtt" => lf.plain.push(("mqtt", value()?)),
            "--tls" => lf.secure.push(("tls", value()?)),
            "--https" => lf.secure.push(("https", value()?)),
            "--mqtts" => lf.secure.push(("mqtts", value()?)),
            "--unix" => lf.unix.push(value()?),
            "--unix-mode" => lf.unix_mode = Some(value()?),
            "--no-anonymous" => lf.no_anonymous = true,
            "--cert" => lf.cert = Some(value()?),
            "--key" => lf.key = Some(value()?),
            "--client-ca" => lf.client_ca = Some(value()?),
            "--bridge" => o
                .bridges
                .push(BridgeConfig::parse_flag(&value()?).map_err(|e| format!("--bridge: {e}"))?),
            "--commands" => args.commands.push(value()?),
            "--max-message" => l.max_message = Some(num(value()?)?),
            "--max-route" => l.max_route = Some(num(value()?)?),
            "--max-stored-routes" => l.max_stored_routes = Some(num(value()?)?),
            "--max-stored-bytes" => l.max_stored_bytes = Some(num(value()?)?),
            "--history" => l.history = Some(num(value()?)?),
            "--data-dir" => o.data_dir = Some(value()?),
            "--max-queue-bytes" => l.max_queue_bytes = Some(num(value()?)?),
            "--max-queues" => l.max_queues = Some(num(value()?)?),
            "--stream-window" => l.stream_window = Some(num(value()?)?),
            "--stream-timeout" => l.stream_timeout = Some(num(value()?)? as u64),
            "--no-dashboard" => args.dashboard = false,
            "--max-connections" => l.max_connections = Some(num(value()?)?),
            "--max-output" => l.max_output = Some(num(value()?)?),
            "--output-high-water" => l.output_high_water = Some(num(value()?)?),
            "--output-low-water" => l.output_low_water = Some(num(value()?)?),
            "--output-timeout" => l.output_timeout = Some(num(value()?)? as u64),
            "--idle-timeout" => l.idle_timeout = Some(num(value()?)? as u64),
            "--frame-timeout" => l.frame_timeout = Some(num(value()?)? as u64),
            "--lua" => o.lua_dirs.push(value()?),
            "--lua-instructions" => o.lua_instructions = Some(num(value()?)? as u64),
            "--lua-memory" => o.lua_memory = Some(num(value()?)?),
            "--log-level" => o.log_level = Some(value()?),
            other => return Err(format!("unknown option '{other}' (see --help)")),
        }
    }
    if let (Some(low), Some(high)) = (o.limits.output_low_water, o.limits.output_high_water) {
        // Both on the command line: a usage error (one beside the file's
        // other is the configuration check's).
        if low >= high {
            return Err(format!(
                "--output-low-water ({low}) must be below --output-high-water ({high})"
            ));
        }
    }
    o.listeners = lf.into_configs()?;
    Ok(Some(args))
}

/// The configuration: the file (if any) with the flags on top, and the
/// default listeners when neither names one.
fn resolve(args: &Args) -> Result<config::Resolved, Vec<config::ConfigError>> {
    let mut r = match &args.config {
        Some(path) => config::load(path, &args.overrides)?,
        None => config::check("", "command line", Path::new("."), &args.overrides)?,
    };
    if r.listeners.is_empty() {
        let mut o = args.overrides.clone();
        o.listeners = vec![
            ListenerConfig {
                kind: "tcp".into(),
                addr: Some("0.0.0.0:59090".into()),
                ..ListenerConfig::default()
            },
            ListenerConfig {
                kind: "http".into(),
                addr: Some("0.0.0.0:59091".into()),
                ..ListenerConfig::default()
            },
        ];
        r.listeners = config::check("", "defaults", Path::new("."), &o)?.listeners;
    }
    Ok(r)
}

/// `ducq-server hash-password`: a password on stdin (one line, its line
/// break dropped) becomes an argon2id PHC string on stdout.
fn hash_password() -> ExitCode {
    let mut line = String::new();
    if let Err(e) = std::io::stdin().read_line(&mut line) {
        eprintln!("ducq-server: cannot read the password: {e}");
        return ExitCode::FAILURE;
    }
    let password = line.strip_suffix('\n').unwrap_or(&line);
    let password = password.strip_suffix('\r').unwrap_or(password);
    if password.is_empty() {
        eprintln!("ducq-server: empty password");
        return ExitCode::from(64);
    }
    match ducq::server::auth::hash_password(password.as_bytes()) {
        Ok(phc) => {
            println!("{phc}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("ducq-server: {e}");
            ExitCode::FAILURE
        }
    }
}

fn main() -> ExitCode {
    if std::env::args().nth(1).as_deref() == Some("hash-password") {
        return hash_password();
    }
    let args = match parse_args(std::env::args().skip(1)) {
        Ok(Some(a)) => a,
        Ok(None) => return ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ducq-server: {e}");
            return ExitCode::from(64);
        }
    };
    let resolved = match resolve(&args) {
        Ok(r) => r,
        Err(errors) => {
            for e in &errors {
                eprintln!("ducq-server: {e}");
            }
            return ExitCode::FAILURE;
        }
    };
    if args.test_config {
        println!("configuration ok");
        return ExitCode::SUCCESS;
    }
    match run(args, resolved) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ducq-server: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Starts the reactor with the resolved configuration and serves until
/// stopped; an error is the line to print.
fn run(args: Args, resolved: config::Resolved) -> Result<(), String> {
    let notifier =
        Notifier::from_env().map_err(|e| format!("cannot notify the service manager: {e}"))?;
    let _ = os::raise_fd_limit();
    // Past a file-size limit the queue store answers NACK 7, not SIGXFSZ.
    let _ = os::survive_file_size_limit();
    let mut reactor =
        Reactor::new(resolved.settings.clone()).map_err(|e| format!("cannot start: {e}"))?;
    let store = reactor.hub().queues().describe();
    reactor.hub_mut().log(
        Level::Info,
        "queues",
        "server",
        &format!("queues kept in {store}"),
    );
    let hangup = os::stop_and_reload_on_signals(reactor.stop_handle())
        .map_err(|e| format!("cannot install signal handling: {e}"))?;
    Observe::new(args.dashboard)
        .and_then(|o| reactor.add_command_set(Box::new(o)))
        .map_err(|e| format!("cannot start the metrics timer: {e}"))?;
    let running = config::start(&mut reactor, resolved).map_err(|e| e.to_string())?;
    if let Some(path) = args.config.clone() {
        install_reload(&mut reactor, path, args.overrides.clone(), running);
    }
    // Any ducq-server can be another broker's bridge target.
    reactor
        .accept_bridges()
        .map_err(|e| format!("cannot add the bridge commands: {e}"))?;
    for dir in &args.commands {
        ducq::ffi::load_commands_dir(&mut reactor, Path::new(dir))
            .map_err(|e| format!("cannot load commands from {dir}: {e}"))?;
    }
    serve(&mut reactor, &notifier, &hangup).map_err(|e| e.to_string())
}

/// Reloads (SIGHUP, the `reload` command) re-read the file with the same
/// flags on top.
fn install_reload(
    reactor: &mut Reactor,
    path: String,
    overrides: Overrides,
    mut running: config::Running,
) {
    reactor.set_reload_hook(Box::new(move |reactor: &mut Reactor| {
        let new = config::load(&path, &overrides)
            .map_err(|errors| errors.iter().map(ToString::to_string).collect::<Vec<_>>())?;
        config::apply_reload(reactor, &mut running, new)
    }));
}

/// Runs the reactor until stopped, telling the service manager it is ready,
/// pinging its watchdog from this (the reactor's) thread between turns, so
/// a stuck loop stops the pings, and handling SIGHUP between turns.
fn serve(reactor: &mut Reactor, notifier: &Notifier, hangup: &Hangup) -> std::io::Result<()> {
    let listening: Vec<String> = reactor
        .local_addrs()
        .iter()
        .map(|a| a.to_string())
        .collect();
    let status = format!("serving on {}", listening.join(", "));
    warn_unsent(reactor, notifier.ready(&status), "READY=1");
    let every = notifier.watchdog_interval();
    let mut next_ping = Instant::now();
    while !reactor.is_stopped() {
        let now = Instant::now();
        if let Some(every) = every.filter(|_| now >= next_ping) {
            warn_unsent(reactor, notifier.watchdog(), "WATCHDOG=1");
            next_ping = now + every;
        }
        reactor.run_once(every.map(|_| next_ping.saturating_duration_since(now)))?;
        if hangup.take() {
            warn_unsent(reactor, notifier.reloading(), "RELOADING=1");
            // Logged either way by the reactor: reloaded, refused with each
            // error, or no configuration file to re-read.
            let _ = reactor.reload();
            warn_unsent(reactor, notifier.ready(&status), "READY=1");
        }
    }
    warn_unsent(reactor, notifier.stopping(), "STOPPING=1");
    // Already stopped: `run` only flushes what is queued and logs the stop.
    reactor.run()
}

/// A notification that could not be sent is logged, never fatal.
fn warn_unsent(reactor: &mut Reactor, sent: std::io::Result<()>, what: &str) {
    if let Err(e) = sent {
        let text = format!("could not send {what} to the service manager: {e}");
        reactor
            .hub_mut()
            .log(Level::Warn, "notify", "server", &text);
    }
}
