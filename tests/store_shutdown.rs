//! End-to-end: SIGTERM in the middle of a burst of room messages loses nothing that was
//! acknowledged: every message its sender saw echoed is in the SQLite file after the exit, in
//! order, on each runtime.

mod common;
mod common_store;

use std::io::Write;
use std::thread;

use common::*;
use common_store::*;

/// Messages the client tries to send; far more than get through before the SIGTERM.
const BURST: usize = 50_000;
/// Echoes to wait for before the SIGTERM.
const BEFORE_SIGTERM: usize = 2_000;

fn sigterm_during_a_burst_keeps_every_echoed_message(server_name: &str) {
    let dir = TempDir::new("sigterm-burst");
    let db = dir.join("chat.db");
    let mut server = Server::start(
        &[
            server_name,
            "--port",
            "0",
            "--no-color",
            "--no-flood-limit",
            "--store",
            &sqlite(&db),
        ],
        1,
    );
    let mut writer = server.login("writer");
    writer.send("join #b");
    writer.expect_line("[SYSTEM INFO] - [writer] joined #b.");
    let burst: String = (0..BURST).map(|i| format!("msg #b m{i}\r\n")).collect();
    let mut out = writer.stream().try_clone().expect("clone the socket");
    // The write fails once the server has closed the connection: that is expected here.
    let sender = thread::spawn(move || out.write_all(burst.as_bytes()).is_ok());

    let mut echoed = 0;
    while echoed < BEFORE_SIGTERM {
        writer.expect_chat(&format!("[#b][writer]: m{echoed}"));
        echoed += 1;
    }
    server.sigterm();
    // Echoes keep coming, in order, until the shutdown notice; then the connection closes.
    loop {
        let line = writer.read_line();
        if line == "[SERVER INFO] - server shutting down" {
            break;
        }
        assert!(
            is_chat(&line, &format!("[#b][writer]: m{echoed}")),
            "expected echo m{echoed} or the shutdown notice, got {line:?}"
        );
        echoed += 1;
    }
    writer.expect_closed();
    let status = server.wait_exit(DEADLINE);
    assert!(status.success(), "exit status after SIGTERM: {status:?}");
    let _ = sender.join().expect("sender thread");

    let stored = history_texts(&db, Some("#b"));
    assert!(
        stored.len() >= echoed,
        "{echoed} messages echoed but only {} stored",
        stored.len()
    );
    for (i, text) in stored.iter().enumerate() {
        assert_eq!(text, &format!("m{i}"), "stored out of order or with a gap");
    }
}

per_runtime!(sigterm_during_a_burst_keeps_every_echoed_message);
