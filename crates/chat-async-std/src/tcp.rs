//! One TCP connection: socket bytes to kernel input, the outbox to socket bytes.
//!
//! The reader feeds what it reads to a [`LineDecoder`] and each line to the kernel; the writer
//! drains the connection's [`Outbox`], one write for everything queued. Whichever ends first
//! ends the connection, and the kernel is then told it is gone.

use std::future::pending;
use std::net::{Shutdown, SocketAddr};
use std::sync::Arc;

use async_std::net::TcpStream;
use bytes::Bytes;
use chat_kernel::{ConnId, Flow, Kernel, LineDecoder, Outbox, Refused, Transport};
use futures_lite::{AsyncReadExt, AsyncWriteExt, future};

/// Bytes read from the socket at a time.
const READ_BUFFER: usize = 8 * 1024;
/// A write buffer grown past this by a burst is released after use.
const KEEP_WRITE_BUFFER: usize = 64 * 1024;

/// Serves one accepted TCP connection until it ends, then tells the kernel.
pub(crate) async fn serve_connection(
    kernel: Kernel,
    name: Arc<str>,
    mut stream: TcpStream,
    peer: SocketAddr,
) {
    // Small replies must not wait for Nagle; failing to set it only costs latency.
    let _ = stream.set_nodelay(true);
    let conn = match kernel.connect(&name, peer, Transport::Tcp) {
        Ok(conn) => conn,
        Err(Refused::ServerFull(payload)) => {
            let _ = stream.write_all(&payload).await;
            let _ = stream.shutdown(Shutdown::Write);
            return;
        }
        Err(Refused::ShuttingDown) => return,
    };
    let outbox = &conn.outbox;
    // The stream is a shared handle: one clone reads, the other writes.
    let writer = future::or(write_loop(outbox, stream.clone()), async {
        outbox.aborted().await;
        "dropped by server".to_owned()
    });
    let reason = future::or(read_loop(&kernel, conn.id, stream), writer).await;
    kernel.disconnect(conn.id, &reason);
}

/// Reads until EOF or an error and returns the reason. After [`Flow::Close`] it stops reading
/// and never returns, so that the writer can flush the last lines and end the connection.
async fn read_loop(kernel: &Kernel, id: ConnId, mut socket: TcpStream) -> String {
    let mut decoder = LineDecoder::new(kernel.limits().max_line);
    let mut buf = vec![0u8; READ_BUFFER];
    loop {
        let n = match socket.read(&mut buf).await {
            Ok(0) => return "connection closed".to_owned(),
            Ok(n) => n,
            Err(e) => return e.to_string(),
        };
        let mut closed = false;
        decoder.feed(&buf[..n], |input| {
            if !closed && kernel.handle(id, input) == Flow::Close {
                closed = true;
            }
        });
        if closed {
            return pending().await;
        }
        // Let the writers this input woke run before reading more: a client streaming commands
        // must not fill everyone's queue before their writers had a turn.
        future::yield_now().await;
    }
}

/// Drains the outbox into the socket until the kernel closes it, then flushes and shuts the
/// socket's write side. Returns the reason the connection ended.
async fn write_loop(outbox: &Outbox, mut socket: TcpStream) -> String {
    let mut batch: Vec<Bytes> = Vec::new();
    let mut buf: Vec<u8> = Vec::new();
    while outbox.next_batch(&mut batch).await {
        let written = match batch.as_slice() {
            [one] => socket.write_all(one).await,
            many => {
                buf.clear();
                for payload in many {
                    buf.extend_from_slice(payload);
                }
                socket.write_all(&buf).await
            }
        };
        batch.clear();
        if buf.capacity() > KEEP_WRITE_BUFFER {
            buf = Vec::new();
        }
        if let Err(e) = written {
            return e.to_string();
        }
    }
    let _ = socket.flush().await;
    let _ = socket.shutdown(Shutdown::Write);
    "closed by server".to_owned()
}
