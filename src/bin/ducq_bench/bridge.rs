//! `ducq-bench bridge`: throughput and latency from a publisher at one
//! ducq broker to a subscriber at another, the two joined by bridges
//! (`scripts/bench-bridges.sh` starts them); the same address twice is the
//! baseline without a bridge. Two phases on one subscription: a burst
//! (publications with a window of unacknowledged ones, until every one
//! arrived: throughput), then publications at a fixed rate, each waiting
//! for its ACK (latency, publish to delivery). Every message must arrive,
//! in order; a loss, a duplicate or a timeout fails the run. Prints one
//! markdown table row. It only measures; it starts nothing.

use std::io::Write as _;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use ducq::client::Client;
use ducq::proto::message::{classify, Kind};
use ducq::proto::Message;

use super::durable_wire::{stamped, unstamp, STAMP};

/// Options of `ducq-bench bridge`.
pub const USAGE: &str = "\
usage: ducq-bench bridge --from ADDR --to ADDR [--label TEXT]
                         [--messages N] [--size BYTES] [--window N]
                         [--latency N] [--rate PER_S] [--timeout SECS]
                         [--out FILE] [--header]
  --from ADDR     ducq broker the publisher uses
  --to ADDR       ducq broker the subscriber uses (the same: no bridge)
  --label TEXT    first column of the row (default: bridge)
  --messages N    burst publications (default 50000)
  --size BYTES    payload size (default 128, minimum 24)
  --window N      unacknowledged publications in the burst (default 256)
  --latency N     paced publications for latency (default 5000)
  --rate PER_S    their rate (default 1000)
  --timeout SECS  limit for each phase (default 60)
  --out FILE      also append the row to FILE
  --header        print the table header first
";

/// The table header, matching [`Row::render`].
const HEADER: &str = "\
| path | burst msgs | size B | throughput msg/s | MB/s | paced msgs @ rate/s | p50 µs | p99 µs | max µs |
|---|---:|---:|---:|---:|---:|---:|---:|---:|
";

/// Longest wait for the first message to cross (bridges subscribing
/// remotely), if `--timeout` is not shorter.
const WARM_UP: Duration = Duration::from_secs(15);

struct Opts {
    from: SocketAddr,
    to: SocketAddr,
    label: String,
    messages: usize,
    size: usize,
    window: usize,
    latency: usize,
    rate: f64,
    timeout: Duration,
    out: Option<String>,
    header: bool,
}

fn parse(argv: &[String]) -> Result<Opts, String> {
    let (mut from, mut to) = (None, None);
    let mut o = Opts {
        from: ([127, 0, 0, 1], 0).into(),
        to: ([127, 0, 0, 1], 0).into(),
        label: "bridge".into(),
        messages: 50_000,
        size: 128,
        window: 256,
        latency: 5_000,
        rate: 1_000.0,
        timeout: Duration::from_secs(60),
        out: None,
        header: false,
    };
    let mut it = argv.iter();
    while let Some(a) = it.next() {
        if a == "--header" {
            o.header = true;
            continue;
        }
        if matches!(a.as_str(), "-h" | "--help") {
            return Err(USAGE.into());
        }
        let v = it.next().ok_or(format!("{a} needs a value"))?;
        let num = |s: &String| -> Result<usize, String> {
            s.parse::<usize>()
                .ok()
                .filter(|n| *n > 0)
                .ok_or(format!("{a}: '{s}' is not a positive number"))
        };
        let addr = |s: &String| -> Result<SocketAddr, String> {
            let ad: SocketAddr = s
                .parse()
                .map_err(|_| format!("{a}: '{s}' is not IP:PORT"))?;
            if !ad.ip().is_loopback() {
                return Err(format!("{a}: only loopback addresses, not {s}"));
            }
            Ok(ad)
        };
        match a.as_str() {
            "--from" => from = Some(addr(v)?),
            "--to" => to = Some(addr(v)?),
            "--label" => o.label = v.clone(),
            "--messages" => o.messages = num(v)?,
            "--size" => o.size = num(v)?.max(STAMP),
            "--window" => o.window = num(v)?,
            "--latency" => o.latency = num(v)?,
            "--rate" => o.rate = num(v)? as f64,
            "--timeout" => o.timeout = Duration::from_secs(num(v)? as u64),
            "--out" => o.out = Some(v.clone()),
            _ => return Err(format!("unknown option {a}\n{USAGE}")),
        }
    }
    o.from = from.ok_or(format!("--from is required\n{USAGE}"))?;
    o.to = to.ok_or(format!("--to is required\n{USAGE}"))?;
    Ok(o)
}

/// Runs `ducq-bench bridge ARGS`.
pub fn main(argv: &[String]) -> ExitCode {
    let o = match parse(argv) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("ducq-bench bridge: {e}");
            return ExitCode::from(2);
        }
    };
    match run(&o) {
        Ok(row) => {
            let text = format!("{}{}", if o.header { HEADER } else { "" }, row.render(&o));
            print!("{text}");
            if let Some(path) = &o.out {
                let file = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path);
                if let Err(e) = file.and_then(|mut f| f.write_all(text.as_bytes())) {
                    eprintln!("ducq-bench bridge: {path}: {e}");
                    return ExitCode::FAILURE;
                }
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("ducq-bench bridge: {}: {e}", o.label);
            ExitCode::FAILURE
        }
    }
}

/// What one run measured.
struct Row {
    /// Burst: first publication stamped → last delivery.
    burst: Duration,
    /// Paced: publish → delivery, sorted, ns.
    latencies: Vec<u64>,
}

impl Row {
    fn render(&self, o: &Opts) -> String {
        let secs = self.burst.as_secs_f64().max(1e-9);
        let rate = o.messages as f64 / secs;
        let mb = rate * o.size as f64 / 1e6;
        let pick = |q: f64| {
            let i = ((self.latencies.len() as f64 - 1.0) * q).round() as usize;
            self.latencies.get(i).copied().unwrap_or(0) as f64 / 1e3
        };
        format!(
            "| {} | {} | {} | {:.0} | {:.1} | {} @ {:.0} | {:.0} | {:.0} | {:.0} |\n",
            o.label,
            o.messages,
            o.size,
            rate,
            mb,
            o.latency,
            o.rate,
            pick(0.5),
            pick(0.99),
            pick(1.0),
        )
    }
}

fn connect(a: SocketAddr) -> Result<Client, String> {
    Client::connect(&a.to_string(), Duration::from_secs(5)).map_err(|e| format!("{a}: {e}"))
}

/// Progress the subscriber shares with the publisher.
#[derive(Default)]
struct Progress {
    warm: AtomicBool,
    /// Messages of the current phase received so far.
    got: AtomicU64,
}

fn run(o: &Opts) -> Result<Row, String> {
    let epoch = Instant::now();
    let route = format!("bench/{}/{}", o.label, std::process::id());
    let progress = Arc::new(Progress::default());
    let phases = [o.messages, o.latency];
    // The client is not `Send`: the receiving thread makes its own and
    // says when it is subscribed.
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let receiver = {
        let (progress, route, to, limit) = (
            Arc::clone(&progress),
            route.clone(),
            o.to,
            o.timeout + WARM_UP,
        );
        thread::spawn(move || {
            let subscribed = connect(to).and_then(|mut sub| {
                sub.subscribe(&format!("{route}/+"), "")
                    .map_err(|e| format!("subscribe: {e}"))?;
                sub.set_timeout(Some(limit)).map_err(|e| e.to_string())?;
                Ok(sub)
            });
            let mut sub = match subscribed {
                Ok(sub) => {
                    let _ = ready_tx.send(Ok(()));
                    sub
                }
                Err(e) => {
                    let _ = ready_tx.send(Err(e.clone()));
                    return Err(e);
                }
            };
            receive(&mut sub, &route, phases, epoch, &progress)
        })
    };
    ready_rx
        .recv()
        .map_err(|_| "the receiving thread ended".to_string())??;
    let mut publ = connect(o.from)?;
    // On an error the receiver is left to give up at its own timeout.
    let burst_start = publish(o, &mut publ, &route, epoch, &progress)?;
    let (burst_end, mut latencies) = receiver
        .join()
        .map_err(|_| "the receiving thread panicked".to_string())??;
    latencies.sort_unstable();
    Ok(Row {
        burst: Duration::from_nanos(burst_end.saturating_sub(burst_start)),
        latencies,
    })
}

/// Publishes both phases; returns the burst's first stamp (ns since
/// `epoch`).
fn publish(
    o: &Opts,
    c: &mut Client,
    route: &str,
    epoch: Instant,
    progress: &Progress,
) -> Result<u64, String> {
    // Warm-up: until one crosses, the bridges may not be subscribed yet.
    let limit = WARM_UP.min(o.timeout);
    let deadline = Instant::now() + limit;
    let warm = format!("{route}/w");
    while !progress.warm.load(Ordering::Acquire) {
        if Instant::now() > deadline {
            return Err(format!("nothing reached {} within {limit:?}", o.to));
        }
        c.publish(&warm, b"warm").map_err(|e| format!("pub: {e}"))?;
        thread::sleep(Duration::from_millis(50));
    }
    // Burst, with at most `window` unacknowledged.
    let burst = format!("{route}/t");
    let start = epoch.elapsed().as_nanos() as u64;
    let (mut sent, mut acked) = (0, 0);
    while acked < o.messages {
        while sent < o.messages && sent - acked < o.window {
            c.emit("pub", &burst, &stamped(epoch, sent, o.size))
                .map_err(|e| format!("pub: {e}"))?;
            sent += 1;
        }
        ack(c)?;
        acked += 1;
    }
    wait_for(progress, o.messages, o.timeout, "burst")?;
    // Paced, each publication acknowledged before the next.
    progress.got.store(0, Ordering::Release);
    let paced = format!("{route}/l");
    let t0 = Instant::now();
    for i in 0..o.latency {
        let due = t0 + Duration::from_secs_f64(i as f64 / o.rate);
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            thread::sleep(wait);
        }
        c.publish(&paced, &stamped(epoch, i, o.size))
            .map_err(|e| format!("pub: {e}"))?;
    }
    wait_for(progress, o.latency, o.timeout, "paced")?;
    Ok(start)
}

/// Reads one ACK (a NACK fails the run).
fn ack(c: &mut Client) -> Result<(), String> {
    let m = c.receive_reply().map_err(|e| format!("pub: {e}"))?;
    match classify(&m) {
        Kind::Ack => Ok(()),
        _ => Err(format!("pub: unexpected {:?}", String::from_utf8_lossy(&m))),
    }
}

fn wait_for(progress: &Progress, n: usize, limit: Duration, phase: &str) -> Result<(), String> {
    let deadline = Instant::now() + limit;
    loop {
        let got = progress.got.load(Ordering::Acquire);
        if got == n as u64 {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(format!("{phase}: {got} of {n} arrived within {limit:?}"));
        }
        thread::sleep(Duration::from_millis(5));
    }
}

/// The subscriber: every message of each phase in order, once. Returns the
/// burst's last arrival (ns since `epoch`) and the paced latencies.
fn receive(
    c: &mut Client,
    route: &str,
    phases: [usize; 2],
    epoch: Instant,
    progress: &Progress,
) -> Result<(u64, Vec<u64>), String> {
    let (burst, paced) = (format!("{route}/t"), format!("{route}/l"));
    let mut next = [0usize; 2];
    let mut burst_end = 0;
    let mut latencies = Vec::with_capacity(phases[1]);
    while next != phases {
        let msg = c.receive().map_err(|e| {
            format!(
                "receive: {e} after {} burst and {} paced messages",
                next[0], next[1]
            )
        })?;
        let m = Message::parse(&msg).map_err(|_| "an unparsable delivery".to_string())?;
        let phase = match m.route {
            r if r == burst.as_bytes() => 0,
            r if r == paced.as_bytes() => 1,
            _ => {
                progress.warm.store(true, Ordering::Release);
                continue;
            }
        };
        let now = epoch.elapsed().as_nanos() as u64;
        let (seq, stamp) = unstamp(m.payload).ok_or("a payload without its stamp")?;
        if seq != next[phase] {
            return Err(format!(
                "phase {phase}: message {seq} arrived, {} expected (lost or repeated)",
                next[phase]
            ));
        }
        next[phase] += 1;
        if phase == 0 {
            burst_end = now;
        } else {
            latencies.push(now.saturating_sub(stamp));
        }
        progress.got.store(next[phase] as u64, Ordering::Release);
    }
    Ok((burst_end, latencies))
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc;

    use ducq::server::bridges::config::BridgeConfig;
    use ducq::server::{Level, Reactor, Settings, StopHandle};

    use super::*;

    /// An in-process broker on 127.0.0.1:0, bridged to `bridge` if given.
    fn broker(bridge: Option<String>) -> (SocketAddr, StopHandle, thread::JoinHandle<()>) {
        let (tx, rx) = mpsc::channel();
        let thread = thread::spawn(move || {
            let settings = Settings {
                log_level: Level::Off,
                ..Settings::default()
            };
            let mut r = Reactor::new(settings).expect("reactor");
            r.accept_bridges().expect("accept bridges");
            if let Some(flag) = bridge {
                r.add_bridge(BridgeConfig::parse_flag(&flag).expect("flag"))
                    .expect("bridge");
            }
            let tcp = r.listen_tcp("127.0.0.1:0").expect("tcp");
            tx.send((tcp, r.stop_handle())).unwrap();
            r.run().expect("run");
        });
        let (tcp, stop) = rx.recv_timeout(Duration::from_secs(5)).expect("start");
        (tcp, stop, thread)
    }

    fn opts(from: SocketAddr, to: SocketAddr) -> Opts {
        let mut o = parse(&args("--from 127.0.0.1:1 --to 127.0.0.1:1")).unwrap();
        (o.from, o.to, o.messages, o.latency, o.rate) = (from, to, 3000, 200, 2000.0);
        o.timeout = Duration::from_secs(20);
        o
    }

    #[test]
    fn through_a_ducq_bridge_and_direct() {
        let (b, stop_b, tb) = broker(None);
        let (a, stop_a, ta) = broker(Some(format!("ducq={b},out=bench/#")));
        for (from, to) in [(a, b), (a, a)] {
            let o = opts(from, to);
            let row = run(&o).unwrap();
            assert_eq!(row.latencies.len(), 200);
            assert!(row.burst > Duration::ZERO);
            let text = row.render(&o);
            assert!(text.starts_with("| bridge | 3000 | 128 | "), "{text}");
            assert!(text.contains(" | 200 @ 2000 | "), "{text}");
        }
        // Nothing crosses the other way: a subscriber at A never gets what
        // is published at B (the bridge forwards A's `out` only).
        let mut o = opts(b, a);
        o.timeout = Duration::from_secs(1);
        let err = run(&o).err().unwrap();
        assert!(err.starts_with("nothing reached"), "{err}");
        for (stop, t) in [(stop_a, ta), (stop_b, tb)] {
            stop.stop();
            t.join().unwrap();
        }
    }

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn options() {
        let o = parse(&args(
            "--from 127.0.0.1:1 --to 127.0.0.1:2 --size 8 --rate 50",
        ))
        .unwrap();
        assert_eq!(o.from, "127.0.0.1:1".parse().unwrap());
        assert_eq!(o.to, "127.0.0.1:2".parse().unwrap());
        assert_eq!((o.size, o.rate, o.messages), (STAMP, 50.0, 50_000));
        assert!(parse(&args("--from 10.0.0.1:1 --to 127.0.0.1:2")).is_err());
        assert!(parse(&args("--from 127.0.0.1:1")).is_err());
        assert!(parse(&args("--from 127.0.0.1:1 --to 127.0.0.1:2 --window 0")).is_err());
        assert!(parse(&args("--from 127.0.0.1:1 --to 127.0.0.1:2 --bogus 1")).is_err());
    }
}
