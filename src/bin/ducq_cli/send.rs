//! `ducq`'s one-shot commands: `send` (any command, its reply printed),
//! `lscmd`/`lsconn` (listings) and `chan` (channel settings, checked here
//! first so a mistake is told in words).

use std::io::Write;

use ducq::client::{Client, NetStream};
use ducq::proto::{classify, Kind};
use ducq::server::channels::{quoted, ChannelSpec};

use super::args::take_options;
use super::connect::Conn;
use super::output::Printer;
use crate::{nack, stdout_error, usage, Failure};

/// `ducq lscmd`, `ducq lsconn`: the server's listing, as text or JSON.
pub fn listing(
    conn: &Conn,
    printer: &Printer,
    command: &str,
    args: Vec<String>,
    literal: Vec<String>,
) -> Result<(), Failure> {
    let args = take_options(command, args, literal, |_, _| Ok(false))?;
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
        .listing(&mut out, command, &parts)
        .map_err(stdout_error)
}

/// The marker `send --no-reply` sends after the command: its echo tells
/// that the server has handled everything sent before it.
fn no_reply_marker() -> Vec<u8> {
    format!("PING _\nducq-cli-done-{}", std::process::id()).into_bytes()
}

/// `ducq send [--no-reply] COMMAND [ROUTE [PAYLOAD]]`: any command, its
/// reply printed (or, with `--no-reply`, whatever came before the marker
/// echoed).
pub fn send(conn: &Conn, args: &[String], no_reply: bool) -> Result<(), Failure> {
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

fn print_reply(client: &mut Client<NetStream>) -> Result<(), Failure> {
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

/// `ducq chan add NAME PATTERN [SETTING]...`, `rm NAME`, `ls`, `show NAME`:
/// the `chan` command (PROTOCOL.md §15). Settings are checked here first,
/// so a mistake is told in words, not as a NACK code.
pub fn chan(conn: &Conn, args: Vec<String>, literal: Vec<String>) -> Result<(), Failure> {
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
