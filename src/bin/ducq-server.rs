//! `ducq-server`: runs a ducq broker with embedded defaults, or with the
//! listeners and limits given as flags. Argument parsing and wiring only;
//! everything else lives in the library.

use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use ducq::lua::{LuaCommands, LuaLimits};
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
  --tls ADDR              TLS listener, length-framed ducq (repeatable;
                          needs --cert and --key), e.g. 0.0.0.0:59092
  --https ADDR            HTTPS and secure WebSocket listener (repeatable;
                          needs --cert and --key), e.g. 0.0.0.0:59093
  --unix PATH             Unix domain socket listener (repeatable); a stale
                          socket file is replaced, a live one refused
  --unix-mode MODE        permission bits of the Unix sockets, octal (0660)
TLS:
  --cert FILE             PEM certificate chain of the TLS listeners
  --key FILE              PEM private key of the TLS listeners
  --client-ca FILE        require client certificates signed by a CA of FILE
Commands:
  --commands DIR          load C commands from the *.so files of DIR, each
                          exporting `struct ducq_cmd_t command` (repeatable)
Limits:
  --max-message BYTES     largest message body            [default: 1048576]
  --max-route BYTES       longest route                   [default: 1024]
  --max-stored-routes N   routes whose last message is kept [default: 10000]
  --max-stored-bytes B    bytes of stored last messages   [default: 67108864]
  --max-connections N     simultaneous clients            [default: 16384]
  --max-output BYTES      output queued per client before it is
                          disconnected as a slow consumer [default: 8388608]
  --idle-timeout SECS     close clients silent this long (pinged at half);
                          0 disables                      [default: 300]
  --frame-timeout SECS    close clients that leave a message, handshake or
                          HTTP request incomplete this long; 0 disables
                                                          [default: 30]
Lua commands:
  --lua PATH              load every .lua file of folder PATH (or the one
                          file PATH) and reload on change (repeatable)
  --lua-instructions N    VM instructions one call may run [default: 10000000]
  --lua-memory BYTES      memory of all scripts together [default: 67108864]
Logging:
  --log-level LEVEL       debug, info, warn, error, off   [default: info]
Other:
  ducq-server hash-password
                          read a password on stdin, print its argon2id PHC
                          string (for a [[user]] of the configuration file)
  -h, --help              this text
  -V, --version           version
";

struct Args {
    tcp: Vec<String>,
    http: Vec<String>,
    tls: Vec<String>,
    https: Vec<String>,
    unix: Vec<String>,
    unix_mode: Option<u32>,
    cert: Option<String>,
    key: Option<String>,
    client_ca: Option<String>,
    commands: Vec<String>,
    settings: Settings,
    lua: Vec<String>,
    lua_limits: LuaLimits,
}

fn parse_args(mut argv: impl Iterator<Item = String>) -> Result<Option<Args>, String> {
    let mut args = Args {
        tcp: Vec::new(),
        http: Vec::new(),
        tls: Vec::new(),
        https: Vec::new(),
        unix: Vec::new(),
        unix_mode: None,
        cert: None,
        key: None,
        client_ca: None,
        commands: Vec::new(),
        settings: Settings::default(),
        lua: Vec::new(),
        lua_limits: LuaLimits::default(),
    };
    let s = &mut args.settings;
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
            "--tls" => args.tls.push(value()?),
            "--https" => args.https.push(value()?),
            "--unix" => args.unix.push(value()?),
            "--unix-mode" => {
                let v = value()?;
                args.unix_mode = Some(
                    u32::from_str_radix(&v, 8)
                        .map_err(|_| format!("--unix-mode: '{v}' is not an octal mode"))?,
                );
            }
            "--cert" => args.cert = Some(value()?),
            "--key" => args.key = Some(value()?),
            "--client-ca" => args.client_ca = Some(value()?),
            "--commands" => args.commands.push(value()?),
            "--max-message" => s.max_message = num(value()?)?,
            "--max-route" => s.max_route = num(value()?)?,
            "--max-stored-routes" => s.max_stored_routes = num(value()?)?,
            "--max-stored-bytes" => s.max_stored_bytes = num(value()?)?,
            "--max-connections" => s.max_connections = num(value()?)?,
            "--max-output" => s.max_output = num(value()?)?,
            "--idle-timeout" => s.idle_timeout = Duration::from_secs(num(value()?)? as u64),
            "--frame-timeout" => s.frame_timeout = Duration::from_secs(num(value()?)? as u64),
            "--lua" => args.lua.push(value()?),
            "--lua-instructions" => args.lua_limits.instructions = num(value()?)? as u64,
            "--lua-memory" => args.lua_limits.memory = num(value()?)?,
            "--log-level" => s.log_level = value()?.parse::<Level>()?,
            other => return Err(format!("unknown option '{other}' (see --help)")),
        }
    }
    let secure = !args.tls.is_empty() || !args.https.is_empty();
    if secure && (args.cert.is_none() || args.key.is_none()) {
        return Err("--tls and --https need --cert and --key".into());
    }
    if args.tcp.is_empty()
        && args.http.is_empty()
        && !secure
        && args.unix.is_empty()
    {
        args.tcp.push("0.0.0.0:59090".into());
        args.http.push("0.0.0.0:59091".into());
    }
    Ok(Some(args))
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
    let _ = os::raise_fd_limit();
    let mut reactor = match Reactor::new(args.settings.clone()) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("ducq-server: cannot start: {e}");
            return ExitCode::FAILURE;
        }
    };
    if let Err(e) = os::stop_on_signals(reactor.stop_handle()) {
        eprintln!("ducq-server: cannot install signal handling: {e}");
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
    if let Err(e) = listen_secure(&mut reactor, &args) {
        eprintln!("ducq-server: {e}");
        return ExitCode::FAILURE;
    }
    for dir in &args.commands {
        if let Err(e) = ducq::ffi::load_commands_dir(&mut reactor, Path::new(dir)) {
            eprintln!("ducq-server: cannot load commands from {dir}: {e}");
            return ExitCode::FAILURE;
        }
    }
    match reactor.run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ducq-server: {e}");
            ExitCode::FAILURE
        }
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

/// Opens the TLS, HTTPS and Unix listeners.
fn listen_secure(reactor: &mut Reactor, args: &Args) -> Result<(), String> {
    if let (Some(cert), Some(key)) = (&args.cert, &args.key) {
        let files = ducq::tls::ServerTlsFiles {
            cert: cert.clone(),
            key: key.clone(),
            client_ca: args.client_ca.clone(),
        };
        if !args.tls.is_empty() {
            let config = ducq::tls::server_config(&files, &[])?;
            for addr in &args.tls {
                reactor
                    .listen_tls(addr, std::sync::Arc::clone(&config))
                    .map_err(|e| format!("cannot listen on {addr} (tls): {e}"))?;
            }
        }
        if !args.https.is_empty() {
            let config = ducq::tls::server_config(&files, &[b"http/1.1"])?;
            for addr in &args.https {
                reactor
                    .listen_https(addr, std::sync::Arc::clone(&config))
                    .map_err(|e| format!("cannot listen on {addr} (https): {e}"))?;
            }
        }
    }
    for path in &args.unix {
        reactor
            .listen_unix(Path::new(path), args.unix_mode)
            .map_err(|e| format!("cannot listen on {path} (unix): {e}"))?;
    }
    Ok(())
}
