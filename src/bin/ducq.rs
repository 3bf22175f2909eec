//! `ducq`: the command-line client, in the spirit of mosquitto_pub and
//! mosquitto_sub. Argument parsing and printing only; the protocol lives in
//! the library's blocking client.

use std::io::{Read, Write};
use std::process::ExitCode;
use std::time::Duration;

use ducq::client::{Client, Error, Flow, NetStream, Wire};
use ducq::proto::{classify, message::nack_text, Kind, Message};

const USAGE: &str = "\
ducq: command-line client for a ducq server

Usage: ducq [OPTIONS] COMMAND [ARGS]

Commands:
  pub ROUTE PAYLOAD       publish PAYLOAD on ROUTE ('-' reads it from stdin)
  sub ROUTE [--last] [--add ROUTE]... [--count N] [-v]
                          print each message on ROUTE (wildcard *), one per
                          line; --last first prints the stored last message(s);
                          --add follows more routes; --count stops after N
                          messages; -v prints the route before the payload
  lscmd                   list the server's commands
  lsconn                  list connections and their subscriptions
  send COMMAND [ROUTE [PAYLOAD]]
                          send any command and print its reply
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
  -h, --help              this text
  -V, --version           version

Exit status: 0 on success, 2 when the server answers NACK (its text goes to
stderr), 1 when the server cannot be reached or the connection fails,
64 for a usage error.
";

enum Failure {
    Usage(String),
    Nack(String),
    Other(String),
}

impl From<Error> for Failure {
    fn from(e: Error) -> Failure {
        match e {
            Error::Nack { state, text } => {
                Failure::Nack(format!("NACK {}: {}", state.code(), text))
            }
            other => Failure::Other(other.to_string()),
        }
    }
}

struct Conn {
    host: String,
    port: Option<u16>,
    ws: bool,
    tls: bool,
    ca: Option<String>,
    cert: Option<String>,
    key: Option<String>,
    unix: Option<String>,
    user: Option<String>,
    timeout: Duration,
}

impl Conn {
    fn open(&self) -> Result<Client<NetStream>, Failure> {
        let wire = if self.ws { Wire::Ws } else { Wire::Framed };
        let (client, addr) = if let Some(path) = &self.unix {
            let c = Client::connect_unix(path.as_ref(), self.timeout);
            (c, path.clone())
        } else {
            let port = self.port.unwrap_or(match (self.tls, self.ws) {
                (false, false) => 59090,
                (false, true) => 59091,
                (true, false) => 59092,
                (true, true) => 59093,
            });
            let addr = format!("{}:{}", self.host, port);
            let c = if self.tls {
                let files = ducq::tls::ClientTlsFiles {
                    ca: self.ca.clone(),
                    cert_key: self.cert.clone().zip(self.key.clone()),
                };
                let config = ducq::tls::client_config(&files).map_err(Failure::Usage)?;
                Client::connect_tls(&addr, self.timeout, config, wire)
            } else {
                Client::connect_net(&addr, self.timeout, wire)
            };
            (c, addr)
        };
        let mut client =
            client.map_err(|e| Failure::Other(format!("could not connect to {addr}: {e}")))?;
        if let Some(user) = &self.user {
            let password = std::env::var("DUCQ_PASSWORD").unwrap_or_default();
            client.authenticate(user, password.as_bytes())?;
        }
        Ok(client)
    }
}

fn print_message(out: &mut impl Write, msg: &[u8], verbose: bool) -> std::io::Result<()> {
    match Message::parse(msg) {
        Ok(m) if m.has_newline && !m.route.is_empty() => {
            if verbose {
                out.write_all(m.route)?;
                out.write_all(b" ")?;
            }
            out.write_all(m.payload)?;
        }
        _ => out.write_all(msg)?,
    }
    out.write_all(b"\n")?;
    out.flush()
}

fn print_reply(client: &mut Client<NetStream>) -> Result<(), Failure> {
    let first = client.receive_reply()?;
    let mut out = std::io::stdout().lock();
    let io = |e: std::io::Error| Failure::Other(format!("stdout: {e}"));
    if classify(&first) != Kind::Parts {
        out.write_all(&first).map_err(io)?;
        out.write_all(b"\n").map_err(io)?;
        return Ok(());
    }
    loop {
        let m = client.receive_reply()?;
        if classify(&m) == Kind::End {
            return Ok(());
        }
        out.write_all(&m).map_err(io)?;
        if !m.ends_with(b"\n") {
            out.write_all(b"\n").map_err(io)?;
        }
    }
}

fn run(argv: Vec<String>) -> Result<(), Failure> {
    let mut conn = Conn {
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
    };
    let mut rest = Vec::new();
    let mut it = argv.into_iter();
    while let Some(a) = it.next() {
        let mut value = |name: &str| {
            it.next()
                .ok_or_else(|| Failure::Usage(format!("{name} needs a value")))
        };
        match a.as_str() {
            "-h" | "--help" => {
                print!("{USAGE}");
                return Ok(());
            }
            "-V" | "--version" => {
                println!("ducq {}", env!("CARGO_PKG_VERSION"));
                return Ok(());
            }
            "--host" => conn.host = value("--host")?,
            "--ws" => conn.ws = true,
            "--tls" => conn.tls = true,
            "--ca" => conn.ca = Some(value("--ca")?),
            "--cert" => conn.cert = Some(value("--cert")?),
            "--key" => conn.key = Some(value("--key")?),
            "--unix" => conn.unix = Some(value("--unix")?),
            "--user" => conn.user = Some(value("--user")?),
            "--port" => {
                let v = value("--port")?;
                conn.port = Some(
                    v.parse()
                        .map_err(|_| Failure::Usage(format!("--port: '{v}' is not a port")))?,
                );
            }
            "--timeout" => {
                let v = value("--timeout")?;
                let secs: f64 = v
                    .parse()
                    .map_err(|_| Failure::Usage(format!("--timeout: '{v}' is not a number")))?;
                conn.timeout = Duration::from_secs_f64(secs.max(0.001));
            }
            _ => rest.push(a),
        }
    }
    let mut rest = rest.into_iter();
    let command = rest
        .next()
        .ok_or_else(|| Failure::Usage("no command given".into()))?;
    let args: Vec<String> = rest.collect();
    match command.as_str() {
        "pub" => {
            let [route, payload] = &args[..] else {
                return Err(Failure::Usage("usage: ducq pub ROUTE PAYLOAD".into()));
            };
            let payload = if payload == "-" {
                let mut buf = Vec::new();
                std::io::stdin()
                    .read_to_end(&mut buf)
                    .map_err(|e| Failure::Other(format!("stdin: {e}")))?;
                buf
            } else {
                payload.clone().into_bytes()
            };
            conn.open()?.publish(route, &payload)?;
            Ok(())
        }
        "sub" => sub(&conn, args),
        "lscmd" | "lsconn" => {
            let mut client = conn.open()?;
            let parts = client.list(&command)?;
            let mut out = std::io::stdout().lock();
            for p in parts {
                let _ = out.write_all(&p);
                if !p.ends_with(b"\n") {
                    let _ = out.write_all(b"\n");
                }
            }
            Ok(())
        }
        "send" => {
            let (cmd, route, payload) = match &args[..] {
                [c] => (c.as_str(), None, ""),
                [c, r] => (c.as_str(), Some(r.as_str()), ""),
                [c, r, p] => (c.as_str(), Some(r.as_str()), p.as_str()),
                _ => {
                    return Err(Failure::Usage(
                        "usage: ducq send COMMAND [ROUTE [PAYLOAD]]".into(),
                    ))
                }
            };
            let mut client = conn.open()?;
            match route {
                Some(r) => client.emit(cmd, r, payload.as_bytes())?,
                None => client.send(cmd.as_bytes())?,
            }
            print_reply(&mut client)
        }
        other => Err(Failure::Usage(format!("unknown command '{other}'"))),
    }
}

fn sub(conn: &Conn, args: Vec<String>) -> Result<(), Failure> {
    let mut route = None;
    let mut extra = Vec::new();
    let (mut last, mut verbose, mut count) = (false, false, None::<u64>);
    let mut it = args.into_iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--last" => last = true,
            "-v" | "--verbose" => verbose = true,
            "--add" => extra.push(
                it.next()
                    .ok_or_else(|| Failure::Usage("--add needs a route".into()))?,
            ),
            "--count" => {
                let v = it
                    .next()
                    .ok_or_else(|| Failure::Usage("--count needs a number".into()))?;
                count = Some(
                    v.parse()
                        .map_err(|_| Failure::Usage(format!("--count: '{v}' is not a number")))?,
                );
            }
            _ if route.is_none() => route = Some(a),
            _ => return Err(Failure::Usage(format!("unexpected argument '{a}'"))),
        }
    }
    let route = route.ok_or_else(|| Failure::Usage("usage: ducq sub ROUTE".into()))?;
    let mut client = conn.open()?;
    let mut out = std::io::stdout().lock();
    let mut seen = 0u64;
    let done = |seen: u64| count.is_some_and(|c| seen >= c);
    let opts = if last { "last" } else { "" };
    if let Some(m) = client.subscribe(&route, opts)? {
        print_message(&mut out, &m, verbose).map_err(|e| Failure::Other(e.to_string()))?;
        seen += 1;
    }
    for r in &extra {
        let opts = if last { "last add" } else { "add" };
        if let Some(m) = client.subscribe(r, opts)? {
            print_message(&mut out, &m, verbose).map_err(|e| Failure::Other(e.to_string()))?;
            seen += 1;
        }
    }
    if done(seen) {
        return Ok(());
    }
    client.set_timeout(None)?;
    let mut failure = None;
    client.listen(|msg| {
        if let Kind::Nack(_) = classify(msg) {
            failure = Some(Failure::Nack(nack_text(msg)));
            return Flow::Break;
        }
        if let Err(e) = print_message(&mut out, msg, verbose) {
            failure = Some(Failure::Other(format!("stdout: {e}")));
            return Flow::Break;
        }
        seen += 1;
        if done(seen) {
            Flow::Break
        } else {
            Flow::Continue
        }
    })?;
    failure.map_or(Ok(()), Err)
}

fn main() -> ExitCode {
    match run(std::env::args().skip(1).collect()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Usage(e)) => {
            eprintln!("ducq: {e}\nTry 'ducq --help'.");
            ExitCode::from(64)
        }
        Err(Failure::Nack(e)) => {
            eprintln!("ducq: {e}");
            ExitCode::from(2)
        }
        Err(Failure::Other(e)) => {
            eprintln!("ducq: {e}");
            ExitCode::from(1)
        }
    }
}
