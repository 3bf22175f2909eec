//! `ducq-bench durable`: durable queues and request/reply beside NATS
//! (JetStream, file storage; core request/reply) and Redis Streams
//! (XADD / XREADGROUP / XACK, AOF with `appendfsync everysec` and
//! `always`), in one run, on loopback. Hand-encoded blocking clients, one
//! producer thread and one consumer per broker; every message is checked
//! to arrive. Prints a markdown table. The wire details are in
//! `durable_wire`; this file runs and measures.

use std::io::Write as _;
use std::net::SocketAddr;
use std::thread;
use std::time::{Duration, Instant};

use super::durable_nats::{JetStream, NatsRpc};
use super::durable_redis::RedisStream;
use super::durable_wire as w;

/// Options of `ducq-bench durable`.
pub const USAGE: &str = "\
usage: ducq-bench durable [--ducq ADDR] [--nats ADDR] [--redis ADDR]
                          [--messages N] [--size BYTES] [--window N]
                          [--rpc N] [--out FILE]
  --ducq ADDR     ducq-server with a --data-dir (durable queues)
  --nats ADDR     nats-server started with -js and file storage
  --redis ADDR    redis-server (the bench switches AOF on, everysec then always)
  --messages N    messages per queue run (default 50000)
  --size BYTES    payload size (default 128, minimum 24)
  --window N      enqueues in flight and consumer prefetch (default 256)
  --rpc N         request/reply round trips (default 50000)
  --out FILE      also write the table to FILE
";

struct Opts {
    ducq: Option<SocketAddr>,
    nats: Option<SocketAddr>,
    redis: Option<SocketAddr>,
    messages: usize,
    size: usize,
    window: usize,
    rpc: usize,
    out: Option<String>,
}

fn parse(argv: &[String]) -> Result<Opts, String> {
    let mut o = Opts {
        ducq: None,
        nats: None,
        redis: None,
        messages: 50_000,
        size: 128,
        window: 256,
        rpc: 50_000,
        out: None,
    };
    let mut it = argv.iter();
    while let Some(a) = it.next() {
        let mut v = || it.next().ok_or(format!("{a} needs a value"));
        let addr = |s: &String| -> Result<SocketAddr, String> {
            let a: SocketAddr = s.parse().map_err(|_| format!("'{s}' is not ADDR:PORT"))?;
            if !a.ip().is_loopback() {
                return Err(format!("{a}: only loopback addresses"));
            }
            Ok(a)
        };
        let num = |s: &String| {
            s.parse::<usize>()
                .map_err(|_| format!("'{s}' is not a number"))
        };
        match a.as_str() {
            "--ducq" => o.ducq = Some(addr(v()?)?),
            "--nats" => o.nats = Some(addr(v()?)?),
            "--redis" => o.redis = Some(addr(v()?)?),
            "--messages" => o.messages = num(v()?)?.max(1),
            "--size" => o.size = num(v()?)?.max(w::STAMP),
            "--window" => o.window = num(v()?)?.clamp(1, 10_000),
            "--rpc" => o.rpc = num(v()?)?.max(1),
            "--out" => o.out = Some(v()?.clone()),
            "-h" | "--help" => return Err(USAGE.into()),
            other => return Err(format!("unknown option '{other}'\n{USAGE}")),
        }
    }
    Ok(o)
}

/// One measured run.
struct Measured {
    per_sec: f64,
    p50_us: f64,
    p99_us: f64,
}

fn percentile(sorted: &[u64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted.get(i).copied().unwrap_or(0) as f64 / 1000.0
}

fn measure(n: usize, started: Instant, mut lat_ns: Vec<u64>) -> Measured {
    lat_ns.sort_unstable();
    Measured {
        per_sec: n as f64 / started.elapsed().as_secs_f64(),
        p50_us: percentile(&lat_ns, 0.5),
        p99_us: percentile(&lat_ns, 0.99),
    }
}

/// Enqueue → consume → ack of `n` messages through `queue`: a producer
/// thread keeps `window` enqueues in flight (each answered once durable),
/// the consumer acknowledges every message it gets. Latency: enqueue sent
/// to message received.
fn queue_run(q: &dyn w::Durable, n: usize, size: usize, window: usize) -> Result<Measured, String> {
    q.setup(window)?;
    let epoch = Instant::now();
    let mut consumer = q.consumer(window)?;
    let mut producer = q.producer()?;
    let started = Instant::now();
    let prod = thread::spawn(move || -> Result<(), String> {
        let mut sent = 0;
        while sent < n {
            let batch = window.min(n - sent);
            for i in 0..batch {
                producer.enqueue(&w::stamped(epoch, sent + i, size))?;
            }
            producer.flush()?;
            for _ in 0..batch {
                producer.confirm()?;
            }
            sent += batch;
        }
        Ok(())
    });
    let mut seen = vec![false; n];
    let mut lat = Vec::with_capacity(n);
    let mut got = 0;
    while got < n {
        for payload in consumer.receive()? {
            let (seq, t) = w::unstamp(&payload).ok_or("malformed payload")?;
            let now = epoch.elapsed().as_nanos() as u64;
            if seq < n && !seen[seq] {
                seen[seq] = true;
                got += 1;
                lat.push(now.saturating_sub(t));
            }
        }
    }
    let m = measure(n, started, lat);
    consumer.close()?;
    prod.join().map_err(|_| "producer panicked".to_string())??;
    Ok(m)
}

/// `n` request/reply round trips with `window` requests in flight, one
/// serving member echoing.
fn rpc_run(r: &dyn w::Rpc, n: usize, size: usize, window: usize) -> Result<Measured, String> {
    let mut member = r.member()?;
    let serving = thread::spawn(move || member.serve());
    let mut req = r.requester()?;
    let epoch = Instant::now();
    let started = Instant::now();
    let mut lat = Vec::with_capacity(n);
    let mut done = 0;
    while done < n {
        let batch = window.min(n - done);
        for i in 0..batch {
            req.request(done + i, &w::stamped(epoch, done + i, size))?;
        }
        req.flush()?;
        for _ in 0..batch {
            let payload = req.reply()?;
            let (_, t) = w::unstamp(&payload).ok_or("malformed reply")?;
            lat.push((epoch.elapsed().as_nanos() as u64).saturating_sub(t));
        }
        done += batch;
    }
    let m = measure(n, started, lat);
    drop(req);
    drop(serving);
    Ok(m)
}

fn cell(
    r: &Result<Measured, String>,
    f: impl Fn(&Measured) -> f64,
    failures: &mut Vec<String>,
    what: &str,
) -> String {
    match r {
        Ok(m) => format!("{:.0}", f(m)),
        Err(e) => {
            failures.push(format!("{what}: {e}"));
            "failed".into()
        }
    }
}

/// Runs the command line.
pub fn main(argv: &[String]) -> std::process::ExitCode {
    let o = match parse(argv) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("{e}");
            return std::process::ExitCode::from(2);
        }
    };
    let mut queues: Vec<(String, Box<dyn w::Durable>)> = Vec::new();
    if let Some(a) = o.ducq {
        queues.push((
            "ducq (redb, commit per turn)".into(),
            Box::new(w::DucqQueue(a)),
        ));
    }
    if let Some(a) = o.nats {
        queues.push(("NATS JetStream (file)".into(), Box::new(JetStream(a))));
    }
    if let Some(a) = o.redis {
        queues.push((
            "Redis Streams, appendfsync everysec".into(),
            Box::new(RedisStream(a, "everysec")),
        ));
        queues.push((
            "Redis Streams, appendfsync always".into(),
            Box::new(RedisStream(a, "always")),
        ));
    }
    let mut rpcs: Vec<(String, Box<dyn w::Rpc>)> = Vec::new();
    if let Some(a) = o.ducq {
        rpcs.push(("ducq serve/req".into(), Box::new(w::DucqRpc(a))));
    }
    if let Some(a) = o.nats {
        rpcs.push(("NATS request/reply".into(), Box::new(NatsRpc(a))));
    }
    let mut text = format!(
        "### Durable queues: enqueue → consume → ack\n\n{} messages of {} B, {} enqueues in flight, prefetch {}.\n\n\
         | broker | msgs/s | p50 latency (µs) | p99 latency (µs) |\n|---|---:|---:|---:|\n",
        o.messages, o.size, o.window, o.window
    );
    let mut failures = Vec::new();
    for (name, q) in &queues {
        eprintln!("durable: {name}");
        let r = queue_run(q.as_ref(), o.messages, o.size, o.window);
        let row = [
            cell(&r, |m| m.per_sec, &mut failures, name),
            cell(&r, |m| m.p50_us, &mut Vec::new(), name),
            cell(&r, |m| m.p99_us, &mut Vec::new(), name),
        ];
        text += &format!("| {name} | {} | {} | {} |\n", row[0], row[1], row[2]);
    }
    text += &format!(
        "\n### Request/reply\n\n{} round trips of {} B, {} in flight, one serving member.\n\n\
         | broker | round trips/s | p50 (µs) | p99 (µs) |\n|---|---:|---:|---:|\n",
        o.rpc, o.size, o.window
    );
    for (name, r) in &rpcs {
        eprintln!("durable: {name}");
        let m = rpc_run(r.as_ref(), o.rpc, o.size, o.window);
        let row = [
            cell(&m, |m| m.per_sec, &mut failures, name),
            cell(&m, |m| m.p50_us, &mut Vec::new(), name),
            cell(&m, |m| m.p99_us, &mut Vec::new(), name),
        ];
        text += &format!("| {name} | {} | {} | {} |\n", row[0], row[1], row[2]);
    }
    for f in &failures {
        text += &format!("\nfailed: {f}\n");
    }
    print!("{text}");
    let _ = std::io::stdout().flush();
    if let Some(path) = &o.out {
        if let Err(e) = std::fs::write(path, &text) {
            eprintln!("writing {path}: {e}");
        }
    }
    if failures.is_empty() {
        std::process::ExitCode::SUCCESS
    } else {
        std::process::ExitCode::FAILURE
    }
}

/// Time for a broker to answer anything.
pub const IO_TIMEOUT: Duration = Duration::from_secs(30);
