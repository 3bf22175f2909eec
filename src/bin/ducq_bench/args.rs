//! Command-line options of `ducq-bench`, parsed by hand (a dozen flags do
//! not justify a parser crate). Validation happens here: unknown flags,
//! non-loopback addresses and impossible sizes are refused before any
//! connection is made.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use super::payload::HEADER;
use super::wire::Kind;

/// The help text.
pub const USAGE: &str = "\
ducq-bench: compare ducq with mosquitto (MQTT 3.1.1 QoS 0), nats-server and
redis-server (pub/sub) on loopback. Every run checks that every message
arrived, in order. Progress goes to stderr, a markdown table to stdout.

usage: ducq-bench [options]
       ducq-bench free-ports N     print N free loopback TCP ports

brokers (addresses must be 127.0.0.1:PORT):
  --ducq ADDR          ducq over TCP
  --ducq-ws ADDR       ducq over WebSocket (S6)
  --ducq-mqtt ADDR     ducq's MQTT listener, driven by the MQTT clients
  --mosquitto ADDR     MQTT broker (alias --mqtt)
  --nats ADDR          NATS server
  --redis ADDR         Redis server
  --floor ADDR         ducq-floor (benches/floor/floor.c): S4's floor, only
                       the sends a publication to N subscribers needs
  --pid NAME=PID       broker process, for S4's memory reading (repeatable)
  --brokers LIST       subset to run, e.g. ducq,redis (default: all with an address)

what to run:
  --scenarios LIST     subset of S1,S2,S3,S4,S5,S6,S7 (default: all)
  --runs N             runs per scenario; the table shows the median (default 3)
  --messages N         base message count (default 200000): S1 and S6 send
                       N, S2 4N/subscribers (4N deliveries), S3 N/2, S5 N/20
  --size BYTES         payload of S1, S2, S3, S6 (default 64, minimum 34)
  --large-size BYTES   payload of S5 (default 65536)
  --rate N             S3 publication rate per second (default 20000)
  --idle-conns N       S4 idle subscribers (default 10000)
  --patterns N         S7 pattern subscriptions held beside S2 1→16
                       (default 10000; ducq only)
  --window N           publisher stays at most N messages ahead of the
                       subscribers (default 10000, at most 4 MiB; 0: no limit);
                       S5 always runs open loop (no window)
  --timeout SECS       limit for each run (default 120)
  --out FILE           also write the report to FILE
";

/// A broker under test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Broker {
    /// ducq.
    Ducq,
    /// ducq's MQTT listener, over MQTT (the same clients as mosquitto).
    DucqMqtt,
    /// mosquitto, over MQTT.
    Mosquitto,
    /// nats-server.
    Nats,
    /// redis-server.
    Redis,
    /// `ducq-floor`: not a broker, the least one can do for S4 (a C
    /// program that only makes the sends), measured with the same client.
    Floor,
}

impl Broker {
    /// All brokers, in table order.
    pub const ALL: [Broker; 6] = [
        Broker::Ducq,
        Broker::DucqMqtt,
        Broker::Mosquitto,
        Broker::Nats,
        Broker::Redis,
        Broker::Floor,
    ];

    /// The name used in flags and the table.
    pub fn name(self) -> &'static str {
        match self {
            Broker::Ducq => "ducq",
            Broker::DucqMqtt => "ducq-mqtt",
            Broker::Mosquitto => "mosquitto",
            Broker::Nats => "nats",
            Broker::Redis => "redis",
            Broker::Floor => "floor",
        }
    }

    /// The protocol its main endpoint speaks.
    pub fn kind(self) -> Kind {
        match self {
            Broker::Ducq | Broker::Floor => Kind::DucqTcp,
            Broker::DucqMqtt | Broker::Mosquitto => Kind::Mqtt,
            Broker::Nats => Kind::Nats,
            Broker::Redis => Kind::Redis,
        }
    }

    fn parse(s: &str) -> Result<Broker, String> {
        match s {
            "ducq" => Ok(Broker::Ducq),
            "ducq-mqtt" => Ok(Broker::DucqMqtt),
            "mosquitto" | "mqtt" => Ok(Broker::Mosquitto),
            "nats" | "nats-server" => Ok(Broker::Nats),
            "redis" | "redis-server" => Ok(Broker::Redis),
            "floor" | "ducq-floor" => Ok(Broker::Floor),
            _ => Err(format!(
                "unknown broker {s:?} (ducq, ducq-mqtt, mosquitto, nats, redis, floor)"
            )),
        }
    }
}

/// The scenarios, in table order.
pub const SCENARIOS: [&str; 7] = ["S1", "S2", "S3", "S4", "S5", "S6", "S7"];

/// Everything a suite needs.
#[derive(Debug, Clone)]
pub struct Config {
    /// Selected brokers with their address, in table order.
    pub brokers: Vec<(Broker, SocketAddr)>,
    /// ducq's WebSocket address, if any.
    pub ducq_ws: Option<SocketAddr>,
    /// Broker process ids.
    pub pids: Vec<(Broker, u32)>,
    /// Selected scenarios.
    pub scenarios: Vec<&'static str>,
    /// Runs per scenario.
    pub runs: usize,
    /// Base message count.
    pub messages: u64,
    /// Small payload size.
    pub size: usize,
    /// Large payload size.
    pub large_size: usize,
    /// S3 rate.
    pub rate: f64,
    /// S4 connection count.
    pub idle_conns: usize,
    /// S7: pattern subscriptions held during the run.
    pub patterns: usize,
    /// In-flight window in messages; 0 = none.
    pub window: u64,
    /// Per-run limit.
    pub timeout: Duration,
    /// Report file.
    pub out: Option<PathBuf>,
}

impl Config {
    /// The pid given for `b`.
    pub fn pid(&self, b: Broker) -> Option<u32> {
        self.pids.iter().find(|(x, _)| *x == b).map(|&(_, p)| p)
    }
}

/// What the command line asks for.
pub enum Command {
    /// Print the help text.
    Help,
    /// Print free ports.
    FreePorts(usize),
    /// Run the suite.
    Run(Config),
}

fn number<T: std::str::FromStr>(flag: &str, v: &str) -> Result<T, String> {
    v.parse()
        .map_err(|_| format!("{flag}: not a number: {v:?}"))
}

fn loopback(flag: &str, v: &str) -> Result<SocketAddr, String> {
    let addr: SocketAddr = v
        .parse()
        .map_err(|_| format!("{flag}: expected 127.0.0.1:PORT, got {v:?}"))?;
    // The bench generates heavy traffic: it only ever targets this machine.
    if addr.ip() != Ipv4Addr::LOCALHOST {
        return Err(format!("{flag}: only 127.0.0.1 is allowed, got {v:?}"));
    }
    Ok(addr)
}

/// Parses the arguments (without the program name).
pub fn parse(args: &[String]) -> Result<Command, String> {
    if args.first().map(String::as_str) == Some("free-ports") {
        let n = args.get(1).ok_or("free-ports: missing N")?;
        return Ok(Command::FreePorts(number("free-ports", n)?));
    }
    let mut addrs: Vec<(Broker, SocketAddr)> = Vec::new();
    let mut selected: Option<Vec<Broker>> = None;
    let mut c = Config {
        brokers: Vec::new(),
        ducq_ws: None,
        pids: Vec::new(),
        scenarios: SCENARIOS.to_vec(),
        runs: 3,
        messages: 200_000,
        size: 64,
        large_size: 65_536,
        rate: 20_000.0,
        idle_conns: 10_000,
        patterns: 10_000,
        window: 10_000,
        timeout: Duration::from_secs(120),
        out: None,
    };
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        let flag = flag.as_str();
        if matches!(flag, "-h" | "--help") {
            return Ok(Command::Help);
        }
        let v = it
            .next()
            .ok_or_else(|| format!("{flag}: missing value (see --help)"))?;
        match flag {
            "--ducq" | "--ducq-mqtt" | "--mosquitto" | "--mqtt" | "--nats" | "--redis"
            | "--floor" => {
                let b = Broker::parse(&flag[2..])?;
                addrs.retain(|(x, _)| *x != b);
                addrs.push((b, loopback(flag, v)?));
            }
            "--ducq-ws" => c.ducq_ws = Some(loopback(flag, v)?),
            "--pid" => {
                let (name, pid) = v
                    .split_once('=')
                    .ok_or_else(|| format!("--pid: expected NAME=PID, got {v:?}"))?;
                let b = Broker::parse(name)?;
                c.pids.retain(|(x, _)| *x != b);
                c.pids.push((b, number(flag, pid)?));
            }
            "--brokers" => {
                selected = Some(
                    v.split(',')
                        .filter(|s| !s.is_empty())
                        .map(Broker::parse)
                        .collect::<Result<_, _>>()?,
                )
            }
            "--scenarios" => {
                let mut list = Vec::new();
                for s in v.split(',').filter(|s| !s.is_empty()) {
                    let s = s.to_ascii_uppercase();
                    let found = SCENARIOS
                        .iter()
                        .find(|x| **x == s)
                        .ok_or_else(|| format!("unknown scenario {s:?} (S1 … S7)"))?;
                    list.push(*found);
                }
                c.scenarios = SCENARIOS
                    .iter()
                    .copied()
                    .filter(|s| list.contains(s))
                    .collect();
            }
            "--runs" => c.runs = number(flag, v)?,
            "--messages" => c.messages = number(flag, v)?,
            "--size" => c.size = number(flag, v)?,
            "--large-size" => c.large_size = number(flag, v)?,
            "--rate" => c.rate = number(flag, v)?,
            "--idle-conns" => c.idle_conns = number(flag, v)?,
            "--patterns" => c.patterns = number(flag, v)?,
            "--window" => c.window = number(flag, v)?,
            "--timeout" => c.timeout = Duration::from_secs(number(flag, v)?),
            "--out" => c.out = Some(PathBuf::from(v)),
            _ => return Err(format!("unknown option {flag:?} (see --help)")),
        }
    }
    let wanted = selected.unwrap_or_else(|| addrs.iter().map(|&(b, _)| b).collect());
    for b in Broker::ALL.iter().filter(|b| wanted.contains(b)) {
        let addr = addrs
            .iter()
            .find(|(x, _)| x == b)
            .map(|&(_, a)| a)
            .ok_or_else(|| {
                format!(
                    "broker {} selected but --{} ADDR not given",
                    b.name(),
                    b.name()
                )
            })?;
        c.brokers.push((*b, addr));
    }
    if c.brokers.is_empty() {
        return Err("no broker to run: give at least one address (see --help)".into());
    }
    if c.size < HEADER || c.large_size < HEADER {
        return Err(format!("payload sizes must be at least {HEADER} bytes"));
    }
    if c.runs == 0 || c.messages < 40 || c.idle_conns == 0 || c.rate <= 0.0 {
        return Err(
            "--runs, --idle-conns and --rate must be positive, --messages at least 40".into(),
        );
    }
    if c.scenarios.is_empty() {
        return Err("no scenario selected".into());
    }
    Ok(Command::Run(c))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn selects_brokers_in_table_order() {
        let Ok(Command::Run(c)) = parse(&args(
            "--redis 127.0.0.1:2 --ducq 127.0.0.1:1 --scenarios s3,S1 --pid ducq=42",
        )) else {
            panic!()
        };
        let names: Vec<_> = c.brokers.iter().map(|(b, _)| b.name()).collect();
        assert_eq!(names, ["ducq", "redis"]);
        assert_eq!(c.scenarios, ["S1", "S3"]);
        assert_eq!(c.pid(Broker::Ducq), Some(42));
    }

    #[test]
    fn refuses_non_loopback_and_missing_addresses() {
        assert!(parse(&args("--ducq 10.0.0.1:5")).is_err());
        assert!(parse(&args("--ducq localhost:5")).is_err());
        assert!(parse(&args("--ducq 127.0.0.1:5 --brokers ducq,nats")).is_err());
        assert!(parse(&args("--ducq 127.0.0.1:5 --size 10")).is_err());
        assert!(parse(&args("--ducq 127.0.0.1:5 --bogus 1")).is_err());
    }
}
