//! `lsconn`: PARTS, one `<id>,<route>\n` line per client connection and
//! subscription (`<id>,\n` for a connection without any), END. A
//! connection that authenticated is listed as `<user>@<id>`.

use crate::proto::{Message, State, END, PARTS};
use crate::server::hub::Hub;

/// Runs `lsconn`.
pub fn exec(hub: &mut Hub, caller: usize, _: &Message<'_>) -> Result<(), State> {
    let mut lines: Vec<Vec<u8>> = Vec::new();
    for key in hub.clients() {
        let id = hub.client_id(key).unwrap_or_default();
        let id = match hub.conn(key).and_then(|c| c.user()) {
            Some(user) => format!("{user}@{id}"),
            None => id,
        };
        let routes = hub.subs.routes_of(key);
        if routes.is_empty() {
            lines.push(format!("{id},\n").into_bytes());
        }
        for r in routes {
            let mut line = format!("{id},").into_bytes();
            line.extend_from_slice(r);
            line.push(b'\n');
            lines.push(line);
        }
    }
    hub.send(caller, PARTS)?;
    for line in lines {
        hub.send(caller, &line)?;
    }
    hub.send(caller, END)
}
