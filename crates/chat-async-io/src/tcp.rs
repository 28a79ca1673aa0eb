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
use std::io::{self, Read as _, Write as _};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::pin::pin;
use std::sync::Arc;

use async_io::{Async, Timer};
use bytes::{Buf as _, Bytes};
use chat_kernel::outbox::{Wrote, wrote_reason};
use chat_kernel::shutdown::{FLUSH_DEADLINE, LINGER};
use chat_kernel::stream::{Read, read_and_discard, read_into_kernel, write_now, write_some};
use chat_kernel::{ConnId, Kernel, LineDecoder, Outbox, Refused, Transport};
use futures_lite::future;

/// Which side ended first.
enum End {
    /// The reader: EOF, half-close or a read error. The client may still be reading.
    Reader(String),
    /// The kernel closed the connection (logout, shutdown): the writer flushes what is queued.
    Closed,
    /// The writer: the outbox closed and was flushed, the kernel dropped the connection, or a
    /// write failed.
    Writer(Wrote),
}

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
/// what an idle connection costs (520 bytes on smol, `-Zprint-type-sizes`; 992 before). Hence
/// its shape: the connection is registered before the task runs; one `async` block owns what
/// the connection needs and lends it to the functions it awaits. An `async fn` taking these by
/// value would keep each twice (its arguments and the locals they move to), and an `async`
/// block awaiting such a future would keep that twice too.
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
                let _ = write_batch(&socket, std::slice::from_ref(payload)).await;
                let _ = socket.get_ref().shutdown(Shutdown::Write);
                return;
            }
            Err(Refused::ShuttingDown) => return,
        };
        let lingers = {
            let outbox = &conn.outbox;
            let mut writer = pin!(future::or(write_loop(outbox, &socket, on_wake), async {
                outbox.aborted().await;
                Err("dropped by server".to_owned())
            }));
            let end = future::or(
                async {
                    let read = read_loop(&kernel, conn.id, &socket).await;
                    read.map_or(End::Closed, End::Reader)
                },
                async { End::Writer(writer.as_mut().await) },
            )
            .await;
            match end {
                End::Writer(wrote) => {
                    kernel.disconnect(conn.id, wrote_reason(&wrote));
                    wrote.is_ok()
                }
                End::Reader(reason) => {
                    // A client that half-closed still reads: the kernel closes the outbox after
                    // what it holds, and the writer delivers that unless the client stops reading.
                    kernel.disconnect(conn.id, &reason);
                    future::or(
                        async {
                            let _ = writer.await;
                        },
                        async {
                            Timer::after(FLUSH_DEADLINE).await;
                        },
                    )
                    .await;
                    false
                }
                End::Closed => {
                    // The kernel closed the outbox after what it holds (logout, shutdown): the
                    // writer delivers that, unless the client stopped reading.
                    let flushed = future::or(async { Some(writer.await) }, async {
                        Timer::after(FLUSH_DEADLINE).await;
                        None
                    })
                    .await;
                    match flushed {
                        Some(wrote) => {
                            kernel.disconnect(conn.id, wrote_reason(&wrote));
                            wrote.is_ok()
                        }
                        None => {
                            kernel.flush_timed_out(&name, peer);
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
async fn read_loop(kernel: &Kernel, id: ConnId, socket: &Async<TcpStream>) -> Option<String> {
    let mut decoder = LineDecoder::new(kernel.limits().max_line);
    loop {
        match read_into_kernel(kernel, id, &mut decoder, |buf| socket.get_ref().read(buf)) {
            Read::Progress => {}
            Read::Idle => {
                // Parked here, the connection holds no read buffer. (The poll form keeps
                // the one waker in the socket's own slot; the `readable()` future would
                // carry its own.)
                if let Err(e) = poll_fn(|cx| socket.poll_readable(cx)).await {
                    return Some(e.to_string());
                }
                continue;
            }
            Read::Closed => return None,
            Read::Ended(reason) => return Some(reason),
        }
        // Let the writers this input woke run before reading more: a client streaming
        // commands must not fill everyone's queue before their writers had a turn.
        future::yield_now().await;
    }
}

/// Drains the outbox into the socket until the kernel closes it, then shuts the socket's write
/// side (a TCP socket has nothing to flush). Returns how it ended.
async fn write_loop(outbox: &Outbox, socket: &Async<TcpStream>, on_wake: OnWake) -> Wrote {
    let mut batch: Vec<Bytes> = Vec::new();
    loop {
        let more = match outbox.try_batch(&mut batch) {
            Some(more) => more,
            None => {
                // Going idle: the outbox shrinks the batch and its queue as it waits.
                let more = outbox.next_batch(&mut batch).await;
                if more && on_wake == OnWake::YieldThenWrite {
                    future::yield_now().await;
                    let _ = outbox.try_batch(&mut batch);
                }
                more
            }
        };
        if !more {
            break;
        }
        let written = write_batch(socket, &batch).await;
        batch.clear();
        if let Err(e) = written {
            return Err(e.to_string());
        }
    }
    let _ = socket.get_ref().shutdown(Shutdown::Write);
    Ok(())
}

/// Writes every payload of `batch`, waiting for the socket only when it is full.
async fn write_batch(socket: &Async<TcpStream>, batch: &[Bytes]) -> io::Result<()> {
    let Some(mut rest) = write_now(batch, |data| socket.get_ref().write(data))? else {
        return Ok(());
    };
    // The socket is full: what it did not take is kept until it is writable.
    while !rest.is_empty() {
        poll_fn(|cx| socket.poll_writable(cx)).await?;
        let n = write_some(&rest, |data| socket.get_ref().write(data))?;
        rest.advance(n);
    }
    Ok(())
}
