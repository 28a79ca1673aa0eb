//! The chat kernel: everything the chat means, and nothing about runtimes or sockets.
//!
//! Front-ends on tokio, async-std and smol, over TCP and WebSocket, all drive one [`Kernel`]:
//! they register connections, hand it their clients' input, and drain each connection's
//! [`Outbox`] into its socket. The kernel parses commands, keeps the registry of connections,
//! users and rooms, applies every rule and limit of the protocol, and renders each reply once
//! per output form. It never awaits, never does I/O under its lock, and needs no runtime: its
//! queue and shutdown signal work under any executor.
//!
//! # Layout
//!
//! - [`framing`]: bytes to lines (TCP) and frames to lines (WebSocket); control characters.
//! - [`parser`]: a line to a [`Command`], syntax errors in protocol order; [`names`]: name rules.
//! - `registry`: connections (a slot table the rooms and the login order point into), users and
//!   rooms; `history`: recent lines kept in memory.
//! - `dispatch`: what each command does and who hears it (the chat's rules).
//! - [`kernel`]: the [`Kernel`] handle front-ends call; [`endpoint`]: a server to start.
//! - [`reply`]: what the server says; [`packer`]: a reply to bytes in one [`Format`] for one
//!   [`Transport`]; [`color`]: ANSI styles; [`console`]: the server console.
//! - [`outbox`]: a connection's byte-bounded outbound queue; [`flood`]: the flood limit;
//!   [`limits`]: every limit in one value; [`shutdown`]: the shutdown signal.
//! - [`store`]: accounts and history behind the [`Store`] trait (memory, SQLite) on a thread.
//! - [`stream`]: the runtime-free halves of a TCP front-end's reads and writes (per-thread
//!   buffers, feeding the kernel, gathering a batch into one write).
//! - [`wsframe`]: a server's WebSocket text frame, which the kernel queues ready to send.

#![warn(missing_docs)]

pub mod color;
pub mod console;
mod dispatch;
pub mod endpoint;
pub mod flood;
pub mod framing;
mod history;
pub mod kernel;
pub mod limits;
pub mod names;
pub mod outbox;
pub mod packer;
pub mod parser;
mod registry;
pub mod reply;
pub mod shutdown;
pub mod store;
pub mod stream;
pub mod wsframe;

pub use console::{Console, ConsoleEvent};
pub use dispatch::Flow;
pub use endpoint::Endpoint;
pub use framing::{Input, LineDecoder};
pub use kernel::{Connection, Kernel, KernelConfig, Refused, Transport};
pub use limits::{FloodLimit, Limits};
pub use outbox::{Closing, Outbox};
pub use packer::Format;
pub use parser::Command;
pub use registry::ConnId;
pub use reply::{ErrorKind, Reply};
pub use store::{Store, StoreError, StoreSpec};
