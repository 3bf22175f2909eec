//! `ducq pub`: a message whole (from an argument or stdin), or a stream
//! of `CONT` parts and its `END` with a bounded number of parts awaiting
//! their ACKs.

use std::io::{IsTerminal, Read};

use ducq::client::{Client, NetStream};
use ducq::proto::{classify, Kind};

use super::args::{take_options, Ui};
use super::connect::Conn;
use super::progress::{bytes, Progress};
use crate::{usage, Failure};

/// `ducq pub [--stream [--part-size N]] ROUTE PAYLOAD|-`: one message,
/// or a stream of parts.
pub fn publish(
    conn: &Conn,
    ui: &Ui,
    args: Vec<String>,
    literal: Vec<String>,
) -> Result<(), Failure> {
    let (mut stream, mut part) = (false, 64 << 10);
    let args = take_options("pub", args, literal, |a, it| {
        match a {
            "--stream" => stream = true,
            "--part-size" => {
                let v = it
                    .next()
                    .ok_or_else(|| usage("--part-size needs a number"))?;
                part =
                    v.parse().ok().filter(|&n| n > 0).ok_or_else(|| {
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

/// Parts sent before their ACKs are waited for: enough to keep the pipe
/// full, few enough that a NACK stops the stream early.
const PARTS_IN_FLIGHT: usize = 16;

/// Streams what `input` yields as `CONT` parts of at most `part` bytes (one
/// per read, so a slow source is forwarded as it comes), then `END`.
/// Returns the bytes sent.
fn publish_stream(
    client: &mut Client<NetStream>,
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
fn expect_ack(client: &mut Client<NetStream>) -> Result<(), Failure> {
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
