//! End-to-end: a burst of 10,000 room messages, pipelined by one client while another keeps
//! asking `whoami`, is stored completely in SQLite, and the chat answers meanwhile.

#[allow(unused_macros, unused_imports)] // per_runtime! is not used here.
mod common;
mod common_store;

use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::Duration;

use common::*;
use common_store::*;

/// Room messages in the burst.
const BURST: usize = 10_000;
/// How long one `whoami` round trip may take during the burst: generous, the point is that it
/// completes while the store is busy, not how fast.
const ROUND_TRIP: Duration = Duration::from_secs(2);

#[test]
fn ten_thousand_room_messages_are_stored_and_the_chat_stays_responsive() {
    let dir = TempDir::new("burst");
    let db = dir.join("chat.db");
    let store = sqlite(&db);
    let mut server = Server::start(
        &[
            "tokio_chat",
            "--port",
            "0",
            "--no-color",
            "--no-flood-limit",
            "--store",
            &store,
        ],
        1,
    );
    let mut writer = server.login("writer");
    writer.send("join #burst");
    writer.expect_line("[SYSTEM INFO] - [writer] joined #burst.");
    let mut probe = server.login("probe");
    writer.expect_line("[SYSTEM INFO] - [probe] login to chat.");

    // The burst goes out in one pipelined write from its own thread, while another thread
    // reads the echoes (so the writer's queue never fills).
    let burst: String = (0..BURST).map(|i| format!("msg #burst m{i}\r\n")).collect();
    let mut out = writer.stream().try_clone().expect("clone the socket");
    let sender = thread::spawn(move || out.write_all(burst.as_bytes()));
    let echoed = Arc::new(AtomicUsize::new(0));
    let progress = echoed.clone();
    let reader = thread::spawn(move || {
        for i in 0..BURST {
            writer.expect_chat(&format!("[#burst][writer]: m{i}"));
            progress.store(i + 1, Ordering::Release);
        }
        writer
    });

    // Meanwhile, whoami round trips from another client complete.
    let mut during_burst = 0;
    loop {
        let at = echoed.load(Ordering::Acquire);
        probe.send("whoami");
        match probe.read_within(ROUND_TRIP) {
            Read1::Line(line) => assert_eq!(line, "[INFO] - probe"),
            other => panic!(
                "whoami did not complete within {ROUND_TRIP:?} during the burst \
                 ({at}/{BURST} echoed): {other:?}"
            ),
        }
        if at < BURST {
            during_burst += 1;
        }
        if reader.is_finished() {
            break;
        }
    }
    sender
        .join()
        .expect("sender thread")
        .expect("write the burst");
    let writer = reader
        .join()
        .expect("every message of the burst echoed in order");
    assert!(
        during_burst > 0,
        "no whoami round trip happened during the burst"
    );

    // Stop: the store is flushed before the exit.
    server.sigterm();
    for mut client in [writer, probe] {
        client.expect_line("[SERVER INFO] - server shutting down");
        client.expect_closed();
    }
    let status = server.wait_exit(DEADLINE);
    assert!(status.success(), "exit status after SIGTERM: {status:?}");
    let errors: Vec<String> = server
        .console
        .snapshot()
        .into_iter()
        .filter(|l| l.contains("[ERROR]"))
        .collect();
    assert!(
        errors.is_empty(),
        "store errors on the console: {errors:#?}"
    );
    drop(server);

    // Every message is in the file, in order.
    let stored = history_texts(&db, Some("#burst"));
    assert_eq!(stored.len(), BURST, "stored {} of {BURST}", stored.len());
    for (i, text) in stored.iter().enumerate() {
        assert_eq!(text, &format!("m{i}"));
    }

    // And another runtime reads the end of it back.
    let server = Server::start(
        &[
            "async_std_chat",
            "--port",
            "0",
            "--no-color",
            "--store",
            &store,
        ],
        1,
    );
    let mut reader = server.login("reader");
    reader.send("rooms");
    reader.expect_line("[INFO] - [#burst (0)]");
    // More than 100 reads as 100.
    reader.send("history #burst 1000");
    for i in BURST - 100..BURST {
        reader.expect_chat(&format!("[#burst][writer]: m{i}"));
    }
    reader.expect_line("[INFO] - end of history");
}
