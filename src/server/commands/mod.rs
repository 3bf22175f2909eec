//! The built-in commands, one file each. A command gets the hub, the calling
//! connection's key and the parsed message; it sends its replies through the
//! hub and returns `Err(state)` for the dispatcher to answer with a NACK.
//! Commands never know which protocol a connection speaks.

use super::hub::Hub;
use crate::proto::{Message, State};

pub mod auth;
pub mod chan;
pub mod direct;
pub mod enq;
pub mod forget;
pub mod last;
pub mod lscmd;
pub mod lsconn;
pub mod lsq;
pub mod ping;
pub mod publish;
pub mod qack;
pub mod qcreate;
pub mod qdel;
pub mod qget;
pub mod qsub;
pub mod qtake;
pub mod qunsub;
pub mod reload;
pub mod rep;
pub mod req;
pub mod serve;
pub mod stream;
pub mod subscribe;
pub mod time;
pub mod unsub;
pub mod unsubscribe;

/// A built-in command's function.
pub type BuiltinFn = fn(&mut Hub, usize, &Message<'_>) -> Result<(), State>;

/// A built-in command: its name, its `lscmd` doc and its function.
#[derive(Clone, Copy)]
pub struct Builtin {
    /// The command word.
    pub name: &'static str,
    /// One line for `lscmd`.
    pub doc: &'static str,
    /// What it does.
    pub exec: BuiltinFn,
}

fn unreachable_lscmd(_: &mut Hub, _: usize, _: &Message<'_>) -> Result<(), State> {
    // The dispatcher answers lscmd itself: it alone knows every command.
    Err(State::Error)
}

/// The core protocol: these names cannot be replaced by C or Lua commands.
pub fn core() -> Vec<Builtin> {
    vec![
        Builtin {
            name: "lscmd",
            doc: "list commands: PARTS, one line per command with its name and doc, END",
            exec: unreachable_lscmd,
        },
        Builtin {
            name: "help",
            doc: "alias of lscmd",
            exec: unreachable_lscmd,
        },
        Builtin {
            name: "pub",
            doc: "publish payload to route: ACK, then the message to every matching subscriber",
            exec: publish::exec,
        },
        Builtin {
            name: "publish",
            doc: "alias of pub",
            exec: publish::exec,
        },
        Builtin {
            name: "sub",
            doc: "subscribe to route (wildcards *, + and #); payload options: last [N] (the N newest stored messages first), add (keep other subscriptions)",
            exec: subscribe::exec,
        },
        Builtin {
            name: "subscribe",
            doc: "alias of sub",
            exec: subscribe::exec,
        },
        Builtin {
            name: "auth",
            doc: "authenticate as user route with password payload: ACK, or NACK 24 after a delay",
            exec: auth::exec,
        },
        Builtin {
            name: "CONT",
            doc: "part of a streamed payload on route: ACK; subscribers get CONT route, the stream id, the bytes",
            exec: stream::cont,
        },
        Builtin {
            name: "END",
            doc: "last part of a streamed payload on route (may be empty): ACK",
            exec: stream::end,
        },
        Builtin {
            name: "PING",
            doc: "keep-alive: answers PONG with the same route and payload",
            exec: ping::ping,
        },
        Builtin {
            name: "PONG",
            doc: "keep-alive answer: no reply",
            exec: ping::pong,
        },
    ]
}

/// Built-ins that C or Lua commands may replace.
pub fn replaceable() -> Vec<Builtin> {
    vec![
        Builtin {
            name: "unsubscribe",
            doc: "remove route from the caller's subscriptions",
            exec: unsubscribe::exec,
        },
        Builtin {
            name: "last",
            doc: "the N newest stored messages of route (payload N, default 1), oldest first, without subscribing; ACK when none",
            exec: last::exec,
        },
        Builtin {
            name: "forget",
            doc: "remove the stored messages of route (of every stored route a pattern matches): ACK",
            exec: forget::exec,
        },
        Builtin {
            name: "unsub",
            doc: "close the connection whose id is the payload",
            exec: unsub::exec,
        },
        Builtin {
            name: "chan",
            doc: "channels: chan add NAME (payload: pattern=P and settings) | chan rm NAME | chan ls | chan show NAME",
            exec: chan::exec,
        },
        Builtin {
            name: "to",
            doc: "send payload to the one connection whose id (as lsconn lists it) is route: ACK; it gets from <your id>, the payload; NACK 19 if none",
            exec: direct::exec,
        },
        Builtin {
            name: "lsconn",
            doc: "list connections: PARTS, one id,route line per subscription, END",
            exec: lsconn::exec,
        },
        Builtin {
            name: "reload",
            doc: "admin: re-read the configuration file (users, access lists, limits, Lua, certificates)",
            exec: reload::exec,
        },
        Builtin {
            name: "time",
            doc: "server local time, YYYY-MM-DDTHH:MM:SS",
            exec: time::time,
        },
        Builtin {
            name: "epoch",
            doc: "server time in unix seconds",
            exec: time::epoch,
        },
    ]
    .into_iter()
    .chain(queue_commands())
    .collect()
}

/// Durable queues and request/reply (PROTOCOL.md §14).
fn queue_commands() -> Vec<Builtin> {
    let b = |name, doc, exec| Builtin { name, doc, exec };
    vec![
        b("enq", "enqueue payload in queue route: answers the message id once durable", enq::exec),
        b("qcreate", "create queue route, or set its options: visibility=SECS max_deliveries=N dlq=NAME", qcreate::exec),
        b("qdel", "delete queue route and its messages", qdel::exec),
        b("qsub", "consume queue route, payload the prefetch: ACK, then qmsg route id count payload per message", qsub::exec),
        b("qunsub", "stop consuming queue route; held messages are handed out again", qunsub::exec),
        b("qack", "acknowledge message id (payload) of queue route, once durable", qack::exec),
        b("qget", "lease up to N (payload) messages of queue route: PARTS, qmsg each, END", qget::exec),
        b("qtake", "remove up to N (payload) messages of queue route without ack: PARTS, qmsg each, END", qtake::exec),
        b("lsq", "list queues: PARTS, one name,depth,ready,in_flight,consumers,oldest_ms line per queue, END", lsq::exec),
        b("serve", "serve requests to route (load-balanced across serving members)", serve::serve),
        b("unserve", "stop serving route", serve::unserve),
        b("req", "request to route, payload CORR newline body: answered rep CORR, or NACK CORR", req::exec),
        b("rep", "a serving member's reply to request token (route)", rep::rep),
        b("rerr", "a serving member's error reply to request token (route)", rep::rerr),
    ]
}

/// The open client connection whose id (as `lsconn` lists it:
/// `TCP:127.0.0.1:50312`, `WSS:[::1]:40000`, `UNIX:/run/ducq.sock:3`,
/// optionally `<user>@` first) is `id`.
pub(crate) fn find_client(hub: &Hub, id: &[u8]) -> Option<usize> {
    let id = std::str::from_utf8(id).ok()?;
    // A scan: direct messages and `unsub` are rare next to publications,
    // and a connection's id can change (HTTP → WS), so no index is kept.
    hub.conns
        .iter()
        .find(|(_, c)| !c.closing && c.answers_to(id))
        .map(|(k, _)| k)
}

/// Checks a `pub`/`sub` message's route: closed by `\n`, then the route
/// rule every caller applies ([`super::rules::check_route`]).
pub(crate) fn check_route(hub: &Hub, msg: &Message<'_>) -> Result<(), State> {
    if !msg.has_newline {
        return Err(State::EMsgInv);
    }
    super::rules::check_route(msg.route, hub.settings().max_route)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::hub::tests::hub;

    #[test]
    fn lscmd_reaching_the_table_is_an_error_not_a_silent_ack() {
        // The dispatcher answers `lscmd` and `help` before the table is
        // consulted; should that ever change, the client gets an error.
        let (mut hub, _poll) = hub();
        let msg = Message::parse(b"lscmd *\n").unwrap();
        for name in ["lscmd", "help"] {
            let b = core().into_iter().find(|b| b.name == name).unwrap();
            assert_eq!((b.exec)(&mut hub, 0, &msg), Err(State::Error), "{name}");
        }
    }
}
