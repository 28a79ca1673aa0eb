//! End to end: the command line itself. A taken port and a base port out of range are one-line
//! errors with exit code 1 and nothing started; `--help` explains every subcommand and option.

#[allow(unused_macros, unused_imports)] // per_runtime! is not used here.
mod common;
mod common_store;

use std::net::TcpListener;

use common_store::{Finished, TempDir, run_to_exit};

/// Asserts that a run failed the way a user mistake should: exit code 1, one line on stderr
/// that starts with `async-chat: ` and contains every one of `needles`, and no server started.
fn assert_one_line_error(run: &Finished, needles: &[&str]) {
    assert_eq!(run.status.code(), Some(1), "{run:#?}");
    let lines: Vec<&str> = run.stderr.lines().collect();
    assert_eq!(lines.len(), 1, "not one line on stderr: {run:#?}");
    assert!(lines[0].starts_with("async-chat: "), "{run:#?}");
    for needle in needles {
        assert!(
            lines[0].contains(needle),
            "no {needle:?} in the error: {run:#?}"
        );
    }
    assert!(!run.stdout.contains("server started"), "{run:#?}");
    assert!(!run.stderr.contains("panicked"), "{run:#?}");
}

#[test]
fn a_taken_port_is_a_one_line_error_naming_it() {
    let dir = TempDir::new("cli-port");
    let taken = TcpListener::bind("127.0.0.1:0").expect("bind a port");
    let port = taken
        .local_addr()
        .expect("local address")
        .port()
        .to_string();
    for server in ["tokio_chat", "async_std_chat", "smol_ws_chat"] {
        let run = run_to_exit(dir.path(), &[server, "--port", &port, "--store", "memory"]);
        assert_one_line_error(&run, &[&format!("127.0.0.1:{port}"), server]);
    }
    // Under bind, the group's first server is on the base port: nothing of the group starts.
    let run = run_to_exit(
        dir.path(),
        &["bind", "tcp_all", "--base-port", &port, "--store", "memory"],
    );
    assert_one_line_error(&run, &[&format!("127.0.0.1:{port}"), "tokio_chat"]);
}

#[test]
fn a_base_port_that_puts_a_server_past_65535_is_refused() {
    let dir = TempDir::new("cli-range");
    let run = run_to_exit(
        dir.path(),
        &["bind", "all", "--base-port", "65500", "--store", "memory"],
    );
    assert_one_line_error(&run, &["65500", "past port 65535"]);
}

#[test]
fn help_names_every_subcommand_and_every_option() {
    let dir = TempDir::new("cli-help");
    let run = run_to_exit(dir.path(), &["--help"]);
    assert!(run.status.success(), "{run:#?}");
    for subcommand in [
        "tokio_chat",
        "async_std_chat",
        "smol_chat",
        "tokio_ws_chat",
        "async_std_ws_chat",
        "smol_ws_chat",
        "bind",
        "client",
        "bench",
    ] {
        assert!(run.stdout.contains(subcommand), "{subcommand}: {run:#?}");
    }
    let options = [
        "--host",
        "--no-color",
        "--store",
        "--max-line",
        "--max-ws-message",
        "--send-queue",
        "--flood-burst",
        "--flood-rate",
        "--no-flood-limit",
        "--max-connections",
        "--ws-idle",
    ];
    let run = run_to_exit(dir.path(), &["smol_ws_chat", "--help"]);
    assert!(run.status.success(), "{run:#?}");
    for option in options.iter().chain(&["--port"]) {
        assert!(
            run.stdout.contains(option),
            "smol_ws_chat {option}: {run:#?}"
        );
    }
    let run = run_to_exit(dir.path(), &["bind", "--help"]);
    assert!(run.status.success(), "{run:#?}");
    for word in options
        .iter()
        .chain(&["--base-port", "tcp_all", "ws_all", "async_std"])
    {
        assert!(run.stdout.contains(word), "bind {word}: {run:#?}");
    }
}

#[test]
fn an_unknown_subcommand_or_option_is_a_usage_error() {
    let dir = TempDir::new("cli-usage");
    let run = run_to_exit(dir.path(), &["irc_chat"]);
    assert_eq!(run.status.code(), Some(2), "{run:#?}");
    assert!(run.stderr.contains("irc_chat"), "{run:#?}");
    let run = run_to_exit(dir.path(), &["tokio_chat", "--port", "eighty"]);
    assert_eq!(run.status.code(), Some(2), "{run:#?}");
    assert!(run.stderr.contains("eighty"), "{run:#?}");
    assert!(!run.stdout.contains("server started"), "{run:#?}");
}
