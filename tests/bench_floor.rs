//! End to end: `async-chat bench floor`, the minimal reference server, started as a user (or
//! `scripts/bench-ab.sh`) starts it, answers over TCP and stops on SIGINT, even when it was
//! started with SIGINT ignored, as a shell script's background jobs are.

use std::io::{BufRead, BufReader, Read};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

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

    let status = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("run kill");
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = child.try_wait().expect("poll the child") {
            break status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            panic!("bench floor did not stop within 10 s of SIGINT");
        }
        // Polling a child's exit status: there is no portable blocking wait with a timeout.
        thread::sleep(Duration::from_millis(10));
    };
    let mut stderr = String::new();
    if let Some(mut e) = child.stderr.take() {
        let _ = e.read_to_string(&mut stderr);
    }
    assert!(status.success(), "{status:?}: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}
