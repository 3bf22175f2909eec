//! What `sub`, `deq` and `serve` share about riding out a lost connection:
//! the options (`--no-reconnect`, `--reconnect-max SECS`), the policy they
//! make, and a reconnecting connection whose events are written on stderr
//! (`events`). What a command sets up on each new connection (a queue
//! consumer, a served route) is its own, given as a closure; nothing here
//! decides what a command does with a lost message.

use std::time::Duration;

use ducq::backoff::Backoff;
use ducq::client::reconnect::{Event, Offline, Policy, Reconnecting};
use ducq::client::{Client, Error, NetStream};

use super::args::positive_seconds;
use super::events::reconnect_line;
use crate::{usage, Conn, Failure};

/// The reconnect options of one command.
pub struct Reconnect {
    /// False with `--no-reconnect`: a lost connection ends the command.
    pub enabled: bool,
    /// The longest wait between attempts (`--reconnect-max`).
    pub max: Duration,
}

impl Default for Reconnect {
    fn default() -> Reconnect {
        Reconnect {
            enabled: true,
            max: Duration::from_secs(30),
        }
    }
}

impl Reconnect {
    /// Takes option `a` if it is one of these (its value from `value`).
    pub fn take(
        &mut self,
        a: &str,
        value: impl FnOnce() -> Option<String>,
    ) -> Result<bool, Failure> {
        match a {
            "--no-reconnect" => self.enabled = false,
            "--reconnect-max" => {
                let v =
                    value().ok_or_else(|| usage("--reconnect-max needs a number of seconds"))?;
                let secs = positive_seconds("--reconnect-max", &v)?;
                self.max = Duration::from_secs_f64(secs);
            }
            _ => return Ok(false),
        }
        Ok(true)
    }

    /// Doubling from 0.1 s to `max`, with jitter; forever, or never.
    pub fn policy(&self) -> Policy {
        Policy {
            backoff: Backoff {
                max: self.max,
                ..Backoff::default()
            },
            max_attempts: if self.enabled { None } else { Some(0) },
            offline: Offline::Fail,
        }
    }

    /// A reconnecting connection to `conn` on which `setup` runs each time
    /// it is made (the first time included), with no receive timeout.
    /// Each event is a line on stderr; `again` says what a reconnection
    /// made again (`consuming jobs again`).
    pub fn open(
        &self,
        conn: &Conn,
        again: String,
        mut setup: impl FnMut(&mut Client<NetStream>) -> Result<(), Error> + 'static,
    ) -> Result<Reconnecting<NetStream>, Failure> {
        let addr = conn.addr();
        let mut connect = conn.connector()?;
        let connector = Box::new(move || {
            let mut c = connect()?;
            setup(&mut c)?;
            Ok(c)
        });
        let mut client =
            Reconnecting::new(connector, self.policy(), None).map_err(|e| match e {
                Error::Nack { .. } => Failure::from(e),
                e => Failure::Other(format!("could not connect to {addr}: {e}")),
            })?;
        client.on_event(move |e| {
            let line = match e {
                Event::Reconnected { attempts, .. } => Some(format!(
                    "reconnected to {addr} after {attempts} attempt{}; {again}",
                    if *attempts == 1 { "" } else { "s" }
                )),
                e => reconnect_line(&addr, e),
            };
            if let Some(line) = line {
                eprintln!("ducq: {line}");
            }
        });
        Ok(client)
    }
}

/// Whether a call through [`Reconnecting::with_client`] was made (false:
/// the connection was lost under it, and the next call reconnects).
pub fn made<T>(r: Result<T, Error>) -> Result<Option<T>, Failure> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(Error::Offline { full: false }) => Ok(None),
        Err(e) => Err(e.into()),
    }
}
