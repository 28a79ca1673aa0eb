//! A connection's outbound queue: bounded by bytes, drained in batches, usable from any runtime.
//!
//! The kernel holds the [`OutboxSender`] and pushes already-rendered payloads without ever
//! waiting: when a slow reader's pending output passes the limit, the push fails and the kernel
//! drops that client, so nobody else waits on it. The front-end's writer task holds the
//! [`Outbox`], takes everything queued in one go (one write for many messages) and learns from it
//! when the connection is to be closed, gracefully (flush first) or at once.

use std::future::{Future, poll_fn};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use atomic_waker::AtomicWaker;
use bytes::Bytes;
use parking_lot::Mutex;

/// How a connection ends, as the writer learns it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Closing {
    /// Write what is queued, then close (logout, shutdown).
    Flush,
    /// Close now, dropping what is queued (slow client, disconnect).
    Abort,
}

#[derive(Debug, Default)]
struct State {
    /// Always drained whole, so a `Vec` (swapped with the writer's empty batch) serves.
    queue: Vec<Bytes>,
    /// Bytes in `queue`.
    bytes: usize,
    /// Bytes of the batch the writer took and may still be writing: it counts toward the
    /// limit until the writer asks for the next batch with an empty one (it has written it).
    in_flight: usize,
    closing: Option<Closing>,
    /// How many payloads the writer's last take held (at most [`KEEP_BATCH`]): a queue that
    /// must grow grows to that at once, not through 4, 8, 16, ... slots, each a reallocation
    /// (a writer that goes idle after every write, as in a fan-out, frees its vectors each
    /// time, and the regrowth was 7% of the server's CPU).
    burst: u8,
}

#[derive(Debug, Default)]
struct Shared {
    state: Mutex<State>,
    /// Woken when data arrives or the outbox closes.
    data: AtomicWaker,
    /// Woken when the outbox is aborted.
    abort: AtomicWaker,
}

/// The push side of a connection's queue, held by the kernel.
#[derive(Debug, Clone)]
pub struct OutboxSender {
    shared: Arc<Shared>,
    limit: usize,
}

/// How a front-end's writer ended: `Ok` once it delivered everything the kernel queued and
/// shut the socket's write side (logout, shutdown: the socket may then linger, see
/// [`LINGER`](crate::shutdown::LINGER)), else why it stopped, for the console.
pub type Wrote = Result<(), String>;

/// The console's reason for a connection whose writer delivered everything.
pub const CLOSED_BY_SERVER: &str = "closed by server";

/// The reason to log for how a writer ended.
pub fn wrote_reason(wrote: &Wrote) -> &str {
    match wrote {
        Ok(()) => CLOSED_BY_SERVER,
        Err(reason) => reason,
    }
}

/// The queue was past its byte limit: the payload was not queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("send queue full")]
pub struct QueueFull;

/// The drain side of a connection's queue, held by the front-end's writer.
#[derive(Debug)]
pub struct Outbox {
    shared: Arc<Shared>,
}

/// While a connection is busy, its queue and its writer's batch keep up to this many payload
/// slots between writes (a larger vector, after a burst, is released at once).
pub const KEEP_BATCH: usize = 64;

/// When a writer goes idle (it waits with nothing queued), its batch and the queue keep at
/// most this many slots: an idle connection should not hold a burst's vectors (64 slots of
/// 32 bytes each, twice, were most of an idle connection's memory after a login storm).
pub const IDLE_KEEP: usize = 4;

/// Empties a vector for reuse, releasing it if it has more than `keep` slots.
fn shrink(v: &mut Vec<Bytes>, keep: usize) {
    v.clear();
    if v.capacity() > keep {
        *v = Vec::new();
    }
}

/// Empties a written batch for reuse, releasing its memory if a burst made it large.
///
/// Writers may call this after each write; [`Outbox::poll_batch`] also shrinks the batch and
/// the queue when the writer goes idle.
pub fn recycle(batch: &mut Vec<Bytes>) {
    shrink(batch, KEEP_BATCH);
}

/// Creates a queue that holds at most `limit` bytes of pending output.
pub fn outbox(limit: usize) -> (OutboxSender, Outbox) {
    let shared = Arc::new(Shared::default());
    (
        OutboxSender {
            shared: shared.clone(),
            limit,
        },
        Outbox { shared },
    )
}

/// Makes room in a full queue for the writer's last burst at once (see `State::burst`).
#[cold]
#[inline(never)]
fn regrow(st: &mut State) {
    let len = st.queue.len();
    let want = usize::from(st.burst).next_power_of_two().max(IDLE_KEEP);
    if want > len {
        st.queue.reserve_exact(want - len);
    }
}

impl OutboxSender {
    /// Queues a payload; fails when it would take the pending output (what is queued and the
    /// batch the writer is writing) past the limit. A payload pushed after the outbox closed
    /// is dropped silently.
    ///
    /// Inlined into the kernel's delivery loop, its one hot caller (once per recipient), and
    /// always: as a call of its own (`#[inline]` left it one) its prologue and epilogue were
    /// 18 of its 34 instructions (callgrind). The regrowth, rare, stays out of line.
    #[inline(always)]
    pub fn push(&self, payload: Bytes) -> Result<(), QueueFull> {
        let mut st = self.shared.state.lock();
        if st.closing.is_some() {
            return Ok(());
        }
        if st.bytes + st.in_flight + payload.len() > self.limit {
            return Err(QueueFull);
        }
        st.bytes += payload.len();
        let was_empty = st.queue.is_empty();
        let len = st.queue.len();
        if len == st.queue.capacity() {
            regrow(&mut st);
        }
        st.queue.push(payload);
        drop(st);
        if was_empty {
            // The writer registered its waker before it saw the queue empty: one wake is enough.
            self.shared.data.wake();
        }
        Ok(())
    }

    /// Closes the queue: the writer sends what is queued, then ends.
    pub fn close(&self) {
        self.set_closing(Closing::Flush);
    }

    /// Closes the queue at once: what is queued is dropped and the writer is stopped.
    pub fn abort(&self) {
        self.set_closing(Closing::Abort);
    }

    fn set_closing(&self, closing: Closing) {
        let mut st = self.shared.state.lock();
        if st.closing == Some(Closing::Abort) {
            return;
        }
        st.closing = Some(closing);
        if closing == Closing::Abort {
            st.queue = Vec::new();
            st.bytes = 0;
            st.in_flight = 0;
        }
        drop(st);
        self.shared.data.wake();
        if closing == Closing::Abort {
            self.shared.abort.wake();
        }
    }

    /// Bytes of output pending now: queued, and in the batch the writer is writing.
    pub fn pending(&self) -> usize {
        let st = self.shared.state.lock();
        st.bytes + st.in_flight
    }
}

impl Outbox {
    /// Moves everything queued into `batch`. Ready with `true` when it got data, with `false`
    /// when the connection is to be closed (a graceful close delivers the queue first).
    ///
    /// What `batch` takes counts toward the limit until the writer has written it, which it
    /// shows by asking again with `batch` empty.
    ///
    /// Pending means the writer goes idle: then `batch` and the queue are shrunk to
    /// [`IDLE_KEEP`] slots, so a connection at rest holds no burst-sized vectors.
    pub fn poll_batch(&self, cx: &mut Context<'_>, batch: &mut Vec<Bytes>) -> Poll<bool> {
        if let Some(ready) = self.try_batch(batch) {
            return Poll::Ready(ready);
        }
        self.shared.data.register(cx.waker());
        let mut st = self.shared.state.lock();
        match Self::take(&mut st, batch) {
            Some(ready) => Poll::Ready(ready),
            None => {
                shrink(&mut st.queue, IDLE_KEEP);
                drop(st);
                if batch.is_empty() {
                    shrink(batch, IDLE_KEEP);
                }
                Poll::Pending
            }
        }
    }

    /// Waits for output (see [`Outbox::poll_batch`]).
    pub async fn next_batch(&self, batch: &mut Vec<Bytes>) -> bool {
        poll_fn(|cx| self.poll_batch(cx, batch)).await
    }

    /// Takes what is queued without waiting: `None` when there is nothing and it is open.
    pub fn try_batch(&self, batch: &mut Vec<Bytes>) -> Option<bool> {
        Self::take(&mut self.shared.state.lock(), batch)
    }

    /// [`Outbox::try_batch`] under the lock.
    fn take(st: &mut State, batch: &mut Vec<Bytes>) -> Option<bool> {
        if batch.is_empty() {
            // The writer wrote what it took before.
            st.in_flight = 0;
        }
        if st.closing == Some(Closing::Abort) {
            return Some(false);
        }
        if !st.queue.is_empty() {
            if batch.is_empty() {
                // O(1): the writer's (cleared) batch becomes the queue, keeping its capacity.
                std::mem::swap(&mut st.queue, batch);
                if st.queue.capacity() > KEEP_BATCH {
                    // A burst grew it; an idle connection should not keep that memory.
                    st.queue = Vec::new();
                }
            } else {
                batch.append(&mut st.queue);
            }
            st.in_flight += st.bytes;
            st.bytes = 0;
            st.burst = u8::try_from(batch.len().min(KEEP_BATCH)).unwrap_or(u8::MAX);
            return Some(true);
        }
        st.closing.map(|_| false)
    }

    /// How the connection is closing, if it is.
    pub fn closing(&self) -> Option<Closing> {
        self.shared.state.lock().closing
    }

    /// Ready once the kernel aborted this connection (slow client, server drop); pending
    /// registers the waker. The poll form of [`Outbox::aborted`], for a writer that checks it
    /// while it waits for a full socket, without a future of its own.
    pub fn poll_aborted(&self, cx: &mut Context<'_>) -> Poll<()> {
        self.shared.poll_aborted(cx)
    }

    /// A future that completes when the kernel aborts this connection (slow client, server
    /// drop). A front-end races its blocked writes against it.
    pub fn aborted(&self) -> Aborted {
        Aborted {
            shared: self.shared.clone(),
        }
    }
}

impl Shared {
    fn poll_aborted(&self, cx: &mut Context<'_>) -> Poll<()> {
        let aborted = || self.state.lock().closing == Some(Closing::Abort);
        if aborted() {
            return Poll::Ready(());
        }
        self.abort.register(cx.waker());
        if aborted() {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }
}

/// Completes when the outbox is aborted; see [`Outbox::aborted`].
#[derive(Debug)]
pub struct Aborted {
    shared: Arc<Shared>,
}

impl Future for Aborted {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        self.shared.poll_aborted(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::task::Waker;

    fn poll_once(rx: &Outbox, batch: &mut Vec<Bytes>) -> Poll<bool> {
        rx.poll_batch(&mut Context::from_waker(Waker::noop()), batch)
    }

    #[test]
    fn batches_everything_queued() {
        let (tx, rx) = outbox(100);
        let mut batch = Vec::new();
        assert_eq!(poll_once(&rx, &mut batch), Poll::Pending);
        tx.push(Bytes::from_static(b"a\r\n")).unwrap();
        tx.push(Bytes::from_static(b"bc\r\n")).unwrap();
        assert_eq!(tx.pending(), 7);
        assert_eq!(poll_once(&rx, &mut batch), Poll::Ready(true));
        assert_eq!(batch.len(), 2);
        // Still pending while the writer writes them.
        assert_eq!(tx.pending(), 7);
        batch.clear();
        assert_eq!(poll_once(&rx, &mut batch), Poll::Pending);
        assert_eq!(tx.pending(), 0);
    }

    #[test]
    fn recycle_releases_only_large_batches() {
        let mut small: Vec<Bytes> = Vec::with_capacity(8);
        small.push(Bytes::from_static(b"x"));
        recycle(&mut small);
        assert!(small.is_empty() && small.capacity() >= 8);
        let mut big: Vec<Bytes> = vec![Bytes::new(); 1000];
        recycle(&mut big);
        assert_eq!(big.capacity(), 0);
    }

    #[test]
    fn going_idle_releases_burst_sized_vectors() {
        let (tx, rx) = outbox(1 << 20);
        let mut batch = Vec::new();
        for _ in 0..3 {
            // A burst: the queue grows, the batch takes it, and gives the queue its own vector.
            for _ in 0..40 {
                tx.push(Bytes::from_static(b"x\r\n")).unwrap();
            }
            assert_eq!(poll_once(&rx, &mut batch), Poll::Ready(true));
            assert_eq!(batch.len(), 40);
            batch.clear();
        }
        assert!(batch.capacity() > IDLE_KEEP);
        assert!(rx.shared.state.lock().queue.capacity() > IDLE_KEEP);
        // Nothing queued: the writer goes idle and neither vector keeps the burst's slots.
        assert_eq!(poll_once(&rx, &mut batch), Poll::Pending);
        assert!(batch.capacity() <= IDLE_KEEP);
        assert!(rx.shared.state.lock().queue.capacity() <= IDLE_KEEP);
        // And the next message still arrives.
        tx.push(Bytes::from_static(b"y\r\n")).unwrap();
        assert_eq!(poll_once(&rx, &mut batch), Poll::Ready(true));
        assert_eq!(batch, [Bytes::from_static(b"y\r\n")]);
    }

    #[test]
    fn a_queue_regrows_to_the_last_burst_in_one_step() {
        let (tx, rx) = outbox(1 << 20);
        let mut batch = Vec::new();
        for _ in 0..40 {
            tx.push(Bytes::from_static(b"x\r\n")).unwrap();
        }
        assert_eq!(poll_once(&rx, &mut batch), Poll::Ready(true));
        batch.clear();
        assert_eq!(poll_once(&rx, &mut batch), Poll::Pending);
        assert!(rx.shared.state.lock().queue.capacity() <= IDLE_KEEP);
        // The first push after going idle makes room for the whole of the last burst.
        tx.push(Bytes::from_static(b"y\r\n")).unwrap();
        assert!(rx.shared.state.lock().queue.capacity() >= 40);
        // A writer whose last take was one payload gets the small queue it had.
        assert_eq!(poll_once(&rx, &mut batch), Poll::Ready(true));
        batch.clear();
        assert_eq!(poll_once(&rx, &mut batch), Poll::Pending);
        tx.push(Bytes::from_static(b"z\r\n")).unwrap();
        assert!(rx.shared.state.lock().queue.capacity() <= IDLE_KEEP);
    }

    #[test]
    fn a_writer_that_delivered_everything_was_closed_by_the_server() {
        assert_eq!(wrote_reason(&Ok(())), "closed by server");
        assert_eq!(wrote_reason(&Err("broken pipe".into())), "broken pipe");
    }

    #[test]
    fn full_queue_refuses_without_blocking() {
        let (tx, _rx) = outbox(10);
        tx.push(Bytes::from_static(b"12345")).unwrap();
        tx.push(Bytes::from_static(b"12345")).unwrap();
        assert_eq!(tx.push(Bytes::from_static(b"x")), Err(QueueFull));
    }

    #[test]
    fn the_batch_being_written_counts_toward_the_limit_until_the_writer_asks_again() {
        let (tx, rx) = outbox(10);
        tx.push(Bytes::from_static(b"12345678")).unwrap();
        let mut batch = Vec::new();
        assert_eq!(poll_once(&rx, &mut batch), Poll::Ready(true));
        // The writer holds 8 bytes it has not written (a full socket): 2 more fit, not 3.
        assert_eq!(tx.pending(), 8);
        tx.push(Bytes::from_static(b"ab")).unwrap();
        assert_eq!(tx.push(Bytes::from_static(b"c")), Err(QueueFull));
        // Taking more into the same batch keeps all of it in flight.
        assert_eq!(poll_once(&rx, &mut batch), Poll::Ready(true));
        assert_eq!(tx.pending(), 10);
        assert_eq!(tx.push(Bytes::from_static(b"c")), Err(QueueFull));
        // Written: the writer asks with an empty batch, and the room is back.
        batch.clear();
        assert_eq!(poll_once(&rx, &mut batch), Poll::Pending);
        assert_eq!(tx.pending(), 0);
        tx.push(Bytes::from_static(b"0123456789")).unwrap();
    }

    #[test]
    fn graceful_close_delivers_queue_first() {
        let (tx, rx) = outbox(100);
        tx.push(Bytes::from_static(b"bye")).unwrap();
        tx.close();
        tx.push(Bytes::from_static(b"late")).unwrap();
        let mut batch = Vec::new();
        assert_eq!(poll_once(&rx, &mut batch), Poll::Ready(true));
        assert_eq!(batch, [Bytes::from_static(b"bye")]);
        assert_eq!(poll_once(&rx, &mut batch), Poll::Ready(false));
        assert_eq!(rx.closing(), Some(Closing::Flush));
    }

    #[test]
    fn abort_drops_queue_and_wakes_aborted() {
        let (tx, rx) = outbox(100);
        tx.push(Bytes::from_static(b"x")).unwrap();
        let mut aborted = rx.aborted();
        let mut cx = Context::from_waker(Waker::noop());
        assert!(Pin::new(&mut aborted).poll(&mut cx).is_pending());
        tx.abort();
        assert!(Pin::new(&mut aborted).poll(&mut cx).is_ready());
        let mut batch = Vec::new();
        assert_eq!(poll_once(&rx, &mut batch), Poll::Ready(false));
        assert!(batch.is_empty());
        tx.close();
        assert_eq!(rx.closing(), Some(Closing::Abort), "abort is final");
    }
}
