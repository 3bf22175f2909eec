//! `ducq`: the command-line client, in the spirit of mosquitto_pub and
//! mosquitto_sub. This file is the dispatch from a command to its module
//! in `ducq_cli` and the exit codes; the protocol lives in the library's
//! blocking client.

mod ducq_cli;

use std::io::{IsTerminal, Write};
use std::process::ExitCode;

use ducq::client::Error;
use ducq::lua::client::{run_script, ScriptError, ScriptOptions};
use ducq::proto::message::nack_text;
use ducq_cli::args::{parse, take_options, Cli, Ui};
use ducq_cli::completions;
use ducq_cli::connect::Conn;
use ducq_cli::output::{error_prefix, Printer, When};
use ducq_cli::publish::publish;
use ducq_cli::send::{chan, listing, send};
use ducq_cli::sub::sub;

/// Why a command failed; each kind has its own exit code.
enum Failure {
    Usage(String),
    Nack(String),
    NoReply(String),
    Other(String),
    /// A served request failed.
    Service(String),
    /// A Lua client script failed.
    Script(ScriptError),
}

impl From<Error> for Failure {
    fn from(e: Error) -> Failure {
        match e {
            Error::Nack { state, text } => {
                Failure::Nack(format!("NACK {}: {}", state.code(), text))
            }
            Error::Timeout => Failure::NoReply("no reply within the timeout".into()),
            other => Failure::Other(other.to_string()),
        }
    }
}

/// A NACK received outside a client call, worded as the client's own.
fn nack(state: ducq::State, msg: &[u8]) -> Failure {
    Failure::from(Error::Nack {
        state,
        text: nack_text(msg),
    })
}

fn usage(text: impl Into<String>) -> Failure {
    Failure::Usage(text.into())
}

fn stdout_error(e: std::io::Error) -> Failure {
    Failure::Other(format!("stdout: {e}"))
}

fn run(cli: Cli) -> Result<(), Failure> {
    let Cli {
        conn,
        ui,
        command,
        args,
        literal,
    } = cli;
    let command = command.ok_or_else(|| usage("no command given"))?;
    if ui.json
        && !matches!(
            command.as_str(),
            "lscmd" | "lsconn" | "sub" | "queues" | "deq"
        )
    {
        return Err(usage(format!(
            "--json applies to lscmd, lsconn, sub, queues and deq, not {command}"
        )));
    }
    let printer = Printer {
        json: ui.json,
        verbose: false,
        colour: ui.colour.colour(std::io::stdout().is_terminal()),
    };
    match command.as_str() {
        "pub" => publish(&conn, &ui, args, literal),
        "sub" => sub(&conn, &ui, printer, args, literal),
        "lscmd" | "lsconn" => listing(&conn, &printer, &command, args, literal),
        "send" => {
            let mut no_reply = false;
            let args = take_options("send", args, literal, |a, _| {
                Ok(a == "--no-reply" && {
                    no_reply = true;
                    true
                })
            })?;
            send(&conn, &args, no_reply)
        }
        "chan" => chan(&conn, args, literal),
        "lua" => {
            let mut args = args;
            args.extend(literal);
            let Some((script, rest)) = args.split_first() else {
                return Err(usage("usage: ducq lua SCRIPT [ARGS]"));
            };
            let options = ScriptOptions {
                host: conn.host.clone(),
                port: conn.port,
                ws: conn.ws,
                timeout: conn.timeout,
            };
            run_script(script.as_ref(), rest, &options).map_err(Failure::Script)
        }
        "completions" => {
            let args = take_options("completions", args, literal, |_, _| Ok(false))?;
            let [shell] = &args[..] else {
                return Err(usage("usage: ducq completions bash|zsh|fish"));
            };
            let script = completions::script(shell).ok_or_else(|| {
                usage(format!(
                    "completions: unknown shell '{shell}' (bash, zsh or fish)"
                ))
            })?;
            std::io::stdout()
                .write_all(script.as_bytes())
                .map_err(stdout_error)
        }
        "queues" => ducq_cli::queue::queues(&conn, &args, &ui),
        "enq" => ducq_cli::queue::enq(&conn, &args),
        "deq" => ducq_cli::queue::deq(&conn, &args, &ui),
        "serve" => ducq_cli::queue::serve(&conn, &args, &literal),
        "req" => ducq_cli::queue::req(&conn, &args, conn.timeout),
        other => Err(usage(format!("unknown command '{other}'"))),
    }
}

fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    // The error prefix follows --color too, when it could be read.
    let when = argv
        .iter()
        .position(|a| a == "--color" || a == "--colour")
        .and_then(|i| argv.get(i + 1)?.parse().ok())
        .or_else(|| {
            argv.iter()
                .any(|a| a == "--no-color")
                .then_some(When::Never)
        })
        .unwrap_or(When::Auto);
    let prefix = error_prefix(when.colour(std::io::stderr().is_terminal()));
    let result = match parse(argv) {
        Ok(Some(cli)) => run(cli),
        Ok(None) => Ok(()),
        Err(e) => Err(e),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Usage(e)) => {
            eprintln!("{prefix}{e}\nTry 'ducq --help'.");
            ExitCode::from(64)
        }
        Err(Failure::Nack(e)) => {
            eprintln!("{prefix}{e}");
            ExitCode::from(2)
        }
        Err(Failure::NoReply(e)) => {
            eprintln!("{prefix}{e}");
            ExitCode::from(3)
        }
        Err(Failure::Service(e)) => {
            eprintln!("{prefix}{e}");
            ExitCode::from(4)
        }
        Err(Failure::Other(e)) => {
            eprintln!("{prefix}{e}");
            ExitCode::from(1)
        }
        Err(Failure::Script(e)) => {
            eprintln!("{prefix}{e}");
            ExitCode::from(e.exit_code())
        }
    }
}
