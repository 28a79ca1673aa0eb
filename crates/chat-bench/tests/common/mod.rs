//! What the load generator's end-to-end tests share: the run configuration they start from,
//! and a fake IRC server (`irc`).

// Each test binary uses its own part of this module.
#![allow(dead_code)]

pub mod irc;

use std::time::Duration;

use chat_bench::load::LoadConfig;
use chat_bench::protocol::Protocol;
use chat_bench::target::Target;

/// A run against `spec` (an in-process fake server): `senders` of `clients` send `messages`
/// each, as fast as a window of 1 allows, 64-byte payloads, within 30 s; the server's CPU is
/// this process's.
pub fn load_config(
    spec: &str,
    protocol: Protocol,
    clients: usize,
    senders: usize,
    messages: u32,
) -> LoadConfig {
    LoadConfig {
        target: Target::parse(spec).expect("a target"),
        clients,
        senders,
        messages,
        rate: 0.0,
        window: 1,
        payload_size: 64,
        timeout: Duration::from_secs(30),
        stall: None,
        // The fake server runs in this process.
        server_pid: Some(std::process::id()),
        allow_remote: false,
        name_prefix: "bench".into(),
        connect_concurrency: 8,
        protocol,
        stop_on_interrupt: false,
    }
}
