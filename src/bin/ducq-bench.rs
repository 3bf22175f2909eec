//! `ducq-bench`: compares ducq with mosquitto, nats-server and redis-server
//! on loopback (see docs/BENCHMARKS.md). Entry point only; the tool lives in
//! the `ducq_bench` module tree beside this file. It must never target
//! anything but 127.0.0.1.

mod ducq_bench;

fn main() -> std::process::ExitCode {
    ducq_bench::main()
}
