//! [`chat_web::GatherStream`] for tokio's I/O traits: the socket under tokio-tungstenite,
//! whose writes are gathered in the connection's [`Wire`] (shared with the writer) until
//! tungstenite flushes (see `chat_web`'s `gather` module).

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use chat_web::Wire;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// A tokio socket whose writes are gathered until flushed.
#[derive(Debug)]
pub(crate) struct GatherStream<S> {
    inner: S,
    wire: Wire,
}

impl<S> GatherStream<S> {
    /// Wraps `inner`, with a new wire.
    pub(crate) fn new(inner: S) -> Self {
        GatherStream {
            inner,
            wire: Wire::default(),
        }
    }

    /// Another handle to this stream's wire, for the writer.
    pub(crate) fn wire(&self) -> Wire {
        self.wire.clone()
    }

    /// The socket back (what was not flushed is dropped).
    pub(crate) fn into_inner(self) -> S {
        self.inner
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for GatherStream<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> GatherStream<S> {
    /// Hands everything gathered to the socket (flush and close both start with it).
    fn poll_send(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let inner = &mut self.inner;
        self.wire
            .poll_drain(|bytes| Pin::new(&mut *inner).poll_write(cx, bytes))
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for GatherStream<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let inner = &mut this.inner;
        this.wire
            .poll_write(data, |bytes| Pin::new(&mut *inner).poll_write(cx, bytes))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        match this.poll_send(cx) {
            Poll::Ready(Ok(())) => Pin::new(&mut this.inner).poll_flush(cx),
            other => other,
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        match this.poll_send(cx) {
            Poll::Ready(Ok(())) => Pin::new(&mut this.inner).poll_shutdown(cx),
            other => other,
        }
    }
}
