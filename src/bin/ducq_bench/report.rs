//! The markdown report: a short header with the settings, one table row per
//! measured quantity with a column per broker and a ducq/peer ratio per
//! peer, then failures and notes. Formatting only; no measurement here.

use std::fmt::Write as _;

use super::args::{Broker, Config};
use super::suite::{Cell, Results};

/// A number for the table: grouped thousands from 1000 on, else three
/// significant digits.
pub fn number(v: f64) -> String {
    if !v.is_finite() {
        return "?".into();
    }
    if v.abs() >= 1000.0 {
        let digits = format!("{:.0}", v.abs());
        let mut out = String::new();
        for (i, ch) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i) % 3 == 0 {
                out.push(',');
            }
            out.push(ch);
        }
        if v < 0.0 {
            out.insert(0, '-');
        }
        out
    } else if v.abs() >= 100.0 {
        format!("{v:.0}")
    } else if v.abs() >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

fn cell_text(c: &Cell) -> String {
    match c {
        Cell::Value(v) => number(*v),
        Cell::Failed => "**FAIL**".into(),
        Cell::NotApplicable(why) if why == "—" => "—".into(),
        Cell::NotApplicable(_) => "n/a".into(),
    }
}

/// Renders the report.
pub fn render(c: &Config, r: &Results) -> String {
    let brokers: Vec<Broker> = c.brokers.iter().map(|&(b, _)| b).collect();
    // Ratios are against ducq, or against ducq's MQTT listener when the
    // run compares MQTT brokers only.
    let ducq = [Broker::Ducq, Broker::DucqMqtt]
        .iter()
        .find_map(|r| brokers.iter().position(|b| b == r));
    let peers: Vec<usize> = (0..brokers.len()).filter(|&i| Some(i) != ducq).collect();
    let mut s = String::new();
    let _ = writeln!(
        s,
        "ducq-bench on loopback, {} CPUs: median of {} runs; base count {} messages, \
         {} B payloads ({} B in S5), S3 at {} msgs/s, S4 with {} connections, \
         publisher window {}.\n",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        c.runs,
        c.messages,
        c.size,
        c.large_size,
        c.rate,
        c.idle_conns,
        if c.window == 0 {
            "off".to_string()
        } else {
            format!("{} messages", c.window)
        },
    );
    s.push_str("| scenario | unit | better |");
    for b in &brokers {
        let _ = write!(s, " {} |", b.name());
    }
    if ducq.is_some() {
        for &p in &peers {
            let reference = ducq.map_or("ducq", |d| brokers[d].name());
            let _ = write!(s, " {reference}/{} |", brokers[p].name());
        }
    }
    s.push_str("\n|---|---|---|");
    let ratio_cols = if ducq.is_some() { peers.len() } else { 0 };
    for _ in 0..brokers.len() + ratio_cols {
        s.push_str("---:|");
    }
    s.push('\n');
    let mut notes = Vec::new();
    for (row, cells) in &r.rows {
        let _ = write!(
            s,
            "| {} | {} | {} |",
            row.label,
            row.unit,
            if row.higher_is_better {
                "higher"
            } else {
                "lower"
            }
        );
        for (b, cell) in brokers.iter().zip(cells) {
            let _ = write!(s, " {} |", cell_text(cell));
            if let Cell::NotApplicable(why) = cell {
                if why != "—" {
                    notes.push(format!("{} {}: {why}", b.name(), row.label));
                }
            }
        }
        if let Some(d) = ducq {
            for &p in &peers {
                let text = match (&cells[d], &cells[p]) {
                    (Cell::Value(a), Cell::Value(b)) if *b != 0.0 => format!("{:.2}", a / b),
                    _ => "—".into(),
                };
                let _ = write!(s, " {text} |");
            }
        }
        s.push('\n');
    }
    s.push_str(
        "\nRatios are ducq's value divided by the peer's: above 1 is better for \
         \"higher\" rows, below 1 for \"lower\" rows.\n",
    );
    if !r.failures.is_empty() {
        s.push_str("\nFailures:\n");
        for f in &r.failures {
            let _ = writeln!(s, "- {f}");
        }
    }
    if !notes.is_empty() {
        s.push_str("\nNotes:\n");
        for n in notes {
            let _ = writeln!(s, "- {n}");
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers() {
        assert_eq!(number(1_234_567.8), "1,234,568");
        assert_eq!(number(1000.0), "1,000");
        assert_eq!(number(999.4), "999");
        assert_eq!(number(12.345), "12.3");
        assert_eq!(number(1.2345), "1.23");
    }
}
