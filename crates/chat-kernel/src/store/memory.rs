//! A store that keeps everything in memory: nothing survives the process (`--store memory`).

use super::{Account, HistoryRecord, Store, StoreError, last_per_target};
use crate::names::user_key;

/// Accounts and history in plain vectors.
#[derive(Debug, Default)]
pub struct MemoryStore {
    accounts: Vec<Account>,
    history: Vec<HistoryRecord>,
}

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
}
