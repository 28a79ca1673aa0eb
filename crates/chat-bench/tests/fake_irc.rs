//! The bench's IRC mode (`--protocol irc`) against a small in-process IRC server over real
//! TCP (`common::irc`: registration with a `PING` cookie, `JOIN #bench`, channel `PRIVMSG`
//! relayed to every other member, refused messages, and mid-run `PING`s).

mod common;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use chat_bench::load::{LoadConfig, run_load};
use chat_bench::protocol::Protocol;
use chat_bench::{BenchArgs, BenchError, LoadArgs};
use clap::Parser;
use common::irc::{Irc, start, start_shared};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

fn irc_config(addr: SocketAddr, clients: usize, senders: usize, messages: u32) -> LoadConfig {
    common::load_config(&addr.to_string(), Protocol::Irc, clients, senders, messages)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_irc_run_counts_every_delivery_and_no_echo_is_expected() {
    let addr = start(Irc::default()).await;
    let mut cfg = irc_config(addr, 6, 3, 20);
    cfg.window = 2;
    let r = run_load(&cfg).await.unwrap();
    assert_eq!(r.clients_connected, 6, "{r}");
    assert!(r.client_failures.is_empty(), "{r}");
    assert_eq!(r.sent, 60);
    assert_eq!(
        r.deliveries_expected, 300,
        "each PRIVMSG reaches the 5 other members, not its sender"
    );
    assert_eq!((r.deliveries_received, r.deliveries_lost), (300, 0), "{r}");
    assert_eq!(r.duplicates, 0);
    assert!(!r.timed_out);
    assert!(r.errors.is_empty(), "422 (no MOTD) is not an error: {r}");
    assert_eq!(r.protocol, "irc");
    assert!(r.to_string().contains("(tcp, irc)"), "{r}");
    assert!(r.latency.p50_us > 0.0 && r.latency.p99_us <= r.latency.max_us);
    assert!(
        r.server
            .as_ref()
            .and_then(|s| s.cpu_ns_per_delivery)
            .is_some()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_privmsg_is_counted_and_does_not_stall_the_window() {
    let addr = start(Irc {
        refuse_every: Some(4),
        ..Irc::default()
    })
    .await;
    let r = run_load(&irc_config(addr, 3, 2, 10)).await.unwrap();
    assert!(!r.timed_out, "{r}");
    assert_eq!((r.sent, r.rejected), (20, 5), "{r}");
    assert_eq!(
        r.errors,
        BTreeMap::from([("Cannot send to channel".to_string(), 5)])
    );
    assert_eq!(
        r.deliveries_expected, 30,
        "15 delivered messages x 2 others"
    );
    assert_eq!((r.deliveries_received, r.deliveries_lost), (30, 0), "{r}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ping_during_the_run_is_answered_and_the_run_completes() {
    let irc = Arc::new(Irc {
        ping_after: Some(10),
        ..Irc::default()
    });
    let addr = start_shared(irc.clone()).await;
    let mut cfg = irc_config(addr, 4, 2, 20);
    cfg.timeout = Duration::from_secs(10);
    let r = run_load(&cfg).await.unwrap();
    // Without the pongs, every member's messages after the 10th would be held for good.
    assert!(!r.timed_out, "{r}");
    assert_eq!((r.deliveries_received, r.deliveries_lost), (120, 0), "{r}");
    assert!(r.disconnected.is_empty(), "{r}");
    // A member's pong releases its held messages, so all four had answered by the end.
    assert_eq!(irc.mid_pongs.load(Ordering::Relaxed), 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_registration_is_a_failure_with_the_servers_reason() {
    let addr = start(Irc::default()).await;
    // Hold the nick `bench1` with a plain client first: the server answers its USER (sent
    // after NICK) with a PING, so once that arrives the nick is taken.
    let squatter = TcpStream::connect(addr).await.unwrap();
    let (r, mut w) = squatter.into_split();
    w.write_all(b"NICK bench1\r\nUSER x 0 * :x\r\n")
        .await
        .unwrap();
    let first = BufReader::new(r).lines().next_line().await.unwrap();
    assert_eq!(first.as_deref(), Some("PING :c0"));
    let mut cfg = irc_config(addr, 3, 3, 5);
    cfg.timeout = Duration::from_secs(10);
    let r = run_load(&cfg).await.unwrap();
    assert_eq!(r.clients_connected, 2, "{r}");
    assert_eq!(
        r.client_failures,
        BTreeMap::from([("server: Nickname is already in use.".to_string(), 1)]),
        "{r}"
    );
    // The two others ran to the end: 5 messages each, to the one other member.
    assert_eq!((r.deliveries_expected, r.deliveries_lost), (10, 0), "{r}");
}

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    bench: BenchArgs,
}

fn parse(args: &[&str]) -> LoadArgs {
    let cli = Cli::try_parse_from(std::iter::once("bench").chain(args.iter().copied())).unwrap();
    assert!(cli.bench.command.is_none());
    cli.bench.load
}

#[test]
fn the_protocol_option_parses_and_defaults_to_ours() {
    assert_eq!(parse(&[]).protocol, Protocol::Chat);
    assert_eq!(parse(&["--protocol", "irc"]).protocol, Protocol::Irc);
    assert!(Cli::try_parse_from(["bench", "--protocol", "xmpp"]).is_err());
}

#[test]
fn irc_runs_refuse_what_they_cannot_do() {
    let config_error = |args: &[&str]| match LoadConfig::from_args(&parse(args)) {
        Err(BenchError::Config(e)) => e,
        other => panic!("{args:?}: {other:?}"),
    };
    assert!(
        config_error(&["--protocol", "irc", "--target", "ws://127.0.0.1:8080"]).contains("TCP")
    );
    assert!(config_error(&["--protocol", "irc", "--clients", "1"]).contains("at least 2"));
    assert!(
        config_error(&["--protocol", "irc", "--name-prefix", "9lives"]).contains("IRC nicknames")
    );
    let idle = parse(&["--protocol", "irc", "--idle", "10"]);
    match chat_bench::idle::IdleConfig::from_args(&idle, 10) {
        Err(BenchError::Config(e)) => assert!(e.contains("load runs"), "{e}"),
        other => panic!("{other:?}"),
    }
    // Ours is unaffected by the IRC rules.
    assert!(LoadConfig::from_args(&parse(&["--clients", "1", "--name-prefix", "9lives"])).is_ok());
}
