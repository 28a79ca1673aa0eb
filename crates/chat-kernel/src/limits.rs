//! The limits of PROTOCOL.md section 6, in one value the CLI fills and every front-end reads.

use std::time::Duration;

/// Per-connection flood limit: a token bucket of `burst` commands refilled at `rate` a second.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FloodLimit {
    /// Commands a connection may send at once before the rate applies.
    pub burst: u32,
    /// Commands per second sustained.
    pub rate: f64,
}

impl Default for FloodLimit {
    fn default() -> Self {
        FloodLimit {
            burst: 20,
            rate: 10.0,
        }
    }
}

/// Every limit of the chat. One value is shared by all servers of a process.
#[derive(Debug, Clone, PartialEq)]
pub struct Limits {
    /// Longest accepted line in bytes (`--max-line`).
    pub max_line: usize,
    /// Largest WebSocket message in bytes (`--max-ws-message`).
    pub max_ws_message: usize,
    /// Bytes of pending output a connection may have before it is dropped (`--send-queue`).
    pub send_queue: usize,
    /// The flood limit, or `None` when turned off (`--no-flood-limit`).
    pub flood: Option<FloodLimit>,
    /// Connections per process, all servers together (`--max-connections`).
    pub max_connections: usize,
    /// A WebSocket client silent this long is pinged, and closed if silent as long again.
    pub ws_idle: Duration,
    /// Failed password attempts allowed per name and client address in [`Limits::password_window`].
    pub password_failures: u32,
    /// The window of the failed-password limit.
    pub password_window: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_line: 4096,
            max_ws_message: 64 * 1024,
            send_queue: 1024 * 1024,
            flood: Some(FloodLimit::default()),
            max_connections: 10_000,
            ws_idle: Duration::from_secs(30),
            password_failures: 5,
            password_window: Duration::from_secs(60),
        }
    }
}
