//! One TCP connection: socket bytes to kernel input, the outbox to socket bytes.
//!
//! The reader feeds what it reads to a [`LineDecoder`] and each line to the kernel; the writer
//! drains the connection's [`Outbox`], one write for everything queued. When the writer ends
//! (logout flushed, dropped by the server, write error) the connection ends. When the reader
//! ends (EOF, half-close, read error) the kernel is told at once and closes the outbox after
//! what it holds; the writer still delivers that, for at most [`FLUSH_DEADLINE`]. After a
//! writer that delivered everything and shut the write side (logout, shutdown), the socket
//! lingers (see [`LINGER`]): what the client still sends is read and discarded, so the close
//! is not a reset that could destroy the last lines.
//!
//! An idle connection holds no buffer. The reader waits for the socket to be readable without
//! one, then reads into a per-thread scratch buffer and feeds the decoder, never across an
//! await. The writer gathers a batch into a per-thread scratch buffer and writes it without
//! waiting; only what a full socket did not take is kept, until the socket is writable again.
//! What happens once the socket is ready is the same on every runtime: [`chat_kernel::stream`].

use std::future::{Future, poll_fn};
use std::io::{Read as _, Write as _};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::pin::pin;
use std::sync::Arc;
use std::task::Poll;

use async_io::{Async, Timer};
use bytes::{Buf as _, Bytes};
use chat_kernel::outbox::{Closing, Wrote, wrote_reason};
use chat_kernel::shutdown::{FLUSH_DEADLINE, LINGER};
use chat_kernel::stream::{
    DROPPED, End, Read, Then, read_and_discard, read_into_kernel, write_now, write_some,
};
use chat_kernel::{ConnId, Kernel, LineDecoder, Outbox, Refused, Transport};
use futures_lite::{AsyncWriteExt as _, future};

/// What a writer woken from idle does first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnWake {
    /// Writes what is queued at once (smol: yielding made *fan-out* slower on its executor,
    /// bench with 1,000 clients and 10 senders: 4,141 ns of server CPU per delivery with the
    /// yield, 1,462-1,663 without).
    Write,
    /// Yields once, so the other readers that are ready run first and the write carries what
    /// they add too (async-std: in *fan-out*, one write for several deliveries instead of one
    /// each).
    YieldThenWrite,
}

/// Serves one accepted TCP connection until it ends, then tells the kernel; `guard` is dropped
/// with the connection (the accept loop counts connections by it).
///
/// The task holds the returned future for the connection's whole life, so its size is most of
/// what an idle connection costs (448 bytes; 992, then 520, before). Hence its shape: the
/// connection is registered before the task runs; one `async` block owns what the connection
/// needs and lends it to the functions it awaits. An `async fn` taking these by value would
/// keep each twice (its arguments and the locals they move to), and an `async` block awaiting
/// such a future would keep that twice too; so the loops are functions returning blocks. The
/// writer checks the abort itself rather than racing a second future; what ended the
/// connection is settled before the flush is awaited, and the flush's timer is boxed. The test
/// `the_connection_future_stays_small` guards the size.
pub fn serve_connection<G: Send + 'static>(
    kernel: Kernel,
    name: Arc<str>,
    socket: Arc<Async<TcpStream>>,
    peer: SocketAddr,
    guard: G,
    on_wake: OnWake,
) -> impl Future<Output = ()> + Send + 'static {
    // Small replies must not wait for Nagle; failing to set it only costs latency.
    let _ = socket.get_ref().set_nodelay(true);
    let conn = kernel.connect(&name, peer, Transport::Tcp);
    async move {
        let _held = &guard; // moved in, dropped at the end
        let conn = match &conn {
            Ok(conn) => conn,
            Err(Refused::ServerFull(payload)) => {
                let _ = (&*socket).write_all(payload).await;
                let _ = socket.get_ref().shutdown(Shutdown::Write);
                return;
            }
            Err(Refused::ShuttingDown) => return,
        };
        let lingers = {
            let outbox = &conn.outbox;
            let mut writer = pin!(write_loop(outbox, &socket, on_wake));
            // In a block of its own, so the end's reason is not kept across the flush.
            let then = {
                let end = future::or(
                    async {
                        let read = read_loop(&kernel, conn.id, &socket).await;
                        read.map_or(End::Closed, End::Reader)
                    },
                    async { End::Writer(writer.as_mut().await) },
                )
                .await;
                end.settle(&kernel, conn.id)
            };
            match then {
                Then::Done { lingers } => lingers,
                // The deadline's timer is boxed: inline, it would size the task for the
                // connection's whole life, and it is needed once, at the end.
                Then::Flush => {
                    let _ = Box::pin(within_flush_deadline(writer)).await;
                    false
                }
                Then::FlushThenDisconnect => match Box::pin(within_flush_deadline(writer)).await {
                    Some(wrote) => {
                        kernel.disconnect(conn.id, wrote_reason(&wrote));
                        wrote.is_ok()
                    }
                    None => {
                        kernel.flush_timed_out(&name, peer);
                        false
                    }
                },
            }
        };
        if lingers {
            // Boxed: it runs once, for at most a second, and inline it would size the task
            // (its timer and readiness futures) for the connection's whole life.
            Box::pin(linger(&socket)).await;
        }
    }
}

/// The writer's output if it ends within [`FLUSH_DEADLINE`], else `None`.
async fn within_flush_deadline<F: Future>(writer: F) -> Option<F::Output> {
    future::or(async { Some(writer.await) }, async {
        Timer::after(FLUSH_DEADLINE).await;
        None
    })
    .await
}

/// After the writer delivered the last lines and shut the write side: reads and discards what
/// the client still sends, until it closes too or [`LINGER`] passes, so closing the socket
/// does not reset the connection (which can destroy those lines before the client reads them).
async fn linger(socket: &Async<TcpStream>) {
    let draining = async {
        while socket.readable().await.is_ok() {
            let more = read_and_discard(|buf| socket.get_ref().read(buf));
            if !more {
                return;
            }
        }
    };
    future::or(draining, async {
        Timer::after(LINGER).await;
    })
    .await;
}

/// Reads until EOF or an error and returns the reason, or `None` once the kernel closed the
/// connection ([`Flow::Close`]): then the writer flushes the last lines, for at most
/// [`FLUSH_DEADLINE`], so a client that logs out and never reads cannot keep its task.
#[expect(
    clippy::manual_async_fn,
    reason = "an `async fn` keeps each argument twice"
)]
fn read_loop<'a>(
    kernel: &'a Kernel,
    id: ConnId,
    socket: &'a Async<TcpStream>,
) -> impl Future<Output = Option<String>> + 'a {
    async move {
        let mut decoder = LineDecoder::new(kernel.limits().max_line);
        loop {
            // Settled into a one-byte step before awaiting, so the future does not keep the
            // (larger) `Read` across the await.
            let read = read_into_kernel(kernel, id, &mut decoder, |buf| socket.get_ref().read(buf));
            let idle = match read {
                Read::Progress => false,
                Read::Idle => true,
                Read::Closed => return None,
                Read::Ended(reason) => return Some(reason),
            };
            if idle {
                // Parked here, the connection holds no read buffer. (The poll form keeps the one
                // waker in the socket's own slot; the `readable()` future would carry its own.)
                if let Err(e) = poll_fn(|cx| socket.poll_readable(cx)).await {
                    return Some(e.to_string());
                }
            } else {
                // Let the writers this input woke run before reading more: a client streaming
                // commands must not fill everyone's queue before their writers had a turn.
                future::yield_now().await;
            }
        }
    }
}

/// Drains the outbox into the socket until the kernel closes it, then shuts the socket's write
/// side (a TCP socket has nothing to flush). Returns how it ended.
#[expect(
    clippy::manual_async_fn,
    reason = "an `async fn` keeps each argument twice"
)]
fn write_loop<'a>(
    outbox: &'a Outbox,
    socket: &'a Async<TcpStream>,
    on_wake: OnWake,
) -> impl Future<Output = Wrote> + 'a {
    async move {
        let mut batch: Vec<Bytes> = Vec::new();
        loop {
            let more = match outbox.try_batch(&mut batch) {
                Some(more) => more,
                None => {
                    // Going idle: the outbox shrinks the batch and its queue as it waits. (The
                    // poll form: `next_batch`'s future would add its own copy of both references.)
                    let more = poll_fn(|cx| outbox.poll_batch(cx, &mut batch)).await;
                    if more && on_wake == OnWake::YieldThenWrite {
                        future::yield_now().await;
                        let _ = outbox.try_batch(&mut batch);
                    }
                    more
                }
            };
            if !more {
                if outbox.closing() == Some(Closing::Abort) {
                    return Err(DROPPED.to_owned());
                }
                break;
            }
            // Settled before awaiting, so the future does not keep the whole result across it.
            let rest = match write_now(&batch, |data| socket.get_ref().write(data)) {
                Ok(rest) => rest,
                Err(e) => return Err(e.to_string()),
            };
            if let Some(rest) = rest {
                write_rest(outbox, socket, rest).await?;
            }
            batch.clear();
        }
        let _ = socket.get_ref().shutdown(Shutdown::Write);
        Ok(())
    }
}

/// Writes what a full socket did not take, as it becomes writable, unless the kernel drops
/// the connection meanwhile (a slow client: its queue overflowed). Only this is kept while
/// waiting, not the batch, and once: an `async fn` would keep its argument twice (the argument
/// and the local it moves to), for as long as a slow client keeps the socket full.
#[expect(
    clippy::manual_async_fn,
    reason = "an `async fn` keeps each argument twice"
)]
fn write_rest<'a>(
    outbox: &'a Outbox,
    socket: &'a Async<TcpStream>,
    mut rest: Bytes,
) -> impl Future<Output = Wrote> + 'a {
    async move {
        while !rest.is_empty() {
            poll_fn(|cx| match outbox.poll_aborted(cx) {
                Poll::Ready(()) => Poll::Ready(Err(DROPPED.to_owned())),
                Poll::Pending => socket.poll_writable(cx).map_err(|e| e.to_string()),
            })
            .await?;
            let n = write_some(&rest, |data| socket.get_ref().write(data))
                .map_err(|e| e.to_string())?;
            rest.advance(n);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chat_kernel::{Console, KernelConfig, StoreSpec};

    /// The connection's future on the async-io front-ends as it is now: 448 bytes. It was 520
    /// before it was built like the tokio one (the writer checks the abort itself, the end is
    /// settled before the flush, the flush timer is boxed, no future keeps its arguments twice).
    const MAX_FUTURE: usize = 448;

    #[test]
    fn the_connection_future_stays_small() {
        let store = StoreSpec::Memory.open().expect("store");
        let kernel =
            Kernel::new(KernelConfig::default(), store, Console::stdout(false)).expect("kernel");
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let _client = TcpStream::connect(listener.local_addr().expect("addr")).expect("connect");
        let (socket, peer) = listener.accept().expect("accept");
        let socket = Arc::new(Async::new(socket).expect("async socket"));
        // A guard like the accept loops' (a channel sender), and the yield the async-std one
        // asks for.
        let guard = Arc::new(());
        let future = serve_connection(
            kernel,
            Arc::from("smol_chat"),
            socket,
            peer,
            guard,
            OnWake::YieldThenWrite,
        );
        let size = std::mem::size_of_val(&future);
        assert!(
            size <= MAX_FUTURE,
            "a TCP connection's future is {size} bytes, over {MAX_FUTURE}: each idle connection \
             costs that much more"
        );
    }
}
