//! The durable store: one SQLite file (rusqlite, SQLite bundled), schema versioned and migrated
//! at open.
//!
//! The schema version lives in `PRAGMA user_version`; [`MIGRATIONS`] lists the steps from each
//! version to the next, applied in one transaction at open, so an old database is brought up to
//! date and a newer one is refused rather than misread. WAL mode lets the store thread write in
//! batches while the file stays consistent after a crash.

use std::path::Path;

use chrono::{DateTime, Utc};
use rusqlite::{Connection, params};

use super::{Account, HistoryRecord, Store, StoreError};
use crate::names::{room_key, user_key};

/// Migration `i` takes the schema from version `i` to `i + 1`.
const MIGRATIONS: &[&str] = &[
    // 0 -> 1: accounts and history.
    "CREATE TABLE accounts (
         name_key      TEXT PRIMARY KEY NOT NULL,
         name          TEXT NOT NULL,
         password_hash TEXT NOT NULL,
         created_ms    INTEGER NOT NULL
     );
     CREATE TABLE history (
         id        INTEGER PRIMARY KEY,
         time_ms   INTEGER NOT NULL,
         room_key  TEXT,
         room      TEXT,
         sender    TEXT NOT NULL,
         text      TEXT NOT NULL
     );
     CREATE INDEX history_by_target ON history (room_key, id);",
];

/// Accounts and history in an SQLite file.
#[derive(Debug)]
pub struct SqliteStore {
    conn: Connection,
}

impl SqliteStore {
    /// Opens (creating it and its directory if needed) and migrates the database at `path`.
    pub fn open(path: &Path) -> Result<SqliteStore, StoreError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|source| StoreError::CreateDir {
                path: dir.to_path_buf(),
                source,
            })?;
        }
        let conn = Connection::open(path)?;
        Self::setup(conn)
    }

    /// An in-memory SQLite database (tests).
    pub fn open_in_memory() -> Result<SqliteStore, StoreError> {
        Self::setup(Connection::open_in_memory()?)
    }

    fn setup(mut conn: Connection) -> Result<SqliteStore, StoreError> {
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        migrate(&mut conn)?;
        Ok(SqliteStore { conn })
    }

    /// The schema version of the open database.
    pub fn schema_version(&self) -> Result<i64, StoreError> {
        Ok(self
            .conn
            .pragma_query_value(None, "user_version", |r| r.get(0))?)
    }
}

/// The schema version this program writes.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    let tx = conn.transaction()?;
    let found: i64 = tx.pragma_query_value(None, "user_version", |r| r.get(0))?;
    if found > SCHEMA_VERSION {
        return Err(StoreError::SchemaTooNew {
            found,
            supported: SCHEMA_VERSION,
        });
    }
    for step in &MIGRATIONS[found.max(0) as usize..] {
        tx.execute_batch(step)?;
    }
    tx.pragma_update(None, "user_version", SCHEMA_VERSION)?;
    tx.commit()?;
    Ok(())
}

fn to_ms(time: DateTime<Utc>) -> i64 {
    time.timestamp_millis()
}

fn from_ms(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or_default()
}

impl Store for SqliteStore {
    fn load_accounts(&mut self) -> Result<Vec<Account>, StoreError> {
        let mut stmt = self
            .conn
            .prepare("SELECT name, password_hash FROM accounts ORDER BY created_ms")?;
        let rows = stmt.query_map([], |r| {
            Ok(Account {
                name: r.get(0)?,
                password_hash: r.get(1)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn insert_account(&mut self, account: &Account) -> Result<(), StoreError> {
        let inserted = self.conn.execute(
            "INSERT OR IGNORE INTO accounts (name_key, name, password_hash, created_ms)
             VALUES (?1, ?2, ?3, ?4)",
            params![
                user_key(&account.name),
                account.name,
                account.password_hash,
                to_ms(Utc::now())
            ],
        )?;
        if inserted == 0 {
            return Err(StoreError::AccountExists);
        }
        Ok(())
    }

    fn append_history(&mut self, records: &[HistoryRecord]) -> Result<(), StoreError> {
        let tx = self.conn.transaction()?;
        {
            let mut stmt = tx.prepare_cached(
                "INSERT INTO history (time_ms, room_key, room, sender, text)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )?;
            for r in records {
                stmt.execute(params![
                    to_ms(r.time),
                    r.room.as_deref().map(room_key),
                    r.room,
                    r.from,
                    r.text
                ])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    fn load_history(&mut self, per_target: usize) -> Result<Vec<HistoryRecord>, StoreError> {
        // The room's name as spelled when it was created is the one of its first record.
        let mut stmt = self.conn.prepare(
            "SELECT time_ms, room, sender, text FROM (
                 SELECT id, time_ms, sender, text,
                        FIRST_VALUE(room) OVER (PARTITION BY room_key ORDER BY id) AS room,
                        ROW_NUMBER() OVER (PARTITION BY room_key ORDER BY id DESC) AS rn
                 FROM history)
             WHERE rn <= ?1 ORDER BY id",
        )?;
        let rows = stmt.query_map([per_target as i64], |r| {
            Ok(HistoryRecord {
                time: from_ms(r.get(0)?),
                room: r.get(1)?,
                from: r.get(2)?,
                text: r.get(3)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(room: Option<&str>, text: &str) -> HistoryRecord {
        HistoryRecord {
            time: DateTime::from_timestamp_millis(1_700_000_000_123).unwrap(),
            room: room.map(str::to_owned),
            from: "alice".into(),
            text: text.into(),
        }
    }

    #[test]
    fn history_round_trips_per_target() {
        let mut s = SqliteStore::open_in_memory().unwrap();
        s.append_history(&[
            rec(Some("#Rust"), "a"),
            rec(None, "1"),
            rec(Some("#rust"), "b"),
        ])
        .unwrap();
        s.append_history(&[rec(Some("#RUST"), "c"), rec(None, "2")])
            .unwrap();
        let got = s.load_history(2).unwrap();
        let view: Vec<_> = got
            .iter()
            .map(|r| (r.room.clone(), r.text.as_str()))
            .collect();
        assert_eq!(
            view,
            [
                (None, "1"),
                (Some("#Rust".into()), "b"),
                (Some("#Rust".into()), "c"),
                (None, "2")
            ]
        );
        assert_eq!(got[0].time.timestamp_millis(), 1_700_000_000_123);
    }

    #[test]
    fn accounts_unique_and_persistent() {
        let dir = std::env::temp_dir().join(format!("chat-kernel-sqlite-{}", std::process::id()));
        let path = dir.join("nested/chat.db");
        let _ = std::fs::remove_dir_all(&dir);
        {
            let mut s = SqliteStore::open(&path).unwrap();
            let a = Account {
                name: "Alice".into(),
                password_hash: "$argon2id$x".into(),
            };
            s.insert_account(&a).unwrap();
            let dup = Account {
                name: "ALICE".into(),
                password_hash: "y".into(),
            };
            assert!(matches!(
                s.insert_account(&dup),
                Err(StoreError::AccountExists)
            ));
            s.append_history(&[rec(None, "kept")]).unwrap();
        }
        let mut s = SqliteStore::open(&path).unwrap();
        assert_eq!(s.schema_version().unwrap(), SCHEMA_VERSION);
        assert_eq!(s.load_accounts().unwrap()[0].name, "Alice");
        assert_eq!(s.load_history(10).unwrap()[0].text, "kept");
        drop(s);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn newer_schema_is_refused() {
        let dir = std::env::temp_dir().join(format!("chat-kernel-newer-{}", std::process::id()));
        let path = dir.join("chat.db");
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let conn = Connection::open(&path).unwrap();
        conn.pragma_update(None, "user_version", 99).unwrap();
        drop(conn);
        assert!(matches!(
            SqliteStore::open(&path),
            Err(StoreError::SchemaTooNew { found: 99, .. })
        ));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
