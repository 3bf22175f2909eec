//! `ducq-soak`: the client side of `scripts/soak.sh`. Against a running
//! ducq server on loopback (its TCP and HTTP/WebSocket ports and its pid),
//! it runs many short connect/subscribe/publish/disconnect cycles, then a
//! sustained publish load to many subscribers that each check they get
//! every message in order, and reads the server's resident memory and open
//! descriptors from /proc between phases. It prints a table and exits 1
//! when a check fails.
//!
//! It is a test tool: it never starts or stops the server, never talks to
//! anything but 127.0.0.1, and keeps no state between runs.
//!
//! The phases, in order:
//! 1. `start`: the server as the script started it.
//! 2. warm-up: a smaller round of cycles and of load, then every client
//!    disconnects. Allocator arenas, the connection slab and the broker's
//!    tables grow to their working size once; later rounds reuse them.
//!    `baseline` is measured after it.
//! 3. cycles: `--cycles` connect/subscribe/publish/receive/disconnect
//!    cycles over `--threads` threads, alternating TCP and WebSocket.
//! 4. load: `--subscribers` connections (three in four TCP, one in four
//!    WebSocket; half on the exact route, half on a pattern) and one
//!    publisher sending `--rate` messages a second for `--seconds`.
//! 5. after every client has disconnected.
//!
//! Checks: every cycle and every delivery as expected; the descriptor
//! count after phases 3 and 5 equals the one at `start`; the resident
//! memory after phase 5 within 10 % of `baseline`.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::{Duration, Instant};

#[path = "ducq_soak/load.rs"]
mod load;
#[path = "shared/ports.rs"]
mod ports;

use ducq::client::Client;
use load::load;

const USAGE: &str = "\
ducq-soak: soak a running ducq server on loopback (see scripts/soak.sh)

Usage: ducq-soak --tcp ADDR --ws ADDR --pid PID [OPTIONS]
       ducq-soak free-ports N      print N free loopback ports

Options (defaults are the full soak):
  --cycles N           connect/sub/pub/disconnect cycles   [100000]
  --threads N          client threads for the cycles       [8]
  --subscribers N      subscribers during the load          [1000]
  --seconds S          length of the load                   [60]
  --rate R             publications per second              [50]
  --warmup-cycles N    cycles of the warm-up round          [10000]
  --warmup-seconds S   load seconds of the warm-up round    [10]
";

/// How long a client waits for any one reply.
const WAIT: Duration = Duration::from_secs(10);
/// Publication route of the load; subscribers use it or `soak/*`.
const LOAD_ROUTE: &str = "soak/load";
/// Bytes of padding in each load message.
const PAD: usize = 100;
/// Allowed RSS drift from the baseline, in percent.
const RSS_TOLERANCE: u64 = 10;

#[derive(Debug, Clone)]
struct Config {
    tcp: SocketAddr,
    ws: SocketAddr,
    pid: u32,
    cycles: u64,
    threads: u64,
    subscribers: usize,
    seconds: u64,
    rate: u64,
    warmup_cycles: u64,
    warmup_seconds: u64,
}

fn parse(args: &[String]) -> Result<Config, String> {
    let mut c = Config {
        tcp: SocketAddr::from(([127, 0, 0, 1], 0)),
        ws: SocketAddr::from(([127, 0, 0, 1], 0)),
        pid: 0,
        cycles: 100_000,
        threads: 8,
        subscribers: 1000,
        seconds: 60,
        rate: 50,
        warmup_cycles: 10_000,
        warmup_seconds: 10,
    };
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        let value = it.next().ok_or(format!("{flag} needs a value"))?;
        let bad = || format!("{flag}: bad value '{value}'");
        match flag.as_str() {
            "--tcp" => c.tcp = value.parse().map_err(|_| bad())?,
            "--ws" => c.ws = value.parse().map_err(|_| bad())?,
            "--pid" => c.pid = value.parse().map_err(|_| bad())?,
            "--cycles" => c.cycles = value.parse().map_err(|_| bad())?,
            "--threads" => c.threads = value.parse().map_err(|_| bad())?,
            "--subscribers" => c.subscribers = value.parse().map_err(|_| bad())?,
            "--seconds" => c.seconds = value.parse().map_err(|_| bad())?,
            "--rate" => c.rate = value.parse().map_err(|_| bad())?,
            "--warmup-cycles" => c.warmup_cycles = value.parse().map_err(|_| bad())?,
            "--warmup-seconds" => c.warmup_seconds = value.parse().map_err(|_| bad())?,
            _ => return Err(format!("unknown option '{flag}'\n{USAGE}")),
        }
    }
    if c.pid == 0 || c.tcp.port() == 0 || c.ws.port() == 0 {
        return Err(format!("--tcp, --ws and --pid are required\n{USAGE}"));
    }
    if !c.tcp.ip().is_loopback() || !c.ws.ip().is_loopback() {
        return Err("only loopback addresses are allowed".into());
    }
    c.threads = c.threads.max(1);
    c.rate = c.rate.max(1);
    Ok(c)
}

/// One measurement of the server process.
#[derive(Debug, Clone, Copy)]
struct Sample {
    rss_kib: u64,
    fds: usize,
}

fn sample(pid: u32) -> Result<Sample, String> {
    let path = format!("/proc/{pid}/status");
    let status = std::fs::read_to_string(&path).map_err(|e| format!("{path}: {e}"))?;
    let rss_kib = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .ok_or(format!("{path}: no VmRSS"))?;
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map_err(|e| format!("/proc/{pid}/fd: {e}"))?
        .count();
    Ok(Sample { rss_kib, fds })
}

/// Waits (up to 10 s) until the server holds `fds` descriptors again, then
/// a moment more, and measures.
fn settle(pid: u32, fds: usize) -> Result<Sample, String> {
    let deadline = Instant::now() + Duration::from_secs(10);
    while sample(pid)?.fds != fds && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(300));
    sample(pid)
}

/// One cycle: connect, subscribe to a route of our own, publish on it, get
/// the ACK and our own message back, disconnect.
fn cycle(c: &Config, thread: u64, i: u64) -> Result<(), String> {
    let mut client = if i % 2 == 0 {
        Client::connect(&c.tcp.to_string(), WAIT)
    } else {
        Client::connect_ws(&c.ws.to_string(), WAIT)
    }
    .map_err(|e| format!("connect: {e}"))?;
    let route = format!("soak/cycle/{thread}");
    let payload = format!("{thread}:{i}");
    match client.subscribe(&route, "") {
        Ok(None) => {}
        other => return Err(format!("sub: {other:?}")),
    }
    client
        .publish(&route, payload.as_bytes())
        .map_err(|e| format!("pub: {e}"))?;
    let got = client.receive().map_err(|e| format!("receive: {e}"))?;
    let want = format!("pub {route}\n{payload}");
    if got != want.as_bytes() {
        return Err(format!("got {:?}", String::from_utf8_lossy(&got)));
    }
    Ok(())
}

/// Runs `count` cycles over the configured threads; returns failures.
fn cycles(c: &Config, count: u64) -> Vec<String> {
    let threads: Vec<_> = (0..c.threads)
        .map(|t| {
            let c = c.clone();
            let n = count / c.threads + u64::from(t < count % c.threads);
            std::thread::spawn(move || {
                let mut errors = Vec::new();
                for i in 0..n {
                    if let Err(e) = cycle(&c, t, i) {
                        errors.push(format!("cycle {t}/{i}: {e}"));
                    }
                }
                errors
            })
        })
        .collect();
    threads
        .into_iter()
        .flat_map(|h| {
            h.join()
                .unwrap_or_else(|_| vec!["cycle thread panicked".into()])
        })
        .collect()
}

/// `free-ports N`.
fn free_ports(n: &str) -> ExitCode {
    let Ok(n) = n.parse::<usize>() else {
        eprintln!("ducq-soak: free-ports needs a count");
        return ExitCode::from(2);
    };
    ports::print_free_ports(n, "ducq-soak")
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let [cmd, n] = args.as_slice() {
        if cmd == "free-ports" {
            return free_ports(n);
        }
    }
    if args.iter().any(|a| a == "-h" || a == "--help") {
        print!("{USAGE}");
        return ExitCode::SUCCESS;
    }
    let c = match parse(&args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("ducq-soak: {e}");
            return ExitCode::from(2);
        }
    };
    match run(&c) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("ducq-soak: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(c: &Config) -> Result<bool, String> {
    let t0 = Instant::now();
    let mut rows: Vec<(String, Sample, String)> = Vec::new();
    let mut failures: Vec<String> = Vec::new();
    let start = sample(c.pid)?;
    rows.push(("start".into(), start, String::new()));
    let log = |what: &str| eprintln!("ducq-soak: [{:>5.1} s] {what}", t0.elapsed().as_secs_f64());

    log(&format!("warm-up: {} cycles", c.warmup_cycles));
    failures.extend(cycles(c, c.warmup_cycles));
    log(&format!(
        "warm-up: {} subscribers for {} s",
        c.subscribers, c.warmup_seconds
    ));
    failures.extend(load(c, c.warmup_seconds, &mut || {}).errors);
    let baseline = settle(c.pid, start.fds)?;
    rows.push(("baseline (after warm-up)".into(), baseline, String::new()));

    log(&format!("cycles: {} over {} threads", c.cycles, c.threads));
    let t = Instant::now();
    let errors = cycles(c, c.cycles);
    let note = format!(
        "{} cycles in {:.1} s, {} failed",
        c.cycles,
        t.elapsed().as_secs_f64(),
        errors.len()
    );
    failures.extend(errors);
    let after_cycles = settle(c.pid, start.fds)?;
    rows.push(("after cycles".into(), after_cycles, note));

    log(&format!(
        "load: {} subscribers, {} msg/s for {} s",
        c.subscribers, c.rate, c.seconds
    ));
    let mut peak = None;
    let r = load(c, c.seconds, &mut || peak = sample(c.pid).ok());
    let want = r.published * c.subscribers as u64;
    let note = format!(
        "{} published in {:.1} s, {} of {want} deliveries checked in order, {} errors",
        r.published,
        r.publish_secs,
        r.received,
        r.errors.len()
    );
    failures.extend(r.errors);
    if r.received != want {
        failures.push(format!("load: {} of {want} deliveries", r.received));
    }
    if let Some(p) = peak {
        rows.push(("load, subscribers connected".into(), p, note));
    }
    let end = settle(c.pid, start.fds)?;
    rows.push(("after all disconnected".into(), end, String::new()));
    log("done");

    failures.extend(checks(start, baseline, after_cycles, end));
    report(&rows, &failures, (start, baseline, end), t0);
    Ok(failures.is_empty())
}

/// The checks on the samples: descriptors back to where they started after
/// the cycles and at the end, resident memory within the tolerance of the
/// baseline.
fn checks(start: Sample, baseline: Sample, after_cycles: Sample, end: Sample) -> Vec<String> {
    let mut failures = Vec::new();
    for (what, s) in [
        ("after cycles", after_cycles),
        ("after all disconnected", end),
    ] {
        if s.fds != start.fds {
            failures.push(format!("{what}: {} fds, {} at start", s.fds, start.fds));
        }
    }
    let drift = end.rss_kib.abs_diff(baseline.rss_kib);
    if drift * 100 > baseline.rss_kib * RSS_TOLERANCE {
        failures.push(format!(
            "RSS {} KiB after all disconnected, baseline {} KiB (over {RSS_TOLERANCE} %)",
            end.rss_kib, baseline.rss_kib
        ));
    }

    failures
}

/// Prints the table of samples, the summary line and the verdict.
fn report(
    rows: &[(String, Sample, String)],
    failures: &[String],
    (start, baseline, end): (Sample, Sample, Sample),
    t0: Instant,
) {
    println!("| point | VmRSS (KiB) | fds | |");
    println!("|---|---:|---:|---|");
    for (what, s, note) in rows {
        println!("| {what} | {} | {} | {note} |", s.rss_kib, s.fds);
    }
    println!();
    println!(
        "RSS after all disconnected vs baseline: {:+.1} % (limit ±{RSS_TOLERANCE} %); fds {} vs {} at start; {:.0} s in all",
        (end.rss_kib as f64 - baseline.rss_kib as f64) * 100.0 / baseline.rss_kib as f64,
        end.fds,
        start.fds,
        t0.elapsed().as_secs_f64()
    );
    for f in failures.iter().take(20) {
        println!("FAIL: {f}");
    }
    if failures.len() > 20 {
        println!("FAIL: … and {} more", failures.len() - 20);
    }
    println!(
        "{}",
        if failures.is_empty() {
            "PASS"
        } else {
            "FAILED"
        }
    );
}
