//! End to end: `async-chat bench floor`, the minimal reference server, started as a user (or
//! `scripts/bench-ab.sh`) starts it, answers over TCP and stops on SIGINT, even when it was
//! started with SIGINT ignored, as a shell script's background jobs are.

#[allow(unused_macros, unused_imports)] // per_runtime! is not used here.
mod common;

use std::io::{BufRead, BufReader, Read};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{signal, wait_child};

#[test]
fn bench_floor_serves_and_stops_on_sigint_even_when_started_ignoring_it() {
    let mut child = Command::new("sh")
        .args([
            "-c",
            "trap '' INT; exec \"$0\" bench floor --port 0",
            env!("CARGO_BIN_EXE_async-chat"),
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start async-chat bench floor");
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
    let mut first = String::new();
    stdout.read_line(&mut first).expect("the address line");
    let addr = first
        .trim()
        .strip_prefix("floor_chat listening on ")
        .unwrap_or_else(|| panic!("{first:?}"))
        .to_string();

    let stream = TcpStream::connect(&addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("read timeout");
    let mut greeting = String::new();
    BufReader::new(&stream)
        .read_line(&mut greeting)
        .expect("the greeting");
    assert_eq!(
        greeting,
        "[SERVER INFO] - Welcome to floor_chat! Type help for commands.\r\n"
    );

    signal(&child, "INT");
    let Some(status) = wait_child(&mut child, Duration::from_secs(10)) else {
        let _ = child.kill();
        panic!("bench floor did not stop within 10 s of SIGINT");
    };
    let mut stderr = String::new();
    if let Some(mut e) = child.stderr.take() {
        let _ = e.read_to_string(&mut stderr);
    }
    assert!(status.success(), "{status:?}: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}
