//! `req R\nCORR\nP`: a request to route R with the caller's correlation id
//! CORR: forwarded to one serving member as `req R\nTOKEN\nP`; its answer
//! comes back as `rep CORR\n<reply>` or `NACK CORR\n<code>\n<text>`. No
//! serving member is an immediate `NACK CORR\n19\nconnection not found`.

use super::check_route;
use crate::proto::{Message, State};
use crate::server::hub::Hub;
use crate::server::queues::rpc::nack_for;

/// Runs `req`.
pub fn exec(hub: &mut Hub, caller: usize, msg: &Message<'_>) -> Result<(), State> {
    check_route(hub, msg)?;
    let id = hub.conn_id(caller).ok_or(State::ENotFound)?;
    match hub.forward_request(id, msg.route, msg.payload) {
        Ok(()) => {
            // The reply completes an HTTP request, whenever it comes.
            hub.defer_reply();
            Ok(())
        }
        Err((corr, state)) if corr != b"*" => {
            hub.send(caller, &nack_for(&corr, state, state.text().as_bytes()))
        }
        Err((_, state)) => Err(state),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::hub::tests::{frame, hub, read_now, tcp};

    #[test]
    fn a_request_without_a_correlation_id_is_the_callers_nack_one_with_one_is_answered_by_it() {
        let (mut hub, _poll) = hub();
        let (a, mut peer) = tcp(&mut hub);
        let run = |hub: &mut Hub, raw: &[u8]| exec(hub, a, &Message::parse(raw).unwrap());
        // No id to answer to: the dispatcher's plain NACK (counted there).
        assert_eq!(run(&mut hub, b"req r\n"), Err(State::EMsgInv));
        hub.flush_dirty();
        assert_eq!(read_now(&mut peer), b"");
        // With an id and nobody serving: answered at once, under that id.
        assert_eq!(run(&mut hub, b"req r\nc7\nhello"), Ok(()));
        hub.flush_dirty();
        assert_eq!(
            read_now(&mut peer),
            frame(&nack_for(b"c7", State::ENotFound, b"connection not found"))
        );
    }
}
