//! The chat's TCP and WebSocket servers on async-std.
//!
//! [`serve`] runs a set of [`Endpoint`]s (bound listeners) on async-std's global executor until
//! the kernel's shutdown signal fires. The front-end only moves bytes: every chat rule, the line
//! framing and the output forms live in [`chat_kernel`]; the HTTP and WebSocket handshake logic
//! lives in `chat_web`. The tokio and smol crates have the same structure.
//!
//! # Layout
//!
//! - `lib.rs`: [`serve`]: runs on the async-std executor's thread, starts one accept loop per
//!   endpoint, waits for shutdown and for open connections to flush.
//! - `accept`: the accept loop of one endpoint; hands each socket to the async-io reactor
//!   (`tcp`), then to `chat_async_io`, which serves TCP and WebSocket connections for
//!   async-std and smol alike (both run on that reactor).
//! - `tcp`: moving a socket to the async-io reactor, and spawning on async-std's executor.

#![warn(missing_docs)]

mod accept;
mod tcp;

use chat_kernel::shutdown::FLUSH_DEADLINE;
use chat_kernel::{Endpoint, Kernel};

/// Serves `endpoints` on this runtime until `kernel.shutdown_signal()` fires, then lets open
/// connections flush (bounded: about 4 s) and returns.
///
/// Prints `server started on <addr>` on the kernel's console for each endpoint once it accepts.
/// Errors are those of adopting a listener. async-std's executor is process-wide: its thread
/// count is its own (`ASYNC_STD_THREAD_COUNT`, default one per CPU). The `async-chat` binary sets
/// it to 1 unless the user did, for the reason the tokio and smol servers run on one thread:
/// every chat message goes through the kernel's one lock, so more threads add only cross-thread
/// wake-ups (measured: about 20% less server CPU per delivery with one thread).
///
/// The calling thread only waits for the serving task, with futures-lite's `block_on`, which
/// parks without touching the reactor. async-std's own `block_on` waits on the async-io
/// reactor as its executor's thread does; the calling thread, idle, then held the reactor,
/// so every socket's readiness was a wake-up of the executor's thread from another (measured:
/// *fan-out* 386-389 -> 313-356 ns of server CPU per delivery; docs/benchmark-rounds.md).
pub fn serve(kernel: Kernel, endpoints: Vec<Endpoint>) -> std::io::Result<()> {
    futures_lite::future::block_on(async_std::task::spawn(async move {
        // Every connection task holds a clone of `done_tx`; when all are dropped, `recv` ends.
        let (done_tx, done_rx) = async_channel::bounded::<()>(1);
        let mut loops = Vec::with_capacity(endpoints.len());
        for endpoint in endpoints {
            endpoint.listener.set_nonblocking(true)?;
            let listener = async_std::net::TcpListener::from(endpoint.listener);
            kernel.server_started(&endpoint.name, listener.local_addr()?);
            loops.push(async_std::task::spawn(accept::accept_loop(
                kernel.clone(),
                endpoint.name,
                endpoint.transport,
                listener,
                done_tx.clone(),
            )));
        }
        drop(done_tx);
        for accept_loop in loops {
            accept_loop.await;
        }
        let _ = async_std::future::timeout(FLUSH_DEADLINE, done_rx.recv()).await;
        Ok(())
    }))
}
