//! The bench against a small in-process chat server that speaks just enough of the protocol
//! (greeting, `format`, `login`, `msgall`, `whoami`, logout broadcast) over TCP and WebSocket,
//! with switches to refuse, drop or mute, so the tool's own logic is tested over real sockets.

mod common;

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use chat_bench::args::SuiteArgs;
use chat_bench::idle::{IdleConfig, run_idle};
use chat_bench::load::{LoadConfig, run_load};
use chat_bench::protocol::Protocol;
use chat_bench::suite::{SuiteResults, run_suite};
use chat_bench::target::Target;
use chat_bench::{BenchArgs, BenchCommand, BenchError, LoadArgs};
use clap::Parser;
use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;

/// How the fake server misbehaves.
#[derive(Debug, Clone, Default)]
struct Faults {
    /// Connections beyond this many get `[ERROR] - server full` and are closed.
    max_clients: Option<usize>,
    /// `msgall` lines are never delivered to the user of this name.
    starve: Option<String>,
    /// `msgall` is accepted but delivered to nobody.
    mute: bool,
    /// Every n-th `msgall` (counted over all senders) gets `[ERROR] - too many requests`.
    refuse_every: Option<usize>,
    /// A `msgall` closes its sender's connection, undelivered.
    hang_up: bool,
}

#[derive(Default)]
struct State {
    users: HashMap<usize, (String, mpsc::UnboundedSender<String>)>,
}

struct Fake {
    msgalls: AtomicUsize,
    state: Mutex<State>,
    faults: Faults,
    connected: AtomicUsize,
    next_id: AtomicUsize,
}

impl Fake {
    fn broadcast(&self, line: &str, skip: Option<&str>) {
        let state = self.state.lock().unwrap();
        for (name, tx) in state.users.values() {
            if skip != Some(name.as_str()) {
                let _ = tx.send(line.to_string());
            }
        }
    }

    /// Handles one command line, returns whether to keep the connection.
    fn handle(
        &self,
        id: usize,
        line: &str,
        name: &mut Option<String>,
        tx: &mpsc::UnboundedSender<String>,
    ) -> bool {
        let (word, rest) = line.split_once(' ').unwrap_or((line, ""));
        match word {
            "format" => {
                let _ = tx.send(format!("[INFO] - format {rest}"));
            }
            "login" if name.is_some() => {
                let _ = tx.send("[ERROR] - Already login!".into());
            }
            "login" => {
                let taken = {
                    let mut state = self.state.lock().unwrap();
                    if state.users.values().any(|(n, _)| n == rest) {
                        true
                    } else {
                        state.users.insert(id, (rest.to_string(), tx.clone()));
                        false
                    }
                };
                if taken {
                    let _ = tx.send("[ERROR] - Username already taken!".into());
                } else {
                    *name = Some(rest.to_string());
                    self.broadcast(&format!("[SYSTEM INFO] - [{rest}] login to chat."), None);
                }
            }
            "msgall" => match name {
                None => {
                    let _ = tx.send("[ERROR] - First login!".into());
                }
                Some(_) if self.faults.mute => {}
                Some(_) if self.faults.hang_up => return false,
                Some(_)
                    if self.faults.refuse_every.is_some_and(|n| {
                        (self.msgalls.fetch_add(1, Ordering::SeqCst) + 1).is_multiple_of(n)
                    }) =>
                {
                    let _ = tx.send("[ERROR] - too many requests".into());
                }
                Some(n) => {
                    let secs = SystemTime::now()
                        .duration_since(UNIX_EPOCH)
                        .unwrap()
                        .as_secs();
                    let line = format!(
                        "[{:02}:{:02}:{:02}][{n}]: {rest}",
                        secs / 3600 % 24,
                        secs / 60 % 60,
                        secs % 60
                    );
                    self.broadcast(&line, self.faults.starve.as_deref());
                }
            },
            "whoami" => {
                let _ = tx.send(match name {
                    Some(n) => format!("[INFO] - {n}"),
                    None => "[ERROR] - First login!".into(),
                });
            }
            _ => {
                let _ = tx.send("[ERROR] - unknown command".into());
            }
        }
        true
    }

    fn leave(&self, id: usize, name: Option<String>) {
        self.connected.fetch_sub(1, Ordering::SeqCst);
        if let Some(n) = name {
            self.state.lock().unwrap().users.remove(&id);
            self.broadcast(&format!("[SYSTEM INFO] - [{n}] logout from chat."), None);
        }
    }

    /// Admits a connection or says it is full.
    fn admit(&self) -> Result<usize, ()> {
        let now = self.connected.fetch_add(1, Ordering::SeqCst) + 1;
        if self.faults.max_clients.is_some_and(|m| now > m) {
            self.connected.fetch_sub(1, Ordering::SeqCst);
            return Err(());
        }
        Ok(self.next_id.fetch_add(1, Ordering::SeqCst))
    }
}

const GREETING: &str = "[SERVER INFO] - Welcome to fake_chat! Type help for commands.";

async fn serve_tcp(fake: Arc<Fake>, stream: TcpStream) {
    let (r, mut w) = stream.into_split();
    let Ok(id) = fake.admit() else {
        let _ = w.write_all(b"[ERROR] - server full\r\n").await;
        return;
    };
    let (tx, mut rx) = mpsc::unbounded_channel::<String>();
    let writer = tokio::spawn(async move {
        let mut buf = Vec::new();
        while let Some(line) = rx.recv().await {
            buf.clear();
            buf.extend_from_slice(line.as_bytes());
            buf.extend_from_slice(b"\r\n");
            while let Ok(more) = rx.try_recv() {
                buf.extend_from_slice(more.as_bytes());
                buf.extend_from_slice(b"\r\n");
            }
            if w.write_all(&buf).await.is_err() {
                return;
            }
        }
    });
    let _ = tx.send(GREETING.into());
    let mut name = None;
    let mut lines = BufReader::new(r).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        let line = line.trim();
        if !line.is_empty() && !fake.handle(id, line, &mut name, &tx) {
            break;
        }
    }
    fake.leave(id, name);
    drop(tx);
    let _ = writer.await;
}

async fn serve_ws(fake: Arc<Fake>, stream: TcpStream) {
    let Ok(ws) = tokio_tungstenite::accept_async(stream).await else {
        return;
    };
    let (mut sink, mut stream) = ws.split();
    let Ok(id) = fake.admit() else {
        let _ = sink.send(Message::text("[ERROR] - server full")).await;
        return;
    };
    let (tx, mut rx) = mpsc::unbounded_channel::<String>();
    let writer = tokio::spawn(async move {
        while let Some(line) = rx.recv().await {
            if sink.send(Message::text(line)).await.is_err() {
                return;
            }
        }
    });
    let _ = tx.send(GREETING.into());
    let mut name = None;
    'frames: while let Some(Ok(msg)) = stream.next().await {
        if let Message::Text(text) = msg {
            for line in text.as_str().split('\n') {
                let line = line.trim();
                if !line.is_empty() && !fake.handle(id, line, &mut name, &tx) {
                    break 'frames;
                }
            }
        }
    }
    fake.leave(id, name);
    drop(tx);
    let _ = writer.await;
}

/// Starts the fake server on a free loopback port; returns its address.
async fn start(ws: bool, faults: Faults) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let fake = Arc::new(Fake {
        msgalls: AtomicUsize::new(0),
        state: Mutex::new(State::default()),
        faults,
        connected: AtomicUsize::new(0),
        next_id: AtomicUsize::new(0),
    });
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let _ = stream.set_nodelay(true);
            let fake = fake.clone();
            if ws {
                tokio::spawn(serve_ws(fake, stream));
            } else {
                tokio::spawn(serve_tcp(fake, stream));
            }
        }
    });
    addr
}

fn load_config(spec: &str, clients: usize, senders: usize, messages: u32) -> LoadConfig {
    common::load_config(spec, Protocol::Chat, clients, senders, messages)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tcp_run_counts_every_delivery() {
    let addr = start(false, Faults::default()).await;
    let mut cfg = load_config(&addr.to_string(), 10, 3, 20);
    cfg.window = 2;
    cfg.payload_size = 200;
    let r = run_load(&cfg).await.unwrap();
    assert_eq!(r.clients_connected, 10, "{r}");
    assert!(r.client_failures.is_empty(), "{r}");
    assert_eq!(r.sent, 60);
    assert_eq!(
        r.deliveries_expected, 600,
        "msgall reaches all 10 clients, senders too"
    );
    assert_eq!(r.deliveries_received, 600, "{r}");
    assert_eq!((r.deliveries_lost, r.duplicates), (0, 0));
    assert!(!r.timed_out);
    assert!(r.errors.is_empty(), "{r}");
    assert!(r.deliveries_per_s > 0.0 && r.duration_s > 0.0);
    assert!(r.latency.p50_us > 0.0);
    assert!(r.latency.p50_us <= r.latency.p90_us);
    assert!(r.latency.p90_us <= r.latency.p99_us);
    assert!(r.latency.p99_us <= r.latency.max_us);
    let server = r.server.as_ref().expect("server stats with --server-pid");
    assert_eq!(server.pid, std::process::id());
    assert!(server.rss_kib > 0);
    assert!(server.cpu_ns_per_delivery.is_some());
    assert!(r.connect_login_s > 0.0);
    assert_eq!(r.transport, "tcp");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_run_counts_every_delivery() {
    let addr = start(true, Faults::default()).await;
    let mut cfg = load_config(&format!("ws://{addr}/ws"), 6, 6, 15);
    cfg.window = 0;
    let r = run_load(&cfg).await.unwrap();
    assert_eq!(r.clients_connected, 6, "{r}");
    assert_eq!(r.sent, 90);
    assert_eq!(r.deliveries_expected, 540);
    assert_eq!(r.deliveries_received, 540, "{r}");
    assert_eq!(r.deliveries_lost, 0);
    assert_eq!(r.transport, "ws");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_spreads_the_messages_over_time() {
    let addr = start(false, Faults::default()).await;
    let mut cfg = load_config(&addr.to_string(), 3, 2, 20);
    // 40 messages at 200/s: each sender sends one every 10 ms, the last after 190 ms.
    cfg.rate = 200.0;
    cfg.window = 0;
    let r = run_load(&cfg).await.unwrap();
    assert_eq!(r.deliveries_received, 120, "{r}");
    assert!(r.duration_s >= 0.18, "finished too fast for the rate: {r}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_rate_is_the_total_from_the_first_message_on() {
    let addr = start(false, Faults::default()).await;
    // 10 senders, one message each, 20 a second in all: the last is due after 450 ms. (All of
    // them at the start would end the run in a few milliseconds.)
    let mut cfg = load_config(&addr.to_string(), 10, 10, 1);
    cfg.rate = 20.0;
    cfg.window = 0;
    let r = run_load(&cfg).await.unwrap();
    assert_eq!(r.deliveries_received, 100, "{r}");
    assert!(r.duration_s >= 0.44, "the senders started together: {r}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_the_server_refuses_are_counted_with_the_reason() {
    let addr = start(
        false,
        Faults {
            max_clients: Some(3),
            ..Faults::default()
        },
    )
    .await;
    // Every client sends, as which three get in depends on scheduling.
    let mut cfg = load_config(&addr.to_string(), 5, 5, 5);
    // One at a time, so exactly three get in.
    cfg.connect_concurrency = 1;
    let r = run_load(&cfg).await.unwrap();
    assert_eq!(r.clients_connected, 3, "{r}");
    assert_eq!(
        r.client_failures,
        BTreeMap::from([("server: server full".to_string(), 2)])
    );
    assert_eq!(r.sent, 15);
    assert_eq!(r.deliveries_expected, 45);
    assert_eq!(r.deliveries_received, 45);
    assert!(r.to_string().contains("2 x server: server full"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_taken_name_is_a_failure_not_a_hang() {
    let addr = start(false, Faults::default()).await;
    // Hold "bench0" with a first run's idle client, then start a run that wants it too.
    let idle = IdleConfig {
        target: Target::parse(&addr.to_string()).unwrap(),
        connections: 1,
        log_in: true,
        timeout: Duration::from_secs(10),
        server_pid: None,
        allow_remote: false,
        name_prefix: "bench".into(),
        connect_concurrency: 1,
    };
    let (_, held) = run_idle(&idle).await.unwrap();
    let r = run_load(&load_config(&addr.to_string(), 2, 2, 3))
        .await
        .unwrap();
    assert_eq!(r.clients_connected, 1);
    assert_eq!(
        r.client_failures,
        BTreeMap::from([("server: Username already taken!".to_string(), 1)])
    );
    assert_eq!(r.sent, 3, "only bench1 sends");
    assert_eq!(r.deliveries_received, 3);
    held.release().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_listening_is_an_error_naming_the_reason() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let err = run_load(&load_config(&format!("127.0.0.1:{port}"), 4, 1, 1))
        .await
        .unwrap_err();
    match err {
        BenchError::NoClients(reason) => {
            assert!(reason.starts_with("4 x connect: "), "{reason}");
        }
        other => panic!("expected NoClients, got {other}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn irc_against_one_of_our_servers_fails_at_its_greeting() {
    let addr = start(false, Faults::default()).await;
    let mut cfg = common::load_config(&addr.to_string(), Protocol::Irc, 2, 1, 1);
    // Not to be waited out: the greeting says which protocol the server speaks.
    cfg.timeout = Duration::from_secs(30);
    match run_load(&cfg).await.unwrap_err() {
        BenchError::NoClients(reason) => {
            assert!(
                reason.starts_with("2 x server: not an IRC server: it sent \"[SERVER INFO]"),
                "{reason}"
            );
        }
        other => panic!("expected NoClients, got {other}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lost_deliveries_are_reported_and_the_run_ends_by_timeout() {
    let addr = start(
        false,
        Faults {
            starve: Some("bench2".into()),
            ..Faults::default()
        },
    )
    .await;
    let mut cfg = load_config(&addr.to_string(), 3, 2, 10);
    cfg.timeout = Duration::from_secs(2);
    let started = std::time::Instant::now();
    let r = run_load(&cfg).await.unwrap();
    assert!(r.timed_out, "{r}");
    assert!(started.elapsed() < Duration::from_secs(10));
    assert_eq!(
        r.sent, 20,
        "windows still move: the other clients receive: {r}"
    );
    assert_eq!(r.deliveries_expected, 60);
    assert_eq!(r.deliveries_received, 40);
    assert_eq!(r.deliveries_lost, 20);
    assert!(r.to_string().contains("20 lost (TIMED OUT)"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_whose_clients_all_lost_their_connection_ends_then() {
    let addr = start(
        false,
        Faults {
            hang_up: true,
            ..Faults::default()
        },
    )
    .await;
    // A timeout the run must not wait for: with every connection gone nothing can arrive.
    let mut cfg = load_config(&addr.to_string(), 3, 3, 10);
    cfg.timeout = Duration::from_secs(30);
    let r = run_load(&cfg).await.unwrap();
    assert!(r.all_disconnected && !r.timed_out, "{r}");
    assert_eq!(r.sent, 3, "one message each, then the hang-up: {r}");
    assert_eq!(r.disconnected.values().sum::<usize>(), 3, "{r}");
    assert_eq!(r.deliveries_received, 0);
    assert!(r.to_string().contains("(EVERY CLIENT DISCONNECTED)"), "{r}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_messages_are_counted_and_do_not_stall_the_window() {
    let addr = start(
        false,
        Faults {
            refuse_every: Some(4),
            ..Faults::default()
        },
    )
    .await;
    let r = run_load(&load_config(&addr.to_string(), 3, 2, 10))
        .await
        .unwrap();
    assert!(!r.timed_out, "{r}");
    assert_eq!(r.sent, 20, "{r}");
    assert_eq!(r.rejected, 5);
    assert_eq!(
        r.errors,
        BTreeMap::from([("too many requests".to_string(), 5)])
    );
    assert_eq!(r.deliveries_expected, 45);
    assert_eq!((r.deliveries_received, r.deliveries_lost), (45, 0));
    assert!(
        r.to_string()
            .contains("20 (5 refused by the server, see errors)"),
        "{r}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_no_stall_time_a_run_that_stops_moving_waits_out_the_timeout() {
    let addr = start(
        false,
        Faults {
            mute: true,
            ..Faults::default()
        },
    )
    .await;
    let mut cfg = load_config(&addr.to_string(), 2, 2, 10);
    cfg.timeout = Duration::from_secs(2);
    cfg.stall = None;
    let r = run_load(&cfg).await.unwrap();
    assert!(r.timed_out && r.stalled_s.is_none(), "{r}");
    assert_eq!(
        r.sent, 2,
        "one message in flight per sender, never acknowledged"
    );
    assert_eq!(r.deliveries_received, 0);
    assert_eq!(r.deliveries_lost, 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_that_stops_moving_ends_after_the_stall_time_not_the_timeout() {
    let addr = start(
        false,
        Faults {
            mute: true,
            ..Faults::default()
        },
    )
    .await;
    let mut cfg = load_config(&addr.to_string(), 3, 2, 10);
    cfg.timeout = Duration::from_secs(60);
    cfg.stall = Some(Duration::from_secs(1));
    let started = std::time::Instant::now();
    let r = run_load(&cfg).await.unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "waited for the timeout: {r}"
    );
    assert!(!r.timed_out, "{r}");
    assert_eq!(r.stalled_s, Some(1.0), "{r}");
    assert_eq!((r.sent, r.deliveries_received), (2, 0), "{r}");
    assert_eq!(r.deliveries_lost, 6);
    assert!(
        r.to_string()
            .contains("6 lost (STALLED: nothing moved for 1 s)"),
        "{r}"
    );
    let json: serde_json::Value = serde_json::to_value(&r).unwrap();
    assert_eq!(json["stalled_s"], 1.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_connections_are_held_and_measured() {
    for (ws, log_in) in [(false, true), (false, false), (true, true)] {
        let addr = start(ws, Faults::default()).await;
        let spec = if ws {
            format!("ws://{addr}")
        } else {
            addr.to_string()
        };
        let cfg = IdleConfig {
            target: Target::parse(&spec).unwrap(),
            connections: 40,
            log_in,
            timeout: Duration::from_secs(20),
            server_pid: Some(std::process::id()),
            allow_remote: false,
            name_prefix: "idle".into(),
            connect_concurrency: 16,
        };
        let (r, held) = run_idle(&cfg).await.unwrap();
        assert_eq!((r.connected, r.synced), (40, 40), "{r}");
        assert!(r.failures.is_empty());
        assert_eq!(r.logged_in, log_in);
        assert!(r.rss_before_kib.is_some() && r.rss_after_kib.is_some());
        assert!(r.rss_per_connection_bytes.is_some());
        held.release().await;
    }
}

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    bench: BenchArgs,
}

#[test]
fn command_line_options_parse() {
    let cli = Cli::try_parse_from([
        "bench",
        "--target",
        "ws://127.0.0.1:8080",
        "--clients",
        "7",
        "--senders",
        "2",
        "--messages",
        "9",
        "--rate",
        "1000",
        "--window",
        "4",
        "--payload-size",
        "128",
        "--timeout",
        "5",
        "--json",
        "--server-pid",
        "1",
        "--allow-remote",
    ])
    .unwrap();
    let a: LoadArgs = cli.bench.load;
    assert!(cli.bench.command.is_none());
    assert_eq!(a.target, "ws://127.0.0.1:8080");
    assert_eq!((a.clients, a.senders, a.messages), (7, Some(2), 9));
    assert_eq!(
        (a.rate, a.window, a.payload_size, a.timeout),
        (1000.0, 4, 128, 5)
    );
    assert!(a.json && a.allow_remote);
    assert_eq!(a.server_pid, Some(1));

    let cli = Cli::try_parse_from(["bench", "--idle", "100", "--anonymous"]).unwrap();
    assert_eq!(cli.bench.load.idle, Some(100));
    assert!(cli.bench.load.anonymous);
    assert!(
        Cli::try_parse_from(["bench", "--anonymous"]).is_err(),
        "--anonymous needs --idle"
    );
    // An idle run sends nothing: the options of a sending run are refused with it, by name.
    for option in [
        "--clients",
        "--senders",
        "--messages",
        "--rate",
        "--window",
        "--payload-size",
        "--stall",
    ] {
        let err = Cli::try_parse_from(["bench", "--idle", "10", option, "5"])
            .err()
            .unwrap_or_else(|| panic!("--idle with {option} was accepted"));
        assert_eq!(err.kind(), clap::error::ErrorKind::ArgumentConflict);
        assert!(err.to_string().contains(option), "{err}");
    }
    let cli = Cli::try_parse_from(["bench"]).unwrap();
    assert_eq!(cli.bench.load.stall, 10, "the default stall time");
    let cli = Cli::try_parse_from(["bench", "--stall", "0"]).unwrap();
    assert_eq!(cli.bench.load.stall, 0);
    assert!(Cli::try_parse_from(["bench", "--stall", "-1"]).is_err());
    let cli = Cli::try_parse_from(["bench", "--idle", "10", "--timeout", "5"]).unwrap();
    assert_eq!((cli.bench.load.idle, cli.bench.load.timeout), (Some(10), 5));

    let cli = Cli::try_parse_from([
        "bench",
        "suite",
        "--quick",
        "--servers",
        "tokio_chat,smol_ws_chat",
    ])
    .unwrap();
    match cli.bench.command {
        Some(BenchCommand::Suite(s)) => {
            assert!(s.quick);
            assert_eq!(s.servers, ["tokio_chat", "smol_ws_chat"]);
            assert!(!s.no_floor, "the floor runs unless left out");
        }
        other => panic!("suite not parsed: {other:?}"),
    }
    let cli = Cli::try_parse_from(["bench", "suite", "--no-floor"]).unwrap();
    assert!(matches!(cli.bench.command, Some(BenchCommand::Suite(s)) if s.no_floor));

    let cli = Cli::try_parse_from(["bench", "floor", "--port", "0"]).unwrap();
    match cli.bench.command {
        Some(BenchCommand::Floor(f)) => assert_eq!(f.port, 0),
        other => panic!("floor not parsed: {other:?}"),
    }
    assert!(Cli::try_parse_from(["bench", "floor", "--port", "x"]).is_err());
}

#[test]
fn run_refuses_a_remote_target_without_allow_remote() {
    let cli =
        Cli::try_parse_from(["bench", "--target", "192.0.2.1:8000", "--timeout", "1"]).unwrap();
    assert!(matches!(
        chat_bench::run(cli.bench),
        Err(BenchError::RemoteTarget(_))
    ));
}

/// Environment variable that turns this test binary into a fake server process for the suite.
const FAKE_PROCESS: &str = "CHAT_BENCH_FAKE_SERVER";

/// Not a test of its own: the entry point the suite test starts as a child process (through a
/// wrapper script), which serves the fake chat and announces its port like the real servers
/// (started as `bench floor`, like the floor). Without the environment variable (a normal
/// test run) there is nothing to do.
#[test]
fn fake_server_process() {
    let Ok(name) = std::env::var(FAKE_PROCESS) else {
        return;
    };
    run_child(async {
        let addr = start(name.contains("_ws_"), Faults::default()).await;
        if name == "bench" {
            println!("{}{addr}", chat_bench::floor::LISTENING);
        } else {
            println!("[{name}] - [SERVER INFO] - server started on {addr}");
        }
        use std::io::Write as _;
        std::io::stdout().flush().unwrap();
        std::future::pending::<()>().await;
    });
}

/// Runs a child process's fake server (it never returns) on a runtime of its own.
fn run_child(serve: impl std::future::Future<Output = ()>) {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(serve);
}

/// Environment variable that turns this test binary into the suite's fake InspIRCd: the port
/// its configuration names.
const FAKE_IRC_PORT: &str = "CHAT_BENCH_FAKE_IRC_PORT";

/// Not a test of its own: the fake InspIRCd the suite test starts (through a wrapper script
/// that reads the port from the configuration the suite wrote), serving `common::irc`'s IRC.
#[test]
fn fake_inspircd_process() {
    let Ok(port) = std::env::var(FAKE_IRC_PORT) else {
        return;
    };
    run_child(async {
        let listener = TcpListener::bind(("127.0.0.1", port.parse::<u16>().unwrap()))
            .await
            .unwrap();
        common::irc::serve_on(listener, Default::default()).await;
    });
}

/// Writes an executable shell script.
fn write_script(path: &std::path::Path, text: &str) {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::write(path, text).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

#[test]
fn suite_starts_measures_and_kills_each_server() {
    let dir = std::env::temp_dir().join(format!("chat-bench-suite-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let script = dir.join("fake-async-chat");
    let exe = std::env::current_exe().unwrap();
    // The suite calls `<bin> <server> --port 0 ...` (and `<bin> bench floor --port 0` for the
    // floor); the wrapper hands the first argument over in the environment and runs only the
    // fake-server entry point of this test binary.
    write_script(
        &script,
        &format!(
            "#!/bin/sh\necho \"$1\" >> '{}'\nexport {FAKE_PROCESS}=\"$1\"\nexec '{}' --exact fake_server_process --nocapture --test-threads=1\n",
            dir.join("starts").display(),
            exe.display()
        ),
    );
    // The suite calls `<inspircd> --nofork --config=PATH [--runasroot]`; the wrapper logs its
    // arguments and serves IRC on the port the configuration names.
    let ircd = dir.join("fake-inspircd");
    let wrapper = r#"#!/bin/sh
echo "inspircd $*" >> 'STARTS'
for a in "$@"; do case $a in --config=*) conf=${a#--config=};; esac; done
export PORT_VAR=$(sed -n 's/.*<bind address="127.0.0.1" port="\([0-9]*\)".*/\1/p' "$conf")
exec 'EXE' --exact fake_inspircd_process --nocapture --test-threads=1
"#;
    let wrapper = wrapper
        .replace("STARTS", &dir.join("starts").display().to_string())
        .replace("PORT_VAR", FAKE_IRC_PORT)
        .replace("EXE", &exe.display().to_string());
    write_script(&ircd, &wrapper);
    let results = dir.join("bench-results.json");
    let chart = dir.join("img").join("bench.svg");
    let args = SuiteArgs {
        quick: true,
        servers: vec!["tokio_chat".into(), "smol_ws_chat".into()],
        no_floor: false,
        inspircd: Some(ircd),
        all_clients: Some(5),
        all_messages: Some(5),
        fanout_clients: Some(12),
        fanout_senders: Some(2),
        fanout_messages: Some(5),
        idle_connections: Some(30),
        window: 1,
        payload_size: 64,
        timeout: 30,
        runs: 2,
        results: results.clone(),
        chart: chart.clone(),
        server_bin: Some(script),
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    run_suite(&rt, &args).unwrap();

    let out: SuiteResults =
        serde_json::from_str(&std::fs::read_to_string(&results).unwrap()).unwrap();
    assert_eq!(
        out.servers.len(),
        4,
        "the two servers, the floor and InspIRCd"
    );
    assert_eq!(out.plan.runs, 2);
    // Two rounds, each starting every server once per workload, then the floor and InspIRCd
    // once per sending workload.
    let starts = std::fs::read_to_string(dir.join("starts")).unwrap();
    let starts: Vec<&str> = starts.lines().collect();
    assert_eq!(starts.len(), 2 * (2 * 3 + 2 + 2), "{starts:?}");
    let round = |s: &[&str]| -> Vec<String> {
        // InspIRCd's configuration is a fresh file each time.
        s.iter()
            .map(|l| l.split(" --config=").next().unwrap().to_string())
            .collect()
    };
    assert_eq!(
        round(&starts[..10]),
        round(&starts[10..]),
        "the second round repeats the first"
    );
    assert_eq!(starts[6..8], ["bench", "bench"], "{starts:?}");
    for start in &starts[8..10] {
        assert!(start.starts_with("inspircd --nofork --config="), "{start}");
        let conf = start["inspircd --nofork --config=".len()..]
            .split(' ')
            .next()
            .unwrap();
        assert!(
            !std::path::Path::new(conf).exists(),
            "InspIRCd's directory is removed with it: {conf}"
        );
    }
    let ircd = &out.servers[3];
    assert_eq!(ircd.server, "inspircd");
    assert!(ircd.errors.is_empty(), "{:?}", ircd.errors);
    // An IRC server does not echo a message to its sender: 25 messages to 4 others, 10 to 11.
    let (all, fan) = (
        ircd.all_send.as_ref().unwrap(),
        ircd.fan_out.as_ref().unwrap(),
    );
    assert_eq!(
        (all.sent, all.deliveries_received, all.deliveries_lost),
        (25, 100, 0)
    );
    assert_eq!((fan.sent, fan.deliveries_received), (10, 110));
    assert!(ircd.idle.is_none());
    let floor = &out.servers[2];
    assert_eq!(
        (floor.server.as_str(), floor.transport.as_str()),
        ("floor", "tcp")
    );
    assert!(floor.errors.is_empty(), "{:?}", floor.errors);
    assert_eq!(floor.all_send.as_ref().unwrap().deliveries_received, 125);
    assert_eq!(floor.fan_out.as_ref().unwrap().deliveries_received, 120);
    assert!(floor.idle.is_none(), "the floor holds no idle users");
    for run in [&floor.all_send, &floor.fan_out] {
        let pid = run.as_ref().unwrap().server.as_ref().unwrap().pid;
        assert!(
            !std::path::Path::new(&format!("/proc/{pid}")).exists(),
            "floor {pid} still running"
        );
    }
    for (s, transport) in out.servers[..2].iter().zip(["tcp", "ws"]) {
        assert!(s.errors.is_empty(), "{:?}", s.errors);
        assert_eq!(s.transport, transport);
        let all = s.all_send.as_ref().unwrap();
        assert_eq!(
            (all.sent, all.deliveries_received, all.deliveries_lost),
            (25, 125, 0)
        );
        let fan = s.fan_out.as_ref().unwrap();
        assert_eq!((fan.sent, fan.deliveries_received), (10, 120));
        assert_eq!(
            s.lost_in_all_runs, 0,
            "summed over both runs of both workloads"
        );
        for rounds in [&s.all_send_ns_by_round, &s.fan_out_ns_by_round] {
            assert_eq!(rounds.len(), 2, "one figure per round: {rounds:?}");
            assert!(rounds.iter().all(Option::is_some), "{rounds:?}");
        }
        let idle = s.idle.as_ref().unwrap();
        assert_eq!((idle.connected, idle.synced), (30, 30));
        assert!(idle.rss_per_connection_bytes.is_some());
        // Each workload ran on a fresh server process, and every one of them is gone.
        let pids = [
            all.server.as_ref().unwrap().pid,
            fan.server.as_ref().unwrap().pid,
            idle.server_pid.unwrap(),
        ];
        assert!(pids[0] != pids[1] && pids[1] != pids[2], "{pids:?}");
        for pid in pids {
            assert!(
                !std::path::Path::new(&format!("/proc/{pid}")).exists(),
                "server {pid} still running"
            );
        }
    }
    let svg = std::fs::read_to_string(&chart).unwrap();
    assert!(svg.contains("smol_ws") && svg.contains("floor") && svg.contains("inspircd"));

    // `--no-floor` leaves the floor out.
    run_suite(
        &rt,
        &SuiteArgs {
            servers: vec!["tokio_chat".into()],
            no_floor: true,
            inspircd: None,
            idle_connections: Some(0),
            runs: 1,
            ..args
        },
    )
    .unwrap();
    let out: SuiteResults =
        serde_json::from_str(&std::fs::read_to_string(&results).unwrap()).unwrap();
    let names: Vec<&str> = out.servers.iter().map(|s| s.server.as_str()).collect();
    assert_eq!(names, ["tokio_chat"]);
    std::fs::remove_dir_all(&dir).unwrap();
}
