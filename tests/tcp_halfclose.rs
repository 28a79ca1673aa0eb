//! End to end over TCP, on each runtime: a client that half-closes (sends its commands, then
//! shuts its sending side, like `printf '...' | nc -N`) still gets every reply before the
//! server closes the connection, and the other users see it leave at once.

mod common;

use common::{Server, per_runtime};

/// Commands sent in one write followed by a half-close: all replies, in order, then EOF; the
/// other logged-in user sees the logout.
fn replies_after_half_close(server_name: &str) {
    let server = Server::chat(server_name, &[]);
    let mut bob = server.login("bob");
    let mut alice = server.client();
    alice.send_raw(b"login alice\r\nhelp\r\nwhoami\r\nuserlist\r\n");
    alice.shutdown_write();

    alice.expect_line("[SYSTEM INFO] - [alice] login to chat.");
    let mut help_lines = 0;
    loop {
        let line = alice.expect_matching("a help line or the whoami reply", |l| {
            l.starts_with("[INFO] - ")
        });
        if line == "[INFO] - alice" {
            break;
        }
        help_lines += 1;
    }
    assert!(help_lines > 0, "no help lines before the whoami reply");
    alice.expect_line("[INFO] - [bob, alice]");
    alice.expect_closed();

    bob.expect_line("[SYSTEM INFO] - [alice] login to chat.");
    bob.expect_line("[SYSTEM INFO] - [alice] logout from chat.");
    server.expect_console(&format!(
        "[{server_name}] - [SERVER INFO] - [alice] disconnected: connection closed"
    ));
}

/// Many commands then a half-close, read only afterwards: every one of the replies arrives
/// (the flush is not cut short by the EOF), then the connection closes.
fn burst_then_half_close(server_name: &str) {
    const COMMANDS: usize = 2_000;
    let server = Server::chat(server_name, &["--no-flood-limit"]);
    let mut carol = server.login("carol");
    carol.send_raw("whoami\r\n".repeat(COMMANDS).as_bytes());
    carol.shutdown_write();
    for _ in 0..COMMANDS {
        carol.expect_line("[INFO] - carol");
    }
    carol.expect_closed();
}

/// An anonymous client that half-closes right after connecting gets the greeting and EOF.
fn half_close_at_once(server_name: &str) {
    let server = Server::chat(server_name, &[]);
    let mut dave = server.client();
    dave.shutdown_write();
    dave.expect_closed();
    // The server is still serving others.
    let mut erin = server.login("erin");
    erin.send("whoami");
    erin.expect_line("[INFO] - erin");
}

per_runtime!(
    replies_after_half_close,
    burst_then_half_close,
    half_close_at_once
);
