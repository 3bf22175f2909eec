//! Pattern subscriptions held live during a run (scenario S7): one extra
//! ducq connection subscribes to N distinct `*`, `+` and `#` patterns that
//! share the levels of the run's topic without matching it, so every
//! publication walks a populated subscription index and delivers exactly
//! what it would without them. It must not receive anything; ducq only.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// The `i`-th of the patterns beside `topic` (a `<first>/<second>` route):
/// a mix of whole-level `+`, final `#` and `*`, none matching `topic`.
pub fn pattern(topic: &str, i: usize) -> String {
    let first = topic.split('/').next().unwrap_or(topic);
    match i % 6 {
        0 => format!("{first}/+/x{i}"),
        1 => format!("{first}/d{i}/+"),
        2 => format!("{first}/e{i}/#"),
        3 => format!("+/live/f{i}/#"),
        4 => format!("{first}/g{i}*"),
        _ => format!("*/h{i}"),
    }
}

/// Connects to the ducq broker at `addr` and subscribes to `n` patterns
/// beside `topic`, each acknowledged; the connection holds them while it
/// is open.
pub fn subscribe(addr: SocketAddr, topic: &str, n: usize) -> Result<TcpStream, String> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(5))
        .map_err(|e| format!("pattern connection: {e}"))?;
    s.set_read_timeout(Some(Duration::from_secs(30)))
        .map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    for i in 0..n {
        let body = format!("sub {}\nadd", pattern(topic, i));
        out.extend_from_slice(format!("{}\n{body}", body.len()).as_bytes());
    }
    s.write_all(&out)
        .map_err(|e| format!("pattern subscriptions: {e}"))?;
    let mut acks = vec![0u8; 5 * n];
    s.read_exact(&mut acks)
        .map_err(|e| format!("pattern subscriptions: {e}"))?;
    if acks.chunks(5).any(|a| a != b"3\nACK") {
        return Err("pattern subscriptions: a reply other than ACK".into());
    }
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ducq::proto::route::matches;

    #[test]
    fn patterns_are_distinct_mixed_and_miss_the_topic() {
        let topic = "bench-S7-1-0/live";
        let all: Vec<String> = (0..600).map(|i| pattern(topic, i)).collect();
        let distinct: std::collections::HashSet<&String> = all.iter().collect();
        assert_eq!(distinct.len(), all.len());
        for p in &all {
            assert!(!matches(p.as_bytes(), topic.as_bytes()), "{p}");
        }
        for w in ["+", "#", "*"] {
            assert!(all.iter().filter(|p| p.contains(w)).count() >= 100, "{w}");
        }
        // They do match routes beside the topic.
        assert!(matches(pattern(topic, 2).as_bytes(), b"bench-S7-1-0/e2/x"));
        assert!(matches(pattern(topic, 5).as_bytes(), b"a/b/h5"));
    }
}
