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
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use async_io::{Async, Timer};
use bytes::{Buf as _, Bytes};
use chat_kernel::outbox::{Closing, Wrote, wrote_reason};
use chat_kernel::shutdown::{FLUSH_DEADLINE, LINGER};
use chat_kernel::stream::{
    DROPPED, End, Read, Then, read_and_discard, read_into_kernel, write_now, write_some,
};
use chat_kernel::{ConnId, Connection, Kernel, LineDecoder, Outbox, Refused, Transport};
use futures_lite::{AsyncWriteExt as _, future};

/// Spawns a future on a front-end's executor, detached (each runtime's crate implements it).
pub trait Spawn {
    /// Runs `future` to completion on the executor; nobody waits for it.
    fn spawn<F: Future<Output = ()> + Send + 'static>(&self, future: F);
}

/// Registers an accepted TCP connection with the kernel and spawns its task; `guard` is
/// dropped with the task (the accept loop counts connections by it). A connection the kernel
/// refuses because the server is full gets the error and is closed, in a small task of its
/// own, so the connection's task never holds the refusal.
pub fn spawn_connection<G: Send + 'static>(
    spawner: &impl Spawn,
    kernel: Kernel,
    name: Arc<str>,
    socket: Arc<Async<TcpStream>>,
    peer: SocketAddr,
    guard: G,
) {
    // Small replies must not wait for Nagle; failing to set it only costs latency.
    let _ = socket.get_ref().set_nodelay(true);
    match kernel.connect(&name, peer, Transport::Tcp) {
        Ok(conn) => spawner.spawn(serve_connection(kernel, name, conn, socket, guard)),
        Err(Refused::ServerFull(payload)) => spawner.spawn(async move {
            let _held = guard;
            if (&*socket).write_all(&payload).await.is_ok() {
                let _ = socket.get_ref().shutdown(Shutdown::Write);
            }
        }),
        Err(Refused::ShuttingDown) => {}
    }
}

/// Serves one registered TCP connection until it ends, then tells the kernel.
///
/// The task holds the returned future for the connection's whole life, so its size is most of
/// what an idle connection costs (392 bytes; 992, 520, then 448 before). Hence its shape: the
/// connection is registered before the task runs, and a refused one never gets this task; one
/// `async` block owns what the connection needs and lends it to the functions it awaits. An
/// `async fn` taking these by value would keep each twice (its arguments and the locals they
/// move to), and an `async` block awaiting such a future would keep that twice too; so the
/// loops are functions returning blocks. The writer checks the abort itself rather than racing
/// a second future; what ended the connection is settled before the flush is awaited, and the
/// flush's timer is boxed; the peer's address, needed only if that flush times out, is asked of
/// the socket then. The test `the_connection_future_fits_the_allocators_blocks` guards the size.
#[expect(
    clippy::manual_async_fn,
    reason = "an `async fn` keeps each argument twice"
)]
fn serve_connection<G: Send + 'static>(
    kernel: Kernel,
    name: Arc<str>,
    conn: Connection,
    socket: Arc<Async<TcpStream>>,
    guard: G,
) -> impl Future<Output = ()> + Send + 'static {
    async move {
        let _held = &guard; // moved in, dropped at the end
        let lingers = {
            let outbox = &conn.outbox;
            let mut writer = pin!(write_loop(outbox, &socket));
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
                        kernel.flush_timed_out(&name, socket.get_ref().peer_addr().ok());
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
                    if more {
                        reactor_turn(outbox, &mut batch).await;
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

/// What a writer woken from idle by the first payload waits for before it writes (TCP, and
/// WebSocket through [`crate::ws`]): the reactor's next turn, so the readers whose input that
/// turn brings run first and the write carries what they add too (fan-out: one write per
/// several deliveries instead of one each). A yield is not enough on async-io: the executor
/// runs every queued task before the reactor turns, so the input still waiting in it would be
/// read only after this write. More output before that turn ends the wait too, taken into
/// `batch`: a reader streaming commands runs many times before the reactor turns, and its
/// echoes must not pile up meanwhile (they would pass the queue's limit). So does an abort.
///
/// The turn is a timer due at once ([`NEXT_TURN`]): async-io fires the timers that are due at
/// the start of each turn of its reactor, so it fires at the next one (under load, once the
/// executor has run what is queued, which takes longer than that; on an idle thread, after the
/// timer's own short sleep). A timer costs no system call: it is an entry in the reactor's
/// queue of timer operations, and one in its timer tree. Before, the writer waited for its
/// socket's writability, which ends at the reactor's turn too, but each wait registered the
/// socket's write interest with epoll (async-io registers one-shot): an `epoll_ctl` call and
/// an event back per woken writer: 91,000 of each in one *fan-out* run (1,000 clients, 10
/// senders x 100 messages), and about a fifth of the server's CPU (smol_chat 826 -> 645 ns
/// per delivery, alternating runs).
pub(crate) fn reactor_turn<'a>(
    outbox: &'a Outbox,
    batch: &'a mut Vec<Bytes>,
) -> impl Future<Output = ()> + 'a {
    turn_after(NEXT_TURN, outbox, batch)
}

/// How soon a writer's wait for the reactor's turn is due: at once, so that it is due at the
/// very next turn.
const NEXT_TURN: Duration = Duration::from_micros(1);

/// [`reactor_turn`] with a timer due after `due` (tests wait for longer).
///
/// A function returning the poll, not an `async fn`: the wait keeps its references once.
fn turn_after<'a>(
    due: Duration,
    outbox: &'a Outbox,
    batch: &'a mut Vec<Bytes>,
) -> impl Future<Output = ()> + 'a {
    let mut turn = Timer::after(due);
    poll_fn(move |cx| {
        if outbox.poll_aborted(cx).is_ready() || outbox.poll_batch(cx, batch).is_ready() {
            return Poll::Ready(());
        }
        Pin::new(&mut turn).poll(cx).map(drop)
    })
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
pub(crate) mod tests {
    use super::*;
    use chat_kernel::outbox::outbox;
    use chat_kernel::{Console, KernelConfig, StoreSpec};
    use futures_lite::future::poll_once;

    #[test]
    fn a_woken_writer_waits_for_the_turn_more_output_or_an_abort() {
        async_io::block_on(async {
            // A turn due in an hour, so only more output or an abort can end these waits.
            let hour = Duration::from_secs(3600);
            let (tx, rx) = outbox(1 << 20);
            tx.push(Bytes::from_static(b"first")).expect("queued");
            let mut batch = Vec::new();
            assert_eq!(rx.try_batch(&mut batch), Some(true));
            {
                let mut turn = pin!(turn_after(hour, &rx, &mut batch));
                // No turn and nothing more: the writer keeps waiting.
                assert!(poll_once(turn.as_mut()).await.is_none());
                assert!(poll_once(turn.as_mut()).await.is_none());
                // More output ends the wait, and is taken into the batch.
                tx.push(Bytes::from_static(b"second")).expect("queued");
                turn.await;
            }
            assert_eq!(batch, [&b"first"[..], &b"second"[..]]);
            {
                let mut turn = pin!(turn_after(hour, &rx, &mut batch));
                assert!(poll_once(turn.as_mut()).await.is_none());
                // So does an abort (a slow client dropped meanwhile).
                tx.abort();
                turn.await;
            }
            // And the reactor's next turn ends the real wait, with nothing more.
            let (tx, rx) = outbox(1 << 20);
            tx.push(Bytes::from_static(b"only")).expect("queued");
            let mut batch = Vec::new();
            assert_eq!(rx.try_batch(&mut batch), Some(true));
            reactor_turn(&rx, &mut batch).await;
            assert_eq!(batch, [&b"only"[..]]);
        });
    }

    /// The largest connection future that keeps each task in the allocator's (jemalloc's)
    /// 448-byte block on smol and its 512-byte block on async-std. Both spawn on
    /// async-executor, whose task is async-task's header (32 bytes), the schedule closure (8)
    /// and the future wrapped to run a clean-up when dropped (16); async-std wraps it again
    /// with its task locals (40). So 392 = 448 - 56 (smol) and 416 = 512 - 96 (async-std).
    /// The future was 448 bytes, which made the tasks 504 and 544 bytes: 512- and 640-byte
    /// blocks.
    const MAX_FUTURE: usize = 392;

    /// An in-memory kernel and the server's side of a loopback connection, on the async-io
    /// reactor as both runtimes' accept loops hand it on (the client is returned to stay open).
    pub(crate) fn kernel_and_socket() -> (Kernel, Arc<Async<TcpStream>>, SocketAddr, TcpStream) {
        let store = StoreSpec::Memory.open().expect("store");
        let kernel =
            Kernel::new(KernelConfig::default(), store, Console::stdout(false)).expect("kernel");
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let client = TcpStream::connect(listener.local_addr().expect("addr")).expect("connect");
        let (socket, peer) = listener.accept().expect("accept");
        let socket = Arc::new(Async::new(socket).expect("async socket"));
        (kernel, socket, peer, client)
    }

    #[test]
    fn the_connection_future_fits_the_allocators_blocks() {
        let (kernel, socket, peer, _client) = kernel_and_socket();
        let name: Arc<str> = Arc::from("smol_chat");
        let conn = kernel
            .connect(&name, peer, Transport::Tcp)
            .expect("registered");
        // A guard like the accept loops' (a channel sender).
        let guard = Arc::new(());
        let future = serve_connection(kernel, name, conn, socket, guard);
        let size = std::mem::size_of_val(&future);
        assert!(
            size <= MAX_FUTURE,
            "a TCP connection's future is {size} bytes, over {MAX_FUTURE}: each idle connection's \
             task moves to the allocator's next larger block (smol 448 -> 512, async-std 512 -> 640)"
        );
    }
}
