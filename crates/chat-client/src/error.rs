//! The client's error type.

use std::io;

/// Everything that can end the client with an error.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The server address is neither `host:port` nor a `ws://` / `wss://` URL.
    #[error("invalid server address {addr:?}: {reason}")]
    InvalidAddress {
        /// The address as given.
        addr: String,
        /// Why it was rejected.
        reason: &'static str,
    },
    /// The tokio runtime could not be built.
    #[error("cannot start the async runtime: {0}")]
    Runtime(#[source] io::Error),
    /// The terminal could not be set up, drawn on, or read from.
    #[error("terminal error: {0}")]
    Terminal(#[source] io::Error),
    /// The signal handlers (SIGINT, SIGTERM, SIGHUP) could not be installed.
    #[error("cannot handle signals: {0}")]
    Signal(#[source] io::Error),
    /// The server speaks the other transport (TCP lines for a `ws://` URL, or HTTP for a TCP
    /// address); the message names the address to use instead.
    #[error("{0}")]
    WrongTransport(String),
    /// The client's stdin/stdout is not a terminal.
    #[error("the chat client needs a terminal (stdin and stdout must be a tty)")]
    NotATerminal,
}
