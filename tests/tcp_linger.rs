//! End to end over TCP, on each runtime: after `logout` the server lingers instead of closing
//! at once.
//!
//! The server stops reading at `logout`. Closing a socket that still holds or then receives
//! input makes Linux send a TCP reset, and a reset destroys whatever of the last lines (the
//! logout line, the shutdown notice) is still on its way to a client that sends as it reads.
//! So the server shuts its sending side, then reads and discards until the client closes too
//! (at most a second), and only then closes.

mod common;

use std::io::{ErrorKind, Read, Write};

use common::{DEADLINE, Server, per_runtime};

/// Written after the server's FIN: more than any socket buffers hold (64 MiB), so the writes
/// complete only if the server reads them.
const AFTER_CLOSE: usize = 64 << 20;

fn lingers_after_logout(server_name: &str) {
    let server = Server::chat(server_name, &["--no-flood-limit"]);
    let mut alice = server.login("alice");
    alice.send("logout");
    alice.expect_line("[SYSTEM INFO] - [alice] logout from chat.");
    // EOF: the server has shut its sending side.
    alice.expect_closed();
    // A server that closed its socket answers this with a reset, and the writes fail; a
    // lingering one reads and discards it.
    let mut stream = alice.stream();
    let chunk = "whoami\r\n".repeat(8 * 1024);
    let mut sent = 0;
    while sent < AFTER_CLOSE {
        if let Err(e) = stream.write_all(chunk.as_bytes()) {
            panic!("the server reset the connection after {sent} bytes: {e}");
        }
        sent += chunk.len();
    }
    // The client closes too: the server's linger ends, and the connection closes cleanly.
    alice.shutdown_write();
    stream
        .set_read_timeout(Some(DEADLINE))
        .expect("set a read timeout");
    let mut buf = [0u8; 64];
    let end = loop {
        match stream.read(&mut buf) {
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            other => break other,
        }
    };
    assert!(matches!(end, Ok(0)), "expected a clean close, got {end:?}");
}

per_runtime!(lingers_after_logout);
