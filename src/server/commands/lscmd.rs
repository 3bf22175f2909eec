//! `lscmd` (alias `help`): PARTS, one `"name","doc"\n` line per command,
//! END. The dispatcher supplies the list, since it alone knows every set.

use crate::proto::{State, END, PARTS};
use crate::server::hub::Hub;

/// Sends the listing of `commands` to `caller`.
pub fn exec(hub: &mut Hub, caller: usize, commands: &[(String, String)]) -> Result<(), State> {
    hub.send(caller, PARTS)?;
    for (name, doc) in commands {
        hub.send(caller, line(name, doc).as_bytes())?;
    }
    hub.send(caller, END)
}

/// One listing line. The format has no escaping, so a `"` or a line break
/// in a name or doc (a Lua or C command's doc can hold anything) would cut
/// the line for every client: they become `'` and a space.
pub fn line(name: &str, doc: &str) -> String {
    let clean = crate::server::rules::clean_doc;
    format!("\"{}\",\"{}\"\n", clean(name), clean(doc))
}

#[cfg(test)]
mod tests {
    #[test]
    fn quotes_and_line_breaks_cannot_cut_a_line() {
        assert_eq!(super::line("echo", "plain"), "\"echo\",\"plain\"\n");
        assert_eq!(
            super::line("say", "send \"x\" to\na room"),
            "\"say\",\"send 'x' to a room\"\n"
        );
    }
}
