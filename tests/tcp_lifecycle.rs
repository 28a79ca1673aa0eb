//! End to end over TCP: graceful shutdown on SIGTERM (each runtime), and `bind tcp_all`, where
//! users on the three runtimes share one chat.

mod common;

use std::time::{Duration, Instant};

use common::{RUNTIMES, Server, per_runtime};

/// The whole process must be gone this soon after SIGTERM.
const EXIT_WITHIN: Duration = Duration::from_secs(5);

/// SIGTERM: every client (logged in or not) gets `server shutting down`, then its connection
/// closes, and the process exits 0 within 5 s.
fn graceful_shutdown(server_name: &str) {
    let mut server = Server::chat(server_name, &[]);
    let mut alice = server.login("alice");
    let mut bob = server.login("bob");
    alice.expect_line("[SYSTEM INFO] - [bob] login to chat.");
    let mut anonymous = server.client();

    let sent = Instant::now();
    server.sigterm();
    for client in [&mut alice, &mut bob, &mut anonymous] {
        client.expect_line("[SERVER INFO] - server shutting down");
        client.expect_closed();
    }
    let status = server.wait_exit(EXIT_WITHIN);
    assert!(status.success(), "exit status {status:?}");
    assert!(sent.elapsed() < EXIT_WITHIN, "took {:?}", sent.elapsed());
}

/// A client that stopped reading does not hold the shutdown up past 5 s.
fn shutdown_with_a_stuck_client(server_name: &str) {
    let mut server = Server::chat(
        server_name,
        &["--no-flood-limit", "--send-queue", "16777216"],
    );
    let mut alice = server.login("alice");
    let stuck = server.login("stuck");
    alice.expect_line("[SYSTEM INFO] - [stuck] login to chat.");
    // 8 MB to stuck, which never reads: more than its socket buffers hold, less than its
    // queue, so its writer is blocked in a write when the shutdown comes.
    let body = "s".repeat(4_000);
    for i in 0..2_000 {
        alice.send(&format!("msg stuck {i} {body}"));
        alice.expect_chat(&format!("[alice][->][stuck]: {i} {body}"));
    }
    let sent = Instant::now();
    server.sigterm();
    alice.expect_line("[SERVER INFO] - server shutting down");
    alice.expect_closed();
    let status = server.wait_exit(EXIT_WITHIN);
    assert!(status.success(), "exit status {status:?}");
    assert!(sent.elapsed() < EXIT_WITHIN, "took {:?}", sent.elapsed());
    drop(stuck);
}

per_runtime!(graceful_shutdown, shutdown_with_a_stuck_client);

/// `bind tcp_all --base-port 0`: three servers, one per runtime, on one kernel; users on each
/// message each other and see one user list; SIGTERM reaches all of them.
#[test]
fn bind_tcp_all_shares_one_chat() {
    let mut server = Server::start(
        &[
            "bind",
            "tcp_all",
            "--base-port",
            "0",
            "--store",
            "memory",
            "--no-color",
        ],
        3,
    );
    let mut names: Vec<&str> = server.servers.iter().map(|(n, _)| n.as_str()).collect();
    names.sort_unstable();
    let mut expected = RUNTIMES.to_vec();
    expected.sort_unstable();
    assert_eq!(names, expected);
    let ports: std::collections::HashSet<u16> =
        server.servers.iter().map(|(_, a)| a.port()).collect();
    assert_eq!(ports.len(), 3, "each server has its own port");

    let mut tokio_user = server.login_on("tokio_chat", "t_user");
    let mut async_std_user = server.login_on("async_std_chat", "a_user");
    tokio_user.expect_line("[SYSTEM INFO] - [a_user] login to chat.");
    let mut smol_user = server.login_on("smol_chat", "s_user");
    tokio_user.expect_line("[SYSTEM INFO] - [s_user] login to chat.");
    async_std_user.expect_line("[SYSTEM INFO] - [s_user] login to chat.");

    // Names are unique across the servers.
    let mut late = server.client_on("smol_chat");
    late.send("login T_USER");
    late.expect_line("[ERROR] - Username already taken!");

    tokio_user.send("msg a_user from tokio");
    async_std_user.expect_chat("[t_user][->][a_user]: from tokio");
    tokio_user.expect_chat("[t_user][->][a_user]: from tokio");
    async_std_user.send("msg s_user from async-std");
    smol_user.expect_chat("[a_user][->][s_user]: from async-std");
    async_std_user.expect_chat("[a_user][->][s_user]: from async-std");
    smol_user.send("msg t_user from smol");
    tokio_user.expect_chat("[s_user][->][t_user]: from smol");
    smol_user.expect_chat("[s_user][->][t_user]: from smol");
    smol_user.send("msgall hello everyone");
    for client in [&mut tokio_user, &mut async_std_user, &mut smol_user] {
        client.expect_chat("[s_user]: hello everyone");
    }
    for client in [&mut tokio_user, &mut async_std_user, &mut smol_user] {
        client.send("userlist");
        client.expect_line("[INFO] - [t_user, a_user, s_user]");
    }
    server.expect_console("[tokio_chat] - [SERVER INFO] - [t_user] login to chat.");
    server.expect_console("[async_std_chat] - [SERVER INFO] - [a_user] login to chat.");
    server.expect_console("[smol_chat] - [SERVER INFO] - [s_user] login to chat.");

    // A logout on one server is seen on the others.
    async_std_user.send("logout");
    async_std_user.expect_line("[SYSTEM INFO] - [a_user] logout from chat.");
    async_std_user.expect_closed();
    tokio_user.expect_line("[SYSTEM INFO] - [a_user] logout from chat.");
    smol_user.expect_line("[SYSTEM INFO] - [a_user] logout from chat.");

    let sent = Instant::now();
    server.sigterm();
    for client in [&mut tokio_user, &mut smol_user, &mut late] {
        client.expect_line("[SERVER INFO] - server shutting down");
        client.expect_closed();
    }
    let status = server.wait_exit(EXIT_WITHIN);
    assert!(status.success(), "exit status {status:?}");
    assert!(sent.elapsed() < EXIT_WITHIN, "took {:?}", sent.elapsed());
}
