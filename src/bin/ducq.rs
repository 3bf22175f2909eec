//! `ducq`: the command-line client, in the spirit of mosquitto_pub and
//! mosquitto_sub. Argument parsing and printing only; the protocol lives in
//! the library's blocking client.

use std::io::{Read, Write};
use std::process::ExitCode;
use std::time::Duration;

use ducq::client::{Client, Error, Flow};
use ducq::proto::stream::{parse_part, Assembler, Output};
use ducq::proto::{classify, message::nack_text, Kind, Message};

const USAGE: &str = "\
ducq: command-line client for a ducq server

Usage: ducq [OPTIONS] COMMAND [ARGS]

Commands:
  pub ROUTE PAYLOAD [--stream [--part-size BYTES]]
                          publish PAYLOAD on ROUTE ('-' reads it from stdin);
                          --stream sends it in parts as it is read (CONT/END),
                          so it may be of any length   [part size: 65536]
  sub ROUTE [--last [N]] [--add ROUTE]... [--count N] [-v]
                          print each message on ROUTE (wildcards * + #), one
                          per line; --last first prints the stored message(s),
                          up to N per route; --add follows more routes;
                          --count stops after N messages; -v prints the route
                          before the payload. A streamed payload is written
                          out whole, as one message
  lscmd                   list the server's commands
  lsconn                  list connections and their subscriptions
  send COMMAND [ROUTE [PAYLOAD]]
                          send any command and print its reply
Options:
  --host HOST             server host                   [default: 127.0.0.1]
  --port PORT             server port       [default: 59090, or 59091 with --ws]
  --ws                    connect over WebSocket (the server's HTTP port)
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
    timeout: Duration,
}

impl Conn {
    fn open(&self) -> Result<Client, Failure> {
        let port = self.port.unwrap_or(if self.ws { 59091 } else { 59090 });
        let addr = format!("{}:{}", self.host, port);
        let client = if self.ws {
            Client::connect_ws(&addr, self.timeout)
        } else {
            Client::connect(&addr, self.timeout)
        };
        client.map_err(|e| Failure::Other(format!("could not connect to {addr}: {e}")))
    }
}

fn print_reply(client: &mut Client) -> Result<(), Failure> {
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
            let (stream, part, args) = pub_options(args)?;
            let [route, payload] = &args[..] else {
                return Err(Failure::Usage("usage: ducq pub ROUTE PAYLOAD".into()));
            };
            if stream {
                let mut client = conn.open()?;
                return if payload == "-" {
                    publish_stream(&mut client, route, std::io::stdin().lock(), part)
                } else {
                    publish_stream(&mut client, route, payload.as_bytes(), part)
                };
            }
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

/// Splits `--stream` and `--part-size N` from the other `pub` arguments.
fn pub_options(args: Vec<String>) -> Result<(bool, usize, Vec<String>), Failure> {
    let (mut stream, mut part, mut rest) = (false, 64 << 10, Vec::new());
    let mut it = args.into_iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--stream" => stream = true,
            "--part-size" => {
                let v = it
                    .next()
                    .ok_or_else(|| Failure::Usage("--part-size needs a number".into()))?;
                part =
                    v.parse().ok().filter(|&n| n > 0).ok_or_else(|| {
                        Failure::Usage(format!("--part-size: '{v}' is not a size"))
                    })?;
            }
            _ => rest.push(a),
        }
    }
    Ok((stream, part, rest))
}

/// Parts sent before their ACKs are waited for: enough to keep the pipe
/// full, few enough that a NACK stops the stream early.
const PARTS_IN_FLIGHT: usize = 16;

/// Streams what `input` yields as `CONT` parts of at most `part` bytes (one
/// per read, so a slow source is forwarded as it comes), then `END`.
fn publish_stream(
    client: &mut Client,
    route: &str,
    mut input: impl Read,
    part: usize,
) -> Result<(), Failure> {
    let mut buf = vec![0; part];
    let mut unacked = 0;
    loop {
        let n = match input.read(&mut buf) {
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            // Closing the connection ends the stream with an error for its
            // subscribers.
            Err(e) => return Err(Failure::Other(format!("stdin: {e}"))),
        };
        let Some(bytes) = buf.get(..n).filter(|b| !b.is_empty()) else {
            break;
        };
        client.emit("CONT", route, bytes)?;
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
    Ok(())
}

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

fn sub(conn: &Conn, args: Vec<String>) -> Result<(), Failure> {
    let mut route = None;
    let mut extra = Vec::new();
    let (mut last, mut verbose, mut count) = (None::<String>, false, None::<u64>);
    let mut it = args.into_iter().peekable();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--last" => {
                let n = it.next_if(|v| !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()));
                last = Some(n.map_or("last".into(), |n| format!("last {n}")));
            }
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
    let mut printer = Printer {
        out: std::io::BufWriter::with_capacity(64 << 10, std::io::stdout().lock()),
        assembler: Assembler::new(),
        verbose,
        seen: 0,
        open: false,
    };
    let done = |seen: u64| count.is_some_and(|c| seen >= c);
    let opts = last.clone().unwrap_or_default();
    if let Some(m) = client.subscribe(&route, &opts)? {
        printer.message(&m)?;
    }
    for r in &extra {
        let opts = last.as_ref().map_or("add".into(), |l| format!("{l} add"));
        if let Some(m) = client.subscribe(r, &opts)? {
            printer.message(&m)?;
        }
    }
    if done(printer.seen) {
        return Ok(());
    }
    client.set_timeout(None)?;
    let mut failure = None;
    client.listen(|msg| {
        if let Kind::Nack(_) = classify(msg) {
            failure = Some(Failure::Nack(nack_text(msg)));
            return Flow::Break;
        }
        if let Err(e) = printer.message(msg) {
            failure = Some(e);
            return Flow::Break;
        }
        if done(printer.seen) {
            Flow::Break
        } else {
            Flow::Continue
        }
    })?;
    failure.map_or(Ok(()), Err)
}

/// Writes what `sub` receives, one payload per line, streamed payloads
/// reassembled and written out whole (see `proto::stream::Assembler`).
struct Printer<W: Write> {
    out: W,
    assembler: Assembler,
    verbose: bool,
    /// Complete payloads written.
    seen: u64,
    /// A payload is being written (its line is not ended).
    open: bool,
}

impl<W: Write> Printer<W> {
    fn message(&mut self, msg: &[u8]) -> Result<(), Failure> {
        let verbose = self.verbose;
        let (out, seen, open) = (&mut self.out, &mut self.seen, &mut self.open);
        let mut result = Ok(());
        let mut write = |o: Output<'_>| {
            if result.is_err() {
                return;
            }
            result = match o {
                Output::Begin(route) => {
                    *open = true;
                    if verbose && !route.is_empty() {
                        out.write_all(route).and_then(|_| out.write_all(b" "))
                    } else {
                        Ok(())
                    }
                }
                Output::Data(bytes) => out.write_all(bytes),
                Output::End => {
                    *seen += 1;
                    *open = false;
                    out.write_all(b"\n").and_then(|_| out.flush())
                }
                Output::Abort(state) => {
                    eprintln!("ducq: a streamed payload was abandoned: {}", state.text());
                    // End the line of what was written of it, if anything.
                    let end = if std::mem::take(open) {
                        &b"\n"[..]
                    } else {
                        b""
                    };
                    out.write_all(end).and_then(|_| out.flush())
                }
            };
        };
        if let Some(part) = parse_part(msg) {
            self.assembler.part(part, &mut write);
        } else {
            match Message::parse(msg) {
                Ok(m) if m.has_newline && !m.route.is_empty() => {
                    self.assembler.plain(m.route, m.payload, &mut write)
                }
                _ => self.assembler.plain(b"", msg, &mut write),
            }
        }
        result.map_err(|e| Failure::Other(format!("stdout: {e}")))
    }
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
