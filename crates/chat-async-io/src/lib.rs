//! The TCP connection of the smol and async-std front-ends.
//!
//! Both runtimes run on the async-io reactor, so one socket type
//! (`async_io::Async<std::net::TcpStream>`), one timer (`async_io::Timer`) and this one file
//! serve both. What differs between them is how each accepts and spawns (in their own crates).
//!
//! # Layout
//!
//! - `tcp`: one TCP connection: socket bytes to kernel input, the outbox to socket bytes
//!   ([`spawn_connection`], on the executor a front-end lends through [`Spawn`]).

#![warn(missing_docs)]

mod tcp;

pub use tcp::{Spawn, spawn_connection};
