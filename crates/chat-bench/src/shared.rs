//! State shared by every client task of one run: configuration, phase, counters, windows.

use std::net::SocketAddr;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use hdrhistogram::Histogram;
use tokio::sync::{Notify, Semaphore};
use tokio::time::Instant;

use crate::protocol::Protocol;
use crate::target::Transport;

/// Where a run is; clients watch it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Clients connect and log in.
    Connecting,
    /// Senders send.
    Run,
    /// Idle clients check that the server has flushed everything to them.
    Probe,
    /// Every client closes.
    Stop,
}

/// How a client's connect and login ended.
#[derive(Debug)]
pub enum Login {
    /// Logged in (or, anonymous, greeted) after `took`.
    Ready {
        /// Client index.
        id: usize,
        /// Time from the start of its connect to its own login line.
        took: Duration,
    },
    /// Gave up.
    Failed {
        /// Client index.
        id: usize,
        /// Why, in a few words (grouped in the report).
        reason: String,
    },
}

/// What every client needs to connect.
#[derive(Debug)]
pub struct ClientConfig {
    /// Server address.
    pub addr: SocketAddr,
    /// TCP or WebSocket.
    pub transport: Transport,
    /// Clients log in as `<prefix><index>`.
    pub name_prefix: String,
    /// Log in (false: stay anonymous, idle runs only).
    pub log_in: bool,
    /// Connecting and logging in must finish by then.
    pub deadline: Instant,
    /// Limits how many clients connect at once.
    pub gate: Semaphore,
    /// Read buffer per connection, bytes.
    pub read_buffer: usize,
    /// The server's protocol.
    pub protocol: Protocol,
}

impl ClientConfig {
    /// The login name of client `id`.
    pub fn name(&self, id: usize) -> String {
        format!("{}{id}", self.name_prefix)
    }
}

/// Number of histogram shards (receivers record into `id % SHARDS`).
const SHARDS: usize = 8;

/// Highest latency the histograms hold, ns (one hour); larger values are clamped.
const MAX_LATENCY_NS: u64 = 3_600_000_000_000;

/// Run-wide state of a load run.
#[derive(Debug)]
pub struct LoadShared {
    /// Identifies this run's payloads.
    pub run: u32,
    /// Payload timestamps count from here.
    pub base: Instant,
    /// Clients started.
    pub clients: usize,
    /// The first `senders` clients send.
    pub senders: usize,
    /// Messages per sender.
    pub messages: u32,
    /// Total rate (msgs/s), 0 = unlimited.
    pub rate: f64,
    /// In-flight limit per sender, 0 = unlimited.
    pub window: u32,
    /// Minimum payload size.
    pub payload_size: usize,
    /// Per sender: the in-flight window.
    windows: Vec<Semaphore>,
    /// Per sender: one bit per message, set when some other client first received it.
    acks: Vec<Vec<AtomicU64>>,
    /// Latency histograms (ns), sharded to keep lock contention low.
    latency: Vec<Mutex<Histogram<u64>>>,
    /// Messages sent so far, all senders.
    sent: AtomicU64,
    /// Deliveries received by clients still connected.
    received_alive: AtomicU64,
    /// Logged-in clients still connected.
    alive: AtomicUsize,
    /// Logged-in clients that lost their connection (only grows).
    lost: AtomicUsize,
    /// Messages the server answered with an error instead of broadcasting.
    rejected: AtomicU64,
    /// Senders that finished (or gave up).
    senders_done: AtomicUsize,
    /// Deliveries that complete the run; `u64::MAX` until every sender is done.
    target: AtomicU64,
    /// Only one client logged in: its own copy acknowledges its messages.
    solo: AtomicBool,
    /// The server sends a sender its own messages too (ours does, IRC servers do not).
    echo: AtomicBool,
    /// Wakes the coordinator when counters move towards the end.
    pub progress: Notify,
}

/// A snapshot of a run's progress counters: messages sent, deliveries received by clients
/// still connected, refusals, lost connections, senders done. Two differ when anything
/// happened between them (a lost connection changes the lost count, whatever it does to the
/// received one).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Counters([u64; 5]);

impl LoadShared {
    /// Creates the shared state for `clients` clients of which `senders` send `messages` each.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        run: u32,
        clients: usize,
        senders: usize,
        messages: u32,
        rate: f64,
        window: u32,
        payload_size: usize,
    ) -> Result<LoadShared, hdrhistogram::CreationError> {
        let words = (messages as usize).div_ceil(64);
        let latency = (0..SHARDS)
            .map(|_| Histogram::new_with_bounds(1, MAX_LATENCY_NS, 3).map(Mutex::new))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(LoadShared {
            run,
            base: Instant::now(),
            clients,
            senders,
            messages,
            rate,
            window,
            payload_size,
            windows: (0..senders)
                .map(|_| Semaphore::new(window as usize))
                .collect(),
            acks: (0..senders)
                .map(|_| (0..words).map(|_| AtomicU64::new(0)).collect())
                .collect(),
            latency,
            sent: AtomicU64::new(0),
            received_alive: AtomicU64::new(0),
            alive: AtomicUsize::new(0),
            lost: AtomicUsize::new(0),
            rejected: AtomicU64::new(0),
            senders_done: AtomicUsize::new(0),
            target: AtomicU64::new(u64::MAX),
            solo: AtomicBool::new(false),
            echo: AtomicBool::new(true),
            progress: Notify::new(),
        })
    }

    /// Nanoseconds since `base`.
    pub fn now_ns(&self, now: Instant) -> u64 {
        u64::try_from(now.saturating_duration_since(self.base).as_nanos()).unwrap_or(u64::MAX)
    }

    /// The window semaphore of `sender`.
    pub fn window_of(&self, sender: usize) -> Option<&Semaphore> {
        self.windows.get(sender)
    }

    /// Marks message `seq` of `sender` as received by another client; the first time, frees a
    /// window slot. Returns whether this was the first time.
    pub fn ack(&self, sender: usize, seq: u32) -> bool {
        let Some(words) = self.acks.get(sender) else {
            return false;
        };
        let Some(word) = words.get(seq as usize / 64) else {
            return false;
        };
        let bit = 1u64 << (seq % 64);
        // Most copies arrive after the first: a plain load keeps the cache line shared.
        if word.load(Ordering::Relaxed) & bit != 0 {
            return false;
        }
        let first = word.fetch_or(bit, Ordering::Relaxed) & bit == 0;
        if first && let Some(w) = self.windows.get(sender) {
            w.add_permits(1);
        }
        first
    }

    /// Records a batch of latencies (ns) from receiver `id`.
    pub fn record_latencies(&self, id: usize, values: &[u64]) {
        if let Some(shard) = self.latency.get(id % SHARDS) {
            let mut h = shard.lock().unwrap_or_else(|p| p.into_inner());
            for &v in values {
                h.saturating_record(v.max(1));
            }
        }
    }

    /// All latencies recorded so far, merged.
    pub fn merged_latency(&self) -> Option<Histogram<u64>> {
        let mut all: Option<Histogram<u64>> = None;
        for shard in &self.latency {
            let h = shard.lock().unwrap_or_else(|p| p.into_inner());
            match all.as_mut() {
                None => all = Some(h.clone()),
                Some(a) => {
                    // Same bounds everywhere, so adding cannot fail.
                    let _ = a.add(&*h);
                }
            }
        }
        all
    }

    /// Declares whether exactly one client logged in (then nobody else can acknowledge a
    /// message, and a sender's own copy does). Set before the run starts.
    pub fn set_solo(&self, solo: bool) {
        self.solo.store(solo, Ordering::Release);
    }

    /// Declares whether the server sends senders their own messages (default: yes). Set
    /// before the run starts.
    pub fn set_echo(&self, echo: bool) {
        self.echo.store(echo, Ordering::Release);
    }

    /// How many clients receive each message when `connected` clients take part: all of them,
    /// or all but its sender when the server does not echo (assuming the sender stays).
    pub fn recipients(&self, connected: usize) -> usize {
        if self.echo.load(Ordering::Relaxed) {
            connected
        } else {
            connected.saturating_sub(1)
        }
    }

    /// Whether only one client takes part.
    pub fn solo(&self) -> bool {
        self.solo.load(Ordering::Relaxed)
    }

    /// A client logged in and takes part.
    pub fn client_joined(&self) {
        self.alive.fetch_add(1, Ordering::Relaxed);
    }

    /// Logged-in clients that lost their connection during the run.
    pub fn lost(&self) -> usize {
        self.lost.load(Ordering::Acquire)
    }

    /// A logged-in client lost its connection after receiving `received` deliveries.
    pub fn client_lost(&self, received: u64) {
        // Received first, then alive: the coordinator never sees a too-small expectation.
        self.received_alive.fetch_sub(received, Ordering::AcqRel);
        self.alive.fetch_sub(1, Ordering::AcqRel);
        self.lost.fetch_add(1, Ordering::AcqRel);
        self.progress.notify_one();
    }

    /// `n` messages went out.
    pub fn sent(&self, n: u64) {
        self.sent.fetch_add(n, Ordering::Relaxed);
    }

    /// Messages sent so far.
    pub fn sent_total(&self) -> u64 {
        self.sent.load(Ordering::Acquire)
    }

    /// The server refused one message of `sender` (answered with an error): it frees its
    /// window slot and is not expected anywhere.
    pub fn reject(&self, sender: usize) {
        self.rejected.fetch_add(1, Ordering::AcqRel);
        if let Some(w) = self.windows.get(sender) {
            w.add_permits(1);
        }
        self.progress.notify_one();
    }

    /// Messages the server refused so far.
    pub fn rejected_total(&self) -> u64 {
        self.rejected.load(Ordering::Acquire)
    }

    /// A sender finished.
    pub fn sender_done(&self) {
        self.senders_done.fetch_add(1, Ordering::AcqRel);
        self.progress.notify_one();
    }

    /// A receiver got `n` deliveries.
    pub fn delivered(&self, n: u64) {
        let now = self.received_alive.fetch_add(n, Ordering::AcqRel) + n;
        if now >= self.target.load(Ordering::Acquire) {
            self.progress.notify_one();
        }
    }

    /// The counters that move while a run makes progress, for telling a stalled run.
    pub fn counters(&self) -> Counters {
        Counters([
            self.sent.load(Ordering::Acquire),
            self.received_alive.load(Ordering::Acquire),
            self.rejected.load(Ordering::Acquire),
            self.lost.load(Ordering::Acquire) as u64,
            self.senders_done.load(Ordering::Acquire) as u64,
        ])
    }

    /// Whether the run is complete, given how many senders started: every sender is done and
    /// every connected client has every message that was sent and not refused.
    pub fn complete(&self, senders_started: usize) -> bool {
        if self.senders_done.load(Ordering::Acquire) < senders_started {
            return false;
        }
        // `rejected` only grows, so a late refusal can only lower the expectation: never a
        // premature end.
        let expected = self
            .sent_total()
            .saturating_sub(self.rejected_total())
            .saturating_mul(self.recipients(self.alive.load(Ordering::Acquire)) as u64);
        self.target.store(expected, Ordering::Release);
        self.received_alive.load(Ordering::Acquire) >= expected
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn acks_free_window_slots_once() {
        let sh = LoadShared::new(1, 3, 2, 100, 0.0, 1, 0).unwrap();
        let w = sh.window_of(1).unwrap();
        w.acquire().await.unwrap().forget();
        assert_eq!(w.available_permits(), 0);
        assert!(sh.ack(1, 70));
        assert_eq!(w.available_permits(), 1);
        assert!(!sh.ack(1, 70));
        assert_eq!(w.available_permits(), 1);
        assert!(!sh.ack(5, 0), "unknown sender");
        assert!(!sh.ack(1, 100_000), "unknown sequence");
    }

    #[tokio::test]
    async fn completes_when_every_alive_client_has_every_message() {
        let sh = LoadShared::new(1, 2, 1, 10, 0.0, 1, 0).unwrap();
        sh.client_joined();
        sh.client_joined();
        sh.sent(10);
        assert!(!sh.complete(1), "sender not done");
        sh.sender_done();
        sh.delivered(10);
        assert!(!sh.complete(1), "second client still missing messages");
        sh.delivered(9);
        assert!(!sh.complete(1));
        // The second client drops after 9: the rest only waits for the first.
        sh.client_lost(9);
        assert!(sh.complete(1));
    }

    #[tokio::test]
    async fn a_refused_message_frees_its_slot_and_is_not_expected() {
        let sh = LoadShared::new(1, 2, 1, 10, 0.0, 1, 0).unwrap();
        sh.client_joined();
        sh.client_joined();
        let w = sh.window_of(0).unwrap();
        w.acquire().await.unwrap().forget();
        sh.sent(2);
        sh.sender_done();
        sh.delivered(2);
        assert!(!sh.complete(1));
        sh.reject(0);
        assert_eq!(w.available_permits(), 1);
        assert_eq!(sh.rejected_total(), 1);
        assert!(
            sh.complete(1),
            "1 accepted message x 2 clients = 2 deliveries"
        );
    }

    #[test]
    fn merges_latency_shards() {
        let sh = LoadShared::new(1, 2, 1, 10, 0.0, 1, 0).unwrap();
        sh.record_latencies(0, &[1_000, 2_000]);
        sh.record_latencies(1, &[3_000, 0]);
        let h = sh.merged_latency().unwrap();
        assert_eq!(h.len(), 4);
        assert!(h.max() >= 3_000 && h.max() < 3_010);
        assert_eq!(h.min(), 1, "zero is recorded as 1 ns");
    }
}
