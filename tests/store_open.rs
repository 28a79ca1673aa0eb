//! End-to-end: where the store lives by default, and what happens when it cannot be opened.

#[allow(unused_macros, unused_imports)] // per_runtime! is not used here.
mod common;
mod common_store;

use common::*;
use common_store::*;

#[test]
fn the_default_store_is_chat_data_chat_db_in_the_working_directory() {
    let dir = TempDir::new("default-store");
    let db = dir.join("chat-data").join("chat.db");
    assert!(!db.exists());
    let mut server = Proc::start_in(dir.path(), &["smol_chat", "--port", "0", "--no-color"]);
    assert!(db.is_file(), "{db:?} was not created");

    let mut zoe = Client::connect(server.addr);
    zoe.expect_line("[SERVER INFO] - Welcome to smol_chat! Type help for commands.");
    zoe.send("register zoe Zoe-default-pw");
    zoe.expect_line("[INFO] - [zoe] registered.");
    zoe.send("login zoe Zoe-default-pw");
    zoe.expect_line("[SYSTEM INFO] - [zoe] login to chat.");
    zoe.send("msgall stored by default");
    zoe.expect_chat("[zoe]: stored by default");
    let status = server.stop();
    assert!(status.success(), "exit status after SIGTERM: {status:?}");
    zoe.expect_line("[SERVER INFO] - server shutting down");
    zoe.expect_closed();

    let accounts = account_names(&db);
    assert_eq!(accounts.len(), 1, "{accounts:?}");
    assert_eq!(accounts[0].0, "zoe");
    assert!(accounts[0].1.starts_with("$argon2id$"), "{accounts:?}");
    assert_eq!(history_texts(&db, None), ["stored by default"]);

    // A relative `--store` path is relative to the working directory too.
    let mut server = Proc::start_in(
        dir.path(),
        &["tokio_chat", "--port", "0", "--store", "sqlite:here.db"],
    );
    assert!(dir.join("here.db").is_file(), "here.db was not created");
    let status = server.stop();
    assert!(status.success(), "exit status after SIGTERM: {status:?}");
}

#[test]
fn a_store_that_cannot_be_opened_is_a_one_line_error_and_exit_code_1() {
    let dir = TempDir::new("bad-store");
    let file = dir.join("plain-file");
    std::fs::write(&file, b"a regular file, not a directory").expect("write a file");
    let garbage = dir.join("garbage.db");
    std::fs::write(&garbage, vec![0x5a; 16 * 1024]).expect("write a non-database file");

    // A database written by a newer version of the program (schema version 99).
    let newer = dir.join("newer.db");
    rusqlite::Connection::open(&newer)
        .and_then(|c| c.pragma_update(None, "user_version", 99))
        .expect("write a newer database");

    let cases = [
        // A directory that cannot be created.
        ("/proc/x/y.db".to_owned(), "tokio_chat"),
        // A parent that is a regular file.
        (file.join("chat.db").display().to_string(), "async_std_chat"),
        // A file that is not an SQLite database.
        (garbage.display().to_string(), "smol_chat"),
        (newer.display().to_string(), "tokio_chat"),
    ];
    for (path, server_name) in cases {
        let store = format!("sqlite:{path}");
        let run = run_to_exit(
            dir.path(),
            &[server_name, "--port", "0", "--no-color", "--store", &store],
        );
        assert_eq!(
            run.status.code(),
            Some(1),
            "{store} on {server_name}: {run:#?}"
        );
        let lines: Vec<&str> = run.stderr.lines().collect();
        assert_eq!(lines.len(), 1, "{store}: not one line on stderr: {run:#?}");
        assert!(
            lines[0].starts_with("async-chat: ") && lines[0].contains(&path),
            "{store}: the error does not name the store: {run:#?}"
        );
        assert!(
            !run.stdout.contains("server started"),
            "{store}: the server started before failing: {run:#?}"
        );
    }
    // The unopenable stores were left as they were.
    assert!(file.is_file());
    assert_eq!(std::fs::read(&garbage).expect("read").len(), 16 * 1024);
    let version: i64 = rusqlite::Connection::open(&newer)
        .and_then(|c| c.pragma_query_value(None, "user_version", |r| r.get(0)))
        .expect("read the schema version");
    assert_eq!(version, 99, "a newer database was rewritten");
}
