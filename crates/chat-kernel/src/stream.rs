//! The runtime-free halves of a TCP front-end's reads and writes.
//!
//! Each runtime's TCP connection waits for its socket in its own way; what it does once the
//! socket is ready is the same everywhere and lives here, driven by a closure that makes the
//! one non-blocking read or write. Reads go into a per-thread scratch buffer and are fed to
//! the kernel at once, never held across an await, so an idle connection holds no read
//! buffer; a batch of payloads is gathered into a per-thread buffer for one write.

use std::cell::RefCell;
use std::io::{self, ErrorKind};

use bytes::Bytes;

use crate::outbox::{Wrote, wrote_reason};
use crate::{ConnId, Flow, Kernel, LineDecoder};

/// Size of the per-thread read buffer: the most read from a socket at a time.
const READ_SCRATCH: usize = 16 * 1024;
/// The per-thread write buffer is released after a burst grew it past this.
const KEEP_WRITE_BUF: usize = 64 * 1024;

thread_local! {
    /// Every connection on this thread reads into this buffer, never across an await.
    static READ_BUF: RefCell<Box<[u8]>> =
        RefCell::new(vec![0; READ_SCRATCH].into_boxed_slice());
    /// Every connection on this thread gathers a batch into this buffer for one write.
    static WRITE_BUF: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// Why a writer ends when the kernel aborted its outbox (a slow client, a server drop).
pub const DROPPED: &str = "dropped by server";

/// Which side of a connection ended first.
#[derive(Debug)]
pub enum End {
    /// The reader: EOF, half-close or a read error. The client may still be reading.
    Reader(String),
    /// The kernel closed the connection (logout, shutdown): the writer flushes what is queued.
    Closed,
    /// The writer: the outbox closed and was flushed, the kernel dropped the connection, or a
    /// write failed.
    Writer(Wrote),
}

/// What a connection does once one side has ended and the kernel has been told: a one-byte
/// value, so a connection's future keeps no reason string across the flush it awaits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Then {
    /// Nothing more to deliver.
    Done {
        /// The writer shut the write side cleanly: linger before closing.
        lingers: bool,
    },
    /// The reader ended: the writer delivers what the kernel still queued, within the deadline.
    Flush,
    /// The kernel closed the outbox: the writer delivers the last lines, within the deadline,
    /// and then the kernel is told how that went.
    FlushThenDisconnect,
}

impl End {
    /// Tells the kernel how connection `id` ended, when that is known yet, and says what the
    /// front-end does next.
    pub fn settle(self, kernel: &Kernel, id: ConnId) -> Then {
        match self {
            End::Writer(wrote) => {
                kernel.disconnect(id, wrote_reason(&wrote));
                Then::Done {
                    lingers: wrote.is_ok(),
                }
            }
            End::Reader(reason) => {
                // A client that half-closed still reads: the kernel closes the outbox after
                // what it holds, and the writer delivers that unless the client stops reading.
                kernel.disconnect(id, &reason);
                Then::Flush
            }
            // The kernel closed the outbox after what it holds (logout, shutdown): the writer
            // delivers that, unless the client stopped reading.
            End::Closed => Then::FlushThenDisconnect,
        }
    }
}

/// What one read did.
#[derive(Debug, PartialEq, Eq)]
pub enum Read {
    /// Input was fed to the kernel (or the read was interrupted): read again.
    Progress,
    /// Nothing to read now: wait until the socket is readable.
    Idle,
    /// The kernel closed the connection ([`Flow::Close`]): stop reading.
    Closed,
    /// EOF or a read error: the reason.
    Ended(String),
}

/// Reads what the socket holds now (one call of `read`, which must not block) into the
/// thread's buffer and feeds it, line by line, to the kernel.
pub fn read_into_kernel(
    kernel: &Kernel,
    id: ConnId,
    decoder: &mut LineDecoder,
    read: impl FnOnce(&mut [u8]) -> io::Result<usize>,
) -> Read {
    READ_BUF.with_borrow_mut(|buf| {
        let n = match read(buf) {
            Ok(0) => return Read::Ended("connection closed".to_owned()),
            Ok(n) => n,
            Err(e) if e.kind() == ErrorKind::WouldBlock => return Read::Idle,
            Err(e) if e.kind() == ErrorKind::Interrupted => return Read::Progress,
            Err(e) => return Read::Ended(e.to_string()),
        };
        let mut closed = false;
        decoder.feed(&buf[..n], |input| {
            if !closed && kernel.handle(id, input) == Flow::Close {
                closed = true;
            }
        });
        if closed { Read::Closed } else { Read::Progress }
    })
}

/// Reads what the socket holds now and drops it (a lingering socket): whether to keep
/// reading, `false` once the client closed or the read failed.
pub fn read_and_discard(read: impl FnOnce(&mut [u8]) -> io::Result<usize>) -> bool {
    READ_BUF.with_borrow_mut(|buf| match read(buf) {
        Ok(0) => false,
        Ok(_) => true,
        Err(e) => matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::Interrupted),
    })
}

/// One non-blocking write: how much the socket took, 0 when it is full.
pub fn write_some(
    data: &[u8],
    mut write: impl FnMut(&[u8]) -> io::Result<usize>,
) -> io::Result<usize> {
    loop {
        match write(data) {
            Ok(n) => return Ok(n),
            Err(e) if e.kind() == ErrorKind::WouldBlock => return Ok(0),
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

/// Writes `batch` in one write without waiting (a lone payload as it is, several gathered in
/// the thread's buffer); returns what the socket did not take.
pub fn write_now(
    batch: &[Bytes],
    mut write: impl FnMut(&[u8]) -> io::Result<usize>,
) -> io::Result<Option<Bytes>> {
    match batch {
        [] => Ok(None),
        [one] => {
            let n = write_some(one, &mut write)?;
            Ok((n < one.len()).then(|| one.slice(n..)))
        }
        many => WRITE_BUF.with_borrow_mut(|buf| {
            buf.clear();
            for payload in many {
                buf.extend_from_slice(payload);
            }
            let n = write_some(buf, &mut write)?;
            let rest = (n < buf.len()).then(|| Bytes::copy_from_slice(&buf[n..]));
            if buf.capacity() > KEEP_WRITE_BUF {
                // A burst grew the thread's buffer: do not keep it.
                *buf = Vec::new();
            }
            Ok(rest)
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_gathered_batch_is_one_write_and_the_rest_is_what_it_did_not_take() {
        let batch = [Bytes::from_static(b"ab"), Bytes::from_static(b"cde")];
        let mut writes = Vec::new();
        let rest = write_now(&batch, |data| {
            writes.push(data.to_vec());
            Ok(3)
        });
        assert_eq!(writes, vec![b"abcde".to_vec()]);
        assert_eq!(rest.ok().flatten().as_deref(), Some(&b"de"[..]));
    }

    #[test]
    fn a_full_socket_takes_nothing_and_interrupts_are_retried() {
        let mut calls = 0;
        let n = write_some(b"x", |_| {
            calls += 1;
            match calls {
                1 => Err(ErrorKind::Interrupted.into()),
                _ => Err(ErrorKind::WouldBlock.into()),
            }
        });
        assert_eq!(n.ok(), Some(0));
        assert_eq!(calls, 2);
        let one = [Bytes::from_static(b"xyz")];
        let rest = write_now(&one, |_| Err(ErrorKind::WouldBlock.into()));
        assert_eq!(rest.ok().flatten().as_deref(), Some(&b"xyz"[..]));
        let failed = write_now(&one, |_| Err(ErrorKind::BrokenPipe.into()));
        assert!(failed.is_err());
    }

    #[test]
    fn settling_an_end_tells_the_kernel_and_says_what_is_left() {
        use crate::store::MemoryStore;
        use crate::{Console, KernelConfig, Transport};
        let kernel = Kernel::new(
            KernelConfig::default(),
            Box::new(MemoryStore::default()),
            Console::stdout(false),
        )
        .expect("kernel");
        let server: std::sync::Arc<str> = "test_chat".into();
        let peer = "127.0.0.1:40000".parse().expect("address");
        let connect = || {
            kernel
                .connect(&server, peer, Transport::Tcp)
                .expect("registered")
        };
        let (a, b, c, d) = (connect(), connect(), connect(), connect());
        assert_eq!(kernel.connections(), 4);
        // The writer flushed and shut the socket: disconnected, and the socket lingers.
        assert_eq!(
            End::Writer(Ok(())).settle(&kernel, a.id),
            Then::Done { lingers: true }
        );
        // A write failed: disconnected, no linger.
        assert_eq!(
            End::Writer(Err("broken pipe".into())).settle(&kernel, b.id),
            Then::Done { lingers: false }
        );
        // The reader hit EOF: disconnected, and the writer flushes what is queued.
        assert_eq!(End::Reader("EOF".into()).settle(&kernel, c.id), Then::Flush);
        assert_eq!(kernel.connections(), 1);
        // The kernel closed it: the kernel is told only after the flush.
        assert_eq!(End::Closed.settle(&kernel, d.id), Then::FlushThenDisconnect);
        assert_eq!(kernel.connections(), 1);
    }

    #[test]
    fn discarding_stops_at_eof_or_an_error() {
        assert!(read_and_discard(|buf| Ok(buf.len())));
        assert!(read_and_discard(|_| Err(ErrorKind::WouldBlock.into())));
        assert!(!read_and_discard(|_| Ok(0)));
        assert!(!read_and_discard(
            |_| Err(ErrorKind::ConnectionReset.into())
        ));
    }
}
