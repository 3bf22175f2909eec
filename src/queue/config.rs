//! A queue's settings and names: what `qcreate` options mean, their
//! defaults, their text form (stored on disk and shown in listings), and
//! which queue names are accepted. Pure data; no I/O.

use std::fmt;
use std::time::Duration;

use super::QueueError;

/// Longest queue name, in bytes.
pub const MAX_NAME: usize = 200;
/// The dead-letter queue of `q` is `q` followed by this, unless set.
pub const DLQ_SUFFIX: &str = ".dlq";

/// How one queue behaves. `Config::default()` is what `enq` and `qsub`
/// create a missing queue with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// How long a delivered message may stay unacknowledged before it is
    /// handed out again (default 30 s).
    pub visibility: Duration,
    /// Deliveries after which an unacknowledged message goes to the
    /// dead-letter queue instead of being handed out again (default 10;
    /// 0 never dead-letters).
    pub max_deliveries: u32,
    /// Where dead letters go: `None` is `<name>.dlq`; `Some("")` drops them
    /// (logged by the caller).
    pub dead_letter: Option<String>,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            visibility: Duration::from_secs(30),
            max_deliveries: 10,
            dead_letter: None,
        }
    }
}

impl Config {
    /// The configuration of a dead-letter queue: nothing dead-letters out of it.
    pub fn dead_letter_queue() -> Config {
        Config {
            max_deliveries: 0,
            ..Config::default()
        }
    }

    /// Parses `qcreate` options: space-separated `visibility=SECS`
    /// (decimal, > 0), `max_deliveries=N`, `dlq=NAME` (`dlq=` drops dead
    /// letters). Unknown or malformed options are refused, never ignored.
    pub fn parse(text: &[u8]) -> Result<Config, QueueError> {
        let mut config = Config::default();
        let text = std::str::from_utf8(text).map_err(|_| QueueError::BadOption)?;
        for opt in text.split_ascii_whitespace() {
            let (key, value) = opt.split_once('=').ok_or(QueueError::BadOption)?;
            match key {
                "visibility" => {
                    let secs: f64 = value.parse().map_err(|_| QueueError::BadOption)?;
                    if !(secs > 0.0 && secs <= 86_400.0 * 365.0) {
                        return Err(QueueError::BadOption);
                    }
                    config.visibility = Duration::from_secs_f64(secs);
                }
                "max_deliveries" => {
                    config.max_deliveries = value.parse().map_err(|_| QueueError::BadOption)?;
                }
                "dlq" => {
                    if !value.is_empty() {
                        check_name(value.as_bytes()).map_err(|_| QueueError::BadOption)?;
                    }
                    config.dead_letter = Some(value.to_string());
                }
                _ => return Err(QueueError::BadOption),
            }
        }
        Ok(config)
    }

    /// The dead-letter queue of queue `name`, or `None` when dead letters
    /// are dropped.
    pub fn dead_letter_of(&self, name: &str) -> Option<String> {
        match &self.dead_letter {
            None => Some(format!("{name}{DLQ_SUFFIX}")),
            Some(d) if d.is_empty() => None,
            Some(d) => Some(d.clone()),
        }
    }
}

/// The text `parse` reads back: `visibility=30 max_deliveries=10`, plus
/// `dlq=NAME` when one was set.
impl fmt::Display for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "visibility={} max_deliveries={}",
            self.visibility.as_secs_f64(),
            self.max_deliveries
        )?;
        if let Some(d) = &self.dead_letter {
            write!(f, " dlq={d}")?;
        }
        Ok(())
    }
}

/// Checks a queue name: 1 to 200 bytes of ASCII letters, digits and
/// `. _ - / :`. Names appear in comma-separated listings and in routes, so
/// nothing that would need quoting is allowed.
pub fn check_name(name: &[u8]) -> Result<&str, QueueError> {
    let ok = !name.is_empty()
        && name.len() <= MAX_NAME
        && name
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || b"._-/:".contains(b));
    if !ok {
        return Err(QueueError::BadName);
    }
    std::str::from_utf8(name).map_err(|_| QueueError::BadName)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_round_trip() {
        let d = Config::default();
        assert_eq!(d.to_string(), "visibility=30 max_deliveries=10");
        assert_eq!(Config::parse(d.to_string().as_bytes()).unwrap(), d);
        assert_eq!(Config::parse(b"").unwrap(), d);
        let c = Config::parse(b"visibility=0.25  max_deliveries=3 dlq=dead/q").unwrap();
        assert_eq!(c.visibility, Duration::from_millis(250));
        assert_eq!(c.max_deliveries, 3);
        assert_eq!(c.dead_letter.as_deref(), Some("dead/q"));
        assert_eq!(Config::parse(c.to_string().as_bytes()).unwrap(), c);
        let dropped = Config::parse(b"dlq=").unwrap();
        assert_eq!(dropped.dead_letter_of("q"), None);
        assert_eq!(
            Config::parse(dropped.to_string().as_bytes()).unwrap(),
            dropped
        );
    }

    #[test]
    fn dead_letter_names() {
        assert_eq!(
            Config::default().dead_letter_of("jobs").as_deref(),
            Some("jobs.dlq")
        );
        let c = Config::parse(b"dlq=other").unwrap();
        assert_eq!(c.dead_letter_of("jobs").as_deref(), Some("other"));
        assert_eq!(Config::dead_letter_queue().max_deliveries, 0);
    }

    #[test]
    fn bad_options_are_refused() {
        for bad in [
            &b"visibility"[..],
            b"visibility=0",
            b"visibility=-1",
            b"visibility=x",
            b"visibility=NaN",
            b"max_deliveries=-1",
            b"max_deliveries=1.5",
            b"colour=red",
            b"dlq=a b",
            b"dlq=a,b",
            b"\xff",
        ] {
            assert_eq!(Config::parse(bad), Err(QueueError::BadOption), "{bad:?}");
        }
    }

    #[test]
    fn names() {
        assert_eq!(
            check_name(b"jobs/eu-1:high_prio.v2"),
            Ok("jobs/eu-1:high_prio.v2")
        );
        assert_eq!(check_name(&[b'a'; MAX_NAME]).map(str::len), Ok(MAX_NAME));
        for bad in [
            &b""[..],
            b"a b",
            b"a,b",
            b"a\nb",
            b"a*",
            b"\xc3\xa9",
            &[b'a'; MAX_NAME + 1],
        ] {
            assert_eq!(check_name(bad), Err(QueueError::BadName), "{bad:?}");
        }
    }
}
