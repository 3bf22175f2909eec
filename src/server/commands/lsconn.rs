//! `lsconn`: PARTS, one `<id>,<route>\n` line per client connection and
//! subscription (`<id>,\n` for a connection without any), END. A
//! connection that authenticated is listed as `<user>@<id>`.

use crate::proto::{Message, State, END, PARTS};
use crate::server::hub::Hub;

/// Runs `lsconn`.
pub fn exec(hub: &mut Hub, caller: usize, _: &Message<'_>) -> Result<(), State> {
    let mut lines: Vec<Vec<u8>> = Vec::new();
    for (id, route) in crate::server::clients::pairs(hub) {
        let Some(name) = hub.resolve(id).and_then(|k| hub.client_label(k)) else {
            continue;
        };
        let mut line = format!("{name},").into_bytes();
        line.extend_from_slice(&route);
        line.push(b'\n');
        lines.push(line);
    }
    hub.send(caller, PARTS)?;
    for line in lines {
        hub.send(caller, &line)?;
    }
    hub.send(caller, END)
}
