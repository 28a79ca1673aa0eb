//! `chat-client`: the terminal chat client of the async-chat suite (`async-chat client`).
//!
//! A full-screen terminal UI (ratatui + crossterm) that talks to any of the suite's servers over
//! TCP (`127.0.0.1:8000`) or WebSocket (`ws://127.0.0.1:8080`). It switches its connection to the
//! JSON output form, turns every reply into a line of a coloured, scrollable log, keeps the list
//! of online users and of the rooms it is in, and sends plain protocol commands: `/msg bob hi`,
//! `/join #rust`, or plain text to the current target (everyone, a user or a room, cycled with
//! Tab). It logs in at start (`--name`/`--password` or a prompt in the input line), reconnects
//! with backoff when the server goes away and logs back in, and restores the terminal on exit.
//!
//! Everything but drawing and sockets is plain state, unit-tested without a terminal.
//!
//! # Layout
//!
//! - [`args`]: the command-line arguments ([`ClientArgs`]) and the server address ([`Endpoint`]).
//! - [`error`]: the crate's error type ([`ClientError`]).
//! - [`model`]: the screen model: log lines with their kind, users, rooms, status, target.
//! - [`event`]: a server reply (JSON object or plain text line) -> model update.
//! - [`input`]: the line editor (cursor, history) and input line -> protocol command.
//! - [`session`]: login state: what to send after connecting, and credentials to log back in.
//! - [`net`]: the connection task: TCP lines or WebSocket frames, reconnect with backoff.
//! - [`ui`]: drawing the model with ratatui.
//! - [`app`]: the event loop tying terminal keys, the connection and the model together.

#![warn(missing_docs)]

pub mod app;
pub mod args;
pub mod error;
pub mod event;
pub mod input;
pub mod model;
pub mod net;
pub mod session;
pub mod ui;

pub use args::{ClientArgs, Endpoint};
pub use error::ClientError;

/// Runs the client until the user quits: builds a tokio runtime, takes over the terminal, and
/// restores it before returning (also when an error ends the client).
pub fn run(args: ClientArgs) -> Result<(), ClientError> {
    let endpoint = Endpoint::parse(&args.addr)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(ClientError::Runtime)?;
    runtime.block_on(app::run(args, endpoint))
}
