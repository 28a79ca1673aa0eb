//! A load run: N clients log in, S of them send M messages each, everybody counts deliveries.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::sync::{Semaphore, mpsc, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::args::LoadArgs;
use crate::client::{ClientStats, load_client};
use crate::error::BenchError;
use crate::payload::HEADER_LEN;
use crate::report::{Latency, LoadReport, ServerStats};
use crate::shared::{ClientConfig, Counters, LoadShared, Login, Phase};
use crate::sys;
use crate::target::{Target, Transport};
use crate::{irc, protocol::Protocol};

/// Longest accepted name prefix (names are at most 32 characters, the index takes up to 7).
const MAX_PREFIX: usize = 25;

/// A validated load run.
#[derive(Debug, Clone)]
pub struct LoadConfig {
    /// The server.
    pub target: Target,
    /// Clients that log in.
    pub clients: usize,
    /// The first `senders` clients send.
    pub senders: usize,
    /// Messages per sender.
    pub messages: u32,
    /// Total messages per second, 0 = unlimited.
    pub rate: f64,
    /// In-flight limit per sender, 0 = unlimited.
    pub window: u32,
    /// Minimum payload size.
    pub payload_size: usize,
    /// The whole run ends after this.
    pub timeout: Duration,
    /// The measured part ends after this long in which nothing was sent, received, refused or
    /// disconnected (plus the gap between two messages at `rate`); `None`: not before
    /// `timeout`.
    pub stall: Option<Duration>,
    /// Server process to measure.
    pub server_pid: Option<u32>,
    /// Allow non-loopback targets.
    pub allow_remote: bool,
    /// Login name prefix.
    pub name_prefix: String,
    /// Simultaneous connects.
    pub connect_concurrency: usize,
    /// The server's protocol (ours, or IRC for a reference server).
    pub protocol: Protocol,
    /// Ctrl-C (SIGINT) ends the run, which then reports what it counted until then. The suite
    /// leaves it off: there Ctrl-C ends the whole suite, not one of its runs.
    pub stop_on_interrupt: bool,
}

impl LoadConfig {
    /// Checks the options of a load run.
    pub fn from_args(a: &LoadArgs) -> Result<LoadConfig, BenchError> {
        let senders = a.senders.unwrap_or(a.clients);
        if a.clients == 0 {
            return Err(BenchError::Config("--clients must be at least 1".into()));
        }
        if senders > a.clients {
            return Err(BenchError::Config(format!(
                "--senders {senders} is more than --clients {}",
                a.clients
            )));
        }
        check_count("--clients", a.clients)?;
        if !(a.rate.is_finite() && (a.rate == 0.0 || (MIN_RATE..=MAX_RATE).contains(&a.rate))) {
            return Err(BenchError::Config(format!(
                "--rate must be 0 (as fast as the window allows) or {MIN_RATE} to {MAX_RATE:.0} messages a second"
            )));
        }
        if a.stall > MAX_TIMEOUT {
            return Err(BenchError::Config(format!(
                "--stall must be 0 (wait out --timeout) to {MAX_TIMEOUT} seconds"
            )));
        }
        check_common(a)?;
        let target = Target::parse(&a.target)?;
        if a.protocol == Protocol::Irc {
            check_irc(&target, a.clients, &a.name_prefix)?;
        }
        Ok(LoadConfig {
            target,
            clients: a.clients,
            senders,
            messages: a.messages,
            rate: a.rate,
            window: a.window,
            // What is sent: a payload never holds less than its header.
            payload_size: a.payload_size.max(HEADER_LEN),
            timeout: Duration::from_secs(a.timeout),
            stall: (a.stall > 0).then(|| Duration::from_secs(a.stall)),
            server_pid: a.server_pid,
            allow_remote: a.allow_remote,
            name_prefix: a.name_prefix.clone(),
            connect_concurrency: a.connect_concurrency.max(1),
            protocol: a.protocol,
            stop_on_interrupt: true,
        })
    }
}

/// What an IRC run needs: a TCP target, two clients at least (a server does not send a
/// client its own channel messages, so one alone receives nothing), valid nicknames.
fn check_irc(target: &Target, clients: usize, prefix: &str) -> Result<(), BenchError> {
    if target.transport != Transport::Tcp {
        return Err(BenchError::Config(
            "--protocol irc needs a TCP target (host:port)".into(),
        ));
    }
    if clients < 2 {
        return Err(BenchError::Config(
            "--protocol irc needs at least 2 clients: nobody receives a lone sender's messages"
                .into(),
        ));
    }
    if !irc::valid_nick_prefix(prefix, clients) {
        return Err(BenchError::Config(format!(
            "--name-prefix {prefix:?} does not make IRC nicknames: a letter or one of []\\`_^{{|}} first, then those, digits and -, at most {} characters with the index",
            irc::MAX_NICK
        )));
    }
    Ok(())
}

/// The most clients (or idle connections) one run opens: each is a socket and a task, and a
/// count nobody could mean (a typo, `--clients 4294967295`) must be an error, not gigabytes
/// of tasks spawned before the deadline is looked at.
pub const MAX_CLIENTS: usize = 100_000;

/// The longest `--timeout`, in seconds (a day).
pub const MAX_TIMEOUT: u64 = 86_400;

/// The largest `--payload-size`: far past any server's line limit (ours: 4 KiB over TCP, 64 KiB
/// a WebSocket message), so a run can still test one, without allocating what a typo asks for.
pub const MAX_PAYLOAD: usize = 1 << 20;

/// The lowest nonzero `--rate`, messages a second (one every 1,000 s: far past any run).
pub const MIN_RATE: f64 = 0.001;

/// The default `--stall`, seconds: long past any pause of a working server on loopback, short
/// beside the default `--timeout` of a minute.
pub const DEFAULT_STALL_S: u64 = 10;

/// The highest `--rate`, messages a second: a thousand times what this machine's servers
/// deliver, so no run is limited by it; a larger number is a typo, not a plan.
pub const MAX_RATE: f64 = 1e9;

/// Checks a count of connections against [`MAX_CLIENTS`].
pub fn check_count(option: &str, count: usize) -> Result<(), BenchError> {
    if count > MAX_CLIENTS {
        return Err(BenchError::Config(format!(
            "{option} {count} is more than {MAX_CLIENTS}, the most one run opens"
        )));
    }
    Ok(())
}

/// Checks what load and idle runs share: the timeout, the payload size, the name prefix.
pub fn check_common(a: &LoadArgs) -> Result<(), BenchError> {
    if !(1..=MAX_TIMEOUT).contains(&a.timeout) {
        return Err(BenchError::Config(format!(
            "--timeout must be 1 to {MAX_TIMEOUT} seconds"
        )));
    }
    if a.payload_size > MAX_PAYLOAD {
        return Err(BenchError::Config(format!(
            "--payload-size must be at most {MAX_PAYLOAD} bytes"
        )));
    }
    check_prefix(&a.name_prefix)
}

/// Checks a login name prefix: non-empty, short, and a valid start of a chat name.
pub fn check_prefix(prefix: &str) -> Result<(), BenchError> {
    let bad = prefix.is_empty()
        || prefix.chars().count() > MAX_PREFIX
        || prefix.starts_with(['#', '/'])
        || prefix.chars().any(|c| c.is_whitespace() || c.is_control());
    if bad {
        return Err(BenchError::Config(format!(
            "--name-prefix must be 1 to {MAX_PREFIX} characters, no spaces, not starting with # or /"
        )));
    }
    Ok(())
}

/// A number that tells this run's payloads from any other's.
pub fn run_id() -> u32 {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos() ^ (d.as_secs() as u32))
        .unwrap_or(0);
    nanos ^ std::process::id().rotate_left(16)
}

/// Groups failure reasons of the login phase.
#[derive(Debug, Default)]
pub struct LoginTally {
    /// Clients ready.
    pub ready: usize,
    /// Ready clients with index below this many (the senders).
    pub ready_below: usize,
    /// Failures by reason.
    pub failures: BTreeMap<String, usize>,
    /// Slowest connect + login.
    pub slowest: Duration,
}

/// Collects every login outcome (the channel closes once every client reported).
pub async fn collect_logins(rx: &mut mpsc::UnboundedReceiver<Login>, below: usize) -> LoginTally {
    let mut t = LoginTally::default();
    while let Some(l) = rx.recv().await {
        match l {
            Login::Ready { id, took } => {
                t.ready += 1;
                if id < below {
                    t.ready_below += 1;
                }
                t.slowest = t.slowest.max(took);
            }
            Login::Failed { reason, .. } => *t.failures.entry(reason).or_default() += 1,
        }
    }
    t
}

/// Samples the server process, mapping failure to a readable error.
pub(crate) fn sample(pid: u32) -> Result<sys::ProcSample, BenchError> {
    sys::sample_process(pid).map_err(|e| BenchError::Config(format!("--server-pid {pid}: {e}")))
}

/// Checks that `--server-pid` names a process that listens on the target's `port` (when that
/// can be told), so that its CPU time and memory are reported as the server's only if they are.
pub(crate) fn check_server_pid(pid: u32, port: u16) -> Result<(), BenchError> {
    sample(pid)?;
    if sys::listens_on(pid, port) == Some(false) {
        return Err(BenchError::Config(format!(
            "--server-pid {pid} does not listen on port {port}: give the pid of the server the \
             target names (its figures would be reported as the server's)"
        )));
    }
    Ok(())
}

/// Runs one load run and returns its report.
pub async fn run_load(cfg: &LoadConfig) -> Result<LoadReport, BenchError> {
    let addr = cfg.target.resolve(cfg.allow_remote).await?;
    if let Some(pid) = cfg.server_pid {
        check_server_pid(pid, addr.port())?;
    }
    // Raising the limit is best effort: connections beyond it fail and are reported.
    let _ = sys::raise_nofile(cfg.clients as u64 + 256);
    let shared = LoadShared::new(
        run_id(),
        cfg.clients,
        cfg.senders,
        cfg.messages,
        cfg.rate,
        cfg.window,
        cfg.payload_size,
    )
    .map_err(|e| BenchError::Config(format!("latency histogram: {e}")))?;
    let sh = Arc::new(shared);
    let started = Instant::now();
    let deadline = started + cfg.timeout;
    let ccfg = Arc::new(ClientConfig {
        addr,
        transport: cfg.target.transport.clone(),
        name_prefix: cfg.name_prefix.clone(),
        log_in: true,
        deadline,
        gate: Semaphore::new(cfg.connect_concurrency),
        read_buffer: 64 * 1024,
        protocol: cfg.protocol,
    });
    let cpu_total0 = sys::own_cpu();
    let (phase_tx, phase_rx) = watch::channel(Phase::Connecting);
    let (login_tx, mut login_rx) = mpsc::unbounded_channel();
    let handles: Vec<JoinHandle<ClientStats>> = (0..cfg.clients)
        .map(|id| {
            tokio::spawn(load_client(
                id,
                ccfg.clone(),
                sh.clone(),
                phase_rx.clone(),
                login_tx.clone(),
            ))
        })
        .collect();
    drop(login_tx);
    let tally = collect_logins(&mut login_rx, cfg.senders).await;
    let connect_login = started.elapsed();
    if tally.ready == 0 {
        let _ = phase_tx.send(Phase::Stop);
        finish(handles).await;
        return Err(BenchError::NoClients(reasons(&tally.failures)));
    }

    sh.set_solo(tally.ready == 1);
    sh.set_echo(cfg.protocol.echoes_sender());
    let server_before = cfg.server_pid.map(sample).transpose()?;
    let cpu0 = sys::own_cpu();
    // Watched from before the first message, so that a Ctrl-C at any moment of the run ends it.
    let mut interrupt = Interrupt::watch(cfg.stop_on_interrupt);
    let start = Instant::now();
    let mut stall = cfg
        .stall
        .map(|quiet| Stall::new(quiet, cfg.rate, sh.counters(), start));
    let _ = phase_tx.send(Phase::Run);
    let end_of_run = loop {
        let notified = sh.progress.notified();
        if sh.complete(tally.ready_below) {
            break EndOfRun::Complete;
        }
        // With every connection gone nothing more can arrive (and the senders may wait on
        // windows nobody will free): the run is over, not to be waited out to `--timeout`.
        if sh.lost() >= tally.ready {
            break EndOfRun::AllDisconnected;
        }
        let now = Instant::now();
        let stall_at = match &mut stall {
            Some(s) => match s.check(sh.counters(), now) {
                Some(at) => at.min(deadline),
                None => break EndOfRun::Stalled,
            },
            None => deadline,
        };
        if now >= deadline {
            break EndOfRun::TimedOut;
        }
        tokio::select! {
            () = notified => {}
            // Looks again: the counters moved meanwhile, or the stall (or the deadline) came.
            () = tokio::time::sleep_until(stall_at) => {}
            () = interrupt.signalled() => break EndOfRun::Interrupted,
        }
    };
    let end = Instant::now();
    let cpu1 = sys::own_cpu();
    // Read as it is, not as an option: a server that died mid-run is the run's news.
    let server_after = cfg.server_pid.map(sys::sample_process);
    let _ = phase_tx.send(Phase::Stop);
    let stats = finish(handles).await;
    let cpu_total1 = sys::own_cpu();

    let mut r = LoadReport {
        target: cfg.target.spec.clone(),
        transport: cfg.target.transport_name().to_string(),
        protocol: cfg.protocol.name().to_string(),
        clients: cfg.clients,
        clients_connected: tally.ready,
        client_failures: tally.failures,
        senders: cfg.senders,
        messages_per_sender: cfg.messages,
        window: cfg.window,
        rate: cfg.rate,
        payload_size: cfg.payload_size,
        timed_out: end_of_run == EndOfRun::TimedOut,
        stalled_s: (end_of_run == EndOfRun::Stalled)
            .then(|| stall.as_ref().map_or(0.0, |s| s.quiet.as_secs_f64())),
        all_disconnected: end_of_run == EndOfRun::AllDisconnected,
        interrupted: end_of_run == EndOfRun::Interrupted,
        connect_login_s: connect_login.as_secs_f64(),
        connect_login_max_ms: tally.slowest.as_secs_f64() * 1e3,
        bench_cpu_ms: cpu1.saturating_sub(cpu0).as_secs_f64() * 1e3,
        bench_cpu_total_ms: cpu_total1.saturating_sub(cpu_total0).as_secs_f64() * 1e3,
        ..LoadReport::default()
    };
    let mut last = None;
    for s in &stats {
        r.sent += s.sent;
        r.deliveries_received += s.received;
        r.duplicates += s.duplicates;
        for (e, n) in &s.errors {
            *r.errors.entry(e.clone()).or_default() += n;
        }
        if let Some(reason) = &s.disconnected {
            *r.disconnected.entry(reason.clone()).or_default() += 1;
        }
        last = last.max(s.last_delivery);
    }
    // Sends counted by senders whose task had to be aborted are still in the shared counter.
    r.sent = r.sent.max(sh.sent_total());
    r.rejected = sh.rejected_total();
    r.deliveries_expected = r.sent.saturating_sub(r.rejected) * sh.recipients(tally.ready) as u64;
    r.deliveries_lost = r.deliveries_expected.saturating_sub(r.deliveries_received);
    let duration = last.unwrap_or(end).saturating_duration_since(start);
    r.duration_s = duration.as_secs_f64();
    if r.duration_s > 0.0 {
        r.deliveries_per_s = r.deliveries_received as f64 / r.duration_s;
    }
    if let Some(h) = sh.merged_latency() {
        r.latency = Latency::from_ns(&h);
    }
    if let (Some(pid), Some(before)) = (cfg.server_pid, server_before) {
        match server_after {
            Some(Ok(after)) => {
                let (ns, precise) = sys::cpu_delta_ns(&before, &after);
                r.server = Some(ServerStats {
                    pid,
                    cpu_ms: ns as f64 / 1e6,
                    cpu_precise: precise,
                    cpu_ns_per_delivery: (r.deliveries_received > 0)
                        .then(|| ns as f64 / r.deliveries_received as f64),
                    user_ms: after.user_ns.saturating_sub(before.user_ns) as f64 / 1e6,
                    system_ms: after.system_ns.saturating_sub(before.system_ns) as f64 / 1e6,
                    rss_kib: after.rss_kib,
                    rss_peak_kib: after.rss_peak_kib,
                });
            }
            Some(Err(e)) => {
                *r.errors
                    .entry(format!("server process unreadable at the end: {e}"))
                    .or_default() += 1;
            }
            None => {}
        }
    }
    Ok(r)
}

/// Why the measured part of a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum EndOfRun {
    /// Every delivery arrived.
    Complete,
    /// `--timeout` passed first.
    TimedOut,
    /// Nothing moved for `--stall` seconds.
    Stalled,
    /// Every client had lost its connection.
    AllDisconnected,
    /// Ctrl-C.
    Interrupted,
}

/// Watches a run for progress: it has stalled once none of its counters (messages sent,
/// deliveries received, refusals, lost connections, senders done) moved for `quiet`.
///
/// A server that swallows messages (or holds them) leaves a window-1 sender waiting for ever
/// and its receivers with nothing to count; without this the run would wait out `--timeout`
/// (a minute by default) to report what it knew after the first second.
#[derive(Debug)]
struct Stall {
    /// How long nothing may move: `--stall`, plus the time between two messages at `--rate`.
    quiet: Duration,
    /// The counters when they last moved, and when that was seen.
    last: (Counters, Instant),
}

impl Stall {
    fn new(stall: Duration, rate: f64, counters: Counters, now: Instant) -> Stall {
        // A paced run is quiet between its messages by design. From the options `rate` is 0
        // or at least MIN_RATE (a gap of at most 1,000 s); a config built otherwise is capped
        // rather than trusted, so the sum stays an `Instant` away from any `now`.
        let gap = if rate > 0.0 {
            Duration::try_from_secs_f64(1.0 / rate).unwrap_or(Duration::MAX)
        } else {
            Duration::ZERO
        };
        Stall {
            quiet: stall
                .saturating_add(gap)
                .min(Duration::from_secs(2 * MAX_TIMEOUT)),
            last: (counters, now),
        }
    }

    /// Takes the counters as they are `now`: returns when to look again if nothing moves
    /// meanwhile, or `None` once nothing has moved for `quiet`.
    fn check(&mut self, counters: Counters, now: Instant) -> Option<Instant> {
        if counters != self.last.0 {
            self.last = (counters, now);
        }
        let at = self.last.1 + self.quiet;
        (now < at).then_some(at)
    }
}

/// Ctrl-C (SIGINT), watched for the length of a run.
struct Interrupt(Option<tokio::signal::unix::Signal>);

impl Interrupt {
    /// Starts watching when `enabled`. The handler is installed here, not at the first poll,
    /// so a signal that comes before the first wait is not missed (nor kills the process).
    /// If it cannot be installed, Ctrl-C keeps its default: it ends the process.
    fn watch(enabled: bool) -> Interrupt {
        use tokio::signal::unix::{SignalKind, signal};
        Interrupt(
            enabled
                .then(|| signal(SignalKind::interrupt()).ok())
                .flatten(),
        )
    }

    /// Completes at the next Ctrl-C; never when not watching.
    async fn signalled(&mut self) {
        if let Some(signal) = &mut self.0
            && signal.recv().await.is_some()
        {
            return;
        }
        std::future::pending().await
    }
}

/// `3 x reason; 1 x other` for an error message.
pub fn reasons(failures: &BTreeMap<String, usize>) -> String {
    if failures.is_empty() {
        return "no client finished in time".into();
    }
    failures
        .iter()
        .map(|(k, v)| format!("{v} x {k}"))
        .collect::<Vec<_>>()
        .join("; ")
}

/// Waits (briefly) for every client task after `Stop`; aborts stragglers.
async fn finish(handles: Vec<JoinHandle<ClientStats>>) -> Vec<ClientStats> {
    let grace = Instant::now() + Duration::from_secs(5);
    let mut out = Vec::with_capacity(handles.len());
    for mut h in handles {
        match tokio::time::timeout_at(grace, &mut h).await {
            Ok(Ok(s)) => out.push(s),
            Ok(Err(_)) => {}
            Err(_) => h.abort(),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args() -> LoadArgs {
        LoadArgs::default()
    }

    #[test]
    fn validates_options() {
        let c = LoadConfig::from_args(&args()).unwrap();
        assert_eq!((c.clients, c.senders, c.messages), (100, 100, 100));
        let bad = [
            LoadArgs {
                clients: 0,
                ..args()
            },
            LoadArgs {
                senders: Some(101),
                ..args()
            },
            LoadArgs {
                rate: -1.0,
                ..args()
            },
            LoadArgs {
                rate: f64::NAN,
                ..args()
            },
            LoadArgs {
                timeout: 0,
                ..args()
            },
            LoadArgs {
                name_prefix: "#x".into(),
                ..args()
            },
            LoadArgs {
                name_prefix: "a b".into(),
                ..args()
            },
            LoadArgs {
                name_prefix: "x".repeat(26),
                ..args()
            },
            LoadArgs {
                target: "nope".into(),
                ..args()
            },
            // Past what any run means: each would allocate or overflow before the deadline.
            LoadArgs {
                clients: MAX_CLIENTS + 1,
                senders: Some(1),
                ..args()
            },
            LoadArgs {
                timeout: MAX_TIMEOUT + 1,
                ..args()
            },
            LoadArgs {
                timeout: u64::MAX,
                ..args()
            },
            LoadArgs {
                payload_size: MAX_PAYLOAD + 1,
                ..args()
            },
            LoadArgs {
                rate: 1e-20,
                ..args()
            },
            LoadArgs {
                rate: 1e300,
                ..args()
            },
            LoadArgs {
                stall: MAX_TIMEOUT + 1,
                ..args()
            },
        ];
        for a in bad {
            assert!(LoadConfig::from_args(&a).is_err(), "{a:?}");
        }
        // At the bounds, and a payload below its header, which is what is sent (and reported).
        let edge = LoadArgs {
            clients: MAX_CLIENTS,
            timeout: MAX_TIMEOUT,
            payload_size: 0,
            rate: MIN_RATE,
            stall: MAX_TIMEOUT,
            ..args()
        };
        let c = LoadConfig::from_args(&edge).unwrap();
        assert_eq!(c.payload_size, HEADER_LEN);
        assert_eq!(c.stall, Some(Duration::from_secs(MAX_TIMEOUT)));
        let c = LoadConfig::from_args(&LoadArgs {
            rate: MAX_RATE,
            stall: 0,
            ..args()
        })
        .unwrap();
        assert_eq!(
            (c.rate, c.stall),
            (MAX_RATE, None),
            "--stall 0 waits out --timeout"
        );
        assert_eq!(
            LoadConfig::from_args(&args()).unwrap().stall,
            Some(Duration::from_secs(DEFAULT_STALL_S))
        );
        let err = LoadConfig::from_args(&LoadArgs {
            rate: 1e300,
            ..args()
        })
        .unwrap_err();
        assert!(err.to_string().contains("0.001 to 1000000000"), "{err}");
    }

    #[test]
    fn a_run_stalls_once_nothing_moved_for_the_quiet_time() {
        let sh = LoadShared::new(1, 2, 2, 10, 0.0, 1, 0).unwrap();
        let t0 = Instant::now();
        let secs = Duration::from_secs;
        let mut stall = Stall::new(secs(10), 0.0, sh.counters(), t0);
        assert_eq!(
            stall.check(sh.counters(), t0 + secs(9)),
            Some(t0 + secs(10))
        );
        assert_eq!(
            stall.check(sh.counters(), t0 + secs(10)),
            None,
            "ten quiet seconds"
        );
        // Any counter that moves starts the quiet time again, from when it was seen to move.
        let steps: [fn(&LoadShared); 5] = [
            |sh| sh.sent(1),
            |sh| sh.delivered(1),
            |sh| sh.reject(0),
            |sh| sh.sender_done(),
            |sh| sh.client_lost(0),
        ];
        for step in steps {
            let mut stall = Stall::new(secs(10), 0.0, sh.counters(), t0);
            step(&sh);
            assert_eq!(
                stall.check(sh.counters(), t0 + secs(9)),
                Some(t0 + secs(19))
            );
            assert_eq!(
                stall.check(sh.counters(), t0 + secs(18)),
                Some(t0 + secs(19))
            );
            assert_eq!(stall.check(sh.counters(), t0 + secs(19)), None);
        }
        // A lost connection that takes its one delivery with it still counts as a move.
        sh.delivered(1);
        let mut stall = Stall::new(secs(1), 0.0, sh.counters(), t0);
        sh.client_lost(1);
        assert!(stall.check(sh.counters(), t0 + secs(1)).is_some());
        // A paced run may be quiet for the gap between two messages besides.
        let stall = Stall::new(secs(10), 0.5, sh.counters(), t0);
        assert_eq!(stall.quiet, secs(12));
        // A rate no option allows, in a config built by hand, is capped, not a panic.
        let mut stall = Stall::new(secs(10), 1e-300, sh.counters(), t0);
        assert_eq!(stall.quiet, secs(2 * MAX_TIMEOUT));
        assert!(stall.check(sh.counters(), t0).is_some());
    }

    #[test]
    fn lists_reasons() {
        let m = BTreeMap::from([("a".to_string(), 2), ("b".to_string(), 1)]);
        assert_eq!(reasons(&m), "2 x a; 1 x b");
        assert_eq!(reasons(&BTreeMap::new()), "no client finished in time");
    }
}
