//! The scenarios (S1–S6) as cases with table rows, how each becomes a run
//! specification for a broker, and the loop that runs every selected case
//! against every selected broker `--runs` times and reduces the results.

use std::time::Duration;

use super::args::{Broker, Config};
use super::run::{self, Measured, Spec};
use super::wire::{new_wire, Endpoint, Kind};

/// Most payload bytes the publisher keeps in flight per subscriber.
const WINDOW_BYTES: u64 = 4 << 20;

/// How several runs' values become one table cell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reduce {
    /// The median run.
    Median,
    /// The largest value: for memory growth, which a broker's allocator can
    /// only hide in later runs (freed memory reused), never inflate.
    Max,
}

/// One line of the table.
#[derive(Debug, Clone)]
pub struct Row {
    /// What is measured.
    pub label: String,
    /// Its unit.
    pub unit: &'static str,
    /// Whether a larger number is better.
    pub higher_is_better: bool,
    /// How runs combine.
    pub reduce: Reduce,
}

/// A configuration of a scenario, run `--runs` times per broker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Case {
    /// 1 → 1 throughput.
    S1,
    /// 1 → N fan-out throughput.
    S2(usize),
    /// Latency at a fixed rate.
    S3,
    /// Idle connections: memory, and one publication to all.
    S4,
    /// Large-message throughput.
    S5,
    /// S1 over WebSocket.
    S6,
    /// S2 1 → 16 with `--patterns` pattern subscriptions live (ducq).
    S7,
}

/// A table cell.
#[derive(Debug, Clone)]
pub enum Cell {
    /// A measured value.
    Value(f64),
    /// The case failed for this broker (details listed under the table).
    Failed,
    /// Not measurable here, with a short reason.
    NotApplicable(String),
}

/// Everything a suite produced.
#[derive(Debug)]
pub struct Results {
    /// The rows, in table order, with one cell per selected broker.
    pub rows: Vec<(Row, Vec<Cell>)>,
    /// Failures, one line each: broker, case, run, reason.
    pub failures: Vec<String>,
}

impl Case {
    /// The cases of one scenario.
    fn of(scenario: &str) -> Vec<Case> {
        match scenario {
            "S1" => vec![Case::S1],
            "S2" => vec![Case::S2(16), Case::S2(64)],
            "S3" => vec![Case::S3],
            "S4" => vec![Case::S4],
            "S5" => vec![Case::S5],
            "S7" => vec![Case::S7],
            _ => vec![Case::S6],
        }
    }

    fn name(self) -> String {
        match self {
            Case::S2(n) => format!("S2 1→{n}"),
            c => format!("{c:?}"),
        }
    }

    fn rows(self, c: &Config) -> Vec<Row> {
        let row = |label: String, unit, higher_is_better| Row {
            label,
            unit,
            higher_is_better,
            reduce: Reduce::Median,
        };
        match self {
            // Beside each rate, the broker's own CPU time per message: on
            // two cores the bench's publisher and subscriber threads share
            // the CPUs with the broker, so the rate also depends on how
            // well the broker leaves them room, and the CPU figure is the
            // broker's cost alone.
            Case::S1 => vec![
                row(format!("S1 1→1, {} B", c.size), "msgs/s", true),
                row("S1 broker CPU per message".into(), "ns", false),
            ],
            Case::S2(n) => vec![
                row(format!("S2 1→{n}, {} B", c.size), "deliveries/s", true),
                row(format!("S2 1→{n} broker CPU per delivery"), "ns", false),
            ],
            Case::S3 => ["p50", "p99", "p99.9"]
                .iter()
                .map(|p| row(format!("S3 {p} latency at {} msgs/s", c.rate), "µs", false))
                .collect(),
            Case::S4 => vec![
                Row {
                    reduce: Reduce::Max,
                    ..row(
                        format!("S4 server RSS per idle connection ({} conns)", c.idle_conns),
                        "KiB",
                        false,
                    )
                },
                row(
                    format!("S4 one publication to {} subscribers", c.idle_conns),
                    "ms",
                    false,
                ),
            ],
            Case::S5 => vec![row(
                format!("S5 1→1, {} KiB", c.large_size / 1024),
                "MB/s",
                true,
            )],
            Case::S7 => vec![row(
                format!(
                    "S7 1→16, {} B, beside {} pattern subscriptions",
                    c.size, c.patterns
                ),
                "deliveries/s",
                true,
            )],
            Case::S6 => vec![row(
                format!("S6 1→1 over WebSocket, {} B", c.size),
                "msgs/s",
                true,
            )],
        }
    }

    /// The run for `broker`, or why there is none.
    fn spec(
        self,
        c: &Config,
        broker: Broker,
        addr: std::net::SocketAddr,
        run: usize,
    ) -> Result<Spec, String> {
        let mut endpoint = Endpoint {
            kind: broker.kind(),
            addr,
        };
        // The floor makes only S4's sends: nothing else to compare.
        if broker == Broker::Floor && self != Case::S4 {
            return Err("—".into());
        }
        if self == Case::S7 && broker != Broker::Ducq {
            return Err("—".into());
        }
        if self == Case::S6 {
            if broker != Broker::Ducq {
                return Err("—".into());
            }
            endpoint = Endpoint {
                kind: Kind::DucqWs,
                addr: c.ducq_ws.ok_or("n/a (no --ducq-ws)")?,
            };
        }
        new_wire(&endpoint, "probe").map_err(|e| format!("n/a ({e})"))?;
        let window = (c.window > 0).then_some(c.window);
        let mut spec = Spec {
            label: format!(
                "{} {} run {}/{}",
                broker.name(),
                self.name(),
                run + 1,
                c.runs
            ),
            endpoint,
            // Per broker too: ducq and its MQTT listener are one server,
            // whose stored last message of a route an MQTT subscriber gets
            // as retained.
            topic: format!(
                "bench-{}-{}-{}-{run}",
                broker.name(),
                self.name().replace([' ', '→'], ""),
                std::process::id()
            ),
            subscribers: 1,
            count: c.messages,
            size: c.size,
            rate: None,
            window,
            timing: false,
            rss_pid: None,
            cpu_pid: None,
            timeout: c.timeout,
            buf: 64 * 1024,
            patterns: 0,
        };
        match self {
            Case::S1 => spec.cpu_pid = c.pid(broker),
            Case::S6 => {}
            Case::S2(n) => {
                spec.cpu_pid = c.pid(broker);
                // The same number of deliveries for every fan-out.
                spec.subscribers = n;
                spec.count = (c.messages * 4 / n as u64).max(1);
            }
            Case::S7 => {
                spec.subscribers = 16;
                spec.count = (c.messages * 4 / 16).max(1);
                spec.patterns = c.patterns;
                // Two levels, so the patterns share its first one.
                spec.topic.push_str("/live");
            }
            Case::S3 => {
                spec.count = c.messages / 2;
                spec.rate = Some(c.rate);
                spec.timing = true;
            }
            Case::S4 => {
                spec.subscribers = c.idle_conns;
                spec.count = 10;
                // One publication at a time: the next leaves only when every
                // subscriber has the previous one.
                spec.window = Some(1);
                spec.timing = true;
                spec.rss_pid = c.pid(broker).filter(|_| broker != Broker::Floor);
                spec.buf = 4096;
            }
            Case::S5 => {
                // A burst, open loop: the broker must absorb it or push
                // back on the publisher; cutting the subscriber off fails
                // the run.
                spec.count = (c.messages / 20).max(1);
                spec.size = c.large_size;
                spec.window = None;
            }
        }
        if spec.window.is_some_and(|w| w > 1) {
            // Bound the window in bytes too, well below the output a broker
            // keeps for one subscriber before cutting it off (ducq: 8 MiB).
            spec.window = window.map(|w| w.min((WINDOW_BYTES / spec.size as u64).max(1)));
        }
        Ok(spec)
    }

    /// Whether the case measures a rate and gets an uncounted warm-up run
    /// before its first counted one. S4 does not: its memory reading wants
    /// a broker that has not grown yet (it runs first for that reason), and
    /// its publications are one at a time. S3 is paced, not a burst.
    fn warms_up(self) -> bool {
        !matches!(self, Case::S4 | Case::S3)
    }

    /// The values of this case's rows from one run (None: not available).
    fn values(self, spec: &Spec, m: &Measured) -> Vec<Option<f64>> {
        let per_s = |n: f64| n / m.elapsed_s.max(1e-9);
        let cpu_per = |n: u64| m.cpu_ns.map(|ns| ns as f64 / n.max(1) as f64);
        match self {
            Case::S1 => vec![Some(per_s(spec.count as f64)), cpu_per(spec.count)],
            Case::S6 => vec![Some(per_s(spec.count as f64))],
            Case::S2(_) => vec![Some(per_s(m.deliveries as f64)), cpu_per(m.deliveries)],
            Case::S7 => vec![Some(per_s(m.deliveries as f64))],
            Case::S3 => {
                let mut l = m.latencies_ns.clone();
                l.sort_unstable();
                [0.50, 0.99, 0.999]
                    .iter()
                    .map(|&q| Some(percentile(&l, q) / 1e3))
                    .collect()
            }
            Case::S4 => {
                let rss = m.rss_kib.map(|(before, after)| {
                    after.saturating_sub(before) as f64 / spec.subscribers as f64
                });
                let mut f = m.fanout_ns.clone();
                f.sort_unstable();
                vec![rss, Some(percentile(&f, 0.5) / 1e6)]
            }
            Case::S5 => vec![Some(per_s((spec.count * spec.size as u64) as f64) / 1e6)],
        }
    }
}

/// The value at quantile `q` of sorted samples (nearest rank).
pub fn percentile(sorted: &[u64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1] as f64
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// What the runs of one case against one broker gave so far.
struct Tally {
    /// Values per row, one per run.
    samples: Vec<Vec<f64>>,
    /// Why a row has no value, if so.
    missing: Vec<Option<String>>,
    /// A run failed: no more runs, the cells read FAIL.
    failed: bool,
    /// Not applicable to this broker: no runs at all.
    skipped: bool,
}

impl Tally {
    fn new(rows: usize) -> Tally {
        Tally {
            samples: vec![Vec::new(); rows],
            missing: vec![None; rows],
            failed: false,
            skipped: false,
        }
    }

    /// The table cells, one per row.
    fn cells(self, rows: &[Row]) -> Vec<Cell> {
        let Tally {
            samples,
            missing,
            failed,
            ..
        } = self;
        rows.iter()
            .zip(samples.into_iter().zip(missing))
            .map(|(row, (v, why))| {
                if failed {
                    Cell::Failed
                } else if let Some(why) = why {
                    Cell::NotApplicable(why)
                } else {
                    Cell::Value(match row.reduce {
                        Reduce::Median => median(v),
                        Reduce::Max => v.into_iter().fold(f64::MIN, f64::max),
                    })
                }
            })
            .collect()
    }
}

/// Runs the suite, round by round: every case against every broker once
/// per round, so that a burst of load from elsewhere on a shared machine
/// falls on all brokers alike rather than on the runs of one.
pub fn run_all(c: &Config) -> Results {
    let cases: Vec<Case> = c.scenarios.iter().flat_map(|s| Case::of(s)).collect();
    // S4 first: its memory reading is cleanest on a broker that has not yet
    // grown (and kept) buffers for the other scenarios.
    let mut order = cases.clone();
    order.sort_by_key(|k| *k != Case::S4);
    let mut tallies: Vec<Vec<Tally>> = order
        .iter()
        .map(|case| {
            let n = case.rows(c).len();
            c.brokers.iter().map(|_| Tally::new(n)).collect()
        })
        .collect();
    let mut failures = Vec::new();
    for run_no in 0..c.runs {
        for (&case, line) in order.iter().zip(tallies.iter_mut()) {
            for (&(broker, addr), tally) in c.brokers.iter().zip(line.iter_mut()) {
                run_one(c, case, (broker, addr), run_no, tally, &mut failures);
            }
        }
    }
    let ratio = websocket_ratio(c, &order, &tallies);
    let mut rows = Vec::new();
    for case in cases {
        let Some(at) = order.iter().position(|&k| k == case) else {
            continue;
        };
        let case_rows = case.rows(c);
        // cells[broker][row] → lines[row][broker]
        let cells: Vec<Vec<Cell>> = std::mem::take(&mut tallies[at])
            .into_iter()
            .map(|t| t.cells(&case_rows))
            .collect();
        for (i, row) in case_rows.into_iter().enumerate() {
            let line = cells.iter().map(|b| b[i].clone()).collect();
            rows.push((row, line));
        }
    }
    rows.extend(ratio);
    Results { rows, failures }
}

/// Run `run_no` of `case` against `broker`, added to its tally (nothing
/// when it does not apply or an earlier run failed).
fn run_one(
    c: &Config,
    case: Case,
    (broker, addr): (Broker, std::net::SocketAddr),
    run_no: usize,
    tally: &mut Tally,
    failures: &mut Vec<String>,
) {
    if tally.failed || tally.skipped {
        return;
    }
    let rows = case.rows(c);
    let spec = match case.spec(c, broker, addr, run_no) {
        Ok(s) => s,
        Err(why) => {
            tally.missing = vec![Some(why); rows.len()];
            tally.skipped = true;
            return;
        }
    };
    if run_no == 0 && case.warms_up() {
        // One uncounted run first, a quarter as long: the broker's first
        // burst pays for growing its buffers and faulting their pages in
        // (ducq: ~700 page faults and a third more CPU per message in its
        // first S1 run), which is start-up, not throughput. It still must
        // deliver everything in order.
        let mut warm = spec.clone();
        warm.count = (spec.count / 4).max(1);
        warm.label = format!("{} {} warm-up", broker.name(), case.name());
        warm.topic.push_str("-warm");
        eprintln!("{} …", warm.label);
        if let Err(e) = run::run(&warm) {
            eprintln!("FAILED {}: {e}", warm.label);
            failures.push(format!("{}: {e}", warm.label));
            tally.failed = true;
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    eprintln!("{} …", spec.label);
    match run::run(&spec) {
        Ok(m) => {
            let vals = case.values(&spec, &m);
            let acks = if m.acks > 0 {
                format!(" ({} publish acks drained)", m.acks)
            } else {
                String::new()
            };
            eprintln!("{}: {}{acks}", spec.label, describe(&rows, &vals));
            for (i, v) in vals.into_iter().enumerate() {
                match v {
                    Some(v) => tally.samples[i].push(v),
                    // The floor is no broker: no memory to show.
                    None if broker == Broker::Floor => tally.missing[i] = Some("—".into()),
                    None => tally.missing[i] = Some("n/a (no pid)".to_string()),
                }
            }
        }
        Err(e) => {
            eprintln!("FAILED {}: {e}", spec.label);
            failures.push(format!("{}: {e}", spec.label));
            tally.failed = true;
        }
    }
    // Let the broker finish closing the run's connections.
    std::thread::sleep(Duration::from_millis(if case == Case::S4 {
        1000
    } else {
        100
    }));
}

/// S6 over S1 for ducq: the median of each round's ratio (the two runs of
/// a round are seconds apart, so they share the machine's state).
fn websocket_ratio(c: &Config, order: &[Case], tallies: &[Vec<Tally>]) -> Option<(Row, Vec<Cell>)> {
    let d = c.brokers.iter().position(|&(b, _)| b == Broker::Ducq)?;
    let runs = |case: Case| -> Option<&Vec<f64>> {
        let at = order.iter().position(|&k| k == case)?;
        let t = tallies.get(at)?.get(d)?;
        (!t.failed && !t.skipped)
            .then(|| t.samples.first())
            .flatten()
    };
    let (ws, tcp) = (runs(Case::S6)?, runs(Case::S1)?);
    let ratios: Vec<f64> = ws
        .iter()
        .zip(tcp)
        .filter(|&(_, &t)| t > 0.0)
        .map(|(w, t)| w / t)
        .collect();
    if ratios.is_empty() {
        return None;
    }
    let cells = (0..c.brokers.len())
        .map(|i| {
            if i == d {
                Cell::Value(median(ratios.clone()))
            } else {
                Cell::NotApplicable("—".into())
            }
        })
        .collect();
    let row = Row {
        label: "S6 / S1: WebSocket over TCP, median of each round's ratio".into(),
        unit: "×",
        higher_is_better: true,
        reduce: Reduce::Median,
    };
    Some((row, cells))
}

fn describe(rows: &[Row], vals: &[Option<f64>]) -> String {
    rows.iter()
        .zip(vals)
        .map(|(r, v)| match v {
            Some(v) => format!("{} {}", super::report::number(*v), r.unit),
            None => "n/a".to_string(),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_and_medians() {
        let v: Vec<u64> = (1..=1000).collect();
        assert_eq!(percentile(&v, 0.5), 500.0);
        assert_eq!(percentile(&v, 0.99), 990.0);
        assert_eq!(percentile(&v, 0.999), 999.0);
        assert_eq!(percentile(&[7], 0.999), 7.0);
        assert_eq!(median(vec![3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(vec![4.0, 1.0]), 2.5);
    }
}
