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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::hub::tests::{hub, read_now, tcp};
    use crate::transport::tcp::TcpCodec;
    use crate::transport::{Decoder, Frame};

    /// The messages in `bytes`, as text.
    fn messages(bytes: &[u8]) -> Vec<String> {
        let mut codec = TcpCodec::new(1 << 20);
        let mut input = bytes.to_vec();
        let mut out = Vec::new();
        let mut dec = Decoder::new();
        let mut got = Vec::new();
        while let Some(Frame::Message(m)) = dec.next(&mut codec, &mut input, &mut out) {
            got.push(String::from_utf8_lossy(&m).into_owned());
        }
        got
    }

    fn run(hub: &mut Hub, caller: usize, raw: &[u8]) -> Result<(), State> {
        exec(hub, caller, &Message::parse(raw).unwrap())
    }

    #[test]
    fn add_ls_show_rm_answer_and_log() {
        let (mut hub, _poll) = hub();
        hub.logger_mut().stderr = false;
        let (a, mut peer) = tcp(&mut hub);
        let (l, mut log_peer) = tcp(&mut hub);
        hub.subs.subscribe(l, b"LOG", true);

        assert_eq!(
            run(&mut hub, a, b"chan add c1\npattern=a/* history=3"),
            Ok(())
        );
        assert_eq!(run(&mut hub, a, b"chan add c2\npattern=b/#"), Ok(()));
        assert_eq!(run(&mut hub, a, b"chan ls\n"), Ok(()));
        assert_eq!(run(&mut hub, a, b"chan show c1\n"), Ok(()));
        assert_eq!(run(&mut hub, a, b"chan rm c1\n"), Ok(()));
        assert_eq!(run(&mut hub, a, b"chan rm c1\n"), Err(State::ENotFound));
        assert_eq!(run(&mut hub, a, b"chan show c1\n"), Err(State::ENotFound));
        assert_eq!(
            run(&mut hub, a, b"chan add c3\nhistory=x"),
            Err(State::EMsgInv)
        );
        assert_eq!(run(&mut hub, a, b"chan ls\n"), Ok(()));
        hub.flush_dirty();
        assert_eq!(
            messages(&read_now(&mut peer)),
            [
                "ACK",
                "ACK",
                "PARTS",
                "\"c1\",\"a/*\",\"command\"\n",
                "\"c2\",\"b/#\",\"command\"\n",
                "END",
                "PARTS",
                "pattern=a/*\n",
                "history=3\n",
                "origin=command\n",
                "END",
                "ACK",
                "PARTS",
                "\"c2\",\"b/#\",\"command\"\n",
                "END",
            ]
        );
        // Every change and every refusal, with the caller and the reason.
        assert_eq!(
            messages(&read_now(&mut log_peer)),
            [
                "info,chan,UNIX:/test:1,chan add c1",
                "info,chan,UNIX:/test:1,chan add c2",
                "info,chan,UNIX:/test:1,chan rm c1",
                "info,chan,UNIX:/test:1,chan rm c1 refused: no such channel",
                "info,chan,UNIX:/test:1,chan add c3 refused: history=x: \
                 a whole number from 0 to 100000 is expected",
            ]
        );
    }

    #[test]
    fn a_verb_without_its_name_or_with_more_words_is_invalid() {
        let (mut hub, _poll) = hub();
        let (a, mut peer) = tcp(&mut hub);
        for raw in [
            &b"chan add\npattern=a"[..],
            b"chan rm\n",
            b"chan show\n",
            b"chan ls c1\n",
            b"chan rm c1 c2\n",
            b"chan nope c1\n",
        ] {
            assert_eq!(run(&mut hub, a, raw), Err(State::EMsgInv), "{raw:?}");
        }
        hub.flush_dirty();
        assert_eq!(read_now(&mut peer), b"");
    }
}
