//! One connection on a WebSocket port: the HTTP request head, then the page, an error, or a
//! WebSocket session.
//!
//! The answer to the head comes from `chat_web` ([`HeadBuffer::feed`]); the session itself
//! ([`chat_web::serve_websocket`]) is shared by the three runtimes. This file reads and writes
//! the socket, keeps the time limits, and wraps the socket with async-tungstenite, for smol and
//! async-std alike: both run on the async-io reactor, so the socket is the same
//! `Async<TcpStream>` the TCP connections use, the timer is async-io's, and the session's
//! writer waits for the reactor's turn as the TCP writer does (`OnReactor`, its [`Runtime`]).
//! What each runtime adds is how it accepts and spawns. The tokio crate has the same steps in
//! its own file.

use std::future::Future;
use std::io;
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use async_io::{Async, Timer};
use async_tungstenite::WebSocketStream;
use async_tungstenite::tungstenite::protocol::Role;
use bytes::Bytes;
use chat_kernel::shutdown::Shutdown as ShutdownSignal;
use chat_kernel::{Kernel, Outbox};
use chat_web::{
    Action, GatherStream, HEAD_TIMEOUT, HeadBuffer, LINGER, Page, Response, Runtime, Wire,
};
use futures_lite::future;
use futures_lite::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _};

use crate::tcp::reactor_turn;

/// Bytes read from the socket at a time while the head is incomplete. The buffer is on the
/// heap, for the head only: an array here would sit in every connection's task for its life.
const READ_CHUNK: usize = 4 * 1024;

/// Serves one accepted connection on a WebSocket port (HTTP page or WebSocket upgrade) with
/// `runtime`'s timer and yield; `guard` is dropped with the connection (the accept loop
/// counts connections by it).
///
/// The task holds the returned future for the connection's whole life, so its size is most of
/// what an idle connection costs. One `async` block owns what the connection needs (an `async
/// fn` would keep each argument twice, and a block awaiting it all of them again), and the
/// head's phase is boxed: it runs once, and inline its socket, buffer, answer and futures
/// would size the task for the session's whole life. The test
/// `the_connection_future_fits_a_2_kib_block` guards the size, for smol and async-std alike.
pub fn serve_websocket_connection<G>(
    kernel: Kernel,
    server: Arc<str>,
    socket: Arc<Async<TcpStream>>,
    peer: SocketAddr,
    page: Arc<Page>,
    guard: G,
) -> impl Future<Output = ()> + Send + 'static
where
    G: Send + 'static,
{
    // Boxed, and made here, so the task holds a pointer to the socket and the page rather than
    // the socket itself (an `async` block keeps what it captured for its whole life).
    let handshake = Box::pin(handshake(kernel.clone(), Socket(socket.clone()), page));
    async move {
        let _held = &guard; // moved in, dropped at the end
        let Some((mut ws, wire)) = handshake.await else {
            return;
        };
        let runtime = OnReactor;
        let completed =
            chat_web::serve_websocket(&kernel, &server, peer, &mut ws, &wire, runtime).await;
        // What tungstenite wrote last (its close frame) may still be gathered: send it, within
        // the linger time.
        let mut socket = ws.into_inner();
        let _ = timeout(LINGER, socket.flush()).await;
        if completed {
            // The closing handshake is complete: nothing more can come from the client.
            return;
        }
        linger(socket.into_inner()).await;
    }
}

/// A session's runtime on the async-io reactor, for smol and async-std alike: async-io's timer,
/// and the writer woken from idle waits for the reactor's next turn as the TCP writer does
/// ([`reactor_turn`]), not for a yield: on async-io a yield runs before the reactor turns, and
/// then async-io's helper thread takes the reactor while this thread runs tasks, so each
/// readiness becomes a wake-up from another thread.
struct OnReactor;

impl Runtime for OnReactor {
    async fn sleep(&self, duration: Duration) {
        Timer::after(duration).await;
    }

    fn writer_turn<'a>(
        &'a self,
        outbox: &'a Outbox,
        batch: &'a mut Vec<Bytes>,
    ) -> impl Future<Output = ()> + Send + 'a {
        reactor_turn(outbox, batch)
    }
}

/// The socket as async-tungstenite reads and writes it: a shared `Async<TcpStream>`, as the
/// TCP connections hold it (`&Async` reads and writes).
struct Socket(Arc<Async<TcpStream>>);

impl AsyncRead for Socket {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut &*self.0).poll_read(cx, buf)
    }
}

impl AsyncWrite for Socket {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut &*self.0).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut &*self.0).poll_write_vectored(cx, bufs)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut &*self.0).poll_flush(cx)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut &*self.0).poll_close(cx)
    }
}

/// The head's phase: reads the request head and answers it. Returns the WebSocket stream and
/// its wire after an upgrade; `None` once the connection is done (a page or an error was
/// served, or the client went away, stayed silent or did not read the answer).
async fn handshake(
    kernel: Kernel,
    mut socket: Socket,
    page: Arc<Page>,
) -> Option<(WebSocketStream<GatherStream<Socket>>, Wire)> {
    // Best effort: only latency depends on it.
    let _ = socket.0.get_ref().set_nodelay(true);
    let mut head = HeadBuffer::new();
    // Silent client, EOF or error before a complete head, or shutdown: nothing to answer.
    let response = read_head(&mut socket, &mut head, &page, kernel.shutdown_signal()).await?;
    // A client that does not read its answer is not waited on for long either.
    let writing = timeout(HEAD_TIMEOUT, socket.write_all(response.bytes()));
    if !matches!(writing.await, Some(Ok(()))) {
        return None;
    }
    if response.action() == Action::Close {
        linger(socket).await;
        return None;
    }
    let config = chat_web::websocket_config(kernel.limits());
    let socket = GatherStream::new(socket);
    let wire = socket.wire();
    let ws = WebSocketStream::from_partially_read(
        socket,
        head.into_leftover(),
        Role::Server,
        Some(config),
    )
    .await;
    Some((ws, wire))
}

/// Reads until the head has an answer, within [`HEAD_TIMEOUT`]; `None` when the client went
/// away or stayed silent, or the server is shutting down.
async fn read_head(
    socket: &mut Socket,
    head: &mut HeadBuffer,
    page: &Page,
    shutdown: &ShutdownSignal,
) -> Option<Response> {
    let reading = async {
        let mut buf = vec![0u8; READ_CHUNK];
        loop {
            let n = socket.read(&mut buf).await.ok()?;
            if n == 0 {
                return None;
            }
            if let Some(response) = head.feed(&buf[..n], page) {
                return Some(response);
            }
        }
    };
    let reading = async { timeout(HEAD_TIMEOUT, reading).await.flatten() };
    future::or(reading, async {
        shutdown.wait().await;
        None
    })
    .await
}

/// Closes the socket without losing what was written last: shuts down the write side, then
/// reads and discards until the client closes too (at most [`LINGER`]).
async fn linger(mut socket: Socket) {
    let _ = socket.0.get_ref().shutdown(Shutdown::Write);
    let draining = async {
        let mut buf = vec![0u8; READ_CHUNK];
        while let Ok(1..) = socket.read(&mut buf).await {}
    };
    timeout(LINGER, draining).await;
}

/// Runs `future` for at most `duration`: `None` when the time ran out.
async fn timeout<T>(duration: Duration, future: impl Future<Output = T>) -> Option<T> {
    future::or(async { Some(future.await) }, async {
        Timer::after(duration).await;
        None
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use chat_kernel::outbox::outbox;
    use std::pin::pin;
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    use std::task::{Wake, Waker};

    /// A waker that counts the wakes made on the thread that polls, while it polls: a yield
    /// wakes its task there, inside the poll; the reactor's turn wakes it from `react`, later
    /// or on another thread (another test's, or async-io's own, may turn the reactor at once).
    struct SelfWakes {
        poller: std::thread::ThreadId,
        polling: AtomicBool,
        wakes: AtomicUsize,
    }

    impl Wake for SelfWakes {
        fn wake(self: Arc<Self>) {
            if self.polling.load(Ordering::SeqCst) && std::thread::current().id() == self.poller {
                self.wakes.fetch_add(1, Ordering::SeqCst);
            }
        }
    }

    /// The largest connection future whose task fits the allocator's (jemalloc's) 2,048-byte
    /// block on both runtimes: smol's task adds async-task's header (32 bytes), the schedule
    /// closure (8) and async-executor's clean-up (16), async-std's its task locals (40) too,
    /// so 1,992 = 2,048 - 56 (smol) and 1,952 = 2,048 - 96 (async-std). It was an `async fn`
    /// awaited by the accept loop's block, 2,048-2,656 bytes, a task in a 2,560- or
    /// 3,072-byte block.
    const MAX_FUTURE: usize = 2048 - 96;

    #[test]
    fn the_connection_future_fits_a_2_kib_block() {
        let (kernel, socket, peer, _client) = crate::tcp::tests::kernel_and_socket();
        let name: Arc<str> = Arc::from("smol_ws_chat");
        let page = Arc::new(Page::new(&name));
        // A guard like the accept loops' (a channel sender).
        let guard = Arc::new(());
        let future = serve_websocket_connection(kernel, name, socket, peer, page, guard);
        let size = std::mem::size_of_val(&future);
        assert!(
            size <= MAX_FUTURE,
            "a WebSocket connection's future is {size} bytes, over {MAX_FUTURE}: each \
             connection's task moves to the allocator's next block (2,560 bytes)"
        );
    }

    #[test]
    fn the_session_writer_waits_for_the_reactors_turn_not_a_yield() {
        let (tx, rx) = outbox(1 << 20);
        let mut batch = Vec::new();
        // A yield wakes its task inside its poll, every time. The turn's timer is due a
        // microsecond after the wait is made: if the first poll comes later than that (a
        // debug build on a loaded machine often takes longer), the wait is over at once (ready,
        // not pending), and the try is repeated; one pending wait that did not wake itself
        // shows it. (Ten tries were too few: one run in a few hundred failed under load.)
        let waited = (0..1000).any(|_| {
            tx.push(Bytes::from_static(b"first")).expect("queued");
            batch.clear();
            assert_eq!(rx.try_batch(&mut batch), Some(true));
            let wakes = Arc::new(SelfWakes {
                poller: std::thread::current().id(),
                polling: AtomicBool::new(true),
                wakes: AtomicUsize::new(0),
            });
            let waker = Waker::from(wakes.clone());
            let mut turn = pin!(OnReactor.writer_turn(&rx, &mut batch));
            let pending = turn
                .as_mut()
                .poll(&mut Context::from_waker(&waker))
                .is_pending();
            wakes.polling.store(false, Ordering::SeqCst);
            pending && wakes.wakes.load(Ordering::SeqCst) == 0
        });
        assert!(
            waited,
            "the writer's wait woke itself: a yield, not the reactor's turn"
        );
        // And the reactor's turn ends it.
        batch.clear();
        tx.push(Bytes::from_static(b"second")).expect("queued");
        assert_eq!(rx.try_batch(&mut batch), Some(true));
        async_io::block_on(OnReactor.writer_turn(&rx, &mut batch));
        assert_eq!(batch.len(), 1);
    }
}
