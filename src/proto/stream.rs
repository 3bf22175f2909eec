//! Streamed payloads (PROTOCOL.md §12): the wire form of the parts a
//! server delivers to subscribers, and an [`Assembler`] that lets a
//! receiver write each payload out whole even when several streams and
//! plain messages arrive interleaved on one connection. Pure byte handling,
//! no I/O.
//!
//! A publisher sends `CONT R\n<bytes>` per part and `END R\n<bytes>` for
//! the last one. Each subscriber receives `CONT R\n<sid>\n<bytes>` per
//! part, `CONT R\n<sid> end\n<bytes>` for the last, or
//! `CONT R\n<sid> error <code>\n<text>` when the stream was abandoned.
//! `sid` is a decimal number unique to the stream on that server.

use alloc::collections::VecDeque;
use alloc::format;
use alloc::vec::Vec;

use super::message::{format_into, Message};
use super::State;

/// The command word of a part (publisher to server, server to subscriber).
pub const CONT: &[u8] = b"CONT";
/// The command word of a publisher's last part.
pub const LAST: &[u8] = b"END";

/// A part of a streamed payload, as a subscriber receives it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part<'a> {
    /// Bytes of stream `sid`; `last` when the payload is complete.
    Data {
        /// The stream.
        sid: u64,
        /// Its route.
        route: &'a [u8],
        /// The next bytes of the payload.
        bytes: &'a [u8],
        /// Nothing follows.
        last: bool,
    },
    /// Stream `sid` was abandoned; what arrived of it is incomplete.
    Failed {
        /// The stream.
        sid: u64,
        /// Its route.
        route: &'a [u8],
        /// Why (`EConnClosed`: the publisher left; `ETimeout`: it went
        /// silent).
        state: State,
    },
}

/// Appends the delivery of part `bytes` of stream `sid` on `route`.
pub fn format_part(out: &mut Vec<u8>, route: &[u8], sid: u64, last: bool, bytes: &[u8]) {
    let header = if last {
        format!("{sid} end\n")
    } else {
        format!("{sid}\n")
    };
    format_into(out, CONT, route, header.as_bytes());
    out.extend_from_slice(bytes);
}

/// The message telling a subscriber that stream `sid` was abandoned.
pub fn format_failure(route: &[u8], sid: u64, state: State) -> Vec<u8> {
    let mut out = Vec::new();
    let header = format!("{sid} error {}\n{}", state.code(), state.text());
    format_into(&mut out, CONT, route, header.as_bytes());
    out
}

/// Reads a delivered part; `None` when `msg` is not one.
pub fn parse_part(msg: &[u8]) -> Option<Part<'_>> {
    let m = Message::parse(msg).ok()?;
    if m.command != CONT || !m.has_newline {
        return None;
    }
    let nl = m.payload.iter().position(|&b| b == b'\n')?;
    let header = core::str::from_utf8(m.payload.get(..nl)?).ok()?;
    let bytes = m.payload.get(nl + 1..)?;
    let mut words = header.split(' ');
    let sid = words.next()?.parse().ok()?;
    let part = match (words.next(), words.next(), words.next()) {
        (None, _, _) => Part::Data {
            sid,
            route: m.route,
            bytes,
            last: false,
        },
        (Some("end"), None, _) => Part::Data {
            sid,
            route: m.route,
            bytes,
            last: true,
        },
        (Some("error"), Some(code), None) => Part::Failed {
            sid,
            route: m.route,
            state: State::from_code(code.parse().ok()?),
        },
        _ => return None,
    };
    Some(part)
}

/// What an [`Assembler`] tells its writer, in the order to write it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Output<'a> {
    /// A payload starts, on this route.
    Begin(&'a [u8]),
    /// Its next bytes.
    Data(&'a [u8]),
    /// It is complete.
    End,
    /// It was abandoned: what was written of it is incomplete. Also sent
    /// alone for a stream none of which was written.
    Abort(State),
}

/// How a held payload stands.
enum Held {
    Open,
    Done,
    Failed(State),
}

/// A payload that arrived while another was being written.
struct Waiting {
    sid: Option<u64>,
    route: Vec<u8>,
    data: Vec<u8>,
    state: Held,
}

/// Orders the payloads arriving on one connection so each is written out
/// whole: the first one passes through as it arrives, the others (plain
/// messages and other streams) are held in memory until it is complete,
/// then written in their order of arrival.
#[derive(Default)]
pub struct Assembler {
    /// The stream being written.
    current: Option<u64>,
    waiting: VecDeque<Waiting>,
}

impl Assembler {
    /// An assembler with nothing in progress.
    pub fn new() -> Assembler {
        Assembler::default()
    }

    /// Whether a payload is being written or waits.
    pub fn is_busy(&self) -> bool {
        self.current.is_some() || !self.waiting.is_empty()
    }

    /// The streams that have begun and not ended, the one being written
    /// first (a subscriber whose connection broke ends them as failed).
    pub fn open_streams(&self) -> Vec<u64> {
        let held = self
            .waiting
            .iter()
            .filter(|w| matches!(w.state, Held::Open));
        self.current
            .into_iter()
            .chain(held.filter_map(|w| w.sid))
            .collect()
    }

    /// A complete (not streamed) payload.
    pub fn plain(&mut self, route: &[u8], payload: &[u8], mut out: impl FnMut(Output<'_>)) {
        if self.is_busy() {
            self.waiting.push_back(Waiting {
                sid: None,
                route: route.to_vec(),
                data: payload.to_vec(),
                state: Held::Done,
            });
            return;
        }
        out(Output::Begin(route));
        out(Output::Data(payload));
        out(Output::End);
    }

    /// A delivered part.
    pub fn part(&mut self, part: Part<'_>, mut out: impl FnMut(Output<'_>)) {
        match part {
            Part::Data {
                sid,
                route,
                bytes,
                last,
            } => {
                if self.current == Some(sid) {
                    out(Output::Data(bytes));
                    if last {
                        out(Output::End);
                        self.current = None;
                        self.drain(&mut out);
                    }
                } else if let Some(w) = self.find(sid) {
                    w.data.extend_from_slice(bytes);
                    if last {
                        w.state = Held::Done;
                    }
                } else if !self.is_busy() {
                    out(Output::Begin(route));
                    out(Output::Data(bytes));
                    if last {
                        out(Output::End);
                    } else {
                        self.current = Some(sid);
                    }
                } else {
                    self.waiting.push_back(Waiting {
                        sid: Some(sid),
                        route: route.to_vec(),
                        data: bytes.to_vec(),
                        state: if last { Held::Done } else { Held::Open },
                    });
                }
            }
            Part::Failed { sid, state, .. } => {
                if self.current == Some(sid) {
                    out(Output::Abort(state));
                    self.current = None;
                    self.drain(&mut out);
                } else if let Some(w) = self.find(sid) {
                    w.state = Held::Failed(state);
                } else {
                    out(Output::Abort(state));
                }
            }
        }
    }

    fn find(&mut self, sid: u64) -> Option<&mut Waiting> {
        self.waiting.iter_mut().find(|w| w.sid == Some(sid))
    }

    /// Writes held payloads until one is still arriving.
    fn drain(&mut self, out: &mut impl FnMut(Output<'_>)) {
        while let Some(w) = self.waiting.pop_front() {
            out(Output::Begin(&w.route));
            out(Output::Data(&w.data));
            match w.state {
                Held::Done => out(Output::End),
                Held::Failed(state) => out(Output::Abort(state)),
                Held::Open => {
                    self.current = w.sid;
                    return;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn part(sid: u64, bytes: &[u8], last: bool) -> Vec<u8> {
        let mut v = Vec::new();
        format_part(&mut v, b"r", sid, last, bytes);
        v
    }

    #[test]
    fn wire_forms() {
        assert_eq!(part(7, b"ab\ncd", false), b"CONT r\n7\nab\ncd");
        assert_eq!(part(7, b"", true), b"CONT r\n7 end\n");
        assert_eq!(
            format_failure(b"r", 7, State::EConnClosed),
            b"CONT r\n7 error 10\nconnection closed"
        );
        let p = part(7, b"ab\ncd", false);
        assert_eq!(
            parse_part(&p),
            Some(Part::Data {
                sid: 7,
                route: b"r",
                bytes: b"ab\ncd",
                last: false
            })
        );
        let f = format_failure(b"a b", 9, State::ETimeout);
        assert_eq!(
            parse_part(&f),
            Some(Part::Failed {
                sid: 9,
                route: b"a b",
                state: State::ETimeout
            })
        );
        for bad in [
            &b"CONT r\nx\n"[..],
            b"CONT r\n7",
            b"CONT r\n7 fin\n",
            b"CONT r\n7 end more\n",
            b"pub r\n7\n",
            b"CONT r",
        ] {
            assert_eq!(parse_part(bad), None, "{bad:?}");
        }
    }

    /// Records what an assembler writes as text.
    fn run(steps: &[(&str, u64, &str)]) -> String {
        let mut a = Assembler::new();
        let mut log = String::new();
        let mut out = |o: Output<'_>| match o {
            Output::Begin(r) => log.push_str(&format!("<{}:", String::from_utf8_lossy(r))),
            Output::Data(d) => log.push_str(&String::from_utf8_lossy(d)),
            Output::End => log.push('>'),
            Output::Abort(s) => log.push_str(&format!("!{}>", s.code())),
        };
        for &(kind, sid, text) in steps {
            let route = format!("s{sid}");
            match kind {
                "plain" => a.plain(route.as_bytes(), text.as_bytes(), &mut out),
                "part" | "last" => a.part(
                    Part::Data {
                        sid,
                        route: route.as_bytes(),
                        bytes: text.as_bytes(),
                        last: kind == "last",
                    },
                    &mut out,
                ),
                _ => a.part(
                    Part::Failed {
                        sid,
                        route: route.as_bytes(),
                        state: State::EConnClosed,
                    },
                    &mut out,
                ),
            }
        }
        log
    }

    #[test]
    fn interleaved_streams_come_out_whole_in_arrival_order() {
        let got = run(&[
            ("part", 1, "a1"),
            ("part", 2, "b1"),
            ("plain", 0, "p"),
            ("part", 1, "a2"),
            ("part", 2, "b2"),
            ("part", 3, "c1"),
            ("last", 2, "b3"),
            ("last", 1, "a3"),
            ("part", 3, "c2"),
            ("last", 3, ""),
            ("plain", 4, "q"),
        ]);
        assert_eq!(got, "<s1:a1a2a3><s2:b1b2b3><s0:p><s3:c1c2><s4:q>");
    }

    #[test]
    fn abandoned_streams_are_marked_where_they_stop() {
        let got = run(&[
            ("part", 1, "a1"),
            ("part", 2, "b1"),
            ("fail", 2, ""),
            ("part", 3, "c1"),
            ("fail", 1, ""),
            ("last", 3, "c2"),
            ("fail", 9, ""),
        ]);
        assert_eq!(got, "<s1:a1!10><s2:b1!10><s3:c1c2>!10>");
    }
}
