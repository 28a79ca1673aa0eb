//! Accounts and history behind a [`Store`] trait, run on a thread of its own.
//!
//! The kernel never calls a store directly: it keeps the accounts and the recent history of
//! every room in memory (loaded once at start) and sends writes and password work to a
//! [`StoreWorker`], which owns the store on a dedicated thread. So no chat message and no
//! runtime ever waits on the disk or on Argon2.
//!
//! Layout:
//! - `memory`: [`MemoryStore`], keeps nothing past the process.
//! - `sqlite`: [`SqliteStore`], durable, embedded (rusqlite, bundled), versioned schema.
//! - `worker`: the store thread, its job queue and batched history writes.

mod memory;
mod sqlite;
mod worker;

use std::path::PathBuf;

use chrono::{DateTime, Utc};

pub use memory::MemoryStore;
pub use sqlite::SqliteStore;
pub(crate) use worker::STAND_IN_HASH;
pub use worker::{Loaded, StoreWorker};

/// How many lines of history per room (and for `msgall`) the kernel keeps in memory and loads
/// at start: the most `history` can ask for.
pub const HISTORY_KEPT: usize = crate::parser::HISTORY_MAX;

/// A registered account: the name as registered and its Argon2id PHC hash string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    /// The name as registered.
    pub name: String,
    /// `$argon2id$v=19$...`: never the password itself.
    pub password_hash: String,
}

/// One stored chat line: a `msgall` (no room) or a room message. Private messages are never
/// stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryRecord {
    /// When the server received it.
    pub time: DateTime<Utc>,
    /// The room as spelled when it was created, or `None` for `msgall`.
    pub room: Option<String>,
    /// The sender's name as shown.
    pub from: String,
    /// The text, exactly as sent.
    pub text: String,
}

/// A store failure, reported on the console; the chat goes on.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The SQLite database failed.
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// The store's directory could not be created.
    #[error("cannot create {path}: {source}")]
    CreateDir {
        /// The directory.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The database was written by a newer version of async-chat.
    #[error("database schema version {found} is newer than this program's {supported}")]
    SchemaTooNew {
        /// The version in the file.
        found: i64,
        /// The newest this program knows.
        supported: i64,
    },
    /// The account name is already registered.
    #[error("account exists")]
    AccountExists,
    /// Hashing the password failed.
    #[error("password hashing: {0}")]
    Hash(String),
    /// The store thread is gone.
    #[error("store thread stopped")]
    Stopped,
}

/// Where accounts and history live.
///
/// Implementations are plain blocking code: they run on the store thread only.
pub trait Store: Send + 'static {
    /// Every registered account.
    fn load_accounts(&mut self) -> Result<Vec<Account>, StoreError>;
    /// Adds an account; [`StoreError::AccountExists`] if the name (case-insensitively) is taken.
    fn insert_account(&mut self, account: &Account) -> Result<(), StoreError>;
    /// Appends history records, all in one transaction.
    fn append_history(&mut self, records: &[HistoryRecord]) -> Result<(), StoreError>;
    /// The last `per_target` records of `msgall` and of every room, each target oldest first.
    fn load_history(&mut self, per_target: usize) -> Result<Vec<HistoryRecord>, StoreError>;
}

/// The `--store` option: `memory` or `sqlite:PATH`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreSpec {
    /// Keep nothing past the process.
    Memory,
    /// An SQLite file (its directory is created).
    Sqlite(PathBuf),
}

/// A `--store` value that is neither `memory` nor `sqlite:PATH`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid store {0:?}: expected `memory` or `sqlite:PATH`")]
pub struct InvalidStoreSpec(pub String);

impl StoreSpec {
    /// The default: `sqlite:./chat-data/chat.db`.
    pub fn default_sqlite() -> StoreSpec {
        StoreSpec::Sqlite(PathBuf::from("./chat-data/chat.db"))
    }

    /// Opens the store this spec names.
    pub fn open(&self) -> Result<Box<dyn Store>, StoreError> {
        match self {
            StoreSpec::Memory => Ok(Box::new(MemoryStore::default())),
            StoreSpec::Sqlite(path) => Ok(Box::new(SqliteStore::open(path)?)),
        }
    }
}

impl std::str::FromStr for StoreSpec {
    type Err = InvalidStoreSpec;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.eq_ignore_ascii_case("memory") {
            return Ok(StoreSpec::Memory);
        }
        match s.strip_prefix("sqlite:") {
            Some(path) if !path.is_empty() => Ok(StoreSpec::Sqlite(PathBuf::from(path))),
            _ => Err(InvalidStoreSpec(s.to_owned())),
        }
    }
}

impl std::fmt::Display for StoreSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StoreSpec::Memory => f.write_str("memory"),
            StoreSpec::Sqlite(path) => write!(f, "sqlite:{}", path.display()),
        }
    }
}

/// Keeps the last `per_target` records of each target, each target oldest first; the shared
/// selection rule of every store's [`Store::load_history`].
pub fn last_per_target(records: &[HistoryRecord], per_target: usize) -> Vec<HistoryRecord> {
    use std::collections::HashMap;
    let mut seen: HashMap<Option<String>, usize> = HashMap::new();
    let mut keep = vec![false; records.len()];
    for (i, r) in records.iter().enumerate().rev() {
        let key = r.room.as_deref().map(crate::names::room_key);
        let n = seen.entry(key).or_default();
        if *n < per_target {
            *n += 1;
            keep[i] = true;
        }
    }
    records
        .iter()
        .zip(keep)
        .filter(|(_, k)| *k)
        .map(|(r, _)| r.clone())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_spec_parses() {
        assert_eq!("memory".parse(), Ok(StoreSpec::Memory));
        assert_eq!(
            "sqlite:/tmp/x.db".parse(),
            Ok(StoreSpec::Sqlite(PathBuf::from("/tmp/x.db")))
        );
        assert!("sqlite:".parse::<StoreSpec>().is_err());
        assert!("redis://x".parse::<StoreSpec>().is_err());
        assert_eq!(
            StoreSpec::default_sqlite().to_string(),
            "sqlite:./chat-data/chat.db"
        );
    }

    #[test]
    fn last_per_target_keeps_order() {
        let rec = |room: Option<&str>, text: &str| HistoryRecord {
            time: Utc::now(),
            room: room.map(str::to_owned),
            from: "a".into(),
            text: text.into(),
        };
        let all = vec![
            rec(None, "1"),
            rec(Some("#r"), "a"),
            rec(None, "2"),
            rec(Some("#R"), "b"),
            rec(None, "3"),
        ];
        let texts: Vec<_> = last_per_target(&all, 2)
            .into_iter()
            .map(|r| r.text)
            .collect();
        assert_eq!(texts, ["a", "2", "b", "3"]);
    }
}
