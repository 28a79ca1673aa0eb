//! A server to start: a name, a transport and a bound listener.
//!
//! The kernel itself never touches the listener; this type only lets the binary describe, once,
//! the servers each runtime crate is to run, so the three runtime crates share one signature:
//! `serve(kernel, endpoints)`.

use std::sync::Arc;

use crate::kernel::Transport;

/// One server: e.g. `tokio_chat`, TCP, listening on 127.0.0.1:8000.
#[derive(Debug)]
pub struct Endpoint {
    /// The server's name (`tokio_chat`, `smol_ws_chat`, ...): console prefix and greeting.
    pub name: Arc<str>,
    /// TCP lines or HTTP + WebSocket.
    pub transport: Transport,
    /// The bound listening socket (bound by the binary, so a taken port fails before any
    /// runtime starts).
    pub listener: std::net::TcpListener,
}
