//! `async-chat bench`: a load generator for the chat servers, and `bench suite`, the runtime
//! comparison.
//!
//! A run connects N clients over TCP or WebSocket, logs them in, lets S of them send M
//! `msgall` messages each (at a rate, or as fast as a per-sender window of in-flight messages
//! allows), and has every client count deliveries and their latency. With `--server-pid` it
//! reads the server's CPU time and memory from `/proc`. `--idle K` holds K connections and
//! reports the server's memory per connection. `bench suite` starts each server itself, runs
//! the same workloads against each, prints a table, writes `bench-results.json` and draws
//! `readme_img/bench.svg`.
//!
//! Deliveries: `msgall` goes to every logged-in user, the sender included, so a run expects
//! `sent x clients connected` deliveries; everything not received by the end is lost.
//!
//! `--protocol irc` loads an IRC server (InspIRCd, for the comparison the project's targets
//! quote) with the same clients: they join `#bench` and send `PRIVMSG`; an IRC server does not
//! send a sender its own message, so a run expects `sent x (clients connected - 1)`.
//!
//! # Layout
//!
//! - [`args`]: command-line options (`BenchArgs`, `LoadArgs`, `SuiteArgs`).
//! - [`error`]: the error type, `BenchError`.
//! - [`target`]: parsing `--target`, the loopback check.
//! - [`payload`]: what a message carries (run, sender, sequence, send time) and its padding.
//! - [`line`](mod@line): classifying the server's reply lines.
//! - [`protocol`]: ours or IRC: the send command, the line end, reading a delivery.
//! - [`irc`]: the little of IRC the bench speaks (registration, join, channel messages).
//! - [`conn`]: one connection, TCP or WebSocket: read lines, write commands.
//! - [`ws`]: the WebSocket client: handshake, frames read and written straight from the socket.
//! - [`shared`]: run-wide state: phase, windows, acknowledgements, counters, histograms.
//! - [`client`]: what one client does (log in; send and receive; or idle).
//! - [`load`]: a load run, start to report.
//! - [`idle`]: an idle run (memory per connection).
//! - [`report`]: report structures and their text form.
//! - [`sys`]: file-descriptor limit, own CPU time, a server's CPU and RSS from `/proc`.
//! - [`server`]: starting a server as a child process and finding its port.
//! - [`suite`]: `bench suite`: every server, every workload, the table and `bench-results.json`.
//! - [`targets`]: the project's performance targets checked against a suite's results.
//! - [`chart`]: the SVG comparison chart.
//! - [`floor`]: `bench floor`, the least a chat server can do: what the writes alone cost.

#![warn(missing_docs)]

pub mod args;
pub mod chart;
pub mod client;
pub mod conn;
pub mod error;
pub mod floor;
pub mod idle;
pub mod irc;
pub mod line;
pub mod load;
pub mod payload;
pub mod protocol;
pub mod report;
pub mod server;
pub mod shared;
pub mod suite;
pub mod sys;
pub mod target;
pub mod targets;
pub mod ws;

pub use args::{BenchArgs, BenchCommand, LoadArgs, SuiteArgs};
pub use error::BenchError;

use idle::IdleConfig;
use load::LoadConfig;

/// Runs `async-chat bench` (a single run, or `suite`) on its own multi-threaded tokio runtime;
/// `bench floor` needs none, so it gets none (its process is the one being measured).
///
/// Prints the report on stdout (one JSON line with `--json`).
pub fn run(args: BenchArgs) -> Result<(), BenchError> {
    let runtime = || {
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .map_err(BenchError::Runtime)
    };
    match args.command {
        Some(BenchCommand::Floor(floor_args)) => {
            floor::run_floor(&floor_args).map_err(BenchError::Floor)
        }
        Some(BenchCommand::Suite(suite_args)) => suite::run_suite(&runtime()?, &suite_args),
        None => {
            let rt = runtime()?;
            let a = args.load;
            if let Some(k) = a.idle {
                let cfg = IdleConfig::from_args(&a, k)?;
                let report = rt.block_on(async {
                    let (report, held) = idle::run_idle(&cfg).await?;
                    held.release().await;
                    Ok::<_, BenchError>(report)
                })?;
                print(&report, a.json)
            } else {
                let cfg = LoadConfig::from_args(&a)?;
                let report = rt.block_on(load::run_load(&cfg))?;
                print(&report, a.json)?;
                // A script that runs the tool should stop when its user pressed Ctrl-C.
                if report.interrupted {
                    return Err(BenchError::Interrupted);
                }
                Ok(())
            }
        }
    }
}

fn print<R: serde::Serialize + std::fmt::Display>(
    report: &R,
    json: bool,
) -> Result<(), BenchError> {
    if json {
        println!("{}", serde_json::to_string(report)?);
    } else {
        println!("{report}");
    }
    Ok(())
}
