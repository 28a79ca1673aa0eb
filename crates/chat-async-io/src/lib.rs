//! The TCP and WebSocket connections of the smol and async-std front-ends.
//!
//! Both runtimes run on the async-io reactor, so one socket type
//! (`async_io::Async<std::net::TcpStream>`), one timer (`async_io::Timer`) and these files
//! serve both. What differs between them is how each accepts and spawns (in their own crates).
//!
//! # Layout
//!
//! - `tcp`: one TCP connection: socket bytes to kernel input, the outbox to socket bytes
//!   ([`spawn_connection`], on the executor a front-end lends through [`Spawn`]); and the wait
//!   of a writer woken from idle for the reactor's next turn, which the WebSocket writer
//!   shares.
//! - `ws`: one connection on a WebSocket port: the request head, then the page or the
//!   WebSocket session ([`serve_websocket_connection`]), whose writer waits for the reactor's
//!   turn as the TCP writer does.

#![warn(missing_docs)]

mod tcp;
mod ws;

pub use tcp::{Spawn, spawn_connection};
pub use ws::serve_websocket_connection;
