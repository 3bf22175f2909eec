//! How `ducq` prints what the server sends: one line per message, or one
//! JSON object per line with `--json`; listings as text lines or one JSON
//! array. Colour (routes, command names, client ids, the error prefix) only
//! when the stream is a terminal, unless `--color` says otherwise or
//! `NO_COLOR` is set. It formats; it never reads from the server.

use std::io::{self, Write};
use std::str::FromStr;

use ducq::proto::listing::{self, json_string};
use ducq::proto::Message;
use ducq::server::commands::direct::FROM;

const ROUTE: &str = "\x1b[36m";
const NAME: &str = "\x1b[1m";
const ERROR: &str = "\x1b[1;31m";
const RESET: &str = "\x1b[0m";

/// `--color WHEN`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum When {
    /// Colour when the stream is a terminal and `NO_COLOR` is unset.
    Auto,
    /// Always colour.
    Always,
    /// Never colour.
    Never,
}

impl FromStr for When {
    type Err = String;
    fn from_str(s: &str) -> Result<When, String> {
        match s {
            "auto" => Ok(When::Auto),
            "always" => Ok(When::Always),
            "never" => Ok(When::Never),
            _ => Err(format!("--color: '{s}' is not auto, always or never")),
        }
    }
}

impl When {
    /// Whether to colour a stream that is (or is not) a terminal.
    pub fn colour(self, terminal: bool) -> bool {
        match self {
            When::Always => true,
            When::Never => false,
            When::Auto => terminal && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()),
        }
    }
}

/// The `ducq: ` prefix of an error line, red on a terminal.
pub fn error_prefix(colour: bool) -> String {
    if colour {
        format!("{ERROR}ducq:{RESET} ")
    } else {
        "ducq: ".to_owned()
    }
}

/// How messages and listings are printed.
#[derive(Debug, Clone, Copy, Default)]
pub struct Printer {
    /// One JSON value per message (`--json`).
    pub json: bool,
    /// Print the route before the payload (`sub -v`).
    pub verbose: bool,
    /// ANSI colours.
    pub colour: bool,
}

impl Printer {
    /// Prints one received message: its payload (after its route with
    /// `-v`), or, with `--json`, `{"route":..,"payload":..}` on one line
    /// (`"payload_base64"` for a payload that is not UTF-8, `{"message":..}`
    /// for a message that is not a publication).
    pub fn message(&self, out: &mut impl Write, msg: &[u8]) -> io::Result<()> {
        let parsed = Message::parse(msg)
            .ok()
            .filter(|m| m.has_newline && !m.route.is_empty());
        if self.json {
            out.write_all(message_json(msg).as_bytes())?;
        } else if let Some(m) = parsed {
            if self.verbose {
                self.paint(out, ROUTE, m.route)?;
                out.write_all(b" ")?;
            }
            out.write_all(m.payload)?;
        } else {
            out.write_all(msg)?;
        }
        out.write_all(b"\n")?;
        out.flush()
    }

    /// Prints the parts of an `lscmd` or `lsconn` listing: their lines as
    /// they came (names and ids highlighted), or one JSON array.
    pub fn listing(
        &self,
        out: &mut impl Write,
        command: &str,
        parts: &[Vec<u8>],
    ) -> io::Result<()> {
        let lscmd = command == "lscmd";
        if self.json {
            let json = if lscmd {
                listing::lscmd_json(parts)
            } else {
                listing::lsconn_json(parts)
            };
            out.write_all(json.as_bytes())?;
            out.write_all(b"\n")?;
            return out.flush();
        }
        for line in listing::lines(parts) {
            if !self.colour {
                out.write_all(line)?;
            } else if lscmd {
                let (name, doc) = listing::lscmd_entry(line);
                out.write_all(b"\"")?;
                self.paint(out, NAME, name)?;
                out.write_all(b"\",\"")?;
                out.write_all(doc)?;
                out.write_all(b"\"")?;
            } else {
                let (id, route) = listing::lsconn_entry(line);
                self.paint(out, NAME, id)?;
                out.write_all(b",")?;
                self.paint(out, ROUTE, route)?;
            }
            out.write_all(b"\n")?;
        }
        out.flush()
    }

    fn paint(&self, out: &mut impl Write, colour: &str, text: &[u8]) -> io::Result<()> {
        if self.colour {
            out.write_all(colour.as_bytes())?;
            out.write_all(text)?;
            out.write_all(RESET.as_bytes())
        } else {
            out.write_all(text)
        }
    }
}

/// The `--json` form of one message: a publication's route, or a direct
/// message's sender (`from`), and its payload.
pub fn message_json(msg: &[u8]) -> String {
    let mut s = String::new();
    match Message::parse(msg) {
        Ok(m) if m.has_newline && !m.route.is_empty() => {
            s.push_str(if m.command == FROM {
                "{\"from\":"
            } else {
                "{\"route\":"
            });
            json_string(&mut s, m.route);
            s.push(',');
            listing::json_payload(&mut s, m.payload);
            s.push('}');
        }
        _ => {
            s.push_str("{\"message\":");
            json_string(&mut s, msg);
            s.push('}');
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn printed(p: Printer, msg: &[u8]) -> String {
        let mut out = Vec::new();
        p.message(&mut out, msg).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn messages_as_text_json_and_in_colour() {
        let plain = Printer::default();
        assert_eq!(printed(plain, b"pub a/b\nhi"), "hi\n");
        let verbose = Printer {
            verbose: true,
            ..plain
        };
        assert_eq!(printed(verbose, b"pub a/b\nhi"), "a/b hi\n");
        let colour = Printer {
            colour: true,
            ..verbose
        };
        assert_eq!(printed(colour, b"pub a/b\nhi"), "\x1b[36ma/b\x1b[0m hi\n");
        let json = Printer {
            json: true,
            ..colour
        };
        assert_eq!(
            printed(json, b"pub a/b\n\"x\"\n"),
            "{\"route\":\"a/b\",\"payload\":\"\\\"x\\\"\\n\"}\n"
        );
        assert_eq!(
            printed(json, b"pub bin\n\xff\x00"),
            "{\"route\":\"bin\",\"payload_base64\":\"/wA=\"}\n"
        );
        assert_eq!(printed(json, b"ACK"), "{\"message\":\"ACK\"}\n");
        assert_eq!(
            printed(json, b"from TCP:127.0.0.1:5\nhi"),
            "{\"from\":\"TCP:127.0.0.1:5\",\"payload\":\"hi\"}\n"
        );
    }

    #[test]
    fn colour_follows_the_terminal_unless_told() {
        assert!(When::Always.colour(false));
        assert!(!When::Never.colour(true));
        assert!(!When::Auto.colour(false));
        assert_eq!(
            "sometimes".parse::<When>().unwrap_err(),
            "--color: 'sometimes' is not auto, always or never"
        );
    }
}
