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
use std::net::{Shutdown, SocketAddr};
use std::pin::pin;
use std::sync::Arc;
use std::task::Poll;

use bytes::{Buf as _, Bytes};
use chat_kernel::outbox::{Closing, Wrote, wrote_reason};
use chat_kernel::shutdown::{FLUSH_DEADLINE, LINGER};
use chat_kernel::stream::{
    DROPPED, End, Read, Then, read_and_discard, read_into_kernel, write_now, write_some,
};
use chat_kernel::{ConnId, Connection, Kernel, LineDecoder, Outbox, Refused, Transport};
use tokio::io::AsyncWriteExt as _;
use tokio::net::TcpStream;

/// Registers an accepted TCP connection with the kernel and spawns its task; `guard` is
/// dropped with the task (the accept loop counts connections by it). A connection the kernel
/// refuses because the server is full gets the error and is closed, in a small task of its own.
pub(crate) fn spawn_connection<G: Send + 'static>(
    kernel: Kernel,
    name: Arc<str>,
    socket: TcpStream,
    peer: SocketAddr,
    guard: G,
) {
    // Small replies must not wait for Nagle; failing to set it only costs latency.
    let _ = socket.set_nodelay(true);
    match kernel.connect(&name, peer, Transport::Tcp) {
        Ok(conn) => {
            tokio::spawn(serve_connection(kernel, name, conn, socket, guard));
        }
        Err(Refused::ServerFull(payload)) => {
            tokio::spawn(async move {
                let _held = guard;
                let mut socket = socket;
                if socket.write_all(&payload).await.is_ok() {
                    let _ = socket.shutdown().await;
                }
            });
        }
        Err(Refused::ShuttingDown) => {}
    }
}

/// Serves one registered TCP connection until it ends, then tells the kernel.
///
/// The task holds the returned future for the connection's whole life, so its size is most of
/// what an idle connection costs. Hence its shape, as in `chat_async_io` (see there): the
/// connection is registered before the task runs (and a refused one never gets this task);
/// one `async` block owns what the connection needs, the socket unsplit, and lends it to the
/// functions it awaits; what ended the connection is settled before the flush is awaited, so
/// no reason string is kept across it; the peer's address, needed only if that flush times
/// out, is asked of the socket then. tokio keeps a task in a block aligned to 128 bytes (its
/// header, scheduler and trailer take 104), so a future of at most 408 bytes makes a 512-byte
/// task; this one was 544, a 768-byte task. The test `the_connection_future_fits_a_512_byte_task`
/// guards it.
#[expect(
    clippy::manual_async_fn,
    reason = "an `async fn` keeps each argument twice"
)]
pub(crate) fn serve_connection<G: Send + 'static>(
    kernel: Kernel,
    name: Arc<str>,
    conn: Connection,
    socket: TcpStream,
    guard: G,
) -> impl Future<Output = ()> + Send + 'static {
    async move {
        let _held = &guard; // moved in, dropped at the end
        let lingers = {
            let outbox = &conn.outbox;
            let mut writer = pin!(write_loop(outbox, &socket));
            // In a block of its own, so the end's reason is not kept across the flush.
            let then = {
                let end = tokio::select! {
                    reason = read_loop(&kernel, conn.id, &socket) => {
                        reason.map_or(End::Closed, End::Reader)
                    }
                    reason = writer.as_mut() => End::Writer(reason),
                };
                end.settle(&kernel, conn.id)
            };
            match then {
                Then::Done { lingers } => lingers,
                // The deadline's timer is boxed: inline, it would size the task for the
                // connection's whole life, and it is needed once, at the end.
                Then::Flush => {
                    let _ = Box::pin(tokio::time::timeout(FLUSH_DEADLINE, writer)).await;
                    false
                }
                Then::FlushThenDisconnect => {
                    match Box::pin(tokio::time::timeout(FLUSH_DEADLINE, writer)).await {
                        Ok(wrote) => {
                            kernel.disconnect(conn.id, wrote_reason(&wrote));
                            wrote.is_ok()
                        }
                        Err(_) => {
                            kernel.flush_timed_out(&name, socket.peer_addr().ok());
                            false
                        }
                    }
                }
            }
        };
        if lingers {
            // Boxed: it runs once, for at most a second, and inline it would size the task
            // (its timer and readiness futures) for the connection's whole life.
            Box::pin(linger(&socket)).await;
        }
    }
}

/// Shuts the socket's write side (the client reads EOF after the last line). Through a
/// borrowed socket: tokio's own shutdown needs the stream exclusively, which the reader shares.
fn shut_write(socket: &TcpStream) {
    let _ = socket2::SockRef::from(socket).shutdown(Shutdown::Write);
}

/// After the writer delivered the last lines and shut the write side: reads and discards what
/// the client still sends, until it closes too or [`LINGER`] passes, so closing the socket
/// does not reset the connection (which can destroy those lines before the client reads them).
async fn linger(socket: &TcpStream) {
    let draining = async {
        while socket.readable().await.is_ok() {
            let more = read_and_discard(|buf| socket.try_read(buf));
            if !more {
                return;
            }
        }
    };
    let _ = tokio::time::timeout(LINGER, draining).await;
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
    socket: &'a TcpStream,
) -> impl Future<Output = Option<String>> + 'a {
    async move {
        let mut decoder = LineDecoder::new(kernel.limits().max_line);
        loop {
            // Settled into a one-byte step before awaiting, so the future does not keep the
            // (larger) `Read` across the await.
            let idle = match read_into_kernel(kernel, id, &mut decoder, |buf| socket.try_read(buf))
            {
                Read::Progress => false,
                Read::Idle => true,
                Read::Closed => return None,
                Read::Ended(reason) => return Some(reason),
            };
            if idle {
                // Parked here, the connection holds no read buffer. (The poll form keeps the one
                // waker in the socket's own slot; the `readable()` future would carry its own.)
                if let Err(e) = poll_fn(|cx| socket.poll_read_ready(cx)).await {
                    return Some(e.to_string());
                }
            } else {
                // Let the writers this input woke run before reading more: a client streaming
                // commands must not fill everyone's queue before their writers had a turn.
                tokio::task::yield_now().await;
            }
        }
    }
}

/// Drains the outbox into the socket until the kernel closes it, then flushes and shuts the
/// socket's write side. Returns how it ended.
#[expect(
    clippy::manual_async_fn,
    reason = "an `async fn` keeps each argument twice"
)]
fn write_loop<'a>(outbox: &'a Outbox, socket: &'a TcpStream) -> impl Future<Output = Wrote> + 'a {
    async move {
        let mut batch: Vec<Bytes> = Vec::new();
        loop {
            let more = match outbox.try_batch(&mut batch) {
                Some(more) => more,
                None => {
                    // Going idle: the outbox shrinks the batch and its queue as it waits. (The
                    // poll form: `next_batch`'s future would add its own copy of both references.)
                    let more = poll_fn(|cx| outbox.poll_batch(cx, &mut batch)).await;
                    if more {
                        // Woken by the first message: let the other readers that are ready run
                        // first, so this write carries what they add too (fan-out: one write per
                        // several deliveries instead of one each).
                        tokio::task::yield_now().await;
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
            let rest = match write_now(&batch, |data| socket.try_write(data)) {
                Ok(rest) => rest,
                Err(e) => return Err(e.to_string()),
            };
            if let Some(rest) = rest {
                write_rest(outbox, socket, rest).await?;
            }
            batch.clear();
        }
        shut_write(socket);
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
    socket: &'a TcpStream,
    mut rest: Bytes,
) -> impl Future<Output = Wrote> + 'a {
    async move {
        while !rest.is_empty() {
            poll_fn(|cx| match outbox.poll_aborted(cx) {
                Poll::Ready(()) => Poll::Ready(Err(DROPPED.to_owned())),
                Poll::Pending => socket.poll_write_ready(cx).map_err(|e| e.to_string()),
            })
            .await?;
            let n = write_some(&rest, |data| socket.try_write(data)).map_err(|e| e.to_string())?;
            rest.advance(n);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::with_accepted;

    /// The largest future that still fits tokio's 512-byte task block (see [`serve_connection`]):
    /// 512 minus the task's header (32), scheduler handle and id (16), stage tag (8) and
    /// trailer (48).
    const MAX_FUTURE: usize = 408;

    #[test]
    fn the_connection_future_fits_a_512_byte_task() {
        with_accepted(|kernel, socket, peer| async move {
            let name: Arc<str> = Arc::from("tokio_chat");
            let conn = kernel
                .connect(&name, peer, Transport::Tcp)
                .expect("registered");
            // The guard the accept loop passes.
            let guard = async_channel::bounded::<()>(1).0;
            let future = serve_connection(kernel, name, conn, socket, guard);
            let size = std::mem::size_of_val(&future);
            assert!(
                size <= MAX_FUTURE,
                "a TCP connection's future is {size} bytes; over {MAX_FUTURE}, tokio's task \
                 block grows from 512 to 640 bytes or more for every connection"
            );
        });
    }
}
