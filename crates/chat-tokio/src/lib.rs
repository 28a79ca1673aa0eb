//! The chat's TCP and WebSocket servers on tokio.
//!
//! [`serve`] runs a set of [`Endpoint`]s (bound listeners) on a tokio runtime of its own until
//! the kernel's shutdown signal fires. The front-end only moves bytes: every chat rule, the line
//! framing and the output forms live in [`chat_kernel`]; the HTTP and WebSocket handshake logic
//! lives in `chat_web`. The async-std and smol crates have the same structure.
//!
//! # Layout
//!
//! - `lib.rs`: [`serve`]: builds the runtime, starts one accept loop per endpoint, waits for
//!   shutdown and for open connections to flush.
//! - `accept`: the accept loop of one endpoint; hands each socket to `tcp` or `ws`.
//! - `tcp`: one TCP connection: socket bytes to kernel input, outbox to socket bytes.
//! - `ws`: one connection on a WebSocket port (HTTP page or WebSocket).
//! - `gather`: `chat_web::GatherStream` for tokio's I/O traits (the socket under
//!   tokio-tungstenite).
//! - `test_support` (tests only): a kernel and an accepted socket for the unit tests.

#![warn(missing_docs)]

mod accept;
mod gather;
mod tcp;
#[cfg(test)]
mod test_support;
mod ws;

use chat_kernel::shutdown::FLUSH_DEADLINE;
use chat_kernel::{Endpoint, Kernel};

/// Serves `endpoints` on this runtime until `kernel.shutdown_signal()` fires, then lets open
/// connections flush (bounded: about 4 s) and returns.
///
/// Prints `server started on <addr>` on the kernel's console for each endpoint once it accepts.
/// Errors are those of building the runtime or adopting a listener.
///
/// The runtime is single-threaded (`current_thread`) on purpose. Every chat message goes through
/// the kernel's one lock anyway, so more worker threads add no throughput, only cross-thread
/// wake-ups (a futex call per woken writer) and a shared run queue. On one thread, the readers
/// made ready by one poll of the reactor all run before the writers they woke, so each writer
/// sends everything queued meanwhile in a single write: measured with `async-chat bench`, this
/// cut the server CPU per delivery by about a third (an early round, commit 234e189). `bind`
/// runs each runtime on a thread of its own, so the process still uses several cores.
pub fn serve(kernel: Kernel, endpoints: Vec<Endpoint>) -> std::io::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .thread_name("tokio-chat")
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        // Every connection task holds a clone of `done_tx`; when all are dropped, `recv` ends.
        let (done_tx, done_rx) = async_channel::bounded::<()>(1);
        let mut loops = Vec::with_capacity(endpoints.len());
        for endpoint in endpoints {
            endpoint.listener.set_nonblocking(true)?;
            let listener = tokio::net::TcpListener::from_std(endpoint.listener)?;
            kernel.server_started(&endpoint.name, listener.local_addr()?);
            loops.push(tokio::spawn(accept::accept_loop(
                kernel.clone(),
                endpoint.name,
                endpoint.transport,
                listener,
                done_tx.clone(),
            )));
        }
        drop(done_tx);
        for accept_loop in loops {
            // An accept loop only ends on shutdown; a panic in one is not ours to re-raise.
            let _ = accept_loop.await;
        }
        let _ = tokio::time::timeout(FLUSH_DEADLINE, done_rx.recv()).await;
        Ok(())
    })
}
