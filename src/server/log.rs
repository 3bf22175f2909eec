//! Server log records: levels, the stderr writer and the hook that lets an
//! embedder (a C logger, say) receive every line. Forwarding to subscribers
//! of the `LOG` route happens in the hub, which owns the connections.

use std::fmt;
use std::io::Write;
use std::str::FromStr;

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
    /// The word used in log lines and on the command line.
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
    /// The raw text sent to `LOG` subscribers (PROTOCOL.md §6, compat).
    pub fn line(&self) -> String {
        format!(
            "{},{},{},{}",
            self.level, self.function, self.sender, self.text
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
    hook: Option<LogHook>,
}

impl Logger {
    /// A logger writing to stderr from `level` up.
    pub fn new(level: Level) -> Logger {
        Logger {
            level,
            stderr: true,
            hook: None,
        }
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

fn timestamp() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    format!("{}.{:03}", now.as_secs(), now.subsec_millis())
}
