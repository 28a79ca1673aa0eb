//! One connection on a WebSocket port: the HTTP request head, then the page, an error, or a
//! WebSocket session.
//!
//! The answer to the head comes from `chat_web` ([`HeadBuffer::feed`]); the session itself
//! ([`chat_web::serve_websocket`]) is shared by the three runtimes. This file only does the
//! tokio-specific parts: reading and writing the socket, timers, and wrapping the socket with
//! tokio-tungstenite. The async-std and smol crates share one such file, `chat_async_io::ws`.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use chat_kernel::shutdown::Shutdown;
use chat_kernel::{Kernel, Outbox};
use chat_web::{Action, HEAD_TIMEOUT, HeadBuffer, LINGER, Page, Response, Wire};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::gather::GatherStream;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::protocol::Role;

/// Bytes read from the socket at a time while the head is incomplete. The buffer is on the
/// heap, for the head only: an array here would sit in every connection's task for its life.
const READ_CHUNK: usize = 4 * 1024;

/// Serves one accepted connection on a WebSocket port (HTTP page or WebSocket upgrade);
/// `guard` is dropped with the connection (the accept loop counts connections by it).
///
/// The task holds the returned future for the connection's whole life, so its size is most of
/// what an idle connection costs. One `async` block owns what the connection needs (an `async
/// fn` would keep each argument twice, and a block awaiting it all of them again), and the
/// head's phase is boxed: it runs once, and inline its socket, buffer, answer and futures
/// would size the task for the session's whole life. The test
/// `the_connection_future_fits_a_2_kib_block` guards the size.
pub(crate) fn serve_connection<G: Send + 'static>(
    kernel: Kernel,
    server: Arc<str>,
    stream: TcpStream,
    peer: SocketAddr,
    page: Arc<Page>,
    guard: G,
) -> impl Future<Output = ()> + Send + 'static {
    // Boxed, and made here, so the task holds a pointer to the socket and the page rather than
    // the socket itself (an `async` block keeps what it captured for its whole life).
    let handshake = Box::pin(handshake(kernel.clone(), stream, page));
    async move {
        let _held = &guard; // moved in, dropped at the end
        let Some((mut ws, wire)) = handshake.await else {
            return;
        };
        let completed =
            chat_web::serve_websocket(&kernel, &server, peer, &mut ws, &wire, Tokio).await;
        // What tungstenite wrote last (its close frame) may still be gathered: send it, within
        // the linger time.
        let mut socket = ws.into_inner();
        let _ = tokio::time::timeout(LINGER, socket.flush()).await;
        if completed {
            // The closing handshake is complete: nothing more can come from the client.
            return;
        }
        linger(socket.into_inner()).await;
    }
}

/// The head's phase: reads the request head and answers it. Returns the WebSocket stream and
/// its wire after an upgrade; `None` once the connection is done (a page or an error was
/// served, or the client went away, stayed silent or did not read the answer).
async fn handshake(
    kernel: Kernel,
    mut stream: TcpStream,
    page: Arc<Page>,
) -> Option<(WebSocketStream<GatherStream<TcpStream>>, Wire)> {
    // Best effort: only latency depends on it.
    let _ = stream.set_nodelay(true);
    let mut head = HeadBuffer::new();
    // Silent client, EOF or error before a complete head, or shutdown: nothing to answer.
    let response = read_head(&mut stream, &mut head, &page, kernel.shutdown_signal()).await?;
    // A client that does not read its answer is not waited on for long either.
    let writing = tokio::time::timeout(HEAD_TIMEOUT, stream.write_all(response.bytes()));
    if !matches!(writing.await, Ok(Ok(()))) {
        return None;
    }
    if response.action() == Action::Close {
        linger(stream).await;
        return None;
    }
    let config = chat_web::websocket_config(kernel.limits());
    let socket = GatherStream::new(stream);
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
    stream: &mut TcpStream,
    head: &mut HeadBuffer,
    page: &Page,
    shutdown: &Shutdown,
) -> Option<Response> {
    let reading = async {
        let mut buf = vec![0u8; READ_CHUNK];
        loop {
            let n = stream.read(&mut buf).await.ok()?;
            if n == 0 {
                return None;
            }
            if let Some(response) = head.feed(&buf[..n], page) {
                return Some(response);
            }
        }
    };
    tokio::select! {
        response = tokio::time::timeout(HEAD_TIMEOUT, reading) => response.ok().flatten(),
        () = shutdown.wait() => None,
    }
}

/// Closes the socket without losing what was written last: shuts down the write side, then
/// reads and discards until the client closes too (at most [`LINGER`]).
async fn linger(mut stream: TcpStream) {
    let _ = stream.shutdown().await;
    let draining = async {
        let mut buf = vec![0u8; READ_CHUNK];
        while let Ok(1..) = stream.read(&mut buf).await {}
    };
    let _ = tokio::time::timeout(LINGER, draining).await;
}

/// tokio's timer, and a yield for the writer woken from idle: tokio's yield also lets the I/O
/// driver find the sockets that became ready, so their readers run before the writer writes.
struct Tokio;

impl chat_web::Runtime for Tokio {
    async fn sleep(&self, duration: Duration) {
        tokio::time::sleep(duration).await;
    }

    fn writer_turn<'a>(
        &'a self,
        _: &'a Outbox,
        _: &'a mut Vec<Bytes>,
    ) -> impl Future<Output = ()> + Send + 'a {
        tokio::task::yield_now()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::with_accepted;

    /// The largest connection future whose task fits the allocator's (jemalloc's) 2,048-byte
    /// block: tokio's task adds its header, scheduler handle, id, stage tag and trailer (104
    /// bytes), in a block aligned to 128. It was an `async fn` awaited by the accept loop's
    /// block, 2,192 bytes, a 2,304-byte task in a 2,560-byte block.
    const MAX_FUTURE: usize = 2048 - 104;

    #[test]
    fn the_connection_future_fits_a_2_kib_block() {
        with_accepted(|kernel, stream, peer| async move {
            let name: Arc<str> = Arc::from("tokio_ws_chat");
            let page = Arc::new(Page::new(&name));
            // The guard the accept loop passes.
            let guard = async_channel::bounded::<()>(1).0;
            let future = serve_connection(kernel, name, stream, peer, page, guard);
            let size = std::mem::size_of_val(&future);
            assert!(
                size <= MAX_FUTURE,
                "a WebSocket connection's future is {size} bytes, over {MAX_FUTURE}: each \
                 connection's task moves to the allocator's next block (2,560 bytes)"
            );
        });
    }
}
