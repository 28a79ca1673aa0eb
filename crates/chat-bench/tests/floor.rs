//! `bench floor`, the minimal reference server, over real sockets: the load generator counts
//! every delivery through it, and it answers the few commands it knows as the protocol does.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::thread::JoinHandle;
use std::time::Duration;

use chat_bench::floor::{Floor, Stop};
use chat_bench::load::run_load;
use chat_bench::protocol::Protocol;

/// Starts a floor server on a free port, on a thread of its own.
fn start() -> (std::net::SocketAddr, Stop, JoinHandle<std::io::Result<()>>) {
    let mut floor = Floor::bind(0).expect("bind a free port");
    let (addr, stop) = (floor.local_addr(), floor.stopper());
    (addr, stop, std::thread::spawn(move || floor.run()))
}

/// Stops the server and checks it returned cleanly.
fn finish(stop: Stop, server: JoinHandle<std::io::Result<()>>) {
    stop.stop().expect("wake the server");
    server.join().expect("no panic").expect("a clean return");
}

/// A line-at-a-time client with a read deadline, so a missing reply fails the test.
struct Client {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

impl Client {
    fn connect(addr: std::net::SocketAddr) -> Client {
        let stream = TcpStream::connect(addr).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .expect("read timeout");
        let writer = stream.try_clone().expect("clone");
        Client {
            reader: BufReader::new(stream),
            writer,
        }
    }

    /// Connects, passes the greeting and logs in as `name`.
    fn login(addr: std::net::SocketAddr, name: &str) -> Client {
        let mut c = Client::connect(addr);
        c.line();
        c.send(&format!("login {name}"));
        assert_eq!(c.line(), format!("[SYSTEM INFO] - [{name}] login to chat."));
        c
    }

    fn send(&mut self, line: &str) {
        self.writer
            .write_all(format!("{line}\n").as_bytes())
            .expect("send");
    }

    fn line(&mut self) -> String {
        let mut line = String::new();
        self.reader.read_line(&mut line).expect("a reply line");
        assert!(line.ends_with("\r\n"), "{line:?}");
        line.trim_end().to_string()
    }
}

#[test]
fn answers_the_commands_it_knows_as_the_protocol_does() {
    let (addr, stop, server) = start();
    let mut a = Client::connect(addr);
    assert_eq!(
        a.line(),
        "[SERVER INFO] - Welcome to floor_chat! Type help for commands."
    );
    a.send("msgall early");
    assert_eq!(a.line(), "[ERROR] - First login!");
    a.send("format text");
    assert_eq!(a.line(), "[INFO] - format text");
    a.send("login alice");
    assert_eq!(a.line(), "[SYSTEM INFO] - [alice] login to chat.");
    a.send("login again");
    assert_eq!(a.line(), "[ERROR] - Already login!");
    a.send("whoami");
    assert_eq!(a.line(), "[INFO] - alice");
    // Telnet's `\r\n` and stray blanks around a command, and a blank line (no reply).
    a.writer.write_all(b" \r\n  whoami \r\n").expect("send");
    assert_eq!(a.line(), "[INFO] - alice");
    a.send("dance");
    assert_eq!(a.line(), "[ERROR] - unknown command");

    let mut b = Client::connect(addr);
    b.line();
    b.send("login alice");
    assert_eq!(b.line(), "[ERROR] - Username already taken!");
    b.send("login bob");
    assert_eq!(b.line(), "[SYSTEM INFO] - [bob] login to chat.");
    assert_eq!(a.line(), "[SYSTEM INFO] - [bob] login to chat.");
    b.send("msgall hi  there");
    for c in [&mut a, &mut b] {
        let line = c.line();
        assert!(line.ends_with("][bob]: hi  there"), "{line:?}");
        assert!(
            line.starts_with('[') && line.as_bytes()[9] == b']',
            "{line:?}"
        );
    }
    drop(b);
    assert_eq!(a.line(), "[SYSTEM INFO] - [bob] logout from chat.");

    finish(stop, server);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_load_generator_counts_every_delivery_through_it() {
    let (addr, stop, server) = start();
    let mut cfg = common::load_config(&addr.to_string(), Protocol::Chat, 50, 10, 30);
    cfg.window = 2;
    cfg.payload_size = 100;
    cfg.connect_concurrency = 16;
    let r = run_load(&cfg).await.expect("a report");
    assert_eq!(r.clients_connected, 50, "{r}");
    assert_eq!(r.deliveries_expected, 300 * 50);
    assert_eq!(r.deliveries_received, 300 * 50, "{r}");
    assert_eq!((r.deliveries_lost, r.duplicates), (0, 0), "{r}");
    assert!(r.errors.is_empty() && !r.timed_out, "{r}");
    finish(stop, server);
}

#[test]
fn a_client_that_never_reads_is_dropped_and_the_others_are_told() {
    let (addr, stop, server) = start();
    let _slow = Client::login(addr, "slow");
    let mut a = Client::login(addr, "a");
    // From here on `slow` reads nothing, while `a` sends far more than its bound and the
    // socket buffers hold, a few messages at a time, reading each round's back so that only
    // `slow` falls behind.
    let text = "x".repeat(4000);
    let mut dropped = false;
    for _ in 0..10_000 {
        for _ in 0..8 {
            a.send(&format!("msgall {text}"));
        }
        let mut got = 0;
        while got < 8 {
            let line = a.line();
            if line == "[SYSTEM INFO] - [slow] logout from chat." {
                dropped = true;
            } else {
                assert!(line.ends_with(&format!("][a]: {text}")), "{line:?}");
                got += 1;
            }
        }
        if dropped {
            break;
        }
    }
    assert!(dropped, "a client past its bound is dropped");
    finish(stop, server);
}
