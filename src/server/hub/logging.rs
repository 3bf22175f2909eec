//! Logging from the hub: a record goes to the logger (stderr or a hook)
//! and, as a line, to the subscribers of `LOG` and `__MONITOR__` (see
//! `server::log`, which also keeps a log from recursing through itself).

use super::Hub;
use crate::server::log::{Level, Logger, Record};

impl Hub {
    /// The logger (to change its level or install a hook).
    pub fn logger_mut(&mut self) -> &mut Logger {
        &mut self.logger
    }

    /// Logs a record to stderr/the hook and to subscribers of `LOG` and
    /// `__MONITOR__` (see `server::log`).
    pub fn log(&mut self, level: Level, function: &str, sender: &str, text: &str) {
        let rec = Record {
            level,
            function,
            sender,
            text,
        };
        crate::server::log::emit(self, &rec);
    }
}
