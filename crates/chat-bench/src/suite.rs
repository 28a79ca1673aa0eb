//! `bench suite`: start each server, run the same workloads against each, print one table,
//! write `bench-results.json` and draw the chart.
//!
//! Every workload gets a fresh server process (so one workload's leftovers do not colour the
//! next), started with `--port 0 --store memory --no-flood-limit --no-color`. After a workload
//! the server is killed before the clients close, which spares it a storm of logout
//! broadcasts that nobody measures.
//!
//! Unless `--no-floor`, each round ends with the floor ([`crate::floor`], started as `bench
//! floor --port 0`) through the sending workloads: a row measured in the same minutes as the
//! servers, because this machine's price for the deliveries themselves swings threefold within
//! hours, and a server's cost means little without it. With `--inspircd`, InspIRCd follows it,
//! loaded over IRC (`--protocol irc`): the server the issue's targets are quoted against,
//! measured in the same minutes too.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::runtime::Runtime;

use crate::args::SuiteArgs;
use crate::chart;
use crate::error::BenchError;
use crate::idle::{IdleConfig, run_idle};
use crate::load::{LoadConfig, run_load};
use crate::protocol::Protocol;
use crate::report::{IdleReport, LoadReport, micros, per_second};
use crate::server::{FLOOR, INSPIRCD, ServerProcess};
use crate::sys;
use crate::target::Target;
use crate::targets;

/// The six servers, in table order.
pub const SERVERS: [&str; 6] = [
    "tokio_chat",
    "async_std_chat",
    "smol_chat",
    "tokio_ws_chat",
    "async_std_ws_chat",
    "smol_ws_chat",
];

/// How long a server may take to announce its port.
const STARTUP: Duration = Duration::from_secs(20);

/// What a suite runs against every server.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    /// "all send": clients (every one sends).
    pub all_clients: usize,
    /// "all send": messages per sender.
    pub all_messages: u32,
    /// "fan-out": clients.
    pub fanout_clients: usize,
    /// "fan-out": senders.
    pub fanout_senders: usize,
    /// "fan-out": messages per sender.
    pub fanout_messages: u32,
    /// "idle": logged-in connections held (0 = skipped).
    pub idle_connections: usize,
    /// Window of the sending workloads.
    pub window: u32,
    /// Payload size of the sending workloads.
    pub payload_size: usize,
    /// Timeout per workload, s.
    pub timeout_s: u64,
    /// Runs of each workload on each server; the results hold the median run.
    #[serde(default = "one_run")]
    pub runs: u32,
}

fn one_run() -> u32 {
    1
}

impl Plan {
    /// The plan for these options (`--quick` changes the defaults, explicit counts win).
    pub fn from_args(a: &SuiteArgs) -> Plan {
        let q = a.quick;
        Plan {
            all_clients: a.all_clients.unwrap_or(if q { 50 } else { 100 }),
            all_messages: a.all_messages.unwrap_or(if q { 50 } else { 100 }),
            fanout_clients: a.fanout_clients.unwrap_or(if q { 200 } else { 1000 }),
            fanout_senders: a.fanout_senders.unwrap_or(if q { 5 } else { 10 }),
            fanout_messages: a.fanout_messages.unwrap_or(if q { 50 } else { 100 }),
            idle_connections: a.idle_connections.unwrap_or(if q { 1000 } else { 10_000 }),
            window: a.window,
            payload_size: a.payload_size,
            timeout_s: a.timeout.max(1),
            runs: a.runs.max(1),
        }
    }

    fn load(&self, which: Workload, target: Target, pid: u32, protocol: Protocol) -> LoadConfig {
        let (clients, senders, messages) = match which {
            Workload::FanOut => (
                self.fanout_clients,
                self.fanout_senders,
                self.fanout_messages,
            ),
            _ => (self.all_clients, self.all_clients, self.all_messages),
        };
        LoadConfig {
            target,
            clients,
            senders: senders.min(clients),
            messages,
            rate: 0.0,
            window: self.window,
            payload_size: self.payload_size,
            timeout: Duration::from_secs(self.timeout_s),
            stall: Some(Duration::from_secs(crate::load::DEFAULT_STALL_S)),
            server_pid: Some(pid),
            allow_remote: false,
            name_prefix: "bench".into(),
            connect_concurrency: 256,
            protocol,
            stop_on_interrupt: false,
        }
    }

    /// The workloads this plan runs, in order.
    pub fn workloads(&self) -> Vec<Workload> {
        let mut w = Vec::new();
        if self.all_clients > 0 {
            w.push(Workload::AllSend);
        }
        if self.fanout_clients > 0 && self.fanout_senders > 0 {
            w.push(Workload::FanOut);
        }
        if self.idle_connections > 0 {
            w.push(Workload::Idle);
        }
        w
    }

    /// One line describing a workload.
    pub fn describe(&self, w: Workload) -> String {
        match w {
            Workload::AllSend => format!(
                "all send: {} clients x {} msgs, window {}",
                self.all_clients, self.all_messages, self.window
            ),
            Workload::FanOut => format!(
                "fan-out: {} clients, {} senders x {} msgs, window {}",
                self.fanout_clients, self.fanout_senders, self.fanout_messages, self.window
            ),
            Workload::Idle => format!("idle: {} logged-in connections", self.idle_connections),
        }
    }
}

/// One of the suite's workloads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Workload {
    /// Every client sends.
    AllSend,
    /// A few senders, many receivers.
    FanOut,
    /// Connections held open, memory measured.
    Idle,
}

impl Workload {
    /// Key in `errors` of a [`ServerResult`].
    pub fn key(self) -> &'static str {
        match self {
            Workload::AllSend => "all_send",
            Workload::FanOut => "fan_out",
            Workload::Idle => "idle",
        }
    }
}

/// Everything measured on one server.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ServerResult {
    /// The server subcommand.
    pub server: String,
    /// `tcp` or `ws`.
    pub transport: String,
    /// The "all send" workload.
    pub all_send: Option<LoadReport>,
    /// The "fan-out" workload.
    pub fan_out: Option<LoadReport>,
    /// The "idle" workload.
    pub idle: Option<IdleReport>,
    /// Workloads that failed, by key, with the reason.
    pub errors: BTreeMap<String, String>,
    /// Deliveries lost in all its load runs together, not only the median ones.
    #[serde(default)]
    pub lost_in_all_runs: u64,
    /// "all send": the server's CPU per delivery (ns) in each round, in order (`None`: the run
    /// failed or was not measured), so a comparison can pair runs of the same round.
    #[serde(default)]
    pub all_send_ns_by_round: Vec<Option<f64>>,
    /// "fan-out": the same.
    #[serde(default)]
    pub fan_out_ns_by_round: Vec<Option<f64>>,
}

/// What `bench-results.json` holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SuiteResults {
    /// The command that produced it.
    pub command: String,
    /// CPUs of the machine.
    pub cpus: usize,
    /// Kernel release.
    pub kernel: String,
    /// The workloads.
    pub plan: Plan,
    /// One entry per server.
    pub servers: Vec<ServerResult>,
}

/// Whether `server` is a reference row (the floor, InspIRCd) rather than one of ours.
pub fn is_reference(server: &str) -> bool {
    server == FLOOR || server == INSPIRCD
}

/// Whether `server` takes part in workload `w`: the references run only the sending
/// workloads (the floor is no chat server to hold idle users on, and InspIRCd's idle memory
/// would be measured with another protocol's login).
fn runs_on(server: &str, w: Workload) -> bool {
    !is_reference(server) || w != Workload::Idle
}

/// Whether a server subcommand is a WebSocket one.
pub fn is_ws(server: &str) -> bool {
    server.contains("_ws_")
}

/// Runs the suite.
pub fn run_suite(rt: &Runtime, a: &SuiteArgs) -> Result<(), BenchError> {
    let bin = match &a.server_bin {
        Some(b) => b.clone(),
        None => std::env::current_exe().map_err(|e| BenchError::Io {
            path: "current executable".into(),
            source: e,
        })?,
    };
    let mut servers: Vec<String> = if a.servers.is_empty() {
        SERVERS.iter().map(|s| s.to_string()).collect()
    } else {
        a.servers.clone()
    };
    if let Some(bad) = servers.iter().find(|s| !SERVERS.contains(&s.as_str())) {
        return Err(BenchError::Config(format!(
            "unknown server {bad:?}; choose from {}",
            SERVERS.join(", ")
        )));
    }
    if !a.no_floor {
        servers.push(FLOOR.to_string());
    }
    let inspircd = match &a.inspircd {
        Some(bin) => {
            servers.push(INSPIRCD.to_string());
            Some(find_program(bin).ok_or_else(|| {
                BenchError::Config(format!(
                    "--inspircd: {} not found (Debian: apt-get install inspircd)",
                    bin.display()
                ))
            })?)
        }
        None => None,
    };
    let plan = Plan::from_args(a);
    let workloads = plan.workloads();
    // Children inherit the limit: the servers need it as much as the bench.
    let _ = sys::raise_nofile((plan.idle_connections.max(plan.fanout_clients) as u64) * 2 + 512);

    let runs = plan.runs as usize;
    let total = servers
        .iter()
        .map(|s| workloads.iter().filter(|&&w| runs_on(s, w)).count())
        .sum::<usize>()
        * runs;
    let mut step = 0;
    // Every run's outcome, by server and workload.
    let mut outcomes: Vec<Vec<Vec<Result<Outcome, BenchError>>>> = servers
        .iter()
        .map(|_| workloads.iter().map(|_| Vec::new()).collect())
        .collect();
    for round in 1..=runs {
        for (name, by_workload) in servers.iter().zip(&mut outcomes) {
            for (&w, these) in workloads.iter().zip(by_workload.iter_mut()) {
                if !runs_on(name, w) {
                    continue;
                }
                step += 1;
                let of = if runs > 1 {
                    format!(" (run {round} of {runs})")
                } else {
                    String::new()
                };
                eprintln!("[{step}/{total}] {name}: {}{of} ...", plan.describe(w));
                let outcome = run_workload(rt, &bin, inspircd.as_deref(), name, &plan, w);
                match &outcome {
                    Ok(Outcome::Load(report)) => eprintln!("        {}", load_summary(report)),
                    Ok(Outcome::Idle(report)) => eprintln!("        {}", idle_summary(report)),
                    Err(e) => eprintln!("        FAILED: {e}"),
                }
                these.push(outcome);
            }
        }
    }

    let mut results = Vec::new();
    let mut first_error = None;
    let mut successes = 0;
    for (name, by_workload) in servers.iter().zip(outcomes) {
        let mut r = ServerResult {
            server: name.clone(),
            transport: if is_ws(name) { "ws" } else { "tcp" }.into(),
            ..ServerResult::default()
        };
        for (&w, these) in workloads.iter().zip(by_workload) {
            let tried = these.len();
            let mut loads = Vec::new();
            let mut idles = Vec::new();
            let mut failed = Vec::new();
            let mut by_round = Vec::new();
            for outcome in these {
                match outcome {
                    Ok(Outcome::Load(report)) => {
                        r.lost_in_all_runs += report.deliveries_lost;
                        let ns = load_key(&report);
                        by_round.push(ns.is_finite().then_some(ns));
                        loads.push(*report)
                    }
                    Ok(Outcome::Idle(report)) => idles.push(report),
                    Err(e) => {
                        by_round.push(None);
                        failed.push(e.to_string())
                    }
                }
            }
            successes += loads.len() + idles.len();
            if let Some(e) = failed.first() {
                first_error.get_or_insert_with(|| e.clone());
                let e = if tried > 1 {
                    format!("{} of {tried} runs failed; the first: {e}", failed.len())
                } else {
                    e.clone()
                };
                r.errors.insert(w.key().into(), e);
            }
            match w {
                Workload::AllSend => {
                    r.all_send = median_run(loads, load_key);
                    r.all_send_ns_by_round = by_round;
                }
                Workload::FanOut => {
                    r.fan_out = median_run(loads, load_key);
                    r.fan_out_ns_by_round = by_round;
                }
                Workload::Idle => r.idle = median_run(idles, idle_key),
            }
        }
        results.push(r);
    }

    let out = SuiteResults {
        command: std::env::args().collect::<Vec<_>>().join(" "),
        cpus: std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1),
        kernel: fs::read_to_string("/proc/sys/kernel/osrelease")
            .map(|s| s.trim().to_string())
            .unwrap_or_default(),
        plan,
        servers: results,
    };
    println!("{}", table(&out));
    if let Some(targets) = targets::table(&out) {
        println!("{targets}");
    }
    write_file(&a.results, serde_json::to_string_pretty(&out)?.as_bytes())?;
    eprintln!("wrote {}", a.results.display());
    if successes > 0 {
        chart::draw(&a.chart, &out)?;
        eprintln!("wrote {}", a.chart.display());
    }
    match first_error {
        Some(e) if successes == 0 => Err(BenchError::SuiteFailed(e)),
        _ => Ok(()),
    }
}

/// `bin` if it names a file, or, without a `/`, the first file of that name on `PATH`, as a
/// shell would look for it: so that a missing program is one clear error before the suite
/// starts, not a failed run in every round.
pub fn find_program(bin: &Path) -> Option<PathBuf> {
    if bin.components().count() > 1 {
        return bin.is_file().then(|| bin.to_path_buf());
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(bin))
        .find(|candidate| candidate.is_file())
}

/// The median of `runs` by `key` (the lower one of an even count), or `None` without runs.
/// One whole run, not a median of each column, so a row of the table is one real run.
pub fn median_run<T>(mut runs: Vec<T>, key: impl Fn(&T) -> f64) -> Option<T> {
    if runs.is_empty() {
        return None;
    }
    runs.sort_by(|a, b| key(a).total_cmp(&key(b)));
    let middle = (runs.len() - 1) / 2;
    Some(runs.swap_remove(middle))
}

/// A load run's place among its repeats: the server's CPU per delivery (a run without it, last).
fn load_key(r: &LoadReport) -> f64 {
    r.server
        .as_ref()
        .and_then(|s| s.cpu_ns_per_delivery)
        .unwrap_or(f64::INFINITY)
}

/// An idle run's place among its repeats: the server's memory per connection.
fn idle_key(r: &IdleReport) -> f64 {
    r.rss_per_connection_bytes.unwrap_or(f64::INFINITY)
}

/// What one workload produced.
enum Outcome {
    Load(Box<LoadReport>),
    Idle(IdleReport),
}

/// Starts a fresh server, runs one workload against it, stops it.
fn run_workload(
    rt: &Runtime,
    bin: &Path,
    inspircd: Option<&Path>,
    name: &str,
    plan: &Plan,
    w: Workload,
) -> Result<Outcome, BenchError> {
    let max_conn = (plan.idle_connections.max(plan.fanout_clients) + 1000).max(10_000);
    let extra = vec!["--max-connections".to_string(), max_conn.to_string()];
    let mut server = match (name, inspircd) {
        (FLOOR, _) => ServerProcess::spawn_floor(bin, STARTUP)?,
        (INSPIRCD, Some(inspircd)) => ServerProcess::spawn_inspircd(inspircd, STARTUP)?,
        _ => ServerProcess::spawn(bin, name, &extra, STARTUP)?,
    };
    let protocol = if name == INSPIRCD {
        Protocol::Irc
    } else {
        Protocol::Chat
    };
    let spec = if is_ws(name) {
        format!("ws://127.0.0.1:{}", server.port)
    } else {
        format!("127.0.0.1:{}", server.port)
    };
    let target = Target::parse(&spec)?;
    let pid = server.pid();
    let outcome = match w {
        Workload::Idle => {
            let cfg = IdleConfig {
                target,
                connections: plan.idle_connections,
                log_in: true,
                timeout: Duration::from_secs(plan.timeout_s),
                server_pid: Some(pid),
                allow_remote: false,
                name_prefix: "idle".into(),
                connect_concurrency: 256,
            };
            rt.block_on(async {
                let (report, held) = run_idle(&cfg).await?;
                server.kill();
                held.release().await;
                Ok::<_, BenchError>(Outcome::Idle(report))
            })
        }
        _ => {
            let cfg = plan.load(w, target, pid, protocol);
            rt.block_on(run_load(&cfg))
                .map(|r| Outcome::Load(Box::new(r)))
        }
    };
    let died = !server.is_running() && w != Workload::Idle;
    let output = server.last_output();
    server.kill();
    match outcome {
        Err(e) if died => Err(BenchError::Spawn {
            server: name.to_string(),
            reason: format!("server exited during the run ({e}); last output: {output}"),
        }),
        other => other,
    }
}

fn load_summary(r: &LoadReport) -> String {
    let mut s = format!(
        "{} clients, {} deliveries ({} lost), {}, p99 {}",
        r.clients_connected,
        r.deliveries_received,
        r.deliveries_lost,
        per_second(r.deliveries_per_s),
        micros(r.latency.p99_us)
    );
    if let Some(server) = &r.server
        && let Some(ns) = server.cpu_ns_per_delivery
    {
        let user = server.user_ms * 1e6 / r.deliveries_received.max(1) as f64;
        let _ = write!(
            s,
            ", {ns:.0} ns server CPU per delivery ({user:.0} in user space)"
        );
    }
    if r.timed_out {
        s.push_str(", TIMED OUT");
    } else if let Some(quiet) = r.stalled_s {
        let _ = write!(s, ", STALLED ({quiet:.0} s without progress)");
    }
    s
}

fn idle_summary(r: &IdleReport) -> String {
    format!(
        "{} of {} connected, {}",
        r.connected,
        r.connections,
        r.rss_per_connection_bytes
            .map(|b| format!("{:.2} KiB server RSS per connection", b / 1024.0))
            .unwrap_or_else(|| "memory not measured".into())
    )
}

/// The results as a Markdown table (for the terminal and the README).
pub fn table(out: &SuiteResults) -> String {
    let p = &out.plan;
    let mut t = String::new();
    let _ = writeln!(
        t,
        "all send = {} clients x {} msgs; fan-out = {} clients, {} senders x {} msgs; window {}; \
         idle = {} logged-in connections; {} CPUs{}",
        p.all_clients,
        p.all_messages,
        p.fanout_clients,
        p.fanout_senders,
        p.fanout_messages,
        p.window,
        p.idle_connections,
        out.cpus,
        if p.runs > 1 {
            format!("; the median run of {} of each", p.runs)
        } else {
            String::new()
        }
    );
    t.push('\n');
    t.push_str(
        "| server | all send: deliveries/s | ns/delivery (user) | p99 | lost \
         | fan-out: deliveries/s | ns/delivery (user) | p99 | lost | idle: memory/conn |\n",
    );
    t.push_str("|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n");
    for r in &out.servers {
        if r.server == FLOOR {
            t.push_str("| floor (reference) ");
        } else if r.server == INSPIRCD {
            t.push_str("| InspIRCd (reference, IRC) ");
        } else {
            let _ = write!(t, "| {} ", r.server);
        }
        for (report, key) in [(&r.all_send, "all_send"), (&r.fan_out, "fan_out")] {
            match report {
                Some(l) => {
                    let ns = match (&l.server, l.deliveries_received) {
                        (Some(s), n @ 1..) => s
                            .cpu_ns_per_delivery
                            .map(|v| {
                                let user = s.user_ms * 1e6 / n as f64;
                                format!("{v:.0} ({user:.0})")
                            })
                            .unwrap_or_else(|| "-".into()),
                        _ => "-".into(),
                    };
                    let _ = write!(
                        t,
                        "| {} | {ns} | {} | {}{} ",
                        per_second(l.deliveries_per_s),
                        micros(l.latency.p99_us),
                        l.deliveries_lost,
                        if l.timed_out {
                            " (timeout)"
                        } else if l.stalled_s.is_some() {
                            " (stalled)"
                        } else {
                            ""
                        }
                    );
                }
                None if r.errors.contains_key(key) => t.push_str("| failed | - | - | - "),
                None => t.push_str("| - | - | - | - "),
            }
        }
        match &r.idle {
            Some(i) => {
                let _ = write!(
                    t,
                    "| {} |",
                    i.rss_per_connection_bytes
                        .map(|b| format!("{:.2} KiB", b / 1024.0))
                        .unwrap_or_else(|| "-".into())
                );
            }
            None if r.errors.contains_key("idle") => t.push_str("| failed |"),
            None => t.push_str("| - |"),
        }
        t.push('\n');
    }
    if out.servers.iter().any(|r| r.server == FLOOR) {
        t.push_str(
            "\nfloor: `bench floor`, the least a chat server can do (one thread, one epoll, one \
             write per client and round): what this machine charges for the deliveries \
             themselves, in the same minutes.\n",
        );
    }
    if out.servers.iter().any(|r| r.server == INSPIRCD) {
        t.push_str(
            "\nInspIRCd: the C++ IRC server the targets quote, loaded over IRC (PRIVMSG to one \
             channel; an IRC server does not echo a message to its sender, so it makes one \
             delivery per message fewer).\n",
        );
    }
    for r in &out.servers {
        for (k, e) in &r.errors {
            let _ = writeln!(t, "\n{} {k}: {e}", r.server);
        }
    }
    t
}

/// Writes `bytes` to `path`, creating its directory.
pub fn write_file(path: &PathBuf, bytes: &[u8]) -> Result<(), BenchError> {
    let io = |source| BenchError::Io {
        path: path.display().to_string(),
        source,
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        fs::create_dir_all(dir).map_err(io)?;
    }
    fs::write(path, bytes).map_err(io)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::report::{Latency, ServerStats};

    fn suite_args() -> SuiteArgs {
        SuiteArgs {
            quick: false,
            servers: vec![],
            no_floor: false,
            inspircd: None,
            all_clients: None,
            all_messages: None,
            fanout_clients: None,
            fanout_senders: None,
            fanout_messages: None,
            idle_connections: None,
            window: 1,
            payload_size: 64,
            timeout: 120,
            runs: 1,
            results: "bench-results.json".into(),
            chart: "readme_img/bench.svg".into(),
            server_bin: None,
        }
    }

    #[test]
    fn plans_follow_the_issue_and_quick_is_smaller() {
        let full = Plan::from_args(&suite_args());
        assert_eq!((full.all_clients, full.all_messages), (100, 100));
        assert_eq!(
            (
                full.fanout_clients,
                full.fanout_senders,
                full.fanout_messages
            ),
            (1000, 10, 100)
        );
        assert_eq!(full.idle_connections, 10_000);
        let quick = Plan::from_args(&SuiteArgs {
            quick: true,
            idle_connections: Some(0),
            ..suite_args()
        });
        assert!(quick.all_clients < full.all_clients);
        assert_eq!(quick.idle_connections, 0);
        assert_eq!(quick.workloads(), vec![Workload::AllSend, Workload::FanOut]);
    }

    pub(crate) fn sample_results() -> SuiteResults {
        let load = |dps: f64, ns: f64, p99: f64| LoadReport {
            deliveries_per_s: dps,
            deliveries_received: 1_000_000,
            latency: Latency {
                p99_us: p99,
                ..Latency::default()
            },
            server: Some(ServerStats {
                cpu_ns_per_delivery: Some(ns),
                user_ms: ns * 0.4,
                ..ServerStats::default()
            }),
            ..LoadReport::default()
        };
        SuiteResults {
            command: "async-chat bench suite".into(),
            cpus: 2,
            kernel: "6.1".into(),
            plan: Plan::from_args(&suite_args()),
            servers: vec![
                ServerResult {
                    server: "tokio_chat".into(),
                    transport: "tcp".into(),
                    all_send: Some(load(1_500_000.0, 110.0, 4_000.0)),
                    fan_out: Some(load(1_300_000.0, 300.0, 9_000.0)),
                    idle: Some(IdleReport {
                        connected: 10_000,
                        rss_per_connection_bytes: Some(1536.0),
                        ..IdleReport::default()
                    }),
                    errors: BTreeMap::new(),
                    lost_in_all_runs: 0,
                    all_send_ns_by_round: vec![Some(110.0)],
                    fan_out_ns_by_round: vec![Some(300.0)],
                },
                ServerResult {
                    server: "smol_ws_chat".into(),
                    transport: "ws".into(),
                    all_send: Some(load(900_000.0, 190.0, 8_000.0)),
                    fan_out: None,
                    idle: None,
                    errors: BTreeMap::from([("fan_out".into(), "boom".into())]),
                    lost_in_all_runs: 3,
                    all_send_ns_by_round: vec![Some(190.0)],
                    fan_out_ns_by_round: vec![None],
                },
            ],
        }
    }

    #[test]
    fn the_median_run_is_one_whole_run() {
        let runs = vec![(3, 30.0), (1, 10.0), (5, f64::NAN), (2, 20.0)];
        // NaN sorts last; of four, the lower middle one.
        assert_eq!(median_run(runs, |r| r.1), Some((2, 20.0)));
        assert_eq!(median_run(vec![(7, 1.0)], |r| r.1), Some((7, 1.0)));
        assert_eq!(median_run(Vec::<(u8, f64)>::new(), |r| r.1), None);
        let fast = LoadReport {
            sent: 1,
            server: Some(ServerStats {
                cpu_ns_per_delivery: Some(100.0),
                ..ServerStats::default()
            }),
            ..LoadReport::default()
        };
        let slow = LoadReport {
            sent: 2,
            server: Some(ServerStats {
                cpu_ns_per_delivery: Some(300.0),
                ..ServerStats::default()
            }),
            ..fast.clone()
        };
        let unmeasured = LoadReport {
            sent: 3,
            server: None,
            ..LoadReport::default()
        };
        let mid = median_run(vec![slow, unmeasured, fast], load_key).unwrap();
        assert_eq!(
            mid.sent, 2,
            "the run between the fast one and the unmeasured one"
        );
    }

    #[test]
    fn runs_default_to_one_and_older_results_read_as_one() {
        assert_eq!(Plan::from_args(&suite_args()).runs, 1);
        let mut json = serde_json::to_value(Plan::from_args(&suite_args())).unwrap();
        json.as_object_mut().unwrap().remove("runs");
        let plan: Plan = serde_json::from_value(json).unwrap();
        assert_eq!(plan.runs, 1);
    }

    #[test]
    fn table_has_a_row_per_server_and_names_failures() {
        let t = table(&sample_results());
        assert!(!t.contains("median"), "one run: {t}");
        assert!(t.contains("| tokio_chat | 1.50 M/s | 110 (44) | 4.00 ms | 0 | 1.30 M/s | 300 (120) | 9.00 ms | 0 | 1.50 KiB |"), "{t}");
        assert!(
            t.contains(
                "| smol_ws_chat | 900.0 k/s | 190 (76) | 8.00 ms | 0 | failed | - | - | - | - |"
            ),
            "{t}"
        );
        assert!(t.contains("smol_ws_chat fan_out: boom"), "{t}");
        let mut five = sample_results();
        five.plan.runs = 5;
        assert!(table(&five).contains("; the median run of 5 of each"));
    }

    #[test]
    fn the_floor_is_a_reference_row_without_idle() {
        let mut r = sample_results();
        r.servers.push(ServerResult {
            server: FLOOR.into(),
            transport: "tcp".into(),
            all_send: r.servers[0].all_send.clone(),
            fan_out: r.servers[0].fan_out.clone(),
            ..ServerResult::default()
        });
        let t = table(&r);
        assert!(t.contains("| floor (reference) | 1.50 M/s | 110 (44) | 4.00 ms | 0 | 1.30 M/s | 300 (120) | 9.00 ms | 0 | - |"), "{t}");
        assert!(
            t.contains("floor: `bench floor`, the least a chat server can do"),
            "{t}"
        );
        assert!(!table(&sample_results()).contains("floor"));
        assert!(!runs_on(FLOOR, Workload::Idle));
        assert!(runs_on(FLOOR, Workload::AllSend) && runs_on(FLOOR, Workload::FanOut));
        assert!(runs_on("tokio_chat", Workload::Idle));
    }

    #[test]
    fn results_round_trip_as_json() {
        let r = sample_results();
        let json = serde_json::to_string_pretty(&r).unwrap();
        let back: SuiteResults = serde_json::from_str(&json).unwrap();
        assert_eq!(back, r);
    }

    #[test]
    fn finds_programs_as_a_shell_would() {
        assert_eq!(
            find_program(Path::new("sh")).map(|p| p.is_file()),
            Some(true)
        );
        assert_eq!(
            find_program(Path::new("/bin/sh")),
            Some(PathBuf::from("/bin/sh"))
        );
        assert_eq!(find_program(Path::new("/nonexistent/inspircd")), None);
        assert_eq!(find_program(Path::new("no-such-program-anywhere")), None);
    }

    #[test]
    fn a_missing_inspircd_is_refused_before_anything_runs() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let results = std::env::temp_dir().join(format!("no-ircd-{}.json", std::process::id()));
        let err = run_suite(
            &rt,
            &SuiteArgs {
                inspircd: Some("/nonexistent/inspircd".into()),
                results: results.clone(),
                ..suite_args()
            },
        );
        match err {
            Err(BenchError::Config(e)) => {
                assert!(e.contains("/nonexistent/inspircd not found"), "{e}")
            }
            other => panic!("expected a configuration error, got {other:?}"),
        }
        assert!(!results.exists(), "nothing ran");
    }

    #[test]
    fn refuses_unknown_servers() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let err = run_suite(
            &rt,
            &SuiteArgs {
                servers: vec!["nginx".into()],
                ..suite_args()
            },
        );
        assert!(matches!(err, Err(BenchError::Config(_))));
    }
}
