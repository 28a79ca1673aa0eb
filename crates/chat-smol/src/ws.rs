//! One connection on a WebSocket port: the HTTP request head, then the page, an error, or a
//! WebSocket session.
//!
//! The answer to the head comes from `chat_web` ([`HeadBuffer::feed`]); the session itself
//! ([`chat_web::serve_websocket`]) is shared by the three runtimes. This file only does the
//! smol-specific parts: reading and writing the socket, timers, and wrapping the socket with
//! async-tungstenite. The tokio and async-std crates have the same file.

use std::future::Future;
use std::net::{self, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use async_tungstenite::WebSocketStream;
use async_tungstenite::tungstenite::protocol::Role;
use chat_kernel::Kernel;
use chat_kernel::shutdown::Shutdown;
use chat_web::{Action, GatherStream, HEAD_TIMEOUT, HeadBuffer, LINGER, Page, Response};
use smol::Timer;
use smol::io::{AsyncReadExt, AsyncWriteExt};
use smol::net::TcpStream;

/// Bytes read from the socket at a time while the head is incomplete. The buffer is on the
/// heap, for the head only: an array here would sit in every connection's task for its life.
const READ_CHUNK: usize = 4 * 1024;

/// Serves one accepted connection on a WebSocket port (HTTP page or WebSocket upgrade).
pub(crate) async fn serve_connection(
    kernel: Kernel,
    server: Arc<str>,
    mut stream: TcpStream,
    peer: SocketAddr,
    page: Arc<Page>,
) {
    // Best effort: only latency depends on it.
    let _ = stream.set_nodelay(true);
    let mut head = HeadBuffer::new();
    let shutdown = kernel.shutdown_signal();
    let Some(response) = read_head(&mut stream, &mut head, &page, shutdown).await else {
        // Silent client, EOF or error before a complete head, or shutdown: nothing to answer.
        return;
    };
    // A client that does not read its answer is not waited on for long either.
    let writing = timeout(HEAD_TIMEOUT, stream.write_all(response.bytes()));
    if !matches!(writing.await, Some(Ok(()))) {
        return;
    }
    if response.action() == Action::Close {
        linger(stream).await;
        return;
    }
    let config = chat_web::websocket_config(kernel.limits());
    let socket = GatherStream::new(stream);
    let wire = socket.wire();
    let mut ws = WebSocketStream::from_partially_read(
        socket,
        head.into_leftover(),
        Role::Server,
        Some(config),
    )
    .await;
    let completed = chat_web::serve_websocket(&kernel, &server, peer, &mut ws, &wire, sleep).await;
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
    let reading = async { timeout(HEAD_TIMEOUT, reading).await.flatten() };
    smol::future::or(reading, async {
        shutdown.wait().await;
        None
    })
    .await
}

/// Closes the socket without losing what was written last: shuts down the write side, then
/// reads and discards until the client closes too (at most [`LINGER`]).
async fn linger(mut stream: TcpStream) {
    let _ = stream.shutdown(net::Shutdown::Write);
    let draining = async {
        let mut buf = vec![0u8; READ_CHUNK];
        while let Ok(1..) = stream.read(&mut buf).await {}
    };
    timeout(LINGER, draining).await;
}

/// smol's timer as the session's sleep function.
async fn sleep(duration: Duration) {
    Timer::after(duration).await;
}

/// Runs `future` for at most `duration`: `None` when the time ran out (smol has no `timeout`).
async fn timeout<T>(duration: Duration, future: impl Future<Output = T>) -> Option<T> {
    smol::future::or(async { Some(future.await) }, async {
        sleep(duration).await;
        None
    })
    .await
}
