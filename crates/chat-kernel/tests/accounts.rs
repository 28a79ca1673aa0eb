//! Accounts: register, password login, guests and registered names, the failed-password limit,
//! and commands that arrive while a password is being checked.

mod common;

use std::time::{Duration, Instant};

use chat_kernel::store::{Account, HistoryRecord, StoreError};
use chat_kernel::{KernelConfig, Limits, Transport};
use common::{Chat, DEADLINE, quiet_config};
use serde_json::json;

fn login_line(name: &str) -> String {
    format!("[SYSTEM INFO] - [{name}] login to chat.")
}

/// A chat with an account `bob` / `pw` already registered.
fn with_bob(config: KernelConfig) -> Chat {
    let chat = Chat::with_config(config);
    let c = chat.connect();
    c.send("register bob pw");
    assert_eq!(c.wait_lines(&chat, 1), ["[INFO] - [bob] registered."]);
    c.disconnect();
    chat
}

#[test]
fn register_then_log_in_with_the_password() {
    let chat = Chat::new();
    let watcher = chat.login("watcher");
    let c = chat.connect();
    c.send("register Bob s3cret");
    assert_eq!(c.wait_lines(&chat, 1), ["[INFO] - [Bob] registered."]);
    assert_eq!(
        c.ask("whoami"),
        ["[ERROR] - First login!"],
        "register does not log in"
    );
    c.send("login BOB s3cret");
    assert_eq!(c.wait_lines(&chat, 1), [login_line("BOB")]);
    assert_eq!(watcher.take(), [login_line("BOB")]);
    assert_eq!(c.ask("whoami"), ["[INFO] - BOB"]);
}

#[test]
fn register_reply_in_json() {
    let chat = Chat::new();
    let c = chat.connect();
    c.ask("format json");
    c.send("register carol pw");
    chat.sync();
    assert_eq!(
        c.take_json(),
        [json!({"type":"info","text":"[carol] registered."})]
    );
}

#[test]
fn a_registered_name_is_taken_case_insensitively() {
    let chat = with_bob(quiet_config());
    let c = chat.connect();
    assert_eq!(
        c.ask("register BOB other"),
        ["[ERROR] - Username already taken!"]
    );
}

#[test]
fn a_name_online_elsewhere_cannot_be_registered() {
    let chat = Chat::new();
    let _dave = chat.login("Dave");
    let c = chat.connect();
    assert_eq!(
        c.ask("register dave pw"),
        ["[ERROR] - Username already taken!"]
    );
    let eve = chat.login("eve");
    assert_eq!(
        eve.ask("register DAVE pw"),
        ["[ERROR] - Username already taken!"]
    );
}

#[test]
fn a_name_being_registered_is_taken() {
    let chat = Chat::new();
    let a = chat.connect();
    let b = chat.connect();
    a.send("register zoe pw1");
    // Whether or not the first registration has finished, the name is no longer free.
    assert_eq!(
        b.ask("register ZOE pw2"),
        ["[ERROR] - Username already taken!"]
    );
    assert_eq!(a.wait_lines(&chat, 1), ["[INFO] - [zoe] registered."]);
    b.send("login zoe pw1");
    assert_eq!(b.wait_lines(&chat, 1), [login_line("zoe")]);
}

#[test]
fn a_guest_may_register_its_own_name() {
    let chat = Chat::new();
    let carol = chat.login("carol");
    carol.send("register Carol pw");
    assert_eq!(carol.wait_lines(&chat, 1), ["[INFO] - [Carol] registered."]);
    assert_eq!(carol.ask("whoami"), ["[INFO] - carol"], "still logged in");
    let other = chat.connect();
    assert_eq!(other.ask("login carol"), ["[ERROR] - password required"]);
    carol.send("logout");
    assert_eq!(other.ask("login carol"), ["[ERROR] - password required"]);
    other.send("login carol pw");
    assert_eq!(other.wait_lines(&chat, 1), [login_line("carol")]);
}

#[test]
fn a_logged_in_user_may_register_another_free_name() {
    let chat = Chat::new();
    let alice = chat.login("alice");
    alice.send("register spare pw");
    assert_eq!(alice.wait_lines(&chat, 1), ["[INFO] - [spare] registered."]);
    assert_eq!(alice.ask("whoami"), ["[INFO] - alice"]);
}

#[test]
fn guest_login_of_a_registered_name_needs_the_password() {
    let chat = with_bob(quiet_config());
    let c = chat.connect();
    assert_eq!(c.ask("login bob"), ["[ERROR] - password required"]);
    assert_eq!(c.ask("login BoB"), ["[ERROR] - password required"]);
    assert_eq!(c.ask("whoami"), ["[ERROR] - First login!"]);
}

#[test]
fn wrong_password_and_unknown_account() {
    let chat = with_bob(quiet_config());
    let c = chat.connect();
    c.send("login bob PW");
    assert_eq!(c.wait_lines(&chat, 1), ["[ERROR] - wrong password"]);
    c.send("login nobody pw");
    assert_eq!(c.wait_lines(&chat, 1), ["[ERROR] - wrong password"]);
    assert_eq!(c.ask("whoami"), ["[ERROR] - First login!"]);
}

#[test]
fn password_login_of_a_name_online_is_taken() {
    let chat = with_bob(quiet_config());
    let first = chat.connect();
    first.send("login bob pw");
    assert_eq!(first.wait_lines(&chat, 1), [login_line("bob")]);
    let second = chat.connect();
    second.send("login Bob pw");
    assert_eq!(
        second.wait_lines(&chat, 1),
        ["[ERROR] - Username already taken!"]
    );
}

#[test]
fn five_failures_then_wrong_password_even_for_the_right_one() {
    let chat = with_bob(quiet_config());
    let c = chat.connect();
    for i in 0..5 {
        c.send(&format!("login bob bad{i}"));
        assert_eq!(c.wait_lines(&chat, 1), ["[ERROR] - wrong password"]);
    }
    c.send("login bob pw");
    assert_eq!(c.wait_lines(&chat, 1), ["[ERROR] - wrong password"]);
    // Counted per name and client address: another address, or another name, is not limited.
    let elsewhere = chat
        .try_connect_from(Transport::Tcp, [10, 0, 0, 9])
        .unwrap();
    elsewhere.take();
    elsewhere.send("login bob pw");
    assert_eq!(elsewhere.wait_lines(&chat, 1), [login_line("bob")]);
    let c2 = chat.connect();
    c2.send("register other pw2");
    assert_eq!(c2.wait_lines(&chat, 1), ["[INFO] - [other] registered."]);
    c.send("login other pw2");
    assert_eq!(c.wait_lines(&chat, 1), [login_line("other")]);
}

#[test]
fn the_failure_limit_ends_with_its_window() {
    let window = Duration::from_millis(400);
    let chat = with_bob(KernelConfig {
        limits: Limits {
            password_window: window,
            flood: None,
            ..Limits::default()
        },
        no_color: true,
    });
    let c = chat.connect();
    let start = Instant::now();
    for _ in 0..5 {
        c.send("login bob bad");
        assert_eq!(c.wait_lines(&chat, 1), ["[ERROR] - wrong password"]);
    }
    // Right password: refused until the window has passed since the failures.
    loop {
        c.send("login bob pw");
        let got = c.wait_lines(&chat, 1);
        if got == [login_line("bob")] {
            break;
        }
        assert_eq!(got, ["[ERROR] - wrong password"]);
        assert!(start.elapsed() < DEADLINE, "the limit never ended");
        std::thread::yield_now();
    }
    assert!(start.elapsed() >= window, "limit ended early");
}

#[test]
fn commands_sent_during_a_password_check_are_answered_in_order_after_it() {
    let chat = with_bob(quiet_config());
    let c = chat.connect();
    c.send("login bob pw");
    c.send("whoami");
    c.send("userlist");
    c.send("msgall first");
    assert_eq!(
        c.wait_lines(&chat, 4),
        [
            login_line("bob"),
            "[INFO] - bob".to_owned(),
            "[INFO] - [bob]".to_owned(),
            "[T][bob]: first".to_owned()
        ]
    );
}

#[test]
fn commands_after_a_failed_check_and_chained_password_work_stay_in_order() {
    let chat = with_bob(quiet_config());
    let c = chat.connect();
    c.send("login bob nope");
    c.send("whoami");
    c.send("register newbie pw");
    c.send("login newbie pw");
    c.send("whoami");
    c.send("format json");
    assert_eq!(
        c.wait_lines(&chat, 6),
        [
            "[ERROR] - wrong password",
            "[ERROR] - First login!",
            "[INFO] - [newbie] registered.",
            &login_line("newbie"),
            "[INFO] - newbie",
            r#"{"type":"info","text":"format json"}"#,
        ]
    );
}

#[test]
fn a_connection_that_leaves_during_its_password_check_logs_nobody_in() {
    let chat = with_bob(quiet_config());
    let watcher = chat.login("watcher");
    let c = chat.connect();
    c.send("login bob pw");
    c.disconnect();
    chat.sync();
    assert!(watcher.take().is_empty(), "nobody logged in or out");
    assert_eq!(watcher.ask("userlist"), ["[INFO] - [watcher]"]);
    let again = chat.connect();
    again.send("login bob pw");
    assert_eq!(again.wait_lines(&chat, 1), [login_line("bob")]);
}

#[test]
fn connections_that_leave_during_their_checks_do_not_lock_the_name() {
    let chat = with_bob(quiet_config());
    // More right-password checks than the failure limit, each client gone before its answer:
    // a finished check no longer counts, whether or not its client is still there.
    for _ in 0..6 {
        let c = chat.connect();
        c.send("login bob pw");
        c.disconnect();
    }
    chat.sync();
    let c = chat.connect();
    c.send("login bob pw");
    assert_eq!(c.wait_lines(&chat, 1), [login_line("bob")]);
}

#[test]
fn wrong_guesses_from_connections_that_leave_still_count() {
    let chat = with_bob(quiet_config());
    for _ in 0..5 {
        let c = chat.connect();
        c.send("login bob nope");
        c.disconnect();
    }
    chat.sync();
    // Five failures from this address in the window: the right password is not even checked.
    let c = chat.connect();
    c.send("login bob pw");
    assert_eq!(c.wait_lines(&chat, 1), ["[ERROR] - wrong password"]);
}

/// A store whose account writes fail (a full disk, say).
struct FailingAccounts;

impl chat_kernel::Store for FailingAccounts {
    fn load_accounts(
        &mut self,
    ) -> Result<Vec<chat_kernel::store::Account>, chat_kernel::StoreError> {
        Ok(Vec::new())
    }
    fn insert_account(
        &mut self,
        _: &chat_kernel::store::Account,
    ) -> Result<(), chat_kernel::StoreError> {
        Err(chat_kernel::StoreError::Stopped)
    }
    fn append_history(
        &mut self,
        _: &[chat_kernel::store::HistoryRecord],
    ) -> Result<(), chat_kernel::StoreError> {
        Ok(())
    }
    fn load_history(
        &mut self,
        _: usize,
    ) -> Result<Vec<chat_kernel::store::HistoryRecord>, chat_kernel::StoreError> {
        Ok(Vec::new())
    }
}

#[test]
fn a_failed_registration_is_reported_and_frees_the_name() {
    let chat = Chat::with_store(quiet_config(), Box::new(FailingAccounts));
    let c = chat.connect();
    c.send("register bob pw");
    c.send("whoami");
    assert_eq!(
        c.wait_lines(&chat, 2),
        [
            "[ERROR] - service unavailable, try again later",
            "[ERROR] - First login!"
        ]
    );
    // Nothing was registered: the name is free for a guest.
    assert_eq!(c.ask("login bob"), ["[SYSTEM INFO] - [bob] login to chat."]);
}

/// A memory store whose history writes wait at a gate: while one waits, the store thread
/// (which also checks passwords, in order) does nothing else.
struct Gated {
    inner: chat_kernel::store::MemoryStore,
    entered: std::sync::mpsc::Sender<()>,
    open: std::sync::mpsc::Receiver<()>,
}

impl chat_kernel::store::Store for Gated {
    fn load_accounts(&mut self) -> Result<Vec<Account>, StoreError> {
        self.inner.load_accounts()
    }
    fn insert_account(&mut self, account: &Account) -> Result<(), StoreError> {
        self.inner.insert_account(account)
    }
    fn append_history(&mut self, records: &[HistoryRecord]) -> Result<(), StoreError> {
        let _ = self.entered.send(());
        let _ = self.open.recv_timeout(DEADLINE);
        self.inner.append_history(records)
    }
    fn load_history(&mut self, per_target: usize) -> Result<Vec<HistoryRecord>, StoreError> {
        self.inner.load_history(per_target)
    }
}

#[test]
fn an_unknown_account_is_refused_only_after_a_password_check_as_a_known_one_is() {
    // Otherwise the delay of the answer (an Argon2id check against none) tells which names are
    // registered.
    let (entered_tx, entered) = std::sync::mpsc::channel();
    let (open, open_rx) = std::sync::mpsc::channel();
    let store = Gated {
        inner: Default::default(),
        entered: entered_tx,
        open: open_rx,
    };
    let chat = Chat::with_store(quiet_config(), Box::new(store));
    let bob = chat.connect();
    bob.send("register bob pw");
    assert_eq!(bob.wait_lines(&chat, 1), ["[INFO] - [bob] registered."]);
    // Hold the store thread: a message's history write waits at the gate.
    let talker = chat.login("talker");
    talker.send("msgall held");
    entered
        .recv_timeout(DEADLINE)
        .expect("the history write reached the store");
    // One connection each: commands after a login under check wait for it anyway.
    let clients: Vec<_> = ["nobody", "bob"]
        .into_iter()
        .map(|name| {
            let c = chat.connect();
            c.send(&format!("login {name} nope"));
            assert_eq!(
                c.take(),
                Vec::<String>::new(),
                "`login {name} nope` was answered before any password check"
            );
            c
        })
        .collect();
    open.send(()).expect("the gate is waiting");
    for c in clients {
        assert_eq!(c.wait_lines(&chat, 1), ["[ERROR] - wrong password"]);
    }
}
