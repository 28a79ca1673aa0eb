//! The chat's TCP and WebSocket servers on smol.
//!
//! [`serve`] runs a set of [`Endpoint`]s (bound listeners) on an [`smol::Executor`] of its own,
//! driven by one thread that also waits on the async-io reactor, until the kernel's shutdown
//! signal fires. The front-end only moves bytes: every chat rule, the line framing and the
//! output forms live in [`chat_kernel`]; the HTTP and WebSocket handshake logic lives in
//! `chat_web`. The tokio and async-std crates have the same structure.
//!
//! # Layout
//!
//! - `lib.rs`: [`serve`]: runs the executor on one thread (its tasks run by `drive`, which
//!   lets the reactor turn every 30 µs while busy), starts one accept loop per endpoint, waits
//!   for shutdown and for open connections to flush.
//! - `accept`: the accept loop of one endpoint; hands each socket to `chat_async_io`, which
//!   serves TCP and WebSocket connections for smol and async-std alike (both run on the
//!   async-io reactor).

#![warn(missing_docs)]

mod accept;

use std::sync::Arc;
use std::time::{Duration, Instant};

use chat_kernel::shutdown::FLUSH_DEADLINE;
use chat_kernel::{Endpoint, Kernel};
use futures_lite::future;
use smol::Executor;

/// Serves `endpoints` on this runtime until `kernel.shutdown_signal()` fires, then lets open
/// connections flush (bounded: about 4 s) and returns.
///
/// Prints `server started on <addr>` on the kernel's console for each endpoint once it accepts.
/// Errors are those of adopting a listener. The executor runs on the calling thread only, and
/// tasks still running when this function returns are dropped.
///
/// One thread on purpose, as on tokio: every chat message goes through the kernel's one lock, so
/// more threads add only cross-thread wake-ups; on one thread the readers made ready together
/// run before the writers they woke, and each writer sends everything queued in one write.
///
/// The thread is driven by `smol::block_on` (async-io's), not futures-lite's: when the executor
/// has nothing to run it waits for I/O itself, and when woken it takes the ready events first,
/// so a socket's readiness wakes its task from this thread. futures-lite's only parks the
/// thread, which left the reactor to async-io's helper thread, and every readiness was a
/// wake-up from another thread (measured: *all send* 192 -> 124 ns of server CPU per delivery,
/// *fan-out* 703 -> 418; docs/benchmark-rounds.md). The executor's tasks are run by `drive`,
/// not `Executor::run`, so the reactor turns often enough to stay on this thread.
pub fn serve(kernel: Kernel, endpoints: Vec<Endpoint>) -> std::io::Result<()> {
    let executor = Arc::new(Executor::new());
    let serving = executor.spawn(run(kernel, endpoints, executor.clone()));
    smol::block_on(future::or(serving, drive(&executor)))
}

/// How long the executor runs tasks, when it has them, before the reactor gets a turn: under
/// the 50 µs after which async-io's helper thread takes the reactor (see [`drive`]).
const TURN_INTERVAL: Duration = Duration::from_micros(30);

/// Runs the executor's tasks on this thread, and lets the reactor turn (without waiting) at
/// least every [`TURN_INTERVAL`] while there are tasks to run; with none, waits for one, and
/// `smol::block_on` waits on the reactor meanwhile.
///
/// `Executor::run` lets the reactor turn only after 200 tasks, and under load 200 tasks (a
/// write each) take a millisecond or more. async-io's helper thread takes the reactor whenever
/// it has not turned for 50 µs after the helper's own last turn, and then this thread, out of
/// tasks, finds it taken and parks: every readiness becomes a wake-up from the helper, and
/// the helper, turning the reactor itself, keeps finding it idle that long. Runs fell into
/// that state at random: in five *all send* runs of smol_ws_chat the helper's thread woke
/// 2,676-5,367 times in three and 71-291 in two, and they cost 269-444 ns per delivery
/// (median 373); with this loop, 79-99 wake-ups in all five, 303-381 ns (median 312).
/// Turning the reactor every 30 µs keeps it on this thread, and reads new input sooner, so
/// writes carry more.
async fn drive(executor: &Executor<'static>) -> std::io::Result<()> {
    loop {
        let since = Instant::now();
        let ran_out = loop {
            if !executor.try_tick() {
                break true;
            }
            if since.elapsed() >= TURN_INTERVAL {
                break false;
            }
        };
        if ran_out {
            executor.tick().await;
        } else {
            // Woken at once, so `block_on` turns the reactor without waiting, then polls again.
            future::yield_now().await;
        }
    }
}

/// Starts the accept loops, then waits for shutdown and for the connections to end.
async fn run(
    kernel: Kernel,
    endpoints: Vec<Endpoint>,
    executor: Arc<Executor<'static>>,
) -> std::io::Result<()> {
    // Every connection task holds a clone of `done_tx`; when all are dropped, `recv` ends.
    let (done_tx, done_rx) = async_channel::bounded::<()>(1);
    let mut loops = Vec::with_capacity(endpoints.len());
    for endpoint in endpoints {
        let listener = smol::net::TcpListener::try_from(endpoint.listener)?;
        kernel.server_started(&endpoint.name, listener.local_addr()?);
        loops.push(executor.spawn(accept::accept_loop(
            kernel.clone(),
            endpoint.name,
            endpoint.transport,
            listener,
            done_tx.clone(),
            executor.clone(),
        )));
    }
    drop(done_tx);
    for accept_loop in loops {
        accept_loop.await;
    }
    future::or(
        async {
            let _ = done_rx.recv().await;
        },
        async {
            smol::Timer::after(FLUSH_DEADLINE).await;
        },
    )
    .await;
    Ok(())
}
