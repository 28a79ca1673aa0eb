//! An idle run: hold K connections (logged in or anonymous) and measure the server's memory
//! per connection.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Semaphore, mpsc, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::args::LoadArgs;
use crate::client::idle_client;
use crate::error::BenchError;
use crate::load::{check_common, check_count, check_server_pid, collect_logins, reasons, sample};
use crate::protocol::Protocol;
use crate::report::IdleReport;
use crate::shared::{ClientConfig, Phase};
use crate::sys;
use crate::target::Target;

/// How long the connections are held, all synced, before the server's memory is sampled.
pub const SETTLE: Duration = Duration::from_secs(2);

/// A validated idle run.
#[derive(Debug, Clone)]
pub struct IdleConfig {
    /// The server.
    pub target: Target,
    /// Connections to hold.
    pub connections: usize,
    /// Log them in.
    pub log_in: bool,
    /// Connecting must finish within this.
    pub timeout: Duration,
    /// Server process to measure.
    pub server_pid: Option<u32>,
    /// Allow non-loopback targets.
    pub allow_remote: bool,
    /// Login name prefix.
    pub name_prefix: String,
    /// Simultaneous connects.
    pub connect_concurrency: usize,
}

impl IdleConfig {
    /// Checks the options of an idle run (`--idle K`).
    pub fn from_args(a: &LoadArgs, connections: usize) -> Result<IdleConfig, BenchError> {
        if connections == 0 {
            return Err(BenchError::Config("--idle must be at least 1".into()));
        }
        check_count("--idle", connections)?;
        check_common(a)?;
        if a.protocol == Protocol::Irc {
            return Err(BenchError::Config(
                "--idle speaks only our protocol: --protocol irc is for load runs".into(),
            ));
        }
        Ok(IdleConfig {
            target: Target::parse(&a.target)?,
            connections,
            log_in: !a.anonymous,
            timeout: Duration::from_secs(a.timeout),
            server_pid: a.server_pid,
            allow_remote: a.allow_remote,
            name_prefix: a.name_prefix.clone(),
            connect_concurrency: a.connect_concurrency.max(1),
        })
    }
}

/// The connections of an idle run, still open. Dropping closes them.
#[derive(Debug)]
pub struct HeldConnections {
    phase: watch::Sender<Phase>,
    handles: Vec<JoinHandle<()>>,
}

impl HeldConnections {
    /// Closes every connection and waits (up to 5 s) for the clients to finish.
    pub async fn release(mut self) {
        let _ = self.phase.send(Phase::Stop);
        let grace = Instant::now() + Duration::from_secs(5);
        for h in self.handles.iter_mut() {
            if tokio::time::timeout_at(grace, &mut *h).await.is_err() {
                h.abort();
            }
        }
    }
}

impl Drop for HeldConnections {
    fn drop(&mut self) {
        let _ = self.phase.send(Phase::Stop);
        for h in &self.handles {
            h.abort();
        }
    }
}

/// Opens the connections, waits until the server has flushed everything to them, and measures.
///
/// Returns the report and the still-open connections, so the caller decides when to close them
/// (the suite stops the server first, sparing it a storm of logout broadcasts).
pub async fn run_idle(cfg: &IdleConfig) -> Result<(IdleReport, HeldConnections), BenchError> {
    let addr = cfg.target.resolve(cfg.allow_remote).await?;
    if let Some(pid) = cfg.server_pid {
        check_server_pid(pid, addr.port())?;
    }
    let _ = sys::raise_nofile(cfg.connections as u64 + 256);
    let before = cfg.server_pid.map(sample).transpose()?;
    let started = Instant::now();
    let deadline = started + cfg.timeout;
    let ccfg = Arc::new(ClientConfig {
        addr,
        transport: cfg.target.transport.clone(),
        name_prefix: cfg.name_prefix.clone(),
        log_in: cfg.log_in,
        deadline,
        gate: Semaphore::new(cfg.connect_concurrency),
        // Idle connections only drain login broadcasts: small buffers keep 10,000 of them cheap.
        read_buffer: 8 * 1024,
        protocol: Protocol::Chat,
    });
    let (phase_tx, phase_rx) = watch::channel(Phase::Connecting);
    let (login_tx, mut login_rx) = mpsc::unbounded_channel();
    let (synced_tx, mut synced_rx) = mpsc::unbounded_channel();
    let handles = (0..cfg.connections)
        .map(|id| {
            tokio::spawn(idle_client(
                id,
                ccfg.clone(),
                phase_rx.clone(),
                login_tx.clone(),
                synced_tx.clone(),
            ))
        })
        .collect();
    drop(login_tx);
    drop(synced_tx);
    let held = HeldConnections {
        phase: phase_tx,
        handles,
    };
    let tally = collect_logins(&mut login_rx, 0).await;
    let connect = started.elapsed();
    if tally.ready == 0 {
        return Err(BenchError::NoClients(reasons(&tally.failures)));
    }
    let _ = held.phase.send(Phase::Probe);
    let mut synced = 0;
    // A little extra time for the probe, so a run that used its whole timeout to connect
    // still measures what it holds.
    let probe_deadline = deadline.max(Instant::now()) + Duration::from_secs(10);
    while synced < tally.ready {
        match tokio::time::timeout_at(probe_deadline, synced_rx.recv()).await {
            Ok(Some(_)) => synced += 1,
            Ok(None) | Err(_) => break,
        }
    }
    // Idle means at rest: the login broadcasts are delivered, and the server has had a moment
    // to give back what they took (it returns freed memory about once a second).
    if cfg.server_pid.is_some() {
        tokio::time::sleep(SETTLE).await;
    }
    let after = cfg.server_pid.map(sample).transpose()?;
    let (rss_before, rss_after) = (before.map(|s| s.rss_kib), after.map(|s| s.rss_kib));
    let per_conn = match (rss_before, rss_after) {
        (Some(b), Some(a)) => Some((a as f64 - b as f64) * 1024.0 / tally.ready as f64),
        _ => None,
    };
    let report = IdleReport {
        target: cfg.target.spec.clone(),
        transport: cfg.target.transport_name().to_string(),
        connections: cfg.connections,
        logged_in: cfg.log_in,
        connected: tally.ready,
        failures: tally.failures,
        synced,
        connect_s: connect.as_secs_f64(),
        server_pid: cfg.server_pid,
        rss_before_kib: rss_before,
        rss_after_kib: rss_after,
        rss_per_connection_bytes: per_conn,
    };
    Ok((report, held))
}
