//! `chan`: channels on the wire (PROTOCOL.md §15). The verb and the
//! channel name are the route, the settings the payload:
//!
//! - `chan add NAME\n<settings>`: defines or redefines a channel → `ACK`;
//!   `NACK 15` for a bad name or setting, `NACK 24` when a Lua file or the
//!   configuration defines that name;
//! - `chan rm NAME` → `ACK`; `NACK 19` when there is none, `NACK 24` when
//!   it is not one `chan add` made;
//! - `chan ls` → `PARTS`, a line `"name","pattern","origin"\n` per
//!   channel, `END`;
//! - `chan show NAME` → `PARTS`, one `key=value` line per setting, `END`;
//!   `NACK 19` when there is none.
//!
//! Changes are logged with the caller's id; a refused setting is logged
//! with the reason, which a NACK code cannot carry.

use crate::proto::{Message, State, ACK, END, PARTS};
use crate::server::channels::{self, Channel, ChannelSpec, Origin};
use crate::server::hub::Hub;
use crate::server::log::Level;

/// Runs `chan`.
pub fn exec(hub: &mut Hub, caller: usize, msg: &Message<'_>) -> Result<(), State> {
    let route = std::str::from_utf8(msg.route).map_err(|_| State::EMsgInv)?;
    let mut words = route.split_ascii_whitespace();
    let verb = words.next().unwrap_or("");
    let name = words.next();
    if words.next().is_some() {
        return Err(State::EMsgInv);
    }
    match (verb, name) {
        ("add", Some(name)) => add(hub, caller, name, msg.payload),
        ("rm", Some(name)) => {
            let result = channels::remove(hub, Origin::Command, name);
            log(hub, caller, &format!("chan rm {name}"), &result);
            result.map_err(|e| e.state())?;
            hub.send(caller, ACK)
        }
        ("ls", None) => {
            let lines: Vec<Vec<u8>> = hub
                .channels
                .list()
                .iter()
                .map(|c| {
                    let line = format!("\"{}\",\"{}\",\"{}\"\n", c.name, c.spec.pattern, c.origin);
                    line.into_bytes()
                })
                .collect();
            send_parts(hub, caller, lines)
        }
        ("show", Some(name)) => {
            let c = hub.channels.get(name).ok_or(State::ENotFound)?;
            let lines = c
                .describe()
                .into_iter()
                .map(|l| format!("{l}\n").into_bytes())
                .collect();
            send_parts(hub, caller, lines)
        }
        _ => Err(State::EMsgInv),
    }
}

fn add(hub: &mut Hub, caller: usize, name: &str, payload: &[u8]) -> Result<(), State> {
    let what = format!("chan add {name}");
    let text = std::str::from_utf8(payload).map_err(|_| State::EMsgInv)?;
    let spec = match ChannelSpec::parse(text, hub.settings().max_route) {
        Ok(s) => s,
        Err(e) => {
            let e = channels::ChannelError::Spec(e);
            log(hub, caller, &what, &Err(e.clone()));
            return Err(e.state());
        }
    };
    let result = channels::define(hub, Origin::Command, Channel::new(name, spec, None));
    log(hub, caller, &what, &result);
    result.map_err(|e| e.state())?;
    hub.send(caller, ACK)
}

fn log(hub: &mut Hub, caller: usize, what: &str, result: &Result<(), channels::ChannelError>) {
    let id = hub.client_id(caller).unwrap_or_default();
    match result {
        Ok(()) => hub.log(Level::Info, "chan", &id, what),
        Err(e) => hub.log(Level::Info, "chan", &id, &format!("{what} refused: {e}")),
    }
}

fn send_parts(hub: &mut Hub, caller: usize, lines: Vec<Vec<u8>>) -> Result<(), State> {
    hub.send(caller, PARTS)?;
    for line in lines {
        hub.send(caller, &line)?;
    }
    hub.send(caller, END)
}
