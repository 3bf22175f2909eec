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
    use super::*;

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
