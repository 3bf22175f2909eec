//! Server log records: levels, the stderr writer, the hook that lets an
//! embedder (a C logger, say) receive every line, and the forwarding of
//! each line to the subscribers of the `LOG` route (the original's format,
//! lower-case level) and of `__MONITOR__` (the older upper-case format the
//! original's web dashboard reads). `Hub::log` comes here.

use std::fmt;
use std::io::Write;
use std::str::FromStr;

use super::hub::Hub;

/// How important a log line is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    /// Detail for debugging: every command.
    Debug = 0,
    /// Normal events: connections opening and closing.
    Info = 1,
    /// Something was refused or dropped.
    Warn = 2,
    /// Something failed.
    Error = 3,
    /// Nothing is logged.
    Off = 4,
}

impl Level {
    /// The upper-case word of stderr lines, `__MONITOR__` lines and the
    /// command line (`DEBUG`, `INFO`, `WARN`, `ERROR`, `OFF`).
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Debug => "DEBUG",
            Level::Info => "INFO",
            Level::Warn => "WARN",
            Level::Error => "ERROR",
            Level::Off => "OFF",
        }
    }
}

impl Level {
    /// The lower-case word of `LOG` lines, as the original's
    /// `ducq_level_tostr` names it (`debug`, `info`, `warning`, `error`;
    /// `off` for the level that silences the log).
    pub fn lower(self) -> &'static str {
        match self {
            Level::Debug => "debug",
            Level::Info => "info",
            Level::Warn => "warning",
            Level::Error => "error",
            Level::Off => "off",
        }
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Level {
    type Err = String;
    fn from_str(s: &str) -> Result<Level, String> {
        match s.to_ascii_lowercase().as_str() {
            "debug" => Ok(Level::Debug),
            "info" => Ok(Level::Info),
            "warn" | "warning" => Ok(Level::Warn),
            "error" => Ok(Level::Error),
            "off" | "none" => Ok(Level::Off),
            _ => Err(format!(
                "unknown log level '{s}' (debug, info, warn, error, off)"
            )),
        }
    }
}

/// The route whose subscribers get every log line, in the original's
/// format (exact match only: a `*` subscription does not get them).
pub const LOG_ROUTE: &[u8] = b"LOG";
/// The route the original's web dashboard subscribes to for log lines in
/// the older format (upper-case level).
pub const MONITOR_ROUTE: &[u8] = b"__MONITOR__";

/// One log line: `level,function,sender,text` on the `LOG` route.
#[derive(Debug, Clone, Copy)]
pub struct Record<'a> {
    /// Its level.
    pub level: Level,
    /// Where it comes from (a command name, `reactor`, …).
    pub function: &'a str,
    /// The client it concerns, or `server`.
    pub sender: &'a str,
    /// What happened.
    pub text: &'a str,
}

impl Record<'_> {
    /// The raw text sent to `LOG` subscribers (PROTOCOL.md §6, compat):
    /// `info,accept,TCP:127.0.0.1:5000,connected`.
    pub fn line(&self) -> String {
        format!(
            "{},{},{},{}",
            self.level.lower(),
            self.function,
            self.sender,
            self.text
        )
    }

    /// The raw text sent to `__MONITOR__` subscribers: the older format,
    /// `INFO,accept,TCP:127.0.0.1:5000,connected`.
    pub fn monitor_line(&self) -> String {
        format!(
            "{},{},{},{}",
            self.level.as_str(),
            self.function,
            self.sender,
            self.text
        )
    }
}

/// A hook that receives every record at or above the level.
pub type LogHook = Box<dyn FnMut(&Record<'_>)>;

/// Where log lines go besides `LOG` subscribers.
pub struct Logger {
    /// Lowest level kept.
    pub level: Level,
    /// Write lines to stderr (on by default).
    pub stderr: bool,
    /// Send lines to the subscribers of `LOG` and `__MONITOR__` (on by
    /// default; the original's `ducq_reactor_allow_log_route`).
    pub to_routes: bool,
    hook: Option<LogHook>,
    /// A line is being logged: a line logged meanwhile (by a hook, or by
    /// sending to a subscriber) is dropped instead of recursing.
    busy: bool,
}

impl Logger {
    /// A logger writing to stderr from `level` up.
    pub fn new(level: Level) -> Logger {
        Logger {
            level,
            stderr: true,
            to_routes: true,
            hook: None,
            busy: false,
        }
    }

    /// A logger that writes nowhere but to the log routes (the original's
    /// reactor without a log function).
    pub fn silent(level: Level) -> Logger {
        Logger {
            stderr: false,
            ..Logger::new(level)
        }
    }

    /// Removes the hook (and stderr output): lines then go to the log
    /// routes only.
    pub fn clear_hook(&mut self) {
        self.hook = None;
        self.stderr = false;
    }

    /// Replaces stderr output with a hook (an embedder's logger).
    pub fn set_hook(&mut self, hook: LogHook) {
        self.hook = Some(hook);
        self.stderr = false;
    }

    /// Whether records of this level are kept.
    pub fn enabled(&self, level: Level) -> bool {
        level >= self.level && level != Level::Off
    }

    /// Writes a record to stderr or the hook.
    pub fn write(&mut self, rec: &Record<'_>) {
        if let Some(hook) = self.hook.as_mut() {
            hook(rec);
        }
        if self.stderr {
            let mut err = std::io::stderr().lock();
            // A closed stderr must not take the server down.
            let _ = writeln!(
                err,
                "{} {:5} {}: {}: {}",
                timestamp(),
                rec.level.as_str(),
                rec.function,
                rec.sender,
                rec.text
            );
        }
    }
}

/// Logs one line: to stderr or the hook, then to the subscribers of `LOG`
/// and `__MONITOR__` (the body of `Hub::log`).
pub(crate) fn emit(hub: &mut Hub, rec: &Record<'_>) {
    if !hub.logger.enabled(rec.level) || hub.logger.busy {
        return;
    }
    hub.logger.busy = true;
    hub.logger.write(rec);
    if hub.logger.to_routes {
        for route in [LOG_ROUTE, MONITOR_ROUTE] {
            let listeners = hub.subs.exact_subscribers(route).to_vec();
            if !listeners.is_empty() {
                let text = if route == LOG_ROUTE {
                    rec.line()
                } else {
                    rec.monitor_line()
                };
                for key in listeners {
                    let _ = hub.send(key, text.as_bytes());
                }
            }
        }
    }
    hub.logger.busy = false;
}

fn timestamp() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    format!("{}.{:03}", now.as_secs(), now.subsec_millis())
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;
    use std::rc::Rc;

    use super::*;
    use crate::server::hub::tests::{frame, hub, read_now, tcp};

    /// A hook that keeps the `LOG` line of every record it is handed.
    fn keeping(lines: &Rc<RefCell<Vec<String>>>) -> LogHook {
        let lines = Rc::clone(lines);
        Box::new(move |rec: &Record<'_>| lines.borrow_mut().push(rec.line()))
    }

    #[test]
    fn levels_parse_in_any_case_and_print_upper_case() {
        for (word, want) in [
            ("debug", Level::Debug),
            ("DEBUG", Level::Debug),
            ("Info", Level::Info),
            ("warn", Level::Warn),
            ("Warning", Level::Warn),
            ("ERROR", Level::Error),
            ("off", Level::Off),
            ("none", Level::Off),
        ] {
            assert_eq!(word.parse::<Level>(), Ok(want), "{word}");
        }
        assert_eq!(
            "loud".parse::<Level>(),
            Err("unknown log level 'loud' (debug, info, warn, error, off)".to_string())
        );
        let shown: Vec<String> = [
            Level::Debug,
            Level::Info,
            Level::Warn,
            Level::Error,
            Level::Off,
        ]
        .iter()
        .map(|l| l.to_string())
        .collect();
        assert_eq!(shown, ["DEBUG", "INFO", "WARN", "ERROR", "OFF"]);
    }

    #[test]
    fn a_silent_logger_writes_to_the_routes_only_and_a_cleared_hook_to_nothing_else() {
        let loud = Logger::new(Level::Info);
        assert!(loud.stderr && loud.to_routes);
        let quiet = Logger::silent(Level::Warn);
        assert!(!quiet.stderr && quiet.to_routes);
        assert_eq!(quiet.level, Level::Warn);

        let lines = Rc::new(RefCell::new(Vec::new()));
        let mut logger = Logger::new(Level::Info);
        logger.set_hook(keeping(&lines));
        assert!(!logger.stderr, "a hook replaces stderr");
        let rec = Record {
            level: Level::Info,
            function: "f",
            sender: "server",
            text: "one",
        };
        logger.write(&rec);
        logger.stderr = true;
        logger.clear_hook();
        assert!(!logger.stderr);
        logger.write(&Record { text: "two", ..rec });
        assert_eq!(*lines.borrow(), ["info,f,server,one"]);
    }

    #[test]
    fn lines_below_the_level_and_lines_logged_while_busy_are_dropped() {
        let (mut hub, _poll) = hub();
        let lines = Rc::new(RefCell::new(Vec::new()));
        hub.logger.level = Level::Warn;
        hub.logger.set_hook(keeping(&lines));
        hub.log(Level::Info, "f", "server", "below");
        hub.log(Level::Warn, "f", "server", "kept");
        // As if a hook or a subscriber's send logged while a line is out.
        hub.logger.busy = true;
        hub.log(Level::Error, "f", "server", "nested");
        hub.logger.busy = false;
        hub.log(Level::Error, "g", "server", "after");
        assert_eq!(
            *lines.borrow(),
            ["warning,f,server,kept", "error,g,server,after"]
        );
    }

    #[test]
    fn log_and_monitor_subscribers_get_their_formats_until_the_routes_are_off() {
        let (mut hub, _poll) = hub();
        hub.logger.stderr = false;
        let (a, mut pa) = tcp(&mut hub);
        let (b, mut pb) = tcp(&mut hub);
        hub.subs.subscribe(a, LOG_ROUTE, true);
        hub.subs.subscribe(b, MONITOR_ROUTE, true);
        hub.log(Level::Warn, "f", "server", "x");
        hub.flush_dirty();
        assert_eq!(read_now(&mut pa), frame(b"warning,f,server,x"));
        assert_eq!(read_now(&mut pb), frame(b"WARN,f,server,x"));
        hub.logger.to_routes = false;
        hub.log(Level::Warn, "f", "server", "y");
        hub.flush_dirty();
        assert_eq!(read_now(&mut pa), b"");
        assert_eq!(read_now(&mut pb), b"");
    }

    #[test]
    fn the_stderr_timestamp_is_unix_seconds_and_milliseconds() {
        let now_ms = || {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_millis()
        };
        let before = now_ms();
        let stamp = timestamp();
        let after = now_ms();
        let (secs, millis) = stamp.split_once('.').expect("secs.millis");
        assert_eq!(millis.len(), 3, "{stamp}");
        let ms = secs.parse::<u128>().unwrap() * 1000 + millis.parse::<u128>().unwrap();
        assert!(before <= ms && ms <= after, "{before} <= {ms} <= {after}");
    }

    #[test]
    fn log_route_lines_use_the_original_lower_case_names() {
        let rec = Record {
            level: Level::Warn,
            function: "accept",
            sender: "server",
            text: "refused, limit",
        };
        assert_eq!(rec.line(), "warning,accept,server,refused, limit");
        assert_eq!(rec.monitor_line(), "WARN,accept,server,refused, limit");
        let names: Vec<&str> = [Level::Debug, Level::Info, Level::Warn, Level::Error]
            .iter()
            .map(|l| l.lower())
            .collect();
        assert_eq!(names, ["debug", "info", "warning", "error"]);
    }
}
