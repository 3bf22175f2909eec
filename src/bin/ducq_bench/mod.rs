//! `ducq-bench`'s implementation: a load generator that measures ducq
//! against mosquitto, nats-server and redis-server on loopback with
//! hand-encoded clients, verifying every delivery. Kept beside the binary
//! rather than in the library: it is a tool, not part of ducq's API, and
//! must never be linked into a broker.
//!
//! # Layout
//! - `args`: command line. `suite`: scenarios → runs → table cells.
//! - `run`: one run (subscriber loop); `publisher`: the publishing thread.
//! - `conn`: one non-blocking connection; `wire/`: the four protocols.
//! - `payload`: sequence + timestamp payload and the order check.
//! - `ballast`: S7's pattern subscriptions held during a run.
//! - `report`: markdown output; `sys`: RLIMIT_NOFILE and VmRSS.

mod args;
mod ballast;
mod bridge;
mod conn;
mod durable;
mod durable_nats;
mod durable_redis;
mod durable_wire;
#[cfg(test)]
mod e2e_tests;
mod payload;
#[path = "../shared/ports.rs"]
mod ports;
mod publisher;
mod report;
mod run;
mod suite;
mod sys;
mod wire;

use std::process::ExitCode;

/// File descriptors wanted: S4's connections plus headroom.
const NOFILE_HEADROOM: u64 = 256;

/// Runs the command line; exit status 1 when any scenario failed, 2 on a
/// usage error.
pub fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    if argv.first().is_some_and(|a| a == "durable") {
        return durable::main(argv.get(1..).unwrap_or_default());
    }
    if argv.first().is_some_and(|a| a == "bridge") {
        return bridge::main(argv.get(1..).unwrap_or_default());
    }
    let config = match args::parse(&argv) {
        Ok(args::Command::Run(c)) => c,
        Ok(args::Command::Help) => {
            print!("{}", args::USAGE);
            return ExitCode::SUCCESS;
        }
        Ok(args::Command::FreePorts(n)) => return ports::print_free_ports(n, "ducq-bench"),
        Err(e) => {
            eprintln!("ducq-bench: {e}");
            return ExitCode::from(2);
        }
    };
    if config.scenarios.contains(&"S4") {
        let want = config.idle_conns as u64 + NOFILE_HEADROOM;
        match sys::raise_nofile(want) {
            Ok(got) if got < want => eprintln!(
                "ducq-bench: warning: only {got} file descriptors allowed, S4 wants {want}"
            ),
            Ok(_) => {}
            Err(e) => eprintln!("ducq-bench: warning: {e}"),
        }
    }
    let results = suite::run_all(&config);
    let text = report::render(&config, &results);
    print!("{text}");
    if let Some(path) = &config.out {
        if let Err(e) = std::fs::write(path, &text) {
            eprintln!("ducq-bench: writing {}: {e}", path.display());
            return ExitCode::FAILURE;
        }
    }
    if results.failures.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
