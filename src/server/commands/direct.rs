//! `to ID\nP`: a direct (point-to-point) message to the one connection whose
//! id is ID, as `lsconn` lists it (`TCP:127.0.0.1:50312`, `WS:…`,
//! `HTTP:…`). The caller gets `ACK`, the target `from <caller id>\nP`, in
//! its own protocol; `NACK 19` when no open connection has that id or it
//! cannot take a message now (a plain HTTP request, not an event stream)
//! or at all (an MQTT client, a bridge: they carry publications only).
//! Direct messages are not stored and reach no subscriber.

use super::{check_route, find_client};
use crate::proto::message::format;
use crate::proto::{Message, State, ACK};
use crate::server::hub::Hub;

/// The command word of a delivered direct message.
pub const FROM: &[u8] = b"from";

/// Runs `to`.
pub fn exec(hub: &mut Hub, caller: usize, msg: &Message<'_>) -> Result<(), State> {
    check_route(hub, msg)?;
    let target = find_client(hub, msg.route).ok_or(State::ENotFound)?;
    if !hub
        .conn(target)
        .is_some_and(|c| c.accepts_push() && c.reads_ducq_messages())
    {
        return Err(State::ENotFound);
    }
    let from = hub.client_id(caller).unwrap_or_default();
    let delivered = format(FROM, from.as_bytes(), msg.payload);
    hub.send(caller, ACK)?;
    // A target over its output bound is closed as a slow consumer, as a
    // subscriber would be; the sender's ACK stands, as for `pub`.
    let _ = hub.send(target, &delivered);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::hub::tests::{connect, hub};
    use crate::transport::{Step, Transport};

    /// A codec that takes pushed messages or not, reads ducq messages or
    /// not, and writes what it is given as it is.
    struct Target {
        push: bool,
        ducq: bool,
    }

    impl Transport for Target {
        fn name(&self) -> &str {
            "T"
        }
        fn decode<'a>(&mut self, _: &'a mut [u8], _: &mut Vec<u8>) -> Step<'a> {
            Step::need_more()
        }
        fn encode(&mut self, msg: &[u8], out: &mut Vec<u8>) {
            out.extend_from_slice(msg);
        }
        fn accepts_push(&self) -> bool {
            self.push
        }
        fn reads_ducq_messages(&self) -> bool {
            self.ducq
        }
    }

    /// What `to` from a caller does to a target of `push` and `ducq`: the
    /// answer, and the target's queued bytes.
    fn direct(push: bool, ducq: bool) -> (Result<(), State>, Vec<u8>) {
        let (mut hub, _poll) = hub();
        let caller = connect(
            &mut hub,
            Box::new(Target {
                push: true,
                ducq: true,
            }),
        )
        .0;
        let target = connect(&mut hub, Box::new(Target { push, ducq })).0;
        let id = hub.client_id(target).unwrap();
        let raw = format!("to {id}\nhi");
        let msg = Message::parse(raw.as_bytes()).unwrap();
        let got = exec(&mut hub, caller, &msg);
        let out = hub.conns.get_mut(target).unwrap().out.own().clone();
        (got, out)
    }

    #[test]
    fn only_a_connection_that_takes_ducq_messages_now_gets_one() {
        let (got, out) = direct(true, true);
        assert_eq!(got, Ok(()));
        assert!(out.starts_with(b"from T:"), "{out:?}");
        assert!(out.ends_with(b"\nhi"), "{out:?}");
        for (push, ducq) in [(false, true), (true, false), (false, false)] {
            assert_eq!(direct(push, ducq), (Err(State::ENotFound), Vec::new()));
        }
    }
}
