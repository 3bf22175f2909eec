//! `lscmd` (alias `help`): PARTS, one `"name","doc"\n` line per command,
//! END. The dispatcher supplies the list, since it alone knows every set.

use crate::proto::{State, END, PARTS};
use crate::server::hub::Hub;

/// Sends the listing of `commands` to `caller`.
pub fn exec(hub: &mut Hub, caller: usize, commands: &[(String, String)]) -> Result<(), State> {
    hub.send(caller, PARTS)?;
    for (name, doc) in commands {
        hub.send(caller, format!("\"{name}\",\"{doc}\"\n").as_bytes())?;
    }
    hub.send(caller, END)
}
