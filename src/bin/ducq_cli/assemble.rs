//! The order of `ducq sub`'s output when streamed payloads arrive: each
//! stream (its `CONT` parts) is written out whole as one message, and
//! whatever arrives while one is being written — other streams, plain
//! messages — is held until it ends, then written in its order of arrival
//! (`proto::stream::Assembler`). With `--json` a stream is buffered and
//! printed as one JSON object. It formats; it never reads from the server.

use std::io::{self, Write};

use ducq::proto::message::format;
use ducq::proto::stream::{parse_part, Assembler, Output, Part};
use ducq::proto::{Message, State};

use super::output::Printer;

/// `sub`'s writer: a [`Printer`] that reassembles streams.
pub struct SubWriter {
    /// How single messages look.
    pub printer: Printer,
    assembler: Assembler,
    /// The payload being written: its route, and its bytes when buffered
    /// for `--json`.
    current: Option<(Vec<u8>, Vec<u8>)>,
    /// Complete payloads written.
    pub seen: u64,
}

impl SubWriter {
    /// A writer with nothing in progress.
    pub fn new(printer: Printer) -> SubWriter {
        SubWriter {
            printer,
            assembler: Assembler::new(),
            current: None,
            seen: 0,
        }
    }

    /// Writes (or holds) one received message.
    pub fn message(&mut self, out: &mut impl Write, msg: &[u8]) -> io::Result<()> {
        if let Some(part) = parse_part(msg) {
            let mut ev = Events::default();
            self.assembler.part(part, |o| ev.push(o));
            return self.write(out, ev);
        }
        if !self.assembler.is_busy() {
            self.seen += 1;
            return self.printer.message(out, msg);
        }
        let (route, payload) = match Message::parse(msg) {
            Ok(m) if m.has_newline && !m.route.is_empty() => (m.route, m.payload),
            _ => (&b""[..], msg),
        };
        let mut ev = Events::default();
        self.assembler.plain(route, payload, |o| ev.push(o));
        self.write(out, ev)
    }

    /// The connection broke: every stream still arriving is abandoned (its
    /// parts will not come on a new connection), and what waited behind
    /// it is written.
    pub fn connection_lost(&mut self, out: &mut impl Write) -> io::Result<()> {
        for sid in self.assembler.open_streams() {
            let mut ev = Events::default();
            let failed = Part::Failed {
                sid,
                route: b"",
                state: State::EConnClosed,
            };
            self.assembler.part(failed, |o| ev.push(o));
            self.write(out, ev)?;
        }
        Ok(())
    }

    fn write(&mut self, out: &mut impl Write, ev: Events) -> io::Result<()> {
        for o in ev.0 {
            match o {
                Owned::Begin(route) => {
                    if self.printer.verbose && !self.printer.json && !route.is_empty() {
                        out.write_all(&route)?;
                        out.write_all(b" ")?;
                    }
                    self.current = Some((route, Vec::new()));
                }
                Owned::Data(bytes) if self.printer.json => {
                    if let Some((_, buf)) = self.current.as_mut() {
                        buf.extend_from_slice(&bytes);
                    }
                }
                Owned::Data(bytes) => out.write_all(&bytes)?,
                Owned::End => {
                    self.seen += 1;
                    let (route, buf) = self.current.take().unwrap_or_default();
                    if self.printer.json {
                        let msg = format(b"pub", &route, &buf);
                        self.printer.message(out, &msg)?;
                    } else {
                        out.write_all(b"\n")?;
                        out.flush()?;
                    }
                }
                Owned::Abort(text) => {
                    eprintln!("ducq: a streamed payload was abandoned: {text}");
                    // End the line of what was written of it, if anything.
                    if self.current.take().is_some() && !self.printer.json {
                        out.write_all(b"\n")?;
                    }
                    out.flush()?;
                }
            }
        }
        Ok(())
    }
}

/// An assembler's output, owned so it can be written after the call.
enum Owned {
    Begin(Vec<u8>),
    Data(Vec<u8>),
    End,
    Abort(&'static str),
}

#[derive(Default)]
struct Events(Vec<Owned>);

impl Events {
    fn push(&mut self, o: Output<'_>) {
        self.0.push(match o {
            Output::Begin(r) => Owned::Begin(r.to_vec()),
            Output::Data(d) => Owned::Data(d.to_vec()),
            Output::End => Owned::End,
            Output::Abort(state) => Owned::Abort(state.text()),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(printer: Printer, msgs: &[&[u8]]) -> (String, u64) {
        let mut w = SubWriter::new(printer);
        let mut out = Vec::new();
        for m in msgs {
            w.message(&mut out, m).unwrap();
        }
        (String::from_utf8(out).unwrap(), w.seen)
    }

    #[test]
    fn streams_come_out_whole_and_plain_messages_wait() {
        let msgs: &[&[u8]] = &[
            b"CONT a\n1\nA1 ",
            b"pub p\nplain",
            b"CONT a\n1 end\nA2",
            b"pub q\nnext",
        ];
        let verbose = Printer {
            verbose: true,
            ..Printer::default()
        };
        assert_eq!(run(verbose, msgs), ("a A1 A2\np plain\nq next\n".into(), 3));
        let json = Printer {
            json: true,
            ..Printer::default()
        };
        assert_eq!(
            run(json, msgs),
            (
                "{\"route\":\"a\",\"payload\":\"A1 A2\"}\n{\"route\":\"p\",\"payload\":\"plain\"}\n{\"route\":\"q\",\"payload\":\"next\"}\n"
                    .into(),
                3
            )
        );
        // Abandoned: the line ends, nothing is counted.
        let (out, seen) = run(
            Printer::default(),
            &[b"CONT a\n1\npart", b"CONT a\n1 error 10\nconnection closed"],
        );
        assert_eq!((out.as_str(), seen), ("part\n", 0));
    }

    #[test]
    fn a_lost_connection_abandons_open_streams_and_frees_what_waited() {
        let mut w = SubWriter::new(Printer::default());
        let mut out = Vec::new();
        for m in [
            &b"CONT a\n1\nA1 "[..],
            b"CONT b\n2\nB1 ",
            b"pub p\nplain",
            b"CONT c\n3 end\nC",
        ] {
            w.message(&mut out, m).unwrap();
        }
        assert_eq!(String::from_utf8_lossy(&out), "A1 ");
        w.connection_lost(&mut out).unwrap();
        // a ends incomplete, b (held) too, then the plain message and the
        // complete stream c come out; nothing is left waiting.
        assert_eq!(String::from_utf8_lossy(&out), "A1 \nB1 \nplain\nC\n");
        assert_eq!(w.seen, 2);
        w.message(&mut out, b"pub q\nlater").unwrap();
        assert!(out.ends_with(b"later\n"));
        w.connection_lost(&mut out).unwrap();
        assert!(out.ends_with(b"later\n"));
    }
}
