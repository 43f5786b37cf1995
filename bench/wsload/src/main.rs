//! `tickcast-wsload`: the websocket load generator of bench/api.ts. N raw
//! RFC 6455 clients on one thread and one epoll instance; reports the
//! arrival time (CLOCK_MONOTONIC, the clock of Node's `process.hrtime`) of
//! every prediction frame. Run with `--help` for the options and the
//! stdin/stdout control protocol. Same behaviour as bench/_ws-load.ts (the
//! Node clients), at a fraction of the CPU per delivery.

mod base64;
mod cli;
mod client;
mod control;
mod event_loop;
mod frame;
mod handshake;
mod message;
mod rng;
mod sha1;
mod sys;

use std::process::ExitCode;

fn main() -> ExitCode {
    match cli::parse(std::env::args().skip(1)) {
        Ok(cli::Cli::Help) => {
            print!("{}", cli::HELP);
            ExitCode::SUCCESS
        }
        Ok(cli::Cli::Run(opts)) => match event_loop::run(&opts) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("tickcast-wsload: {e}");
                ExitCode::FAILURE
            }
        },
        Err(e) => {
            eprintln!("tickcast-wsload: {e}");
            ExitCode::from(2)
        }
    }
}
