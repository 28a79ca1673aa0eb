//! End to end over TCP, on each runtime: the limits of PROTOCOL.md section 6 that a TCP client
//! can hit: the send queue (a slow reader is dropped, nobody waits on it), the flood limit and
//! the connection limit.

mod common;

use std::time::{Duration, Instant};

use common::{DEADLINE, Read1, Server, is_chat, per_runtime};

/// Broadcasts sent at least, whether or not the slow reader was dropped earlier.
const MIN_BROADCASTS: usize = 1_000;
/// Broadcasts sent at most while waiting for the slow reader to be dropped (about 40 MB).
const MAX_BROADCASTS: usize = 20_000;
/// Broadcasts per write of the sender; the others read them all before the next write.
const BATCH: usize = 25;

/// A client that logs in and never reads is disconnected once its pending output passes
/// `--send-queue`, while every broadcast still reaches the others promptly.
fn slow_reader_is_dropped(server_name: &str) {
    let server = Server::chat(server_name, &["--send-queue", "65536", "--no-flood-limit"]);
    let mut watcher = server.login("watcher");
    let mut sender = server.login("sender");
    watcher.expect_line("[SYSTEM INFO] - [sender] login to chat.");
    let slow = server.login("slow");
    watcher.expect_line("[SYSTEM INFO] - [slow] login to chat.");
    sender.expect_line("[SYSTEM INFO] - [slow] login to chat.");

    // Each broadcast carries 2,000 bytes of text, so the slow reader's socket buffers fill up
    // and its queue overflows. The sender goes on, a batch at a time, until the server says it
    // dropped the slow reader (and at least MIN_BROADCASTS): the others read every batch
    // before the next is sent, as any client that keeps up does.
    let body = "b".repeat(2_000);
    let dropped_line = "[slow] disconnected: send queue full";
    let started = Instant::now();
    let mut sent = 0;
    // The two clients that keep up, and whether each has seen the slow reader's logout.
    let mut others = [(watcher, false), (sender, false)];
    while sent < MIN_BROADCASTS || !server.console_has(dropped_line) {
        assert!(sent < MAX_BROADCASTS, "slow reader never dropped");
        let mut batch = String::new();
        for i in sent..sent + BATCH {
            batch.push_str(&format!("msgall {i} {body}\r\n"));
        }
        others[1].0.send_raw(batch.as_bytes());
        for i in sent..sent + BATCH {
            let expected = format!("[sender]: {i} {body}");
            for (client, saw_logout) in &mut others {
                let mut line = client.read_line();
                if line == "[SYSTEM INFO] - [slow] logout from chat." {
                    assert!(!*saw_logout, "logout seen twice");
                    *saw_logout = true;
                    line = client.read_line();
                }
                assert!(
                    is_chat(&line, &expected),
                    "broadcast {i} missing or out of order: {:?}",
                    &line[..line.len().min(60)]
                );
            }
        }
        sent += BATCH;
    }
    let elapsed = started.elapsed();
    assert!(sent >= MIN_BROADCASTS);
    assert!(elapsed < 3 * DEADLINE, "{sent} broadcasts took {elapsed:?}");
    // The others see the slow reader's logout (now, if not among the broadcasts).
    for (client, saw_logout) in &mut others {
        if !*saw_logout {
            client.expect_line("[SYSTEM INFO] - [slow] logout from chat.");
        }
    }
    server.expect_console(&format!(
        "[{server_name}] - [SERVER INFO] - [slow] disconnected: send queue full"
    ));
    // The slow reader's connection was closed by the server.
    let mut slow = slow;
    slow.drain_until_closed(DEADLINE);
    let watcher = &mut others[0].0;
    watcher.send("userlist");
    watcher.expect_line("[INFO] - [watcher, sender]");
}

/// A client whose socket is full that logs out and never reads again is closed by the server
/// after the flush deadline: the lines it will not read do not keep its task and socket alive.
fn logout_without_reading(server_name: &str) {
    // A send queue far above what is sent, so the client is not dropped for its queue.
    let server = Server::chat(
        server_name,
        &["--send-queue", "67108864", "--no-flood-limit"],
    );
    let mut sender = server.login("sender");
    let mut stuck = server.login("stuck");
    sender.expect_line("[SYSTEM INFO] - [stuck] login to chat.");
    // About 15 MB of broadcasts that `stuck` never reads: far more than loopback socket
    // buffers hold (a receiver that does not read keeps its window small), so most of it waits
    // in the server. The sender reads each batch, as a client that keeps up does.
    let body = "s".repeat(2_500);
    let expected = format!("[sender]: {body}");
    for _ in 0..60 {
        sender.send_raw(format!("msgall {body}\r\n").repeat(BATCH * 4).as_bytes());
        for _ in 0..BATCH * 4 {
            let line = sender.read_line();
            assert!(
                is_chat(&line, &expected),
                "{:?}",
                &line[..line.len().min(60)]
            );
        }
    }
    stuck.send("logout");
    sender.expect_line("[SYSTEM INFO] - [stuck] logout from chat.");
    server.expect_console(&format!(
        "[{server_name}] - [SERVER INFO] - Connection closed: {} (flush timed out).",
        stuck.local_addr()
    ));
    assert!(
        !server.console_has("send queue full"),
        "dropped for its queue instead"
    );
}

/// More commands at once than the burst: the dropped ones get `too many requests`;
/// `--no-flood-limit` turns the limit off.
fn flood_limit(server_name: &str) {
    let server = Server::chat(server_name, &["--flood-burst", "5", "--flood-rate", "1"]);
    let mut alice = server.login("alice");
    // The login took one token of five; ten commands in one write leave four answered.
    alice.send_raw("whoami\r\n".repeat(10).as_bytes());
    let mut answered = 0;
    let mut refused = 0;
    for _ in 0..10 {
        match alice.read_line().as_str() {
            "[INFO] - alice" => answered += 1,
            "[ERROR] - too many requests" => refused += 1,
            other => panic!("unexpected {other:?}"),
        }
    }
    // One token may have come back in the meantime on a very slow machine.
    assert!((4..=5).contains(&answered), "answered {answered}");
    assert_eq!(answered + refused, 10);

    let server = Server::chat(server_name, &["--no-flood-limit"]);
    let mut bob = server.login("bob");
    bob.send_raw("whoami\r\n".repeat(200).as_bytes());
    for _ in 0..200 {
        bob.expect_line("[INFO] - bob");
    }
}

/// Default flood limit: bursts of 20.
fn flood_limit_default(server_name: &str) {
    let server = Server::chat(server_name, &[]);
    let mut alice = server.client();
    alice.send_raw("help x\r\n".repeat(40).as_bytes());
    let lines: Vec<String> = (0..40).map(|_| alice.read_line()).collect();
    let refused = lines
        .iter()
        .filter(|l| *l == "[ERROR] - too many requests")
        .count();
    let overage = lines
        .iter()
        .filter(|l| *l == "[ERROR] - overage info")
        .count();
    assert_eq!(refused + overage, 40, "{lines:#?}");
    assert!((20..=22).contains(&overage), "{overage} answered of 40");
}

/// `--max-connections 2`: the third connection gets `server full` and is closed; a slot freed
/// is usable again.
fn max_connections(server_name: &str) {
    let server = Server::chat(server_name, &["--max-connections", "2"]);
    let first = server.client();
    let _second = server.client();
    let mut third = common::Client::connect(server.addr());
    third.expect_line("[ERROR] - server full");
    third.expect_closed();

    let first_addr = first.local_addr();
    drop(first);
    server.expect_console(&format!("Connection closed: {first_addr}"));
    let mut fourth = server.client();
    fourth.send("login dora");
    fourth.expect_line("[SYSTEM INFO] - [dora] login to chat.");
}

/// Out of file descriptors (EMFILE): the accept error is printed on the console, the server
/// backs off instead of spinning, and accepts again once descriptors are free.
fn accept_errors_back_off_and_recover(server_name: &str) {
    let server = Server::start_with_fd_limit(
        &[
            server_name,
            "--port",
            "0",
            "--store",
            "memory",
            "--no-color",
        ],
        1,
        64,
    );
    let greeting = format!("[SERVER INFO] - Welcome to {server_name}! Type help for commands.");
    // One connection at a time, each greeted, until one is not: it waits in the listen
    // backlog while the server prints the accept error.
    let mut clients = Vec::new();
    let mut waiting = loop {
        assert!(clients.len() < 64, "more connections than descriptors");
        let mut client = common::Client::connect(server.addr());
        // Wait for whichever comes first: the greeting, or the accept error on the console.
        let greeted = loop {
            match client.read_within(Duration::from_millis(20)) {
                Read1::Line(line) => {
                    assert_eq!(line, greeting);
                    break true;
                }
                Read1::Timeout if server.console_has("accept: ") => break false,
                Read1::Timeout => {}
                Read1::Closed(rest) => panic!("closed: {rest:?}"),
            }
        };
        if !greeted {
            break client;
        }
        clients.push(client);
    };
    server.expect_console(&format!(
        "[{server_name}] - [ERROR] - accept: Too many open files"
    ));
    assert!(clients.len() >= 10, "only {} accepted", clients.len());
    // Backing off: at most about ten errors a second, not a busy loop.
    let errors = server
        .console
        .snapshot()
        .iter()
        .filter(|l| l.contains("accept: "))
        .count();
    let bound = 10 * (1 + started_secs(&server));
    assert!(errors <= bound, "{errors} accept errors: spinning?");
    // Free descriptors: the waiting connection is accepted and greeted.
    clients.truncate(clients.len() / 2);
    waiting.expect_line(&greeting);
    waiting.send("login late");
    waiting.expect_line("[SYSTEM INFO] - [late] login to chat.");
}

/// Seconds since the server started, rounded up (for rate bounds).
fn started_secs(server: &Server) -> usize {
    server.uptime().as_secs() as usize + 1
}

per_runtime!(
    accept_errors_back_off_and_recover,
    slow_reader_is_dropped,
    logout_without_reading,
    flood_limit,
    flood_limit_default,
    max_connections
);
