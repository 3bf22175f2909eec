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

    /// Logs a record about connection `key`, its id as the sender. The id
    /// is formatted only when the level is logged: thousands of clients
    /// connecting must not each cost a string nobody reads.
    pub(crate) fn log_conn(&mut self, level: Level, function: &str, key: usize, text: &str) {
        if !self.logger.enabled(level) {
            return;
        }
        if let Some(id) = self.conns.get(key).map(|c| c.id_string()) {
            self.log(level, function, &id, text);
        }
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
        // A log line is nobody's message: a full LOG subscriber does not
        // hold back the connection whose action was logged.
        let feeding = self.feeding.take();
        crate::server::log::emit(self, &rec);
        self.feeding = feeding;
    }
}
