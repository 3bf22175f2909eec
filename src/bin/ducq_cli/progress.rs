//! The progress line of long transfers (`pub` from stdin, `sub --count`):
//! one line on stderr, rewritten in place at most ten times a second, and
//! left with its final figures when the transfer ends. Only shown when
//! stderr is a terminal (and, for `sub`, stdout is not the same terminal);
//! `--no-progress` turns it off.

use std::io::Write;
use std::time::{Duration, Instant};

const EVERY: Duration = Duration::from_millis(100);

/// A progress line, or nothing when disabled.
pub struct Progress {
    enabled: bool,
    last: Option<Instant>,
    shown: bool,
}

impl Progress {
    /// A progress line that is drawn only if `enabled`.
    pub fn new(enabled: bool) -> Progress {
        Progress {
            enabled,
            last: None,
            shown: false,
        }
    }

    /// Redraws the line with `text()` unless it was drawn very recently.
    pub fn update(&mut self, text: impl FnOnce() -> String) {
        if !self.enabled || self.last.is_some_and(|t| t.elapsed() < EVERY) {
            return;
        }
        self.last = Some(Instant::now());
        self.draw(&text());
    }

    /// Draws the final figures and ends the line.
    pub fn finish(&mut self, text: &str) {
        if self.enabled {
            self.draw(text);
            let _ = writeln!(std::io::stderr());
            self.shown = false;
        }
    }

    /// Removes the line (the transfer failed; an error line follows).
    pub fn clear(&mut self) {
        if self.enabled && self.shown {
            let _ = write!(std::io::stderr(), "\r\x1b[K");
            self.shown = false;
        }
    }

    fn draw(&mut self, text: &str) {
        let mut err = std::io::stderr().lock();
        let _ = write!(err, "\r\x1b[K{text}");
        let _ = err.flush();
        self.shown = true;
    }
}

/// `1023 B`, `1.5 KiB`, `12.3 MiB`.
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if n < 1024 {
        return format!("{n} B");
    }
    let mut v = n as f64 / 1024.0;
    let mut unit = UNITS[0];
    for u in &UNITS[1..] {
        if v < 1024.0 {
            break;
        }
        v /= 1024.0;
        unit = u;
    }
    format!("{v:.1} {unit}")
}

#[cfg(test)]
mod tests {
    #[test]
    fn sizes_read_well() {
        assert_eq!(super::bytes(0), "0 B");
        assert_eq!(super::bytes(1023), "1023 B");
        assert_eq!(super::bytes(1536), "1.5 KiB");
        assert_eq!(super::bytes(5 << 20), "5.0 MiB");
        assert_eq!(super::bytes(3 << 30), "3.0 GiB");
    }
}
