//! History: `msgall` and room lines, default and maximum counts, original times, JSON marks,
//! private messages never stored, and persistence through SQLite across two kernels.

mod common;

use std::path::PathBuf;
use std::sync::Arc;

use chat_kernel::store::{Account, HistoryRecord, MemoryStore, SqliteStore};
use chat_kernel::{Store, StoreError};
use chrono::{DateTime, Local, Utc};
use common::{Chat, quiet_config};
use parking_lot::Mutex;
use serde_json::json;

fn end() -> String {
    "[INFO] - end of history".to_owned()
}

fn msgall_lines(from: &str, range: std::ops::RangeInclusive<usize>) -> Vec<String> {
    range.map(|i| format!("[T][{from}]: m{i}")).collect()
}

#[test]
fn msgall_history_defaults_to_twenty() {
    let chat = Chat::new();
    let alice = chat.login("alice");
    assert_eq!(alice.ask("history"), [end()], "nothing yet");
    for i in 1..=25 {
        alice.ask(&format!("msgall m{i}"));
    }
    let bob = chat.login("bob");
    let mut want = msgall_lines("alice", 6..=25);
    want.push(end());
    assert_eq!(bob.ask("history"), want);
    let mut want = msgall_lines("alice", 23..=25);
    want.push(end());
    assert_eq!(bob.ask("history 3"), want);
    assert_eq!(bob.ask("/HISTORY 003"), want);
}

#[test]
fn history_count_is_capped_at_one_hundred() {
    let chat = Chat::new();
    let alice = chat.login("alice");
    for i in 1..=105 {
        alice.ask(&format!("msgall m{i}"));
    }
    let mut want = msgall_lines("alice", 6..=105);
    want.push(end());
    for line in [
        "history 100",
        "history 101",
        "history 500",
        "history 99999999999999999999",
    ] {
        assert_eq!(alice.ask(line), want, "{line}");
    }
    let mut want = msgall_lines("alice", 7..=105);
    want.push(end());
    assert_eq!(alice.ask("history 99"), want);
}

#[test]
fn room_and_msgall_histories_are_separate() {
    let chat = Chat::new();
    let alice = chat.login("alice");
    alice.ask("join #a");
    alice.ask("join #b");
    alice.ask("msg #a in a");
    alice.ask("msgall everyone");
    alice.ask("msg #B in b");
    alice.ask("msg #a again a");
    assert_eq!(
        alice.ask("history #A"),
        ["[T][#a][alice]: in a", "[T][#a][alice]: again a", &end()]
    );
    assert_eq!(
        alice.ask("history #a 1"),
        ["[T][#a][alice]: again a", &end()]
    );
    assert_eq!(alice.ask("history #b"), ["[T][#b][alice]: in b", &end()]);
    assert_eq!(alice.ask("history"), ["[T][alice]: everyone", &end()]);
}

#[test]
fn history_keeps_original_times_and_is_marked_in_json() {
    let t1: DateTime<Utc> = "2020-01-02T03:04:05.678Z".parse().unwrap();
    let t2: DateTime<Utc> = "2021-06-07T22:33:44.001Z".parse().unwrap();
    let mut store = MemoryStore::default();
    store
        .append_history(&[
            HistoryRecord {
                time: t1,
                room: None,
                from: "old".into(),
                text: "from the past".into(),
            },
            HistoryRecord {
                time: t2,
                room: Some("#Retro".into()),
                from: "older".into(),
                text: "room past".into(),
            },
        ])
        .unwrap();
    let chat = Chat::with_store(quiet_config(), Box::new(store));
    let alice = chat.login("alice");
    let hms = |t: DateTime<Utc>| t.with_timezone(&Local).format("%H:%M:%S").to_string();
    assert_eq!(
        alice.ask_raw("history"),
        [format!("[{}][old]: from the past", hms(t1)), end()]
    );
    assert_eq!(
        alice.ask_raw("history #retro"),
        [format!("[{}][#Retro][older]: room past", hms(t2)), end()]
    );
    assert_eq!(alice.ask("rooms"), ["[INFO] - [#Retro (0)]"]);
    alice.ask("format json");
    assert_eq!(
        alice.ask_json("history"),
        [
            json!({"type":"message","time":"2020-01-02T03:04:05.678Z","from":"old","text":"from the past","history":true}),
            json!({"type":"info","text":"end of history"})
        ]
    );
    assert_eq!(
        alice.ask_json("history #RETRO 5"),
        [
            json!({"type":"message","time":"2021-06-07T22:33:44.001Z","from":"older","room":"#Retro","text":"room past","history":true}),
            json!({"type":"info","text":"end of history"})
        ]
    );
    // Live lines are not marked.
    let live = alice.ask_json("msgall now");
    assert_eq!(live.len(), 1);
    assert!(live[0].get("history").is_none());
    let time: DateTime<Utc> = live[0]["time"].as_str().unwrap().parse().unwrap();
    assert!((Utc::now() - time).num_seconds().abs() < 60);
    assert!(
        live[0]["time"].as_str().unwrap().ends_with('Z'),
        "RFC 3339 UTC"
    );
}

/// A store that records every history write, to check what reaches the disk.
#[derive(Clone, Default)]
struct Recording {
    written: Arc<Mutex<Vec<HistoryRecord>>>,
    inner: Arc<Mutex<MemoryStore>>,
}

impl Store for Recording {
    fn load_accounts(&mut self) -> Result<Vec<Account>, StoreError> {
        self.inner.lock().load_accounts()
    }
    fn insert_account(&mut self, account: &Account) -> Result<(), StoreError> {
        self.inner.lock().insert_account(account)
    }
    fn append_history(&mut self, records: &[HistoryRecord]) -> Result<(), StoreError> {
        self.written.lock().extend_from_slice(records);
        self.inner.lock().append_history(records)
    }
    fn load_history(&mut self, per_target: usize) -> Result<Vec<HistoryRecord>, StoreError> {
        self.inner.lock().load_history(per_target)
    }
}

#[test]
fn private_messages_are_never_stored() {
    let store = Recording::default();
    let chat = Chat::with_store(quiet_config(), Box::new(store.clone()));
    let alice = chat.login("alice");
    let bob = chat.login("bob");
    alice.ask("join #Rust");
    alice.ask("msg bob top secret");
    alice.ask("msg alice note to self");
    alice.ask("msgall public");
    alice.ask("msg #rust roomline");
    chat.sync();
    let written: Vec<(Option<String>, String, String)> = store
        .written
        .lock()
        .iter()
        .map(|r| (r.room.clone(), r.from.clone(), r.text.clone()))
        .collect();
    assert_eq!(
        written,
        [
            (None, "alice".into(), "public".into()),
            (Some("#Rust".into()), "alice".into(), "roomline".into())
        ]
    );
    bob.take();
    assert_eq!(bob.ask("history"), ["[T][alice]: public", &end()]);
}

/// A temporary directory removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let dir =
            std::env::temp_dir().join(format!("chat-kernel-{tag}-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn history_and_accounts_survive_a_restart_on_sqlite_and_no_password_is_in_clear() {
    const PASSWORD: &str = "Correct-Horse-7431";
    let dir = TempDir::new("persist");
    let path = dir.0.join("chat.db");

    let (msgall_time, room_time) = {
        let chat = Chat::with_store(quiet_config(), Box::new(SqliteStore::open(&path).unwrap()));
        let alice = chat.connect();
        alice.send(&format!("register Alice {PASSWORD}"));
        assert_eq!(alice.wait_lines(&chat, 1), ["[INFO] - [Alice] registered."]);
        alice.send(&format!("login alice {PASSWORD}"));
        assert_eq!(
            alice.wait_lines(&chat, 1),
            ["[SYSTEM INFO] - [alice] login to chat."]
        );
        alice.ask("format json");
        let m = alice.ask_json("msgall before restart");
        alice.ask("join #Rust");
        let r = alice.ask_json("msg #rust room before restart");
        alice.ask("msg alice private stays private");
        chat.kernel.finish();
        (
            m[0]["time"].as_str().unwrap().to_owned(),
            r[0]["time"].as_str().unwrap().to_owned(),
        )
    };

    // The files hold the Argon2id hash and never the password.
    let mut bytes = Vec::new();
    for entry in std::fs::read_dir(&dir.0).unwrap() {
        bytes.extend(std::fs::read(entry.unwrap().path()).unwrap());
    }
    let contains = |needle: &[u8]| bytes.windows(needle.len()).any(|w| w == needle);
    assert!(contains(b"$argon2id$"), "the hash is stored");
    assert!(contains(b"before restart"), "history is stored");
    assert!(!contains(PASSWORD.as_bytes()), "password in clear");
    assert!(
        !contains(b"private stays private"),
        "private message stored"
    );

    let chat = Chat::with_store(quiet_config(), Box::new(SqliteStore::open(&path).unwrap()));
    let guest = chat.connect();
    assert_eq!(guest.ask("login ALICE"), ["[ERROR] - password required"]);
    guest.send("login alice wrong");
    assert_eq!(guest.wait_lines(&chat, 1), ["[ERROR] - wrong password"]);
    guest.send(&format!("login aLiCe {PASSWORD}"));
    assert_eq!(
        guest.wait_lines(&chat, 1),
        ["[SYSTEM INFO] - [aLiCe] login to chat."]
    );
    assert_eq!(guest.ask("rooms"), ["[INFO] - [#Rust (0)]"]);
    guest.ask("format json");
    assert_eq!(
        guest.ask_json("history"),
        [
            json!({"type":"message","time":msgall_time,"from":"alice","text":"before restart","history":true}),
            json!({"type":"info","text":"end of history"})
        ]
    );
    assert_eq!(
        guest.ask_json("join #RUST"),
        [
            json!({"type":"join","user":"aLiCe","room":"#Rust"}),
            json!({"type":"message","time":room_time,"from":"alice","room":"#Rust","text":"room before restart","history":true}),
            json!({"type":"info","text":"end of history"})
        ]
    );
    let other = chat.connect();
    assert_eq!(
        other.ask("register alice x"),
        ["[ERROR] - Username already taken!"]
    );
    chat.kernel.finish();
}
