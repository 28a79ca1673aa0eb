//! The store thread: owns the [`Store`], runs its jobs in order, batches history writes.
//!
//! Jobs arrive over a channel; appends that are waiting together are written in one
//! transaction, so a burst of room messages costs one commit, not one each. Password hashing
//! and checking (Argon2id, deliberately slow) run here too, off every runtime's threads; their
//! results come back through callbacks, which the kernel turns into replies.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::thread::JoinHandle;

use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use parking_lot::Mutex;

use super::{Account, HISTORY_KEPT, HistoryRecord, Store, StoreError};

/// Called with the outcome of a registration.
pub type RegisterDone = Box<dyn FnOnce(Result<Account, StoreError>) + Send>;
/// Called with whether a password matched.
pub type VerifyDone = Box<dyn FnOnce(bool) + Send>;
/// Where the worker reports failures that have no requester (history writes).
pub type ErrorSink = Box<dyn Fn(StoreError) + Send>;

/// Most appends written in one transaction.
const BATCH_MAX: usize = 4096;
/// After writing a batch the thread waits this long, so the next batch gathers everything sent
/// meanwhile: a busy room costs about 100 wake-ups and transactions a second, not one per message.
const BATCH_PAUSE: std::time::Duration = std::time::Duration::from_millis(10);

enum Job {
    Append(HistoryRecord),
    Register {
        name: String,
        password: String,
        done: RegisterDone,
    },
    Verify {
        hash: String,
        password: String,
        done: VerifyDone,
    },
    Sync(Sender<()>),
}

/// What the store held at start, for the kernel's memory.
#[derive(Debug, Default)]
pub struct Loaded {
    /// Every account.
    pub accounts: Vec<Account>,
    /// The recent history of `msgall` and every room, each oldest first.
    pub history: Vec<HistoryRecord>,
}

/// The handle to the store thread.
#[derive(Debug)]
pub struct StoreWorker {
    tx: Mutex<Option<Sender<Job>>>,
    thread: Mutex<Option<JoinHandle<()>>>,
    /// Set by [`StoreWorker::stop`]: the process is exiting, so queued password work is
    /// answered at once instead of hashed (history is still written), and exit stays prompt.
    stopping: Arc<AtomicBool>,
}

impl std::fmt::Debug for Job {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Job::Append(_) => "Append",
            Job::Register { .. } => "Register",
            Job::Verify { .. } => "Verify",
            Job::Sync(_) => "Sync",
        })
    }
}

impl StoreWorker {
    /// Loads what the store holds, then starts its thread.
    pub fn start(
        mut store: Box<dyn Store>,
        on_error: ErrorSink,
    ) -> Result<(StoreWorker, Loaded), StoreError> {
        let loaded = Loaded {
            accounts: store.load_accounts()?,
            history: store.load_history(HISTORY_KEPT)?,
        };
        let (tx, rx) = channel();
        let stopping = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stopping);
        let thread = std::thread::Builder::new()
            .name("store".into())
            .spawn(move || run(store, rx, on_error, &flag))
            .map_err(|e| StoreError::Hash(format!("cannot start store thread: {e}")))?;
        Ok((
            StoreWorker {
                tx: Mutex::new(Some(tx)),
                thread: Mutex::new(Some(thread)),
                stopping,
            },
            loaded,
        ))
    }

    fn send(&self, job: Job) -> Result<(), Job> {
        match &*self.tx.lock() {
            Some(tx) => tx.send(job).map_err(|e| e.0),
            None => Err(job),
        }
    }

    /// Queues a history record for writing.
    pub fn append(&self, record: HistoryRecord) {
        // After stop() the record is dropped: the process is exiting.
        let _ = self.send(Job::Append(record));
    }

    /// Hashes `password` and stores the account; `done` gets the stored account.
    pub fn register(&self, name: String, password: String, done: RegisterDone) {
        if let Err(Job::Register { done, .. }) = self.send(Job::Register {
            name,
            password,
            done,
        }) {
            done(Err(StoreError::Stopped));
        }
    }

    /// Checks `password` against a PHC `hash`; `done` gets whether it matched.
    pub fn verify(&self, hash: String, password: String, done: VerifyDone) {
        if let Err(Job::Verify { done, .. }) = self.send(Job::Verify {
            hash,
            password,
            done,
        }) {
            done(false);
        }
    }

    /// Blocks until every job sent so far is done (tests, shutdown).
    pub fn sync(&self) {
        let (tx, rx) = channel();
        if self.send(Job::Sync(tx)).is_ok() {
            let _ = rx.recv();
        }
    }

    /// Writes every queued history record, answers queued password work as failed (the
    /// process is exiting: nobody waits for it, and Argon2 would delay the exit) and stops the
    /// thread.
    pub fn stop(&self) {
        self.stopping.store(true, Ordering::Relaxed);
        self.tx.lock().take();
        if let Some(thread) = self.thread.lock().take() {
            // Stopped from a callback on the store thread itself (its last handle dropped
            // there): the thread ends on its own once the channel is closed.
            if thread.thread().id() != std::thread::current().id() {
                let _ = thread.join();
            }
        }
    }
}

impl Drop for StoreWorker {
    fn drop(&mut self) {
        self.stop();
    }
}

fn run(mut store: Box<dyn Store>, rx: Receiver<Job>, on_error: ErrorSink, stopping: &AtomicBool) {
    let mut next = rx.recv().ok();
    while let Some(job) = next.take() {
        match job {
            Job::Append(first) => {
                let mut batch = vec![first];
                while batch.len() < BATCH_MAX {
                    match rx.try_recv() {
                        Ok(Job::Append(r)) => batch.push(r),
                        Ok(other) => {
                            next = Some(other);
                            break;
                        }
                        Err(_) => break,
                    }
                }
                if let Err(e) = store.append_history(&batch) {
                    on_error(e);
                }
                if next.is_none() && !stopping.load(Ordering::Relaxed) {
                    std::thread::sleep(BATCH_PAUSE);
                }
            }
            Job::Register { done, .. } if stopping.load(Ordering::Relaxed) => {
                done(Err(StoreError::Stopped));
            }
            Job::Verify { done, .. } if stopping.load(Ordering::Relaxed) => done(false),
            Job::Register {
                name,
                password,
                done,
            } => done(hash(&password).and_then(|password_hash| {
                let account = Account {
                    name,
                    password_hash,
                };
                store.insert_account(&account).map(|()| account)
            })),
            Job::Verify {
                hash,
                password,
                done,
            } => done(verify(&hash, &password)),
            Job::Sync(tx) => {
                let _ = tx.send(());
            }
        }
        if next.is_none() {
            next = rx.recv().ok();
        }
    }
}

/// An Argon2id PHC string for `password`, with a fresh random salt.
pub fn hash(password: &str) -> Result<String, StoreError> {
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| StoreError::Hash(e.to_string()))
}

/// A stand-in hash, checked for `login NAME PASSWORD` when NAME has no account, so that login
/// takes as long as one with a wrong password: otherwise the answer's delay (an Argon2id check,
/// tens of milliseconds, against none) would tell which names are registered. Made with
/// [`hash`] (the same parameters as every stored hash: the test
/// `the_stand_in_hash_costs_what_a_stored_one_does` checks) from a password nobody kept.
pub const STAND_IN_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$zQu5Zyuue21RGwQoc/cB1g$aaetmTXi1O6sck7+br+QjMdSrmmMsP+A9zeTNUyYSq0";

/// Whether `password` matches the PHC string `hash`.
pub fn verify(hash: &str, password: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|parsed| {
        Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::MemoryStore;
    use std::sync::mpsc;

    #[test]
    fn hashes_are_argon2id_and_verify() {
        let h = hash("hunter2").unwrap();
        assert!(h.starts_with("$argon2id$"), "{h}");
        assert!(!h.contains("hunter2"));
        assert!(verify(&h, "hunter2"));
        assert!(!verify(&h, "hunter3"));
        assert!(!verify("garbage", "hunter2"));
    }

    #[test]
    fn the_stand_in_hash_costs_what_a_stored_one_does() {
        let parsed = PasswordHash::new(STAND_IN_HASH).unwrap();
        let fresh_hash = hash("x").unwrap();
        let fresh = PasswordHash::new(&fresh_hash).unwrap();
        assert_eq!(parsed.algorithm, fresh.algorithm);
        assert_eq!(parsed.version, fresh.version);
        assert_eq!(parsed.params, fresh.params);
        assert!(!verify(STAND_IN_HASH, ""));
    }

    #[test]
    fn register_verify_and_append_through_the_thread() {
        let (worker, loaded) =
            StoreWorker::start(Box::new(MemoryStore::default()), Box::new(|_| {})).unwrap();
        assert!(loaded.accounts.is_empty());
        let (tx, rx) = mpsc::channel();
        worker.register(
            "bob".into(),
            "pw".into(),
            Box::new(move |r| tx.send(r.map(|a| a.password_hash)).unwrap()),
        );
        let hash = rx.recv().unwrap().unwrap();
        let (tx, rx) = mpsc::channel();
        let tx2 = tx.clone();
        worker.verify(
            hash.clone(),
            "pw".into(),
            Box::new(move |ok| tx.send(ok).unwrap()),
        );
        worker.verify(
            hash,
            "nope".into(),
            Box::new(move |ok| tx2.send(ok).unwrap()),
        );
        assert_eq!((rx.recv().unwrap(), rx.recv().unwrap()), (true, false));
        let (tx, rx) = mpsc::channel();
        worker.register(
            "BOB".into(),
            "x".into(),
            Box::new(move |r| tx.send(r.is_err()).unwrap()),
        );
        assert!(rx.recv().unwrap(), "duplicate account refused");
        worker.stop();
    }

    /// A store that records the history it is asked to write.
    struct Recording(Arc<Mutex<Vec<String>>>);

    impl Store for Recording {
        fn load_accounts(&mut self) -> Result<Vec<Account>, StoreError> {
            Ok(Vec::new())
        }
        fn insert_account(&mut self, _: &Account) -> Result<(), StoreError> {
            Ok(())
        }
        fn append_history(&mut self, records: &[HistoryRecord]) -> Result<(), StoreError> {
            let mut written = self.0.lock();
            written.extend(records.iter().map(|r| r.text.clone()));
            Ok(())
        }
        fn load_history(&mut self, _: usize) -> Result<Vec<HistoryRecord>, StoreError> {
            Ok(Vec::new())
        }
    }

    #[test]
    fn stop_writes_queued_history_but_answers_queued_password_work_unchecked() {
        let written = Arc::new(Mutex::new(Vec::new()));
        let store = Recording(Arc::clone(&written));
        let (worker, _) = StoreWorker::start(Box::new(store), Box::new(|_| {})).unwrap();
        let good = hash("pw").unwrap();
        const CHECKS: usize = 100;
        let (tx, rx) = mpsc::channel();
        for _ in 0..CHECKS {
            let tx = tx.clone();
            worker.verify(
                good.clone(),
                "pw".into(),
                Box::new(move |ok| tx.send(ok).unwrap()),
            );
        }
        let (reg_tx, reg_rx) = mpsc::channel();
        worker.register(
            "late".into(),
            "pw".into(),
            Box::new(move |r| reg_tx.send(r.is_err()).unwrap()),
        );
        worker.append(HistoryRecord {
            time: chrono::Utc::now(),
            room: None,
            from: "bob".into(),
            text: "queued last".into(),
        });
        worker.stop();
        drop(tx);
        let answers: Vec<bool> = rx.iter().collect();
        assert_eq!(answers.len(), CHECKS, "every check answered");
        // At most the checks already running when stop() came were really made.
        assert!(
            answers.iter().filter(|ok| **ok).count() < CHECKS / 2,
            "{answers:?}"
        );
        assert!(
            reg_rx.recv().unwrap(),
            "a registration after stop is refused"
        );
        assert_eq!(*written.lock(), ["queued last"]);
    }
}
