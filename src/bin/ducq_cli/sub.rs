//! `ducq sub ROUTE`: subscribes (with `--add` routes, `--last [N]` and
//! `--count N`) over a reconnecting connection and writes each message out
//! as it comes, streamed payloads whole.

use std::cell::Cell;
use std::io::{IsTerminal, Write};
use std::rc::Rc;

use ducq::client::reconnect::{Event, Reconnecting};
use ducq::client::{Flow, NetStream};
use ducq::proto::{classify, Kind};

use super::args::{take_options, Ui};
use super::assemble::SubWriter;
use super::connect::Conn;
use super::events::reconnect_line;
use super::output::Printer;
use super::progress::Progress;
use super::reconnect::Reconnect;
use crate::{nack, stdout_error, usage, Failure};

/// What `sub`'s own options and arguments ask for.
struct SubArgs {
    route: String,
    /// Routes subscribed besides the first (`--add`).
    extra: Vec<String>,
    /// The subscription's option: `last` or `last N`.
    last: Option<String>,
    /// Stop after this many messages.
    count: Option<u64>,
    reconnect: Reconnect,
}

/// `sub`'s options (`-v` turns on `printer.verbose`).
fn sub_args(
    printer: &mut Printer,
    args: Vec<String>,
    literal: Vec<String>,
) -> Result<SubArgs, Failure> {
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
    Ok(SubArgs {
        route,
        extra,
        last,
        count,
        reconnect,
    })
}

/// `ducq sub`.
pub fn sub(
    conn: &Conn,
    ui: &Ui,
    mut printer: Printer,
    args: Vec<String>,
    literal: Vec<String>,
) -> Result<(), Failure> {
    let a = sub_args(&mut printer, args, literal)?;
    let addr = conn.addr();
    let mut client = Reconnecting::new(conn.connector()?, a.reconnect.policy(), Some(conn.timeout))
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
    let count = a.count;
    let counted = |seen: u64| match count {
        Some(c) => format!("received {seen}/{c} messages"),
        None => format!("received {seen} messages"),
    };
    let done = |seen: u64| count.is_some_and(|c| seen >= c);
    let opts = a.last.clone().unwrap_or_default();
    if let Some(m) = client.subscribe(&a.route, &opts)? {
        writer.message(&mut out, &m).map_err(stdout_error)?;
    }
    for r in &a.extra {
        let opts = a.last.as_ref().map_or("add".into(), |l| format!("{l} add"));
        if let Some(m) = client.subscribe(r, &opts)? {
            writer.message(&mut out, &m).map_err(stdout_error)?;
        }
    }
    if !done(writer.seen) {
        client.set_timeout(None)?;
        let listened = listen(&mut client, &lost, &mut writer, &mut out, |seen| {
            progress.update(|| counted(seen));
            done(seen)
        });
        if let Err(f) = listened {
            progress.clear();
            return Err(f);
        }
    }
    out.flush().map_err(stdout_error)?;
    progress.finish(&counted(writer.seen));
    Ok(())
}

/// Writes out each message until `seen` (told the count so far) says it is
/// done, a NACK comes, or writing fails.
fn listen(
    client: &mut Reconnecting<NetStream>,
    lost: &Cell<bool>,
    writer: &mut SubWriter,
    out: &mut impl Write,
    mut seen: impl FnMut(u64) -> bool,
) -> Result<(), Failure> {
    let mut failure = None;
    let listened = client.listen(|msg| {
        // Streams cut by a lost connection never end: give them up.
        if lost.take() {
            if let Err(e) = writer.connection_lost(out) {
                failure = Some(stdout_error(e));
                return Flow::Break;
            }
        }
        if let Kind::Nack(state) = classify(msg) {
            failure = Some(nack(state, msg));
            return Flow::Break;
        }
        if let Err(e) = writer.message(out, msg) {
            failure = Some(stdout_error(e));
            return Flow::Break;
        }
        if seen(writer.seen) {
            Flow::Break
        } else {
            Flow::Continue
        }
    });
    match failure.or(listened.err().map(Failure::from)) {
        Some(f) => Err(f),
        None => Ok(()),
    }
}
