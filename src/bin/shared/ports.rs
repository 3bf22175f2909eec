//! `free-ports N`, shared by the soak and benchmark tools: prints N distinct
//! free loopback TCP ports for a script to start servers on. It must not
//! bind anything but 127.0.0.1, and holds every port open until all are
//! chosen so they differ.

use std::process::ExitCode;

/// Prints `n` free loopback ports, one a line; `tool` names the program in
/// an error message.
pub fn print_free_ports(n: usize, tool: &str) -> ExitCode {
    let mut held = Vec::new();
    for _ in 0..n {
        match std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| Ok((l.local_addr()?, l))) {
            Ok((addr, l)) => {
                println!("{}", addr.port());
                held.push(l);
            }
            Err(e) => {
                eprintln!("{tool}: free-ports: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    ExitCode::SUCCESS
}
