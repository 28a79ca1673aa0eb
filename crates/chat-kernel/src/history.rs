//! The recent history of `msgall` and of every room, kept in memory so `history` and `join`
//! never wait on the store.

use std::collections::{HashMap, VecDeque};

use crate::reply::ChatLine;
use crate::store::HISTORY_KEPT;

/// The history key of a target: `None` for `msgall`, a room key otherwise.
pub(crate) type HistoryKey = Option<String>;

/// The last [`HISTORY_KEPT`] lines of every target, oldest first.
#[derive(Debug, Default)]
pub(crate) struct History {
    lines: HashMap<HistoryKey, VecDeque<ChatLine>>,
}

impl History {
    /// Adds a line, forgetting the oldest one past the limit.
    pub fn push(&mut self, key: HistoryKey, line: ChatLine) {
        let lines = self.lines.entry(key).or_default();
        if lines.len() == HISTORY_KEPT {
            lines.pop_front();
        }
        lines.push_back(line);
    }

    /// The last `n` lines of a target, oldest first.
    pub fn last(&self, key: &HistoryKey, n: usize) -> impl Iterator<Item = &ChatLine> {
        let lines = self.lines.get(key);
        let len = lines.map_or(0, VecDeque::len);
        lines
            .into_iter()
            .flat_map(|l| l.iter())
            .skip(len.saturating_sub(n))
    }

    /// Whether a target has any history.
    pub fn has(&self, key: &HistoryKey) -> bool {
        self.lines.get(key).is_some_and(|l| !l.is_empty())
    }
}
