//! Regression tests for bugs found by the end-to-end suites, through the public API.

use std::net::SocketAddr;
use std::sync::Arc;

use chat_kernel::store::MemoryStore;
use chat_kernel::{Connection, Console, Flow, Input, Kernel, KernelConfig, Transport};

fn kernel() -> Kernel {
    let config = KernelConfig {
        no_color: true,
        ..KernelConfig::default()
    };
    Kernel::new(
        config,
        Box::new(MemoryStore::default()),
        Console::stdout(false),
    )
    .unwrap()
}

fn connect(kernel: &Kernel) -> Connection {
    let peer: SocketAddr = "127.0.0.1:40000".parse().unwrap();
    let conn = kernel
        .connect(&Arc::from("test_chat"), peer, Transport::Tcp)
        .unwrap();
    take(&conn); // the greeting
    conn
}

fn take(conn: &Connection) -> Vec<String> {
    let mut batch = Vec::new();
    conn.outbox.try_batch(&mut batch);
    batch
        .iter()
        .map(|b| String::from_utf8_lossy(b).trim_end().to_owned())
        .collect()
}

fn send(kernel: &Kernel, conn: &Connection, line: &str) -> Flow {
    kernel.handle(conn.id, Input::Line(line))
}

#[test]
fn password_checks_in_flight_count_toward_the_limit() {
    let k = kernel();
    let admin = connect(&k);
    send(&k, &admin, "register dave right-pass");
    k.sync_store();
    assert_eq!(take(&admin), ["[INFO] - [dave] registered."]);
    // Thirty guesses at once from one address, then the right password: only five are checked.
    let guessers: Vec<Connection> = (0..30).map(|_| connect(&k)).collect();
    for (i, g) in guessers.iter().enumerate() {
        send(&k, g, &format!("login dave wrong-{i}"));
    }
    let last = connect(&k);
    send(&k, &last, "login dave right-pass");
    k.sync_store();
    for g in &guessers {
        assert_eq!(take(g), ["[ERROR] - wrong password"]);
    }
    assert_eq!(take(&last), ["[ERROR] - wrong password"]);
}

#[test]
fn input_after_shutdown_is_ignored() {
    let k = kernel();
    let alice = connect(&k);
    send(&k, &alice, "login alice");
    take(&alice);
    k.shutdown();
    assert_eq!(take(&alice), ["[SERVER INFO] - server shutting down"]);
    assert_eq!(send(&k, &alice, "msgall too late"), Flow::Close);
    assert!(take(&alice).is_empty());
}

#[test]
fn framing_errors_keep_their_place_behind_a_password_check() {
    let k = kernel();
    let admin = connect(&k);
    send(&k, &admin, "register erin pw");
    k.sync_store();
    take(&admin);
    let erin = connect(&k);
    send(&k, &erin, "login erin pw");
    k.handle(erin.id, Input::TooLong);
    send(&k, &erin, "whoami");
    k.sync_store();
    assert_eq!(
        take(&erin),
        [
            "[SYSTEM INFO] - [erin] login to chat.",
            "[ERROR] - line too long",
            "[INFO] - erin"
        ]
    );
}

#[test]
fn a_half_closed_client_still_gets_its_replies() {
    let k = kernel();
    let bob = connect(&k);
    send(&k, &bob, "login bob");
    send(&k, &bob, "whoami");
    k.disconnect(bob.id, "connection closed");
    assert_eq!(
        take(&bob),
        ["[SYSTEM INFO] - [bob] login to chat.", "[INFO] - bob"]
    );
}

/// A front-end that finds its queue closed by the shutdown must already see the shutdown flag:
/// the WebSocket writer picks its close code by it (1001 at shutdown, 1000 after `logout`), and
/// a queue closed before the flag went up made a shutdown look like a logout. A thread watches
/// the queue while the main thread shuts down, many times over, to catch the window.
#[test]
fn the_shutdown_flag_is_up_before_any_queue_closes() {
    for _ in 0..300 {
        let k = kernel();
        let Connection { outbox, .. } = connect(&k);
        let watcher = {
            let k = k.clone();
            std::thread::spawn(move || {
                while outbox.closing().is_none() {
                    std::hint::spin_loop();
                }
                k.shutdown_signal().is_triggered()
            })
        };
        k.shutdown();
        assert!(watcher.join().unwrap(), "a queue closed before the flag");
    }
}
