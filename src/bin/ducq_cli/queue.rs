//! `ducq`'s queue and request/reply commands: `queues`, `enq`, `deq`,
//! `serve`, `req`. Argument handling and printing only; the protocol is
//! the library client's (`ducq::client::queue`), the JSON forms are
//! `ducq::proto::queue`'s.

use std::io::{IsTerminal, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::Duration;

use ducq::client::queue::QueueMessage;
use ducq::client::reconnect::Reconnecting;
use ducq::client::Error;
use ducq::proto::queue::{Delivered, QueueLine};
use ducq::proto::State;

use super::progress::Progress;
use super::reconnect::{made, Reconnect};
use crate::{Conn, Failure, Ui};

fn stdin_or(arg: &str) -> Result<Vec<u8>, Failure> {
    if arg != "-" {
        return Ok(arg.as_bytes().to_vec());
    }
    let mut buf = Vec::new();
    std::io::stdin()
        .read_to_end(&mut buf)
        .map_err(|e| Failure::Other(format!("stdin: {e}")))?;
    Ok(buf)
}

fn io(e: std::io::Error) -> Failure {
    Failure::Other(format!("stdout: {e}"))
}

/// `ducq queues`: one line per queue, or (`--json`) one JSON array.
pub fn queues(conn: &Conn, args: &[String], ui: &Ui) -> Result<(), Failure> {
    if !args.is_empty() {
        return Err(Failure::Usage("usage: ducq queues".into()));
    }
    let list = conn.open()?.queues()?;
    let mut out = std::io::stdout().lock();
    if ui.json {
        let mut json = String::from("[");
        for (i, q) in list.iter().enumerate() {
            if i > 0 {
                json.push(',');
            }
            QueueLine {
                name: q.name.as_bytes(),
                depth: q.depth,
                ready: q.ready,
                in_flight: q.in_flight,
                consumers: q.consumers,
                oldest_ms: q.oldest.as_millis() as u64,
            }
            .json(&mut json);
        }
        json.push_str("]\n");
        return out.write_all(json.as_bytes()).map_err(io);
    }
    let width = list.iter().map(|q| q.name.len()).max().unwrap_or(0).max(4);
    writeln!(
        out,
        "{:width$}  {:>8}  {:>8}  {:>9}  {:>9}  {:>9}",
        "NAME", "DEPTH", "READY", "IN-FLIGHT", "CONSUMERS", "OLDEST"
    )
    .map_err(io)?;
    for q in list {
        let oldest = if q.depth == 0 {
            "-".to_string()
        } else {
            format!("{:.1}s", q.oldest.as_secs_f64())
        };
        writeln!(
            out,
            "{:width$}  {:>8}  {:>8}  {:>9}  {:>9}  {:>9}",
            q.name, q.depth, q.ready, q.in_flight, q.consumers, oldest
        )
        .map_err(io)?;
    }
    Ok(())
}

/// `ducq enq QUEUE PAYLOAD|-`: prints the id once durable.
pub fn enq(conn: &Conn, args: &[String]) -> Result<(), Failure> {
    let [queue, payload] = args else {
        return Err(Failure::Usage("usage: ducq enq QUEUE PAYLOAD|-".into()));
    };
    let payload = stdin_or(payload)?;
    let id = conn.open()?.enqueue(queue, &payload)?;
    println!("{id}");
    Ok(())
}

/// `ducq deq QUEUE [--count N] [--no-ack]`: prints N messages (default 1),
/// waiting for them; each is acknowledged once printed (at least once), or
/// with `--no-ack` before it is printed (at most once). With `--json`, one
/// object per message (its id, delivery count and payload whole). A
/// progress line counts them on stderr when it is a terminal and stdout is
/// not. A lost connection is made again and the queue consumed again
/// (`reconnect`): a message printed whose acknowledgement was lost with it
/// comes again.
pub fn deq(conn: &Conn, args: &[String], ui: &Ui) -> Result<(), Failure> {
    let mut queue = None;
    let (mut count, mut ack_first) = (1u64, false);
    let mut reconnect = Reconnect::default();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        if reconnect.take(a, || it.next().cloned())? {
            continue;
        }
        match a.as_str() {
            "--no-ack" => ack_first = true,
            "--count" => {
                let v = it
                    .next()
                    .ok_or_else(|| Failure::Usage("--count needs a number".into()))?;
                count = v.parse().ok().filter(|&n| n > 0).ok_or_else(|| {
                    Failure::Usage(format!("--count: '{v}' is not a positive number"))
                })?;
            }
            _ if queue.is_none() => queue = Some(a.clone()),
            _ => return Err(Failure::Usage(format!("unexpected argument '{a}'"))),
        }
    }
    let queue = queue.ok_or_else(|| Failure::Usage(DEQ_USAGE.into()))?;
    let (q, prefetch) = (queue.clone(), count.min(1000) as u32);
    let mut client = reconnect.open(conn, format!("consuming {queue} again"), move |c| {
        c.consume(&q, prefetch)
    })?;
    let mut out = std::io::stdout().lock();
    // As for `sub`: only where it does not mix with the messages.
    let mut progress = Progress::new(
        ui.progress && std::io::stderr().is_terminal() && !std::io::stdout().is_terminal(),
    );
    let counted = |n: u64| format!("dequeued {n}/{count} messages from {queue}");
    let mut printed = 0;
    while printed < count {
        match deq_step(&mut client, &queue, ack_first, ui.json, &mut out) {
            Ok(true) => {
                printed += 1;
                progress.update(|| counted(printed));
            }
            Ok(false) => {}
            Err(e) => {
                progress.clear();
                return Err(e);
            }
        }
    }
    progress.finish(&counted(count));
    Ok(())
}

/// Waits for one message of `queue`, prints it and acknowledges it (before
/// printing it when `ack_first`). False when the connection was lost
/// before the message was printed: it is delivered again.
fn deq_step(
    client: &mut Reconnecting<TcpStream>,
    queue: &str,
    ack_first: bool,
    json: bool,
    out: &mut impl Write,
) -> Result<bool, Failure> {
    let Some(m) = made(client.with_client(|c| c.next_delivery()))? else {
        return Ok(false);
    };
    if ack_first && made(client.with_client(|c| c.ack(queue, m.id)))?.is_none() {
        // Not acknowledged: it is delivered again.
        return Ok(false);
    }
    print_delivery(out, &m, json)?;
    if !ack_first {
        // Lost with the connection: delivered again (at least once).
        made(client.with_client(|c| c.ack(queue, m.id)))?;
    }
    Ok(true)
}

/// One delivered message on stdout: its payload and a newline, or
/// (`json`) its JSON object.
fn print_delivery(out: &mut impl Write, m: &QueueMessage, json: bool) -> Result<(), Failure> {
    if json {
        let mut line = String::new();
        Delivered {
            queue: m.queue.as_bytes(),
            id: m.id,
            deliveries: m.deliveries,
            payload: &m.payload,
        }
        .json(&mut line);
        out.write_all(line.as_bytes()).map_err(io)?;
    } else {
        out.write_all(&m.payload).map_err(io)?;
    }
    out.write_all(b"\n").map_err(io)?;
    out.flush().map_err(io)
}

const DEQ_USAGE: &str =
    "usage: ducq deq QUEUE [--count N] [--no-ack] [--no-reconnect] [--reconnect-max SECS]";
const SERVE_USAGE: &str =
    "usage: ducq serve ROUTE [--no-reconnect] [--reconnect-max SECS] -- CMD [ARGS...]";

/// `ducq serve ROUTE -- CMD ARGS...`: runs CMD per request, the request's
/// payload on its stdin; its stdout is the reply, a non-zero exit an error
/// reply (with its stderr, or the exit status). A lost connection is made
/// again and the route served again (`reconnect`); a reply that could not
/// be sent is said on stderr (its requester was told the member left).
pub fn serve(conn: &Conn, args: &[String], cmd: &[String]) -> Result<(), Failure> {
    let mut reconnect = Reconnect::default();
    let mut route = None;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        if reconnect.take(a, || it.next().cloned())? {
            continue;
        }
        match route {
            None => route = Some(a.clone()),
            Some(_) => return Err(Failure::Usage(SERVE_USAGE.into())),
        }
    }
    let (Some(route), false) = (route, cmd.is_empty()) else {
        return Err(Failure::Usage(SERVE_USAGE.into()));
    };
    let r = route.clone();
    let mut client =
        reconnect.open(conn, format!("serving {route} again"), move |c| c.serve(&r))?;
    loop {
        let Some(req) = made(client.with_client(|c| c.next_request()))? else {
            continue;
        };
        let answer = run(cmd, &req.payload);
        if let Err(text) = &answer {
            eprintln!("ducq serve: {text}");
        }
        let sent = client.with_client(|c| match &answer {
            Ok(stdout) => c.reply(&req.token, stdout),
            Err(text) => c.reply_error(&req.token, text),
        });
        if made(sent)?.is_none() {
            eprintln!("ducq serve: the connection was lost before the reply was sent");
        }
    }
}

/// Runs `cmd` with `input` on stdin; its stdout, or why it failed.
fn run(cmd: &[String], input: &[u8]) -> Result<Vec<u8>, String> {
    let (prog, args) = cmd.split_first().ok_or("no command")?;
    let mut child = Command::new(prog)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("{prog}: {e}"))?;
    // Written from a thread: a command that prints before it has read all
    // of a large input would otherwise block both ends.
    let mut stdin = child.stdin.take().ok_or("no stdin")?;
    let input = input.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&input);
    });
    let out = child
        .wait_with_output()
        .map_err(|e| format!("{prog}: {e}"))?;
    let _ = writer.join();
    if out.status.success() {
        return Ok(out.stdout);
    }
    let err = String::from_utf8_lossy(&out.stderr).trim().to_string();
    Err(if err.is_empty() {
        format!("{prog}: {}", out.status)
    } else {
        err
    })
}

/// `ducq req ROUTE PAYLOAD|- [--timeout S]`: prints the reply.
pub fn req(conn: &Conn, args: &[String], timeout: Duration) -> Result<(), Failure> {
    let [route, payload] = args else {
        return Err(Failure::Usage(
            "usage: ducq req ROUTE PAYLOAD|- [--timeout S]".into(),
        ));
    };
    let payload = stdin_or(payload)?;
    let mut client = conn.open()?;
    match client.request(route, &payload, timeout) {
        Ok(reply) => {
            let mut out = std::io::stdout().lock();
            out.write_all(&reply).map_err(io)?;
            out.flush().map_err(io)
        }
        Err(Error::Nack {
            state: State::ENotFound,
            ..
        }) => Err(Failure::Nack(format!("no member serves '{route}'"))),
        Err(Error::Nack {
            state: State::EConnClosed,
            ..
        }) => Err(Failure::Service(format!(
            "the member serving '{route}' left before replying"
        ))),
        Err(Error::Nack {
            state: State::Error,
            text,
        }) => Err(Failure::Service(text)),
        Err(Error::Timeout) => Err(Failure::NoReply(format!(
            "no reply from '{route}' within {:.1} s",
            timeout.as_secs_f64()
        ))),
        Err(e) => Err(e.into()),
    }
}
