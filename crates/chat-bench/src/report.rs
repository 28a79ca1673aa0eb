//! What a run reports: the structures (serialised for `--json` and `bench-results.json`) and
//! their human-readable form.

use std::collections::BTreeMap;
use std::fmt::{self, Display, Write as _};

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

/// Latency summary in microseconds.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Latency {
    /// Median.
    pub p50_us: f64,
    /// 90th percentile.
    pub p90_us: f64,
    /// 99th percentile.
    pub p99_us: f64,
    /// Largest.
    pub max_us: f64,
    /// Mean.
    pub mean_us: f64,
}

impl Latency {
    /// Summarises a histogram of nanoseconds.
    pub fn from_ns(h: &Histogram<u64>) -> Latency {
        if h.is_empty() {
            return Latency::default();
        }
        let us = |ns: u64| ns as f64 / 1_000.0;
        Latency {
            p50_us: us(h.value_at_quantile(0.50)),
            p90_us: us(h.value_at_quantile(0.90)),
            p99_us: us(h.value_at_quantile(0.99)),
            max_us: us(h.max()),
            mean_us: h.mean() / 1_000.0,
        }
    }
}

/// The server's side of a run (from `/proc/PID`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ServerStats {
    /// Process id.
    pub pid: u32,
    /// CPU time (user + system) the server used while messages flowed, ms.
    pub cpu_ms: f64,
    /// Whether `cpu_ms` has nanosecond resolution (per-thread schedstat) rather than
    /// clock ticks (usually 10 ms).
    pub cpu_precise: bool,
    /// Server CPU nanoseconds per delivery received.
    pub cpu_ns_per_delivery: Option<f64>,
    /// Of `cpu_ms`, the part in user space (clock-tick resolution), ms.
    #[serde(default)]
    pub user_ms: f64,
    /// Of `cpu_ms`, the part in the Linux kernel (clock-tick resolution), ms. On loopback this
    /// includes the receivers' network processing and wake-ups, which the sender pays for.
    #[serde(default)]
    pub system_ms: f64,
    /// Resident memory at the end, KiB.
    pub rss_kib: u64,
    /// Peak resident memory, KiB.
    pub rss_peak_kib: u64,
}

/// The protocol of reports written before the field existed.
fn chat_protocol() -> String {
    "chat".into()
}

/// The report of one load run.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LoadReport {
    /// The target as given.
    pub target: String,
    /// `tcp` or `ws`.
    pub transport: String,
    /// `chat` (ours) or `irc`; reports from before it existed were all `chat`.
    #[serde(default = "chat_protocol")]
    pub protocol: String,
    /// Clients asked for.
    pub clients: usize,
    /// Clients that connected and logged in.
    pub clients_connected: usize,
    /// Clients that did not, by reason.
    pub client_failures: BTreeMap<String, usize>,
    /// Senders asked for.
    pub senders: usize,
    /// Messages per sender asked for.
    pub messages_per_sender: u32,
    /// Window per sender (0 = unlimited).
    pub window: u32,
    /// Total rate asked for (0 = unlimited).
    pub rate: f64,
    /// Minimum payload size.
    pub payload_size: usize,
    /// Messages sent.
    pub sent: u64,
    /// Messages the server answered with an `[ERROR]` instead of broadcasting (flood limit,
    /// line too long); listed in `errors`.
    pub rejected: u64,
    /// Deliveries expected: (sent - rejected) x clients connected (`msgall` reaches every
    /// logged-in user, the sender included).
    pub deliveries_expected: u64,
    /// Deliveries received (first copies).
    pub deliveries_received: u64,
    /// Expected minus received.
    pub deliveries_lost: u64,
    /// Deliveries received twice.
    pub duplicates: u64,
    /// Clients the server closed during the run, by reason.
    pub disconnected: BTreeMap<String, usize>,
    /// `[ERROR]` replies received during the run, by text.
    pub errors: BTreeMap<String, u64>,
    /// The run hit `--timeout` before every delivery arrived.
    pub timed_out: bool,
    /// The run ended because nothing had moved for this many seconds (`--stall`, plus the gap
    /// between two messages at `--rate`), before every delivery arrived.
    #[serde(default)]
    pub stalled_s: Option<f64>,
    /// The run ended early because every client had lost its connection (nothing more could
    /// arrive), before every delivery did.
    #[serde(default)]
    pub all_disconnected: bool,
    /// The run was ended by Ctrl-C (SIGINT) before every delivery arrived; the report counts
    /// it until then.
    #[serde(default)]
    pub interrupted: bool,
    /// Wall time to connect and log in every client, s.
    pub connect_login_s: f64,
    /// Slowest single client connect + login, ms.
    pub connect_login_max_ms: f64,
    /// From the start signal to the last delivery, s.
    pub duration_s: f64,
    /// Deliveries received per second over `duration_s`.
    pub deliveries_per_s: f64,
    /// Delivery latency (send to receipt).
    pub latency: Latency,
    /// The bench's own CPU time while messages flowed, ms.
    pub bench_cpu_ms: f64,
    /// The bench's own CPU time for the whole run (connecting included), ms.
    pub bench_cpu_total_ms: f64,
    /// Server figures, with `--server-pid`.
    pub server: Option<ServerStats>,
}

/// The report of an idle run.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct IdleReport {
    /// The target as given.
    pub target: String,
    /// `tcp` or `ws`.
    pub transport: String,
    /// Connections asked for.
    pub connections: usize,
    /// Whether they logged in.
    pub logged_in: bool,
    /// Connections that were established (and logged in, if asked).
    pub connected: usize,
    /// Connections that failed, by reason.
    pub failures: BTreeMap<String, usize>,
    /// Connections that answered the probe (so the server had flushed its output to them).
    pub synced: usize,
    /// Wall time to connect (and log in) all, s.
    pub connect_s: f64,
    /// Server process id, with `--server-pid`.
    pub server_pid: Option<u32>,
    /// Server RSS before connecting, KiB.
    pub rss_before_kib: Option<u64>,
    /// Server RSS with every connection open, KiB.
    pub rss_after_kib: Option<u64>,
    /// (after - before) / connected, bytes.
    pub rss_per_connection_bytes: Option<f64>,
}

/// Formats a count per second compactly (`1.52 M/s`).
pub fn per_second(v: f64) -> String {
    if v >= 1e6 {
        format!("{:.2} M/s", v / 1e6)
    } else if v >= 1e3 {
        format!("{:.1} k/s", v / 1e3)
    } else {
        format!("{v:.0} /s")
    }
}

/// Formats microseconds as `850 us` or `12.3 ms`.
pub fn micros(us: f64) -> String {
    if us >= 1_000.0 {
        format!("{:.2} ms", us / 1_000.0)
    } else {
        format!("{us:.0} us")
    }
}

fn counts<V: Display>(map: &BTreeMap<String, V>) -> String {
    let mut out = String::new();
    for (i, (k, v)) in map.iter().enumerate() {
        if i > 0 {
            out.push_str("; ");
        }
        let _ = write!(out, "{v} x {k}");
    }
    out
}

impl Display for LoadReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "target           {} ({}{}), {} senders x {} msgs, window {}, rate {}, payload {} B",
            self.target,
            self.transport,
            if self.protocol == "irc" { ", irc" } else { "" },
            self.senders,
            self.messages_per_sender,
            if self.window == 0 {
                "unlimited".to_string()
            } else {
                self.window.to_string()
            },
            if self.rate > 0.0 {
                format!("{} msg/s", self.rate)
            } else {
                "max".to_string()
            },
            self.payload_size
        )?;
        writeln!(
            f,
            "clients          {} of {} connected and logged in in {:.2} s (slowest {:.1} ms)",
            self.clients_connected, self.clients, self.connect_login_s, self.connect_login_max_ms
        )?;
        if !self.client_failures.is_empty() {
            writeln!(f, "  failed         {}", counts(&self.client_failures))?;
        }
        if self.rejected > 0 {
            writeln!(
                f,
                "sent             {} ({} refused by the server, see errors)",
                self.sent, self.rejected
            )?;
        } else {
            writeln!(f, "sent             {}", self.sent)?;
        }
        writeln!(
            f,
            "deliveries       {} expected, {} received, {} lost{}{}",
            self.deliveries_expected,
            self.deliveries_received,
            self.deliveries_lost,
            if self.duplicates > 0 {
                format!(", {} duplicates", self.duplicates)
            } else {
                String::new()
            },
            if self.timed_out {
                " (TIMED OUT)".to_string()
            } else if let Some(quiet) = self.stalled_s {
                format!(" (STALLED: nothing moved for {quiet:.0} s)")
            } else if self.all_disconnected {
                " (EVERY CLIENT DISCONNECTED)".to_string()
            } else if self.interrupted {
                " (INTERRUPTED)".to_string()
            } else {
                String::new()
            }
        )?;
        if !self.disconnected.is_empty() {
            writeln!(f, "  disconnected   {}", counts(&self.disconnected))?;
        }
        if !self.errors.is_empty() {
            writeln!(f, "  errors         {}", counts(&self.errors))?;
        }
        writeln!(
            f,
            "throughput       {} over {:.3} s",
            per_second(self.deliveries_per_s),
            self.duration_s
        )?;
        let l = &self.latency;
        writeln!(
            f,
            "latency          p50 {}  p90 {}  p99 {}  max {}",
            micros(l.p50_us),
            micros(l.p90_us),
            micros(l.p99_us),
            micros(l.max_us)
        )?;
        write!(
            f,
            "bench CPU        {:.0} ms while sending ({:.0} ms in all)",
            self.bench_cpu_ms, self.bench_cpu_total_ms
        )?;
        if let Some(s) = &self.server {
            write!(
                f,
                "\nserver CPU       {:.1} ms{} (pid {}; user {:.0} ms, system {:.0} ms, in 10 ms ticks){}",
                s.cpu_ms,
                if s.cpu_precise { "" } else { " (10 ms ticks)" },
                s.pid,
                s.user_ms,
                s.system_ms,
                s.cpu_ns_per_delivery
                    .map(|ns| format!(", {ns:.0} ns per delivery"))
                    .unwrap_or_default()
            )?;
            write!(
                f,
                "\nserver memory    RSS {} KiB (peak {} KiB)",
                s.rss_kib, s.rss_peak_kib
            )?;
        }
        Ok(())
    }
}

impl Display for IdleReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "target           {} ({}), idle {} connections",
            self.target,
            self.transport,
            if self.logged_in {
                "logged-in"
            } else {
                "anonymous"
            }
        )?;
        write!(
            f,
            "connections      {} of {} established in {:.2} s, {} synced",
            self.connected, self.connections, self.connect_s, self.synced
        )?;
        if !self.failures.is_empty() {
            write!(f, "\n  failed         {}", counts(&self.failures))?;
        }
        match (self.rss_before_kib, self.rss_after_kib) {
            (Some(b), Some(a)) => write!(
                f,
                "\nserver memory    RSS {b} KiB before, {a} KiB after: {} per connection",
                self.rss_per_connection_bytes
                    .map(|v| format!("{:.0} B ({:.2} KiB)", v, v / 1024.0))
                    .unwrap_or_else(|| "n/a".into())
            ),
            _ => write!(f, "\nserver memory    not measured (pass --server-pid)"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summarises_latency() {
        let mut h = Histogram::<u64>::new_with_bounds(1, 3_600_000_000_000, 3).unwrap();
        for v in 1..=100u64 {
            h.record(v * 1_000).unwrap();
        }
        let l = Latency::from_ns(&h);
        assert!((l.p50_us - 50.0).abs() < 0.1, "{l:?}");
        assert!((l.p90_us - 90.0).abs() < 0.1, "{l:?}");
        assert!((l.p99_us - 99.0).abs() < 0.1, "{l:?}");
        assert!((l.max_us - 100.0).abs() < 0.1, "{l:?}");
        assert!((l.mean_us - 50.5).abs() < 0.1, "{l:?}");
        let empty = Histogram::<u64>::new(3).unwrap();
        assert_eq!(Latency::from_ns(&empty), Latency::default());
    }

    #[test]
    fn formats_units() {
        assert_eq!(per_second(1_520_000.0), "1.52 M/s");
        assert_eq!(per_second(67_000.0), "67.0 k/s");
        assert_eq!(per_second(12.0), "12 /s");
        assert_eq!(micros(850.0), "850 us");
        assert_eq!(micros(12_345.0), "12.35 ms");
    }

    #[test]
    fn text_report_shows_failures_loss_and_server() {
        let r = LoadReport {
            target: "127.0.0.1:1".into(),
            transport: "tcp".into(),
            clients: 3,
            clients_connected: 2,
            client_failures: BTreeMap::from([("server: server full".into(), 1)]),
            deliveries_expected: 20,
            deliveries_received: 18,
            deliveries_lost: 2,
            timed_out: true,
            server: Some(ServerStats {
                pid: 42,
                cpu_ms: 3.0,
                cpu_precise: true,
                cpu_ns_per_delivery: Some(83.3),
                user_ms: 1.0,
                system_ms: 2.0,
                rss_kib: 900,
                rss_peak_kib: 1000,
            }),
            ..LoadReport::default()
        };
        let text = r.to_string();
        assert!(text.contains("2 of 3 connected"), "{text}");
        assert!(text.contains("1 x server: server full"), "{text}");
        assert!(
            text.contains("20 expected, 18 received, 2 lost (TIMED OUT)"),
            "{text}"
        );
        assert!(text.contains("83 ns per delivery"), "{text}");
        assert!(
            text.contains("user 1 ms, system 2 ms, in 10 ms ticks"),
            "{text}"
        );
        let json = serde_json::to_string(&r).unwrap();
        let back: LoadReport = serde_json::from_str(&json).unwrap();
        assert_eq!(back, r);
    }

    #[test]
    fn idle_report_without_pid_says_so() {
        let r = IdleReport {
            connections: 5,
            connected: 5,
            ..IdleReport::default()
        };
        assert!(r.to_string().contains("pass --server-pid"));
    }
}
