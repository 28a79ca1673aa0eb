//! `async-chat`: the six chat servers, `bind` groups of them on one shared kernel.
//!
//! # Layout
//!
//! - `cli`: the command line (clap); `client` and `bench` are run by their own crates.
//! - `servers`: the six servers, their default ports and the `bind` groups.
//! - `alloc`: the allocator (jemalloc), set to give the memory a burst freed back to the system.
//! - `main` (this file): binds every listener first (so a taken port fails at once, naming it),
//!   starts one kernel and store, runs each runtime's servers on a thread of its own, and on
//!   Ctrl-C / SIGTERM shuts down gracefully: clients are told, queues and the store flushed,
//!   exit 0 within 5 seconds.

mod alloc;
mod cli;
mod servers;

use std::net::{SocketAddr, TcpListener};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use chat_kernel::{Console, Endpoint, Kernel, KernelConfig, StoreError, StoreSpec};
use clap::Parser;
use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

use crate::cli::{Cli, Command, CommonArgs};
use crate::servers::{Runtime, ServerDef, port_from_base, server};

/// How long after a shutdown signal the servers get to flush before the process exits.
const SHUTDOWN_GRACE: Duration = Duration::from_millis(4500);

/// Everything that stops the binary, each reported in one line.
#[derive(Debug, thiserror::Error)]
enum AppError {
    #[error("cannot listen on {addr} for {server}: {source}")]
    Listen {
        server: &'static str,
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("--base-port {base} puts {server} past port 65535")]
    PortRange { base: u16, server: &'static str },
    #[error("cannot open store {spec}: {source}")]
    Store { spec: StoreSpec, source: StoreError },
    #[error("cannot handle signals: {0}")]
    Signals(std::io::Error),
    #[error("cannot start the {runtime:?} runtime thread: {source}")]
    Thread {
        runtime: Runtime,
        source: std::io::Error,
    },
    #[error("{runtime:?} servers failed: {source}")]
    Serve {
        runtime: Runtime,
        source: std::io::Error,
    },
    #[error("client: {0}")]
    Client(#[from] chat_client::ClientError),
    #[error("bench: {0}")]
    Bench(#[from] chat_bench::BenchError),
}

fn main() -> ExitCode {
    // async-std's executor is process-wide and sized from this variable when first used. One
    // thread serves the chat best, as for tokio and smol (see the chat-async-std crate doc);
    // a value the user set is kept.
    if std::env::var_os("ASYNC_STD_THREAD_COUNT").is_none() {
        // SAFETY: at the top of main no other thread exists yet, so nothing reads the
        // environment concurrently.
        unsafe { std::env::set_var("ASYNC_STD_THREAD_COUNT", "1") };
    }
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("async-chat: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<(), AppError> {
    let name = cli.command.server_name();
    match cli.command {
        Command::Client(args) => Ok(chat_client::run(args)?),
        Command::Bench(args) => Ok(chat_bench::run(*args)?),
        Command::Bind(args) => {
            let mut chosen = Vec::new();
            for def in args.group.servers() {
                let port = match args.base_port {
                    None => def.port,
                    Some(base) => port_from_base(&def, base).ok_or(AppError::PortRange {
                        base,
                        server: def.name,
                    })?,
                };
                chosen.push((def, port));
            }
            serve(chosen, &args.common)
        }
        Command::TokioChat(args)
        | Command::AsyncStdChat(args)
        | Command::SmolChat(args)
        | Command::TokioWsChat(args)
        | Command::AsyncStdWsChat(args)
        | Command::SmolWsChat(args) => {
            // Every server subcommand has a name in the table.
            let Some(def) = name.and_then(server) else {
                return Ok(());
            };
            let port = args.port.unwrap_or(def.port);
            serve(vec![(def, port)], &args.common)
        }
    }
}

/// What the main thread waits for.
enum Event {
    /// Ctrl-C or SIGTERM.
    Signal,
    /// A runtime's servers returned.
    Stopped(Runtime, std::io::Result<()>),
}

/// Runs `servers` on one kernel until a signal, then shuts down gracefully.
fn serve(servers: Vec<(ServerDef, u16)>, common: &CommonArgs) -> Result<(), AppError> {
    let mut endpoints = Vec::new();
    for (def, port) in servers {
        let addr = SocketAddr::new(common.host, port);
        let listener = TcpListener::bind(addr).map_err(|source| AppError::Listen {
            server: def.name,
            addr,
            source,
        })?;
        let endpoint = Endpoint {
            name: Arc::from(def.name),
            transport: def.transport,
            listener,
        };
        endpoints.push((def.runtime, endpoint));
    }
    let store = common.store.open().map_err(|source| AppError::Store {
        spec: common.store.clone(),
        source,
    })?;
    let config = KernelConfig {
        limits: common.limits(),
        no_color: common.no_color,
    };
    let kernel =
        Kernel::new(config, store, Console::stdout(!common.no_color)).map_err(|source| {
            AppError::Store {
                spec: common.store.clone(),
                source,
            }
        })?;

    let (tx, rx) = mpsc::channel();
    let mut signals = Signals::new([SIGINT, SIGTERM]).map_err(AppError::Signals)?;
    let signal_tx = tx.clone();
    std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            for _ in signals.forever() {
                if signal_tx.send(Event::Signal).is_err() {
                    break;
                }
            }
        })
        .map_err(AppError::Signals)?;

    let mut running = 0;
    for runtime in [Runtime::Tokio, Runtime::AsyncStd, Runtime::Smol] {
        let (mine, rest): (Vec<_>, Vec<_>) =
            endpoints.into_iter().partition(|(r, _)| *r == runtime);
        endpoints = rest;
        let mine: Vec<Endpoint> = mine.into_iter().map(|(_, e)| e).collect();
        if mine.is_empty() {
            continue;
        }
        let kernel = kernel.clone();
        let tx = tx.clone();
        std::thread::Builder::new()
            .name(format!("{runtime:?}").to_lowercase())
            .spawn(move || {
                let result = match runtime {
                    Runtime::Tokio => chat_tokio::serve(kernel, mine),
                    Runtime::AsyncStd => chat_async_std::serve(kernel, mine),
                    Runtime::Smol => chat_smol::serve(kernel, mine),
                };
                let _ = tx.send(Event::Stopped(runtime, result));
            })
            .map_err(|source| AppError::Thread { runtime, source })?;
        running += 1;
    }
    drop(tx);

    let mut failure = None;
    let mut note = |runtime, result: std::io::Result<()>| {
        if let Err(source) = result {
            failure.get_or_insert(AppError::Serve { runtime, source });
        }
    };
    // Run until a signal, or until a runtime stops by itself (which only an error makes it do).
    if let Ok(Event::Stopped(runtime, result)) = rx.recv() {
        running -= 1;
        note(runtime, result);
    }
    kernel.shutdown();
    let deadline = Instant::now() + SHUTDOWN_GRACE;
    while running > 0 {
        match rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            Ok(Event::Stopped(runtime, result)) => {
                running -= 1;
                note(runtime, result);
            }
            // A second Ctrl-C, or the grace period is over: leave now.
            Ok(Event::Signal) | Err(_) => break,
        }
    }
    kernel.finish();
    failure.map_or(Ok(()), Err)
}
