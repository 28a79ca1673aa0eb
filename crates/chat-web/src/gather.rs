//! A write buffer under tungstenite that an idle connection does not keep.
//!
//! tungstenite gathers outgoing frames in a buffer of its own, and that buffer keeps its
//! largest size for the connection's life: after a burst (a login storm sends every login to
//! everyone), every idle WebSocket connection held 16 KiB it no longer needed. The WebSocket
//! front-ends therefore run tungstenite with a write buffer of 0 (each frame is handed on at
//! once) over a [`GatherStream`], which collects the frames of a batch and writes them in one
//! call when tungstenite flushes, then releases its memory. One write still carries a whole
//! batch; at rest a connection holds no write buffer.
//!
//! [`Gather`] is the runtime-free core; [`GatherStream`] wraps a `futures-io` socket (async-std,
//! smol); the tokio front-end wraps its socket the same way with tokio's traits.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_util::io::{AsyncRead, AsyncWrite};

/// Above this many pending bytes a write first tries to hand them to the socket, so a client
/// that stops reading pushes back instead of growing the buffer without bound.
pub const GATHER_LIMIT: usize = 64 * 1024;

/// The bytes written since the last flush, not yet handed to the socket.
#[derive(Debug, Default)]
pub struct Gather {
    buf: Vec<u8>,
    /// How much of `buf` the socket has taken.
    written: usize,
}

impl Gather {
    /// Bytes waiting for the socket.
    pub fn pending(&self) -> usize {
        self.buf.len() - self.written
    }

    /// Takes `data` (all of it) unless [`GATHER_LIMIT`] bytes are already pending and the
    /// socket (`write`) takes none of them now: then `Pending`, with the waker registered by
    /// `write`.
    pub fn poll_write(
        &mut self,
        data: &[u8],
        write: impl FnMut(&[u8]) -> Poll<io::Result<usize>>,
    ) -> Poll<io::Result<usize>> {
        if self.pending() >= GATHER_LIMIT {
            match self.poll_drain(write) {
                Poll::Ready(Ok(())) => {}
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending if self.pending() >= GATHER_LIMIT => return Poll::Pending,
                Poll::Pending => {}
            }
        }
        if self.written > 0 {
            // The socket took part of the buffer: keep only what it did not.
            self.buf.drain(..self.written);
            self.written = 0;
        }
        self.buf.extend_from_slice(data);
        Poll::Ready(Ok(data.len()))
    }

    /// Hands everything pending to the socket (`write`, called until it is all taken or the
    /// socket is full); once it is all written, the buffer's memory is released.
    pub fn poll_drain(
        &mut self,
        mut write: impl FnMut(&[u8]) -> Poll<io::Result<usize>>,
    ) -> Poll<io::Result<()>> {
        while self.written < self.buf.len() {
            match write(&self.buf[self.written..]) {
                Poll::Ready(Ok(0)) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                Poll::Ready(Ok(n)) => self.written += n,
                Poll::Ready(Err(e)) if e.kind() == io::ErrorKind::Interrupted => {}
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => return Poll::Pending,
            }
        }
        // All written: an idle connection keeps nothing (the next batch allocates anew).
        *self = Gather::default();
        Poll::Ready(Ok(()))
    }
}

/// A `futures-io` socket whose writes are gathered until flushed (see the module doc).
#[derive(Debug)]
pub struct GatherStream<S> {
    inner: S,
    gather: Gather,
}

impl<S> GatherStream<S> {
    /// Wraps `inner`.
    pub fn new(inner: S) -> Self {
        GatherStream {
            inner,
            gather: Gather::default(),
        }
    }

    /// The socket back (what was not flushed is dropped).
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for GatherStream<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> GatherStream<S> {
    /// Hands everything gathered to the socket (flush and close both start with it).
    fn poll_send(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let inner = &mut self.inner;
        self.gather
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
        this.gather
            .poll_write(data, |bytes| Pin::new(&mut *inner).poll_write(cx, bytes))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        match this.poll_send(cx) {
            Poll::Ready(Ok(())) => Pin::new(&mut this.inner).poll_flush(cx),
            other => other,
        }
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        match this.poll_send(cx) {
            Poll::Ready(Ok(())) => Pin::new(&mut this.inner).poll_close(cx),
            other => other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A socket that takes at most `room` bytes, then is full.
    fn socket(out: &mut Vec<u8>, room: &mut usize) -> impl FnMut(&[u8]) -> Poll<io::Result<usize>> {
        move |bytes: &[u8]| {
            if *room == 0 {
                return Poll::Pending;
            }
            let n = bytes.len().min(*room);
            out.extend_from_slice(&bytes[..n]);
            *room -= n;
            Poll::Ready(Ok(n))
        }
    }

    #[test]
    fn writes_are_gathered_until_drained_then_the_memory_is_released() {
        let mut g = Gather::default();
        let (mut out, mut room) = (Vec::new(), usize::MAX);
        for frame in [&b"\x81\x02hi"[..], b"\x81\x03you"] {
            assert!(matches!(
                g.poll_write(frame, socket(&mut out, &mut room)),
                Poll::Ready(Ok(n)) if n == frame.len()
            ));
        }
        assert!(out.is_empty(), "nothing written before the flush");
        assert_eq!(g.pending(), 9);
        assert!(matches!(
            g.poll_drain(socket(&mut out, &mut room)),
            Poll::Ready(Ok(()))
        ));
        assert_eq!(out, b"\x81\x02hi\x81\x03you");
        assert_eq!(g.buf.capacity(), 0, "an idle connection keeps no buffer");
    }

    #[test]
    fn a_full_socket_keeps_the_rest_in_order() {
        let mut g = Gather::default();
        let mut out = Vec::new();
        let mut room = 3;
        let _ = g.poll_write(b"abcdef", socket(&mut out, &mut room));
        assert!(g.poll_drain(socket(&mut out, &mut room)).is_pending());
        assert_eq!(out, b"abc");
        assert_eq!(g.pending(), 3);
        let mut room = usize::MAX;
        assert!(matches!(
            g.poll_drain(socket(&mut out, &mut room)),
            Poll::Ready(Ok(()))
        ));
        assert_eq!(out, b"abcdef");
    }

    #[test]
    fn past_the_limit_a_write_waits_for_a_socket_that_takes_nothing() {
        let mut g = Gather::default();
        let (mut out, mut room) = (Vec::new(), 0);
        let big = vec![7u8; GATHER_LIMIT];
        assert!(g.poll_write(&big, socket(&mut out, &mut room)).is_ready());
        assert!(g.poll_write(b"x", socket(&mut out, &mut room)).is_pending());
        // The socket takes some: the write goes on.
        let mut room = 10;
        assert!(g.poll_write(b"x", socket(&mut out, &mut room)).is_ready());
        assert_eq!(out.len(), 10);
        assert_eq!(g.pending(), GATHER_LIMIT - 10 + 1);
    }

    #[test]
    fn a_socket_that_takes_zero_bytes_is_an_error() {
        let mut g = Gather::default();
        let _ = g.poll_write(b"abc", |_: &[u8]| Poll::Ready(Ok(0)));
        let drained = g.poll_drain(|_: &[u8]| Poll::Ready(Ok(0)));
        assert!(matches!(drained, Poll::Ready(Err(e)) if e.kind() == io::ErrorKind::WriteZero));
    }
}
