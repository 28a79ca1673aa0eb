//! Helpers for the store and room end-to-end tests, on top of the shared harness in `common`.
//!
//! - [`TempDir`]: a fresh directory under the system temp dir, removed on drop.
//! - [`run_to_exit`]: runs the binary (in a chosen working directory) until it exits by itself,
//!   with a deadline, and returns its exit status and output; for start-up failures.
//! - [`Proc`]: a server started in a chosen working directory (the harness's `Server` always
//!   runs in the test's directory), for the default store path.
//! - [`db_bytes`], [`history_texts`], [`account_names`]: what an SQLite store file holds, read
//!   after the server stopped.
//! - [`sqlite`]: the `--store sqlite:PATH` option value.
//!
//! A test file uses it with `mod common; mod common_store;`.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use crate::common::{BIN, DEADLINE};

/// A fresh, empty directory, removed (with its content) on drop.
pub struct TempDir {
    path: PathBuf,
}

impl TempDir {
    /// Creates `<tmp>/async-chat-<tag>-<pid>-<n>`.
    pub fn new(tag: &str) -> TempDir {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let path =
            std::env::temp_dir().join(format!("async-chat-{tag}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).expect("create the temp dir");
        TempDir { path }
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A path inside the directory.
    pub fn join(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// The `--store` value for an SQLite file.
pub fn sqlite(path: &Path) -> String {
    format!("sqlite:{}", path.display())
}

/// How a run of the binary ended.
#[derive(Debug)]
pub struct Finished {
    /// The exit status.
    pub status: ExitStatus,
    /// Everything on stdout.
    pub stdout: String,
    /// Everything on stderr.
    pub stderr: String,
}

/// Reads a pipe to its end in a thread; the handle gives the text (lossy UTF-8).
fn collect(mut pipe: impl Read + Send + 'static) -> thread::JoinHandle<String> {
    thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = pipe.read_to_end(&mut bytes);
        String::from_utf8_lossy(&bytes).into_owned()
    })
}

/// Waits for `child` to exit within `within`; kills it and fails the test if it does not.
fn wait_child(child: &mut Child, within: Duration, what: &str) -> ExitStatus {
    let deadline = Instant::now() + within;
    loop {
        if let Some(status) = child.try_wait().expect("poll the child") {
            return status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what} did not exit within {within:?}");
        }
        // Polling a child's exit status: there is no portable blocking wait with a timeout.
        thread::sleep(Duration::from_millis(10));
    }
}

/// Runs `async-chat <args>` in `cwd` and waits (at most [`DEADLINE`]) for it to exit by itself.
pub fn run_to_exit(cwd: &Path, args: &[&str]) -> Finished {
    let mut child = Command::new(BIN)
        .args(args)
        .current_dir(cwd)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the async-chat binary");
    let stdout = collect(child.stdout.take().expect("stdout is piped"));
    let stderr = collect(child.stderr.take().expect("stderr is piped"));
    let status = wait_child(&mut child, DEADLINE, &format!("async-chat {args:?}"));
    Finished {
        status,
        stdout: stdout.join().expect("stdout reader"),
        stderr: stderr.join().expect("stderr reader"),
    }
}

/// A server process started in a working directory of the test's choice; killed on drop.
pub struct Proc {
    child: Child,
    /// The address from its `server started on` line.
    pub addr: SocketAddr,
    stderr: Option<thread::JoinHandle<String>>,
}

impl Proc {
    /// Starts `async-chat <args>` (one server) in `cwd` and waits for its `server started on`
    /// line.
    pub fn start_in(cwd: &Path, args: &[&str]) -> Proc {
        let mut child = Command::new(BIN)
            .args(args)
            .current_dir(cwd)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start the async-chat binary");
        let stderr = collect(child.stderr.take().expect("stderr is piped"));
        let stdout = child.stdout.take().expect("stdout is piped");
        let (tx, rx) = mpsc::channel();
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    // Nobody listens any more; keep draining so the child never blocks.
                    continue;
                }
            }
        });
        let deadline = Instant::now() + DEADLINE;
        let mut seen = Vec::new();
        let addr = loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(line) => {
                    if let Some((_, addr)) = line.split_once("server started on ") {
                        break addr.trim().parse().expect("a socket address");
                    }
                    seen.push(line);
                }
                Err(_) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    let err = stderr.join().unwrap_or_default();
                    panic!(
                        "async-chat {args:?} in {cwd:?} did not start in time\n\
                         stdout: {seen:#?}\nstderr: {err}"
                    );
                }
            }
        };
        Proc {
            child,
            addr,
            stderr: Some(stderr),
        }
    }

    /// Sends SIGTERM and waits (at most [`DEADLINE`]) for the exit; returns its status.
    pub fn stop(&mut self) -> ExitStatus {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -TERM failed");
        wait_child(&mut self.child, DEADLINE, "async-chat after SIGTERM")
    }

    /// Everything the process wrote on stderr (call after [`Proc::stop`]).
    pub fn stderr(&mut self) -> String {
        self.stderr
            .take()
            .map(|h| h.join().unwrap_or_default())
            .unwrap_or_default()
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The bytes of an SQLite store: the database file, then its `-wal` and `-shm` files if present.
pub fn db_bytes(db: &Path) -> Vec<u8> {
    let mut bytes = std::fs::read(db).expect("read the database file");
    for suffix in ["-wal", "-shm"] {
        let mut name = db.as_os_str().to_owned();
        name.push(suffix);
        if let Ok(more) = std::fs::read(PathBuf::from(name)) {
            bytes.extend_from_slice(&more);
        }
    }
    bytes
}

/// Whether `haystack` contains `needle`.
pub fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// Opens a stopped server's database read-only.
fn open_db(db: &Path) -> rusqlite::Connection {
    rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
        .expect("open the database")
}

/// The stored texts of a room (`Some("#room")`, any spelling) or of `msgall` (`None`), in the
/// order they were written.
pub fn history_texts(db: &Path, room: Option<&str>) -> Vec<String> {
    let conn = open_db(db);
    let mut stmt = conn
        .prepare("SELECT room, text FROM history ORDER BY id")
        .expect("query the history table");
    let rows = stmt
        .query_map([], |r| {
            Ok((r.get::<_, Option<String>>(0)?, r.get::<_, String>(1)?))
        })
        .expect("read history rows");
    let want = room.map(str::to_lowercase);
    rows.map(|r| r.expect("a history row"))
        .filter(|(r, _)| r.as_deref().map(str::to_lowercase) == want)
        .map(|(_, text)| text)
        .collect()
}

/// The stored accounts: name and password hash.
pub fn account_names(db: &Path) -> Vec<(String, String)> {
    let conn = open_db(db);
    let mut stmt = conn
        .prepare("SELECT name, password_hash FROM accounts ORDER BY name")
        .expect("query the accounts table");
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .expect("read account rows")
        .map(|r| r.expect("an account row"))
        .collect()
}
