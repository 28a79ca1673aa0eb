//! End-to-end: the SQLite store across restarts of the binary. Accounts and history written by
//! one runtime's server are read back by another's on the same file; replayed lines keep their
//! original times; the file never holds a password in clear; private messages are not stored.

#[allow(unused_macros, unused_imports)] // per_runtime! is not used here.
mod common;
mod common_store;

use common::*;
use common_store::*;

const ALICE_PASSWORD: &str = "Alice-Pass-7hY2q";

/// Starts one TCP server on a free port on the SQLite file `db`.
fn start(server_name: &str, db: &std::path::Path) -> Server {
    Server::start(
        &[
            server_name,
            "--port",
            "0",
            "--no-color",
            "--store",
            &sqlite(db),
        ],
        1,
    )
}

/// SIGTERM; `clients` are told the server is shutting down and closed; the exit code is 0.
fn stop(mut server: Server, clients: Vec<Client>) {
    server.sigterm();
    for mut client in clients {
        client.expect_matching("the shutdown notice", |l| {
            l == "[SERVER INFO] - server shutting down"
                || l == r#"{"type":"server","text":"server shutting down"}"#
        });
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
}

/// A live JSON message line as it reads when replayed: `"history":true` added at the end.
fn replayed(live: &str) -> String {
    let body = live.strip_suffix('}').expect("a JSON object");
    format!(r#"{body},"history":true}}"#)
}

#[test]
fn accounts_and_history_survive_a_restart_on_another_runtime() {
    let dir = TempDir::new("persist");
    let db = dir.join("chat.db");

    // First run, on tokio: an account, a room conversation, msgall lines, a private message.
    let server = start("tokio_chat", &db);
    let mut alice = server.client();
    alice.send(&format!("register alice {ALICE_PASSWORD}"));
    alice.expect_line("[INFO] - [alice] registered.");
    alice.send(&format!("login alice {ALICE_PASSWORD}"));
    alice.expect_line("[SYSTEM INFO] - [alice] login to chat.");
    let mut watcher = server.client();
    watcher.send("format json");
    watcher.expect_line(r#"{"type":"info","text":"format json"}"#);
    watcher.send("login watcher");
    watcher.expect_line(r#"{"type":"login","user":"watcher"}"#);
    alice.expect_line("[SYSTEM INFO] - [watcher] login to chat.");
    watcher.send("join #Diary");
    watcher.expect_line(r##"{"type":"join","user":"watcher","room":"#Diary"}"##);
    alice.send("join #diary");
    alice.expect_line("[SYSTEM INFO] - [alice] joined #Diary.");
    watcher.expect_line(r##"{"type":"join","user":"alice","room":"#Diary"}"##);
    let mut room_text = Vec::new();
    let mut room_json = Vec::new();
    for i in 1..=12 {
        alice.send(&format!("msg #diary entry {i}"));
        room_text.push(alice.expect_chat(&format!("[#Diary][alice]: entry {i}")));
        room_json.push(watcher.expect_matching("a JSON room message", |l| {
            l.starts_with(r#"{"type":"message","time":""#)
                && l.ends_with(&format!(
                    r##""from":"alice","room":"#Diary","text":"entry {i}"}}"##
                ))
        }));
    }
    let mut all_text = Vec::new();
    let mut all_json = Vec::new();
    for i in 1..=3 {
        alice.send(&format!("msgall news {i}"));
        all_text.push(alice.expect_chat(&format!("[alice]: news {i}")));
        all_json.push(watcher.expect_matching("a JSON msgall", |l| {
            l.ends_with(&format!(r#""from":"alice","text":"news {i}"}}"#))
        }));
    }
    // Any Unicode, and inner spacing, survive the store.
    let unicode = "naïve ✓ 日本語  two  spaces";
    alice.send(&format!("msgall {unicode}"));
    all_text.push(alice.expect_chat(&format!("[alice]: {unicode}")));
    all_json.push(watcher.expect_matching("a JSON msgall", |l| {
        l.ends_with(&format!(r#""from":"alice","text":"{unicode}"}}"#))
    }));
    alice.send("msg watcher a private note");
    alice.expect_chat("[alice][->][watcher]: a private note");
    watcher.expect_matching("the private message", |l| {
        l.ends_with(r#""from":"alice","to":"watcher","text":"a private note"}"#)
    });
    stop(server, vec![alice, watcher]);

    // Second run, same file, on smol: the history is back, with the original times.
    let server = start("smol_chat", &db);
    let mut carol = server.login("carol");
    carol.send("rooms");
    carol.expect_line("[INFO] - [#Diary (0)]");
    carol.send("history #DIARY 5");
    for line in &room_text[7..] {
        carol.expect_line(line);
    }
    carol.expect_line("[INFO] - end of history");
    carol.send("history");
    for line in &all_text {
        carol.expect_line(line);
    }
    carol.expect_line("[INFO] - end of history");
    carol.send("format json");
    carol.expect_line(r#"{"type":"info","text":"format json"}"#);
    carol.send("history #diary 12");
    for line in &room_json {
        carol.expect_line(&replayed(line));
    }
    carol.expect_line(r#"{"type":"info","text":"end of history"}"#);
    carol.send("history 2");
    for line in &all_json[2..] {
        carol.expect_line(&replayed(line));
    }
    carol.expect_line(r#"{"type":"info","text":"end of history"}"#);

    // The account is back: a guest cannot take the name, a wrong password fails, the right
    // one logs in; the name cannot be registered again.
    let mut alice = server.client();
    alice.send("login alice");
    alice.expect_line("[ERROR] - password required");
    alice.send("register alice another-pass");
    alice.expect_line("[ERROR] - Username already taken!");
    alice.send("login alice not-her-pass");
    alice.expect_line("[ERROR] - wrong password");
    alice.send(&format!("login alice {ALICE_PASSWORD}"));
    alice.expect_line("[SYSTEM INFO] - [alice] login to chat.");
    carol.expect_line(r#"{"type":"login","user":"alice"}"#);

    // join replays the last ten lines of the first run.
    alice.send("join #diary");
    alice.expect_line("[SYSTEM INFO] - [alice] joined #Diary.");
    for line in &room_text[2..] {
        alice.expect_line(line);
    }
    alice.expect_line("[INFO] - end of history");
    alice.send("msg #diary written on smol");
    alice.expect_chat("[#Diary][alice]: written on smol");
    stop(server, vec![alice, carol]);

    // What the file holds: both runs' lines in order; no private message; no password.
    let mut expected: Vec<String> = (1..=12).map(|i| format!("entry {i}")).collect();
    expected.push("written on smol".into());
    assert_eq!(history_texts(&db, Some("#diary")), expected);
    assert_eq!(
        history_texts(&db, None),
        ["news 1", "news 2", "news 3", unicode].map(String::from)
    );
    let bytes = db_bytes(&db);
    assert!(
        !contains(&bytes, b"a private note"),
        "a private message was stored"
    );
    assert!(
        !contains(&bytes, ALICE_PASSWORD.as_bytes()),
        "password in clear"
    );
}

#[test]
fn the_database_never_holds_a_password_in_clear() {
    let dir = TempDir::new("clear");
    let db = dir.join("chat.db");
    let passwords = ["Zq8-first-Secret", "Wv3-guest-Secret"];
    let wrong = "Kx5-wrong-Secret";

    let server = start("async_std_chat", &db);
    // An account registered anonymously, and one registered by the guest using the name.
    let mut a = server.client();
    a.send(&format!("register ann {}", passwords[0]));
    a.expect_line("[INFO] - [ann] registered.");
    let mut g = server.login("gus");
    g.send(&format!("register gus {}", passwords[1]));
    g.expect_line("[INFO] - [gus] registered.");
    // A failed and a successful password login.
    a.send(&format!("login ann {wrong}"));
    a.expect_line("[ERROR] - wrong password");
    a.send(&format!("login ann {}", passwords[0]));
    a.expect_line("[SYSTEM INFO] - [ann] login to chat.");
    g.expect_line("[SYSTEM INFO] - [ann] login to chat.");
    a.send("msgall stored line");
    a.expect_chat("[ann]: stored line");
    g.expect_chat("[ann]: stored line");
    let console = server.console.clone();
    stop(server, vec![a, g]);

    let bytes = db_bytes(&db);
    for secret in passwords.iter().chain([&wrong]) {
        assert!(
            !contains(&bytes, secret.as_bytes()),
            "the database holds {secret:?} in clear"
        );
        let printed: Vec<String> = console
            .snapshot()
            .into_iter()
            .filter(|l| l.contains(secret))
            .collect();
        assert!(
            printed.is_empty(),
            "the console printed a password: {printed:#?}"
        );
    }
    assert!(
        contains(&bytes, b"$argon2id$"),
        "no Argon2id hash in the file"
    );
    assert!(
        contains(&bytes, b"stored line"),
        "the file holds the history"
    );
    let accounts = account_names(&db);
    assert_eq!(
        accounts.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>(),
        ["ann", "gus"]
    );
    for (name, hash) in &accounts {
        assert!(hash.starts_with("$argon2id$"), "{name}: {hash}");
    }
}

#[test]
fn bind_shares_one_store_among_its_servers() {
    let dir = TempDir::new("bind-store");
    let db = dir.join("chat.db");
    let store = sqlite(&db);
    let bind = |store: &str| {
        Server::start(
            &[
                "bind",
                "tcp_all",
                "--base-port",
                "0",
                "--no-color",
                "--store",
                store,
            ],
            3,
        )
    };

    // Registered through one server, logged in through another, talking through a third.
    let server = bind(&store);
    let mut reg = server.client_on("async_std_chat");
    reg.send("register nina Nina-bind-pw");
    reg.expect_line("[INFO] - [nina] registered.");
    let mut nina = server.client_on("smol_chat");
    nina.send("login nina Nina-bind-pw");
    nina.expect_line("[SYSTEM INFO] - [nina] login to chat.");
    nina.send("join #Shared");
    nina.expect_line("[SYSTEM INFO] - [nina] joined #Shared.");
    let mut omar = server.login_on("tokio_chat", "omar");
    nina.expect_line("[SYSTEM INFO] - [omar] login to chat.");
    omar.send("join #shared");
    omar.expect_line("[SYSTEM INFO] - [omar] joined #Shared.");
    nina.expect_line("[SYSTEM INFO] - [omar] joined #Shared.");
    omar.send("msg #shared from tokio");
    let from_tokio = omar.expect_chat("[#Shared][omar]: from tokio");
    assert_eq!(nina.read_line(), from_tokio);
    nina.send("msgall from smol");
    let from_smol = nina.expect_chat("[nina]: from smol");
    assert_eq!(omar.read_line(), from_smol);
    stop(server, vec![reg, nina, omar]);

    // After a restart, every server of the group reads the same account and history.
    let server = bind(&store);
    let mut guests = Vec::new();
    for name in RUNTIMES {
        let mut c = server.client_on(name);
        c.send("login nina");
        c.expect_line("[ERROR] - password required");
        c.send(&format!("login {name}"));
        c.expect_line(&format!("[SYSTEM INFO] - [{name}] login to chat."));
        c.send("history #SHARED");
        c.expect_lines(&[&from_tokio, "[INFO] - end of history"]);
        c.send("history");
        c.expect_lines(&[&from_smol, "[INFO] - end of history"]);
        guests.push(c);
    }
    let mut nina = server.client_on("async_std_chat");
    nina.send("login nina Nina-bind-pw");
    nina.expect_line("[SYSTEM INFO] - [nina] login to chat.");
    for (i, guest) in guests.iter_mut().enumerate() {
        for later in RUNTIMES[i + 1..].iter().chain(["nina"].iter()) {
            guest.expect_line(&format!("[SYSTEM INFO] - [{later}] login to chat."));
        }
    }
    guests.push(nina);
    stop(server, guests);
}
