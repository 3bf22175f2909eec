//! How long one group commit of the durable queue store blocks the
//! reactor: a turn's enqueues (and the acks of the turn before) written as
//! one redb transaction with one fsync, for several turn sizes. Prints a
//! table (median, p99 and worst commit time, messages per second) for
//! docs/QUEUES.md.
//!
//! `cargo bench --bench queue_commit` (set `DUCQ_BENCH_DIR` to measure on
//! another file system than the temporary directory's).

use std::path::PathBuf;
use std::time::{Duration, Instant};

use ducq::queue::{Answer, Clock, DiskStore, Durable, Limits};

const PAYLOAD: usize = 128;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn run(dir: &PathBuf, per_turn: usize, turns: usize) -> (Vec<Duration>, f64) {
    let _ = std::fs::remove_dir_all(dir);
    let store = DiskStore::open(dir).expect("open store");
    let mut d: Durable<()> = Durable::open(
        Box::new(store),
        Limits::default(),
        Clock::system(),
        Instant::now(),
    )
    .expect("recover");
    d.queues_mut()
        .consume(b"bench", 1, u32::MAX)
        .expect("consume");
    let payload = vec![b'x'; PAYLOAD];
    let mut times = Vec::with_capacity(turns);
    let mut held: Vec<u64> = Vec::new();
    let start = Instant::now();
    for _ in 0..turns {
        let now = Instant::now();
        for id in held.drain(..) {
            d.ack((), b"bench", id, 1).expect("ack");
        }
        for _ in 0..per_turn {
            d.enqueue((), b"bench", &payload, now).expect("enqueue");
        }
        let t = Instant::now();
        let turn = d.end_turn(now);
        times.push(t.elapsed());
        assert!(turn.error.is_none(), "{:?}", turn.error);
        assert!(turn
            .answers
            .iter()
            .all(|(_, a)| matches!(a, Ok(Answer::Id(_)) | Ok(Answer::Done))));
        held.extend(turn.deliveries.iter().map(|x| x.id));
    }
    let rate = (per_turn * turns) as f64 / start.elapsed().as_secs_f64();
    times.sort();
    let _ = std::fs::remove_dir_all(dir);
    (times, rate)
}

fn main() {
    // `cargo test --benches` runs this with `--test`: nothing to measure.
    if std::env::args().any(|a| a == "--test") {
        return;
    }
    let base = std::env::var_os("DUCQ_BENCH_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(std::env::temp_dir);
    let dir = base.join(format!("ducq-commit-bench-{}", std::process::id()));
    println!("group commit of a turn: N enqueues of {PAYLOAD} B + the previous turn's N acks, one transaction");
    println!("| enqueues per turn | commits | median | p99 | worst | enqueue+ack per s |");
    println!("|---:|---:|---:|---:|---:|---:|");
    for (per_turn, turns) in [(1, 1000), (10, 1000), (100, 500), (1000, 100), (5000, 40)] {
        let (times, rate) = run(&dir, per_turn, turns);
        println!(
            "| {per_turn} | {turns} | {:.2} ms | {:.2} ms | {:.2} ms | {rate:.0} |",
            percentile(&times, 0.5).as_secs_f64() * 1e3,
            percentile(&times, 0.99).as_secs_f64() * 1e3,
            times.last().copied().unwrap_or_default().as_secs_f64() * 1e3,
        );
    }
}
