//! A store that keeps everything in memory: nothing survives the process (`--store memory`).

use super::{Account, HISTORY_KEPT, HistoryRecord, Store, StoreError, last_per_target};
use crate::names::user_key;

/// Accounts and history in plain vectors. Only the last [`HISTORY_KEPT`] records of each
/// target can ever be loaded, so older ones are dropped now and then: memory stays bounded
/// however long the server runs.
#[derive(Debug, Default)]
pub struct MemoryStore {
    accounts: Vec<Account>,
    history: Vec<HistoryRecord>,
    /// Length of `history` after the last compaction.
    compacted: usize,
}

/// `history` is compacted when it passes twice its compacted length, and at least this.
const COMPACT_AT: usize = 4096;

impl Store for MemoryStore {
    fn load_accounts(&mut self) -> Result<Vec<Account>, StoreError> {
        Ok(self.accounts.clone())
    }

    fn insert_account(&mut self, account: &Account) -> Result<(), StoreError> {
        let key = user_key(&account.name);
        if self.accounts.iter().any(|a| user_key(&a.name) == key) {
            return Err(StoreError::AccountExists);
        }
        self.accounts.push(account.clone());
        Ok(())
    }

    fn append_history(&mut self, records: &[HistoryRecord]) -> Result<(), StoreError> {
        self.history.extend_from_slice(records);
        if self.history.len() > COMPACT_AT.max(2 * self.compacted) {
            self.history = last_per_target(&self.history, HISTORY_KEPT);
            self.compacted = self.history.len();
        }
        Ok(())
    }

    fn load_history(&mut self, per_target: usize) -> Result<Vec<HistoryRecord>, StoreError> {
        Ok(last_per_target(&self.history, per_target))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accounts_unique_case_insensitively() {
        let mut s = MemoryStore::default();
        let a = Account {
            name: "Alice".into(),
            password_hash: "h".into(),
        };
        s.insert_account(&a).unwrap();
        let dup = Account {
            name: "alice".into(),
            password_hash: "h2".into(),
        };
        assert!(matches!(
            s.insert_account(&dup),
            Err(StoreError::AccountExists)
        ));
        assert_eq!(s.load_accounts().unwrap(), vec![a]);
    }

    #[test]
    fn history_stays_bounded_and_keeps_the_last_lines() {
        let mut s = MemoryStore::default();
        for i in 0..20_000 {
            let record = HistoryRecord {
                time: chrono::Utc::now(),
                room: (i % 2 == 0).then(|| "#r".to_owned()),
                from: "a".into(),
                text: i.to_string(),
            };
            s.append_history(&[record]).unwrap();
        }
        assert!(s.history.len() <= COMPACT_AT + 1);
        let loaded = s.load_history(HISTORY_KEPT).unwrap();
        assert_eq!(loaded.len(), 2 * HISTORY_KEPT);
        assert_eq!(loaded.last().unwrap().text, "19999");
    }
}
