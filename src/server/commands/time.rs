//! `epoch` (unix seconds) and `time` (`YYYY-MM-DDTHH:MM:SS`, server local
//! time, no trailing NUL).

use std::time::{SystemTime, UNIX_EPOCH};

use crate::proto::{Message, State};
use crate::server::hub::Hub;

fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// Runs `epoch`.
pub fn epoch(hub: &mut Hub, caller: usize, _: &Message<'_>) -> Result<(), State> {
    hub.send(caller, now_secs().to_string().as_bytes())
}

/// Runs `time`.
pub fn time(hub: &mut Hub, caller: usize, _: &Message<'_>) -> Result<(), State> {
    let text = local_time(now_secs()).ok_or(State::EStdc)?;
    hub.send(caller, text.as_bytes())
}

/// Formats unix seconds as local `YYYY-MM-DDTHH:MM:SS`.
pub fn local_time(secs: i64) -> Option<String> {
    let t = secs as libc::time_t;
    // SAFETY: `tm` is plain old data, fully written by localtime_r on
    // success; both pointers are valid for the call.
    let tm = unsafe {
        let mut tm: libc::tm = std::mem::zeroed();
        if libc::localtime_r(&t, &mut tm).is_null() {
            return None;
        }
        tm
    };
    Some(format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
        tm.tm_year + 1900,
        tm.tm_mon + 1,
        tm.tm_mday,
        tm.tm_hour,
        tm.tm_min,
        tm.tm_sec
    ))
}

#[cfg(test)]
mod tests {
    #[test]
    fn time_has_the_documented_shape() {
        let s = super::local_time(1_700_000_000).unwrap();
        assert_eq!(s.len(), 19);
        assert_eq!(&s[4..5], "-");
        assert_eq!(&s[10..11], "T");
        assert!(!s.contains('\0'));
    }
}
