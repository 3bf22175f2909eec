//! `ducq-server`: runs a ducq broker with embedded defaults, or with the
//! listeners and limits given as flags. Argument parsing and wiring only;
//! everything else lives in the library. Under a service manager
//! (`$NOTIFY_SOCKET`) it reports readiness, watchdog pings, reloads and the
//! stop (`ducq.service`, `Type=notify`).

use std::path::Path;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use ducq::lua::{LuaCommands, LuaLimits};
use ducq::server::bridges::config::BridgeConfig;
use ducq::server::notify::Notifier;
use ducq::server::observe::Observe;
use ducq::server::os::Hangup;
use ducq::server::{os, Level, Reactor, Settings};

const USAGE: &str = "\
ducq-server: a LAN message broker (TCP, WebSocket, HTTP clients)

Usage: ducq-server [OPTIONS]

With no listener option, listens for TCP clients on 0.0.0.0:59090 and for
HTTP and WebSocket clients on 0.0.0.0:59091. Once any listener is given,
only the listeners given are opened.

Listeners:
  --tcp ADDR              TCP listener, e.g. 127.0.0.1:59090 (repeatable)
                          [default: 0.0.0.0:59090]
  --http ADDR             HTTP and WebSocket listener (repeatable)
                          [default: 0.0.0.0:59091]
  --mqtt ADDR             MQTT 3.1.1 and 5 listener, e.g. 127.0.0.1:1883
                          (repeatable; see docs/MQTT.md)
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
                          keepalive, backoff_initial, backoff_max, buffer
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
                          that queue drains below the low-water mark
                          (back-pressure; at or above --max-output: none)
                                                          [default: 1048576]
  --output-low-water B    see --output-high-water         [default: 262144]
  --output-timeout SECS   a client whose output stays above the high-water
                          mark this long is disconnected as a slow consumer;
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
  -h, --help              this text
  -V, --version           version

Signals: SIGINT and SIGTERM stop the server; SIGHUP asks for a reload
(logged; there is no configuration file to re-read yet). Started with
$NOTIFY_SOCKET set (systemd Type=notify), it sends READY=1 once listening,
WATCHDOG=1 at half of $WATCHDOG_USEC, RELOADING=1 and STOPPING=1.
";

struct Args {
    tcp: Vec<String>,
    http: Vec<String>,
    mqtt: Vec<String>,
    bridges: Vec<BridgeConfig>,
    commands: Vec<String>,
    settings: Settings,
    lua: Vec<String>,
    lua_limits: LuaLimits,
    dashboard: bool,
}

fn parse_args(mut argv: impl Iterator<Item = String>) -> Result<Option<Args>, String> {
    let mut args = Args {
        tcp: Vec::new(),
        http: Vec::new(),
        mqtt: Vec::new(),
        bridges: Vec::new(),
        commands: Vec::new(),
        settings: Settings::default(),
        lua: Vec::new(),
        lua_limits: LuaLimits::default(),
        dashboard: true,
    };
    let s = &mut args.settings;
    s.data_dir = Some(ducq::queue::store::DEFAULT_DATA_DIR.into());
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
        match flag.as_str() {
            "--tcp" => args.tcp.push(value()?),
            "--http" => args.http.push(value()?),
            "--mqtt" => args.mqtt.push(value()?),
            "--bridge" => args
                .bridges
                .push(BridgeConfig::parse_flag(&value()?).map_err(|e| format!("--bridge: {e}"))?),
            "--commands" => args.commands.push(value()?),
            "--max-message" => s.max_message = num(value()?)?,
            "--max-route" => s.max_route = num(value()?)?,
            "--max-stored-routes" => s.max_stored_routes = num(value()?)?,
            "--max-stored-bytes" => s.max_stored_bytes = num(value()?)?,
            "--history" => s.history = num(value()?)?,
            "--max-connections" => s.max_connections = num(value()?)?,
            "--max-output" => s.max_output = num(value()?)?,
            "--output-high-water" => s.output_high_water = num(value()?)?,
            "--output-low-water" => s.output_low_water = num(value()?)?,
            "--output-timeout" => s.output_timeout = Duration::from_secs(num(value()?)? as u64),
            "--idle-timeout" => s.idle_timeout = Duration::from_secs(num(value()?)? as u64),
            "--frame-timeout" => s.frame_timeout = Duration::from_secs(num(value()?)? as u64),
            "--data-dir" => {
                let v = value()?;
                s.data_dir = (v != "none").then(|| v.into());
            }
            "--max-queue-bytes" => s.queue_limits.max_bytes = num(value()?)?,
            "--max-queues" => s.queue_limits.max_queues = num(value()?)?,
            "--stream-window" => s.stream_window = num(value()?)?,
            "--stream-timeout" => s.stream_timeout = Duration::from_secs(num(value()?)? as u64),
            "--lua" => args.lua.push(value()?),
            "--lua-instructions" => args.lua_limits.instructions = num(value()?)? as u64,
            "--lua-memory" => args.lua_limits.memory = num(value()?)?,
            "--log-level" => s.log_level = value()?.parse::<Level>()?,
            "--no-dashboard" => args.dashboard = false,
            other => return Err(format!("unknown option '{other}' (see --help)")),
        }
    }
    if args.settings.output_low_water >= args.settings.output_high_water {
        return Err(format!(
            "--output-low-water ({}) must be below --output-high-water ({})",
            args.settings.output_low_water, args.settings.output_high_water
        ));
    }
    if args.tcp.is_empty() && args.http.is_empty() && args.mqtt.is_empty() {
        args.tcp.push("0.0.0.0:59090".into());
        args.http.push("0.0.0.0:59091".into());
    }
    Ok(Some(args))
}

fn main() -> ExitCode {
    let args = match parse_args(std::env::args().skip(1)) {
        Ok(Some(a)) => a,
        Ok(None) => return ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ducq-server: {e}");
            return ExitCode::from(64);
        }
    };
    let notifier = match Notifier::from_env() {
        Ok(n) => n,
        Err(e) => {
            eprintln!("ducq-server: cannot notify the service manager: {e}");
            return ExitCode::FAILURE;
        }
    };
    let _ = os::raise_fd_limit();
    // Past a file-size limit the queue store answers NACK 7, not SIGXFSZ.
    let _ = os::survive_file_size_limit();
    let mut reactor = match Reactor::new(args.settings) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("ducq-server: cannot start: {e}");
            return ExitCode::FAILURE;
        }
    };
    let store = reactor.hub().queues().describe();
    reactor.hub_mut().log(
        Level::Info,
        "queues",
        "server",
        &format!("queues kept in {store}"),
    );
    let hangup = match os::stop_and_reload_on_signals(reactor.stop_handle()) {
        Ok(h) => h,
        Err(e) => {
            eprintln!("ducq-server: cannot install signal handling: {e}");
            return ExitCode::FAILURE;
        }
    };
    let observe = Observe::new(args.dashboard).and_then(|o| reactor.add_command_set(Box::new(o)));
    if let Err(e) = observe {
        eprintln!("ducq-server: cannot start the metrics timer: {e}");
        return ExitCode::FAILURE;
    }
    // Before listening: a wrong path stops the start with no client served.
    if !args.lua.is_empty() {
        if let Err(e) = add_lua(&mut reactor, &args.lua, args.lua_limits) {
            eprintln!("ducq-server: {e}");
            return ExitCode::FAILURE;
        }
    }
    for addr in &args.tcp {
        if let Err(e) = reactor.listen_tcp(addr) {
            eprintln!("ducq-server: cannot listen on {addr} (tcp): {e}");
            return ExitCode::FAILURE;
        }
    }
    for addr in &args.http {
        if let Err(e) = reactor.listen_http(addr) {
            eprintln!("ducq-server: cannot listen on {addr} (http/websocket): {e}");
            return ExitCode::FAILURE;
        }
    }
    for addr in &args.mqtt {
        if let Err(e) = reactor.listen_mqtt(addr) {
            eprintln!("ducq-server: cannot listen on {addr} (mqtt): {e}");
            return ExitCode::FAILURE;
        }
    }
    // Any ducq-server can be another broker's bridge target.
    if let Err(e) = reactor.accept_bridges() {
        eprintln!("ducq-server: cannot add the bridge commands: {e}");
        return ExitCode::FAILURE;
    }
    for cfg in args.bridges {
        if let Err(e) = reactor.add_bridge(cfg) {
            eprintln!("ducq-server: --bridge: {e}");
            return ExitCode::FAILURE;
        }
    }
    for dir in &args.commands {
        if let Err(e) = ducq::ffi::load_commands_dir(&mut reactor, Path::new(dir)) {
            eprintln!("ducq-server: cannot load commands from {dir}: {e}");
            return ExitCode::FAILURE;
        }
    }
    match serve(&mut reactor, &notifier, &hangup) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ducq-server: {e}");
            ExitCode::FAILURE
        }
    }
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
            reactor.hub_mut().log(
                Level::Info,
                "reload",
                "server",
                "SIGHUP: no configuration file to re-read, settings unchanged",
            );
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

/// Loads the Lua paths; a script that fails to load is logged and retried
/// when rewritten, a missing path stops the start.
fn add_lua(reactor: &mut Reactor, paths: &[String], limits: LuaLimits) -> Result<(), String> {
    let mut lua = LuaCommands::new(limits).map_err(|e| format!("cannot start Lua: {e}"))?;
    for p in paths {
        lua.add_path(p.as_ref())
            .map_err(|e| format!("--lua {p}: {e}"))?;
    }
    lua.flush_log(reactor.hub_mut());
    reactor
        .add_command_set(Box::new(lua))
        .map_err(|e| format!("cannot watch Lua folders: {e}"))
}
