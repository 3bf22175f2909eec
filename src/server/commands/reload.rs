//! `reload`: an admin asks the server to re-read its configuration file
//! (as SIGHUP does). The reactor reloads at the end of the turn and
//! answers ACK, or NACK 3 when the file was refused (its errors are
//! logged, the running configuration stays). Only admin users get here
//! (the hub's `auth` gate), and only a server started from a file can.

use crate::proto::{Message, State};
use crate::server::hub::Hub;

/// Runs `reload`.
pub fn exec(hub: &mut Hub, caller: usize, _: &Message<'_>) -> Result<(), State> {
    let id = hub.conn_id(caller).ok_or(State::ENotFound)?;
    hub.reload_asked = Some(id);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::hub::tests::{hub, tcp};

    #[test]
    fn the_reload_is_asked_for_the_caller_to_be_answered_at_the_end_of_the_turn() {
        let (mut hub, _poll) = hub();
        let (_, _a) = tcp(&mut hub);
        let (b, _peer) = tcp(&mut hub);
        let msg = Message::parse(b"reload *\n").unwrap();
        assert_eq!(hub.reload_asked, None);
        assert_eq!(exec(&mut hub, b, &msg), Ok(()));
        assert_eq!(hub.reload_asked, hub.conn_id(b));
        assert!(hub.reload_asked.is_some());
        // A caller that is gone asks nothing.
        hub.reload_asked = None;
        assert_eq!(exec(&mut hub, 99, &msg), Err(State::ENotFound));
        assert_eq!(hub.reload_asked, None);
    }
}
