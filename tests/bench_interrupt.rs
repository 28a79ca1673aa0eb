//! End to end: Ctrl-C (SIGINT) during a load run of `async-chat bench` ends the run with the
//! report of what it counted until then, marked `(INTERRUPTED)`, and exit status 1, instead of
//! killing the tool without a word (a long `--rate` run would otherwise have to be waited out).

#[allow(unused_macros, unused_imports)] // per_runtime! is not used here.
mod common;

use std::io::Read;
use std::process::{Command, Stdio};

use common::{DEADLINE, Server, signal, wait_child};

#[test]
fn ctrl_c_ends_a_load_run_with_the_report_so_far() {
    let server = Server::chat("tokio_chat", &[]);
    let mut watcher = server.login("watcher");
    // 2,000 messages at 2 a second: half an hour, unless interrupted.
    let mut bench = Command::new(env!("CARGO_BIN_EXE_async-chat"))
        .args([
            "bench",
            "--target",
            &server.addr().to_string(),
            "--clients",
            "2",
            "--messages",
            "1000",
            "--rate",
            "2",
            "--timeout",
            "3600",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start async-chat bench");

    // The run has begun once a load message reaches the watcher (payloads start with `b`).
    loop {
        let line = watcher.read_line();
        if line.contains("[bench0]: b") || line.contains("[bench1]: b") {
            break;
        }
    }
    signal(&bench, "INT");
    let Some(status) = wait_child(&mut bench, DEADLINE) else {
        let _ = bench.kill();
        panic!("bench did not end within {DEADLINE:?} of SIGINT");
    };
    let mut stdout = String::new();
    let mut stderr = String::new();
    if let Some(mut out) = bench.stdout.take() {
        let _ = out.read_to_string(&mut stdout);
    }
    if let Some(mut err) = bench.stderr.take() {
        let _ = err.read_to_string(&mut stderr);
    }
    assert_eq!(status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(
        stderr.contains("interrupted (Ctrl-C)"),
        "{stdout}\n{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    // The report of the run so far: at least the message the watcher saw, not all 2,000.
    assert!(stdout.contains("(INTERRUPTED)"), "{stdout}");
    let sent: u64 = stdout
        .lines()
        .find_map(|l| l.strip_prefix("sent"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no sent count in {stdout}"));
    assert!((1..2000).contains(&sent), "{stdout}");
}
