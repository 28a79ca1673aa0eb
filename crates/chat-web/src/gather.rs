//! The write buffer under tungstenite, shared with the writer, that an idle connection does not
//! keep.
//!
//! tungstenite gathers outgoing frames in a buffer of its own, and that buffer keeps its
//! largest size for the connection's life: after a burst (a login storm sends every login to
//! everyone), every idle WebSocket connection held 16 KiB it no longer needed. The WebSocket
//! front-ends therefore run tungstenite with a write buffer of 0 (each frame is handed on at
//! once) over a [`GatherStream`], which collects frames in the connection's [`Wire`] and writes
//! them in one call when tungstenite flushes, then releases the memory.
//!
//! The writer does not hand its text frames to tungstenite at all: the kernel queued them
//! framed, and the writer gathers a whole batch into the same [`Wire`] ([`Wire::push_frames`]),
//! then asks tungstenite to flush, which writes everything in one call (and wakes whichever
//! task waits for the socket, through tungstenite's own waker handling). tungstenite still
//! writes the control frames (pong, ping, close). Every write to the wire is whole frames under
//! its lock, so frames never interleave; once tungstenite has written a close frame the wire
//! refuses data frames, so nothing follows it.
//!
//! [`Gather`] is the runtime-free buffer; [`GatherStream`] wraps a `futures-io` socket
//! (async-std, smol); the tokio front-end wraps its socket the same way with tokio's traits.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use std::sync::Arc;

use bytes::Bytes;
use futures_util::io::{AsyncRead, AsyncWrite};
use parking_lot::Mutex;

use crate::frame::holds_close;

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

    /// Appends `frames`, whatever is pending (the caller bounds what it adds).
    fn extend(&mut self, frames: &[Bytes]) {
        if self.written > 0 {
            self.buf.drain(..self.written);
            self.written = 0;
        }
        // One allocation for the batch: the buffer is released after every write, and growing
        // it frame by frame reallocated (and copied) it several times per batch, about 3% of a
        // WebSocket server's CPU when 100 clients all send.
        self.buf.reserve(frames.iter().map(Bytes::len).sum());
        for frame in frames {
            self.buf.extend_from_slice(frame);
        }
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

/// A connection's pending output, shared by tungstenite (through its [`GatherStream`]) and the
/// writer (see the module doc). Cloning gives another handle to the same wire.
#[derive(Debug, Clone, Default)]
pub struct Wire {
    shared: Arc<Mutex<WireState>>,
}

#[derive(Debug, Default)]
struct WireState {
    gather: Gather,
    /// tungstenite wrote a close frame: no data frame may follow it.
    closed: bool,
}

/// tungstenite has written a close frame: the connection takes no more data frames.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("close frame sent")]
pub struct WireClosed;

impl Wire {
    /// Takes whole frames from tungstenite, all or none (see [`Gather::poll_write`]), and notes
    /// a close frame among them.
    pub fn poll_write(
        &self,
        frames: &[u8],
        write: impl FnMut(&[u8]) -> Poll<io::Result<usize>>,
    ) -> Poll<io::Result<usize>> {
        let mut st = self.shared.lock();
        let taken = st.gather.poll_write(frames, write);
        if matches!(taken, Poll::Ready(Ok(_))) && holds_close(frames) {
            st.closed = true;
        }
        taken
    }

    /// Hands everything pending to the socket (see [`Gather::poll_drain`]).
    pub fn poll_drain(
        &self,
        write: impl FnMut(&[u8]) -> Poll<io::Result<usize>>,
    ) -> Poll<io::Result<()>> {
        self.shared.lock().gather.poll_drain(write)
    }

    /// Appends a writer's batch of whole text frames (the kernel queued them framed), to be
    /// written at the next flush. Fails, appending nothing, once tungstenite has written a
    /// close frame.
    pub fn push_frames(&self, frames: &[Bytes]) -> Result<(), WireClosed> {
        let mut st = self.shared.lock();
        if st.closed {
            return Err(WireClosed);
        }
        st.gather.extend(frames);
        Ok(())
    }
}

/// A `futures-io` socket whose writes are gathered in its [`Wire`] until flushed (see the
/// module doc).
#[derive(Debug)]
pub struct GatherStream<S> {
    inner: S,
    wire: Wire,
}

impl<S> GatherStream<S> {
    /// Wraps `inner`, with a new wire.
    pub fn new(inner: S) -> Self {
        GatherStream {
            inner,
            wire: Wire::default(),
        }
    }

    /// Another handle to this stream's wire, for the writer.
    pub fn wire(&self) -> Wire {
        self.wire.clone()
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

    #[test]
    fn the_writer_hands_on_a_batch_and_the_flush_writes_it_in_one_call() {
        let wire = Wire::default();
        let batch = [
            Bytes::from_static(b"\x81\x0a[INFO] - a"),
            Bytes::from_static(b"\x81\x0bno line end"),
        ];
        wire.push_frames(&batch).unwrap();
        let mut calls = Vec::new();
        let drained = wire.poll_drain(|bytes: &[u8]| {
            calls.push(bytes.to_vec());
            Poll::Ready(Ok(bytes.len()))
        });
        assert!(matches!(drained, Poll::Ready(Ok(()))));
        assert_eq!(calls, [b"\x81\x0a[INFO] - a\x81\x0bno line end".to_vec()]);
    }

    #[test]
    fn a_batch_is_gathered_into_one_allocation() {
        let wire = Wire::default();
        // 20-byte frames: grown frame by frame, the buffer would end at 320.
        let mut frame = vec![0x81, 18];
        frame.extend_from_slice(&[b'x'; 18]);
        let frame = Bytes::from(frame);
        wire.push_frames(&vec![frame; 10]).unwrap();
        let st = wire.shared.lock();
        assert_eq!(st.gather.pending(), 200);
        assert_eq!(
            st.gather.buf.capacity(),
            200,
            "reserved once, for the whole batch"
        );
    }

    #[test]
    fn a_batch_follows_what_the_socket_has_not_taken_yet() {
        let wire = Wire::default();
        let (mut out, mut room) = (Vec::new(), 2);
        // tungstenite's pong and ping: the socket takes the pong only.
        let _ = wire.poll_write(b"\x8a\x00", socket(&mut out, &mut room));
        let _ = wire.poll_write(b"\x89\x00", socket(&mut out, &mut room));
        assert!(wire.poll_drain(socket(&mut out, &mut room)).is_pending());
        wire.push_frames(&[Bytes::from_static(b"\x81\x01x")])
            .unwrap();
        let mut room = usize::MAX;
        assert!(wire.poll_drain(socket(&mut out, &mut room)).is_ready());
        assert_eq!(out, b"\x8a\x00\x89\x00\x81\x01x");
    }

    #[test]
    fn after_tungstenite_writes_a_close_frame_no_data_frame_follows() {
        let wire = Wire::default();
        let (mut out, mut room) = (Vec::new(), 0);
        // A pong is not a close.
        let _ = wire.poll_write(b"\x8a\x00", socket(&mut out, &mut room));
        wire.push_frames(&[Bytes::from_static(b"\x81\x01x")])
            .unwrap();
        let _ = wire.poll_write(b"\x88\x02\x03\xe8", socket(&mut out, &mut room));
        assert_eq!(
            wire.push_frames(&[Bytes::from_static(b"\x81\x04late")]),
            Err(WireClosed)
        );
        let mut room = usize::MAX;
        assert!(wire.poll_drain(socket(&mut out, &mut room)).is_ready());
        assert_eq!(out, b"\x8a\x00\x81\x01x\x88\x02\x03\xe8");
    }

    #[test]
    fn a_refused_close_frame_does_not_close_the_wire() {
        let wire = Wire::default();
        let (mut out, mut room) = (Vec::new(), 0);
        let _ = wire.poll_write(&vec![0x82; GATHER_LIMIT], socket(&mut out, &mut room));
        let refused = wire.poll_write(b"\x88\x00", socket(&mut out, &mut room));
        assert!(refused.is_pending());
        assert!(wire.push_frames(&[]).is_ok(), "the close was not taken");
    }
}
