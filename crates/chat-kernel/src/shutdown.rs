//! A shutdown flag that any runtime can await.

use std::sync::atomic::{AtomicBool, Ordering};

use std::time::Duration;

use event_listener::Event;

/// How long a front-end lets a closing connection's writer flush (shutdown, logout, EOF)
/// before it gives up on a client that does not read.
pub const FLUSH_DEADLINE: Duration = Duration::from_secs(4);

/// How long a front-end keeps reading (and discarding) from a socket it is closing, after it
/// shut down its write side: closing a socket with unread input makes the Linux kernel send a
/// TCP reset, which can destroy the last lines (a logout or shutdown notice, an HTTP error, a
/// close frame) before the client reads them.
pub const LINGER: Duration = Duration::from_secs(1);

/// Set once by the process (Ctrl-C, SIGTERM); accept loops await it to stop accepting.
#[derive(Debug, Default)]
pub struct Shutdown {
    flag: AtomicBool,
    event: Event,
}

impl Shutdown {
    /// Raises the flag and wakes every waiter. Returns `false` if it was already raised.
    pub fn trigger(&self) -> bool {
        let first = !self.flag.swap(true, Ordering::SeqCst);
        self.event.notify(usize::MAX);
        first
    }

    /// Whether the flag is raised.
    pub fn is_triggered(&self) -> bool {
        self.flag.load(Ordering::SeqCst)
    }

    /// Completes once the flag is raised.
    pub async fn wait(&self) {
        loop {
            if self.is_triggered() {
                return;
            }
            let listener = self.event.listen();
            if self.is_triggered() {
                return;
            }
            listener.await;
        }
    }
}
