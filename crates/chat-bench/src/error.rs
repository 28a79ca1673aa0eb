//! The error type of the bench tool.

use std::io;

/// Everything that can stop a bench run before it reports.
///
/// Clients that fail to connect or log in do not make a run fail: they are counted and shown in
/// the report. A run fails only when nothing useful can be measured.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    /// The `--target` could not be understood or resolved.
    #[error("invalid target {target:?}: {reason}")]
    Target {
        /// The target as given.
        target: String,
        /// Why it was rejected.
        reason: String,
    },
    /// The target resolves to a non-loopback address and `--allow-remote` was not given.
    #[error(
        "refusing to bench non-loopback target {0} (pass --allow-remote to load another machine)"
    )]
    RemoteTarget(String),
    /// A combination of options that cannot run.
    #[error("invalid options: {0}")]
    Config(String),
    /// The tokio runtime could not be built.
    #[error("could not build the tokio runtime: {0}")]
    Runtime(#[source] io::Error),
    /// Not a single client could connect and log in.
    #[error("no client could connect and log in: {0}")]
    NoClients(String),
    /// A server process could not be started or did not announce its port.
    #[error("could not start server {server}: {reason}")]
    Spawn {
        /// The server subcommand.
        server: String,
        /// What went wrong, with the last lines the process printed.
        reason: String,
    },
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// The chart could not be drawn.
    #[error("could not draw the chart: {0}")]
    Chart(String),
    /// Results could not be turned into JSON.
    #[error("could not encode results as JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// `bench floor` could not listen or poll.
    #[error("floor server: {0}")]
    Floor(#[source] io::Error),
    /// A load run was ended by Ctrl-C; its report (printed before) counts it until then.
    #[error("interrupted (Ctrl-C): the report above counts the run until then")]
    Interrupted,
    /// Every workload of the suite failed.
    #[error("every suite workload failed; first error: {0}")]
    SuiteFailed(String),
}
