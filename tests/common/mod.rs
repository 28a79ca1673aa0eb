//! Shared end-to-end harness: the real `async-chat` binary, real sockets, deadlines everywhere.
//!
//! - [`Server`] starts the binary with some arguments, reads its stdout until every expected
//!   `server started on 127.0.0.1:PORT` line is there, keeps draining stdout (and stderr) in
//!   threads so tests can wait for console lines, can send SIGTERM, and kills the child on drop.
//! - [`Client`] is a line-based TCP test client: `send`, `read_line`, `expect_line`,
//!   `expect_matching`, `expect_chat`, `expect_closed`, `expect_no_line_within`; every wait has
//!   a deadline ([`DEADLINE`]) and a failure shows what was received.
//! - [`per_runtime!`] runs one test body on `tokio_chat`, `async_std_chat` and `smol_chat`.
//!
//! ```ignore
//! mod common;
//! use common::*;
//!
//! fn whoami(server_name: &str) {
//!     let server = Server::chat(server_name, &[]);
//!     let mut alice = server.login("alice");
//!     alice.send("whoami");
//!     alice.expect_line("[INFO] - alice");
//! }
//! per_runtime!(whoami);
//! ```

#![allow(dead_code)]

use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_async-chat");

/// The TCP servers, one per runtime.
pub const RUNTIMES: [&str; 3] = ["tokio_chat", "async_std_chat", "smol_chat"];

/// How long any awaited event may take before the test fails. Generous, because tests run in
/// parallel on small machines; it costs nothing when things work.
pub const DEADLINE: Duration = Duration::from_secs(10);

/// Runs a test body `fn(&str)` once per TCP server: defines a module named like the function
/// with one `#[test]` per runtime (`tokio_chat`, `async_std_chat`, `smol_chat`).
macro_rules! per_runtime {
    ($($body:ident),+ $(,)?) => {
        $(
            mod $body {
                #[test]
                fn tokio_chat() {
                    super::$body("tokio_chat");
                }
                #[test]
                fn async_std_chat() {
                    super::$body("async_std_chat");
                }
                #[test]
                fn smol_chat() {
                    super::$body("smol_chat");
                }
            }
        )+
    };
}
pub(crate) use per_runtime;

/// Lines a child wrote to one of its pipes, shared with the thread that drains the pipe.
#[derive(Default)]
pub struct Lines {
    state: Mutex<LinesState>,
    changed: Condvar,
}

#[derive(Default)]
struct LinesState {
    lines: Vec<String>,
    closed: bool,
}

impl Lines {
    /// Drains `pipe` in a thread, line by line (lossy UTF-8, line end removed).
    fn drain(pipe: impl Read + Send + 'static) -> Arc<Lines> {
        let lines = Arc::new(Lines::default());
        let shared = lines.clone();
        thread::spawn(move || {
            let mut reader = BufReader::new(pipe);
            let mut buf = Vec::new();
            loop {
                buf.clear();
                match reader.read_until(b'\n', &mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {
                        let line = String::from_utf8_lossy(&buf);
                        let line = line.trim_end_matches(['\r', '\n']).to_owned();
                        shared.state.lock().unwrap().lines.push(line);
                        shared.changed.notify_all();
                    }
                }
            }
            shared.state.lock().unwrap().closed = true;
            shared.changed.notify_all();
        });
        lines
    }

    /// Everything so far.
    pub fn snapshot(&self) -> Vec<String> {
        self.state.lock().unwrap().lines.clone()
    }

    /// Waits (with a deadline) until `count` lines from index `from` on satisfy `pred`;
    /// returns them, or `Err` with everything seen when the deadline passes or the pipe closes.
    fn wait_for(
        &self,
        from: usize,
        count: usize,
        within: Duration,
        pred: impl Fn(&str) -> bool,
    ) -> Result<Vec<String>, Vec<String>> {
        let deadline = Instant::now() + within;
        let mut st = self.state.lock().unwrap();
        loop {
            let found: Vec<String> = st.lines[from.min(st.lines.len())..]
                .iter()
                .filter(|l| pred(l))
                .cloned()
                .collect();
            if found.len() >= count {
                return Ok(found);
            }
            let now = Instant::now();
            if st.closed || now >= deadline {
                return Err(st.lines.clone());
            }
            st = self.changed.wait_timeout(st, deadline - now).unwrap().0;
        }
    }
}

/// A running `async-chat` process; killed when dropped.
pub struct Server {
    child: Child,
    started: Instant,
    /// Every `server started` line: server name and address, in the order printed.
    pub servers: Vec<(String, SocketAddr)>,
    /// The process's stdout (the server console), line by line.
    pub console: Arc<Lines>,
    /// The process's stderr, line by line.
    pub stderr: Arc<Lines>,
}

/// Parses `[name] - [SERVER INFO] - server started on ADDR`.
fn parse_started(line: &str) -> Option<(String, SocketAddr)> {
    let rest = line.strip_prefix('[')?;
    let (name, rest) = rest.split_once("] - [SERVER INFO] - server started on ")?;
    Some((name.to_owned(), rest.trim().parse().ok()?))
}

impl Server {
    /// Starts `async-chat <args>` and waits until `servers` servers have printed their
    /// `server started on` line.
    pub fn start(args: &[&str], servers: usize) -> Server {
        Server::spawn(Command::new(BIN).args(args), args, servers)
    }

    /// Like [`Server::start`], with the process's open-file limit (`ulimit -n`) set to `limit`.
    pub fn start_with_fd_limit(args: &[&str], servers: usize, limit: u32) -> Server {
        let mut command = Command::new("sh");
        command
            .arg("-c")
            .arg(format!("ulimit -n {limit} && exec \"$0\" \"$@\""))
            .arg(BIN)
            .args(args);
        Server::spawn(&mut command, args, servers)
    }

    fn spawn(command: &mut Command, args: &[&str], servers: usize) -> Server {
        let mut child = command
            .env_remove("NO_COLOR")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start the async-chat binary");
        let console = Lines::drain(child.stdout.take().expect("stdout is piped"));
        let stderr = Lines::drain(child.stderr.take().expect("stderr is piped"));
        let mut server = Server {
            child,
            started: Instant::now(),
            servers: Vec::new(),
            console,
            stderr,
        };
        match server
            .console
            .wait_for(0, servers, DEADLINE, |l| parse_started(l).is_some())
        {
            Ok(lines) => server.servers = lines.iter().filter_map(|l| parse_started(l)).collect(),
            Err(seen) => panic!(
                "async-chat {args:?} did not print {servers} `server started` line(s) in time\n\
                 stdout: {seen:#?}\nstderr: {:#?}",
                server.stderr.snapshot()
            ),
        }
        server
    }

    /// Starts one TCP server (`tokio_chat`, `async_std_chat` or `smol_chat`) on a free port
    /// with the memory store and `--no-color`, plus `extra` options.
    pub fn chat(name: &str, extra: &[&str]) -> Server {
        let mut args = vec![name, "--port", "0", "--store", "memory", "--no-color"];
        args.extend_from_slice(extra);
        Server::start(&args, 1)
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Time since the process was started.
    pub fn uptime(&self) -> Duration {
        self.started.elapsed()
    }

    /// The address of the only (or first) server.
    pub fn addr(&self) -> SocketAddr {
        self.servers[0].1
    }

    /// The name of the only (or first) server.
    pub fn name(&self) -> &str {
        &self.servers[0].0
    }

    /// The address of the server called `name`.
    pub fn addr_of(&self, name: &str) -> SocketAddr {
        self.servers
            .iter()
            .find(|(n, _)| n == name)
            .unwrap_or_else(|| panic!("no server {name} in {:?}", self.servers))
            .1
    }

    /// Connects to the first server and reads its greeting.
    pub fn client(&self) -> Client {
        self.client_on(&self.servers[0].0.clone())
    }

    /// Connects to the server called `name` and reads its greeting.
    pub fn client_on(&self, name: &str) -> Client {
        let mut client = Client::connect(self.addr_of(name));
        client.expect_line(&format!(
            "[SERVER INFO] - Welcome to {name}! Type help for commands."
        ));
        client
    }

    /// Connects to the first server and logs in as `user` (greeting and own login line read).
    pub fn login(&self, user: &str) -> Client {
        self.login_on(&self.servers[0].0.clone(), user)
    }

    /// Connects to the server called `name` and logs in as `user`.
    pub fn login_on(&self, name: &str, user: &str) -> Client {
        let mut client = self.client_on(name);
        client.send(&format!("login {user}"));
        client.expect_line(&format!("[SYSTEM INFO] - [{user}] login to chat."));
        client
    }

    /// Waits for a console line containing `needle` (printed since the start); returns it.
    pub fn expect_console(&self, needle: &str) -> String {
        self.expect_console_count(needle, 1).remove(0)
    }

    /// Waits until `count` console lines contain `needle`; returns them.
    pub fn expect_console_count(&self, needle: &str, count: usize) -> Vec<String> {
        self.console
            .wait_for(0, count, DEADLINE, |l| l.contains(needle))
            .unwrap_or_else(|seen| {
                panic!("console: no {count} line(s) with {needle:?} in time; got {seen:#?}")
            })
    }

    /// Whether a console line containing `needle` was printed already (no waiting).
    pub fn console_has(&self, needle: &str) -> bool {
        self.console.snapshot().iter().any(|l| l.contains(needle))
    }

    /// Sends SIGTERM to the process.
    pub fn sigterm(&self) {
        signal(&self.child, "TERM");
    }

    /// Waits for the process to exit within `within`; fails the test if it does not.
    pub fn wait_exit(&mut self, within: Duration) -> ExitStatus {
        wait_child(&mut self.child, within).unwrap_or_else(|| {
            panic!(
                "async-chat did not exit within {within:?}\nstdout: {:#?}\nstderr: {:#?}",
                self.console.snapshot(),
                self.stderr.snapshot()
            )
        })
    }
}

/// Sends the signal `name` (`TERM`, `INT`, ...) to `child`; fails the test if `kill` does.
pub fn signal(child: &Child, name: &str) {
    let status = Command::new("kill")
        .args([&format!("-{name}"), &child.id().to_string()])
        .status()
        .expect("run kill");
    assert!(status.success(), "kill -{name} failed");
}

/// Waits up to `within` for `child` to exit: its status, or `None` if it is still running.
pub fn wait_child(child: &mut Child, within: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + within;
    loop {
        if let Some(status) = child.try_wait().expect("poll the child") {
            return Some(status);
        }
        if Instant::now() >= deadline {
            return None;
        }
        // Polling a child's exit status: there is no portable blocking wait with a timeout.
        thread::sleep(Duration::from_millis(10));
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Whether `line` is a chat line: `[HH:MM:SS]` followed by `rest`.
pub fn is_chat(line: &str, rest: &str) -> bool {
    let b = line.as_bytes();
    b.len() >= 10
        && b[0] == b'['
        && b[9] == b']'
        && b[1..9].iter().enumerate().all(|(i, c)| {
            if i % 3 == 2 {
                *c == b':'
            } else {
                c.is_ascii_digit()
            }
        })
        && &line[10..] == rest
}

/// What a read with a deadline found.
#[derive(Debug, PartialEq, Eq)]
pub enum Read1 {
    /// A complete line, `\r\n` removed.
    Line(String),
    /// The server closed the connection (EOF or reset); the partial data left, if any.
    Closed(Vec<u8>),
    /// Nothing complete within the time.
    Timeout,
}

/// A TCP test client reading `\r\n`-terminated lines with deadlines.
pub struct Client {
    stream: TcpStream,
    buf: Vec<u8>,
    /// Every line read so far, for failure messages.
    seen: Vec<String>,
}

impl Client {
    /// Connects to `addr` (no greeting read).
    pub fn connect(addr: SocketAddr) -> Client {
        let stream = TcpStream::connect(addr).expect("connect to the chat server");
        stream.set_nodelay(true).expect("set_nodelay");
        Client {
            stream,
            buf: Vec::new(),
            seen: Vec::new(),
        }
    }

    /// The socket, for tests that need it raw.
    pub fn stream(&self) -> &TcpStream {
        &self.stream
    }

    /// A second handle on the socket, e.g. to write from another thread while this one reads.
    pub fn writer(&self) -> TcpStream {
        self.stream.try_clone().expect("clone the socket")
    }

    /// The client's own address, as the server's console prints it.
    pub fn local_addr(&self) -> SocketAddr {
        self.stream.local_addr().expect("local_addr")
    }

    /// Sends `line` followed by `\r\n`.
    pub fn send(&mut self, line: &str) {
        self.send_raw(format!("{line}\r\n").as_bytes());
    }

    /// Sends bytes as they are.
    pub fn send_raw(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).expect("write to the server");
    }

    /// Reads one line or EOF, waiting at most `within`.
    pub fn read_within(&mut self, within: Duration) -> Read1 {
        let deadline = Instant::now() + within;
        let mut chunk = [0u8; 8192];
        loop {
            if let Some(pos) = self.buf.windows(2).position(|w| w == b"\r\n") {
                let line: Vec<u8> = self.buf.drain(..pos + 2).take(pos).collect();
                let line = String::from_utf8(line).expect("server sent invalid UTF-8");
                self.seen.push(line.clone());
                return Read1::Line(line);
            }
            let now = Instant::now();
            if now >= deadline {
                return Read1::Timeout;
            }
            self.stream
                .set_read_timeout(Some(deadline - now))
                .expect("set_read_timeout");
            match self.stream.read(&mut chunk) {
                Ok(0) => return Read1::Closed(std::mem::take(&mut self.buf)),
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                    return Read1::Timeout;
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(_) => return Read1::Closed(std::mem::take(&mut self.buf)),
            }
        }
    }

    /// Reads one line (fails the test on timeout or close).
    pub fn read_line(&mut self) -> String {
        match self.read_within(DEADLINE) {
            Read1::Line(line) => line,
            other => panic!(
                "expected a line, got {other:?}; lines so far: {:#?}",
                self.seen
            ),
        }
    }

    /// Reads one line and checks it is exactly `expected`.
    pub fn expect_line(&mut self, expected: &str) {
        let line = self.read_line();
        assert_eq!(
            line, expected,
            "unexpected line; lines so far: {:#?}",
            self.seen
        );
    }

    /// Reads lines and checks them, in order, against `expected`.
    pub fn expect_lines(&mut self, expected: &[&str]) {
        for line in expected {
            self.expect_line(line);
        }
    }

    /// Reads one line and checks it satisfies `pred` (`what` describes it); returns it.
    pub fn expect_matching(&mut self, what: &str, pred: impl Fn(&str) -> bool) -> String {
        let line = self.read_line();
        assert!(
            pred(&line),
            "expected {what}, got {line:?}; lines so far: {:#?}",
            self.seen
        );
        line
    }

    /// Reads one chat line `[HH:MM:SS]<rest>`.
    pub fn expect_chat(&mut self, rest: &str) -> String {
        self.expect_matching(&format!("[HH:MM:SS]{rest}"), |l| is_chat(l, rest))
    }

    /// Checks the server closes the connection without sending anything more.
    pub fn expect_closed(&mut self) {
        match self.read_within(DEADLINE) {
            Read1::Closed(rest) if rest.is_empty() => {}
            other => panic!(
                "expected the connection to close, got {other:?}; lines so far: {:#?}",
                self.seen
            ),
        }
    }

    /// Reads (and discards) everything until the server closes the connection; returns the
    /// number of bytes read. Fails if it is not closed within `within`.
    pub fn drain_until_closed(&mut self, within: Duration) -> usize {
        let deadline = Instant::now() + within;
        let mut total = std::mem::take(&mut self.buf).len();
        let mut chunk = vec![0u8; 64 * 1024];
        loop {
            let now = Instant::now();
            assert!(now < deadline, "connection not closed within {within:?}");
            self.stream
                .set_read_timeout(Some(deadline - now))
                .expect("set_read_timeout");
            match self.stream.read(&mut chunk) {
                Ok(0) => return total,
                Ok(n) => total += n,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
                Err(_) => return total,
            }
        }
    }

    /// Checks that no line arrives within `within` (use only where absence must be proven).
    pub fn expect_no_line_within(&mut self, within: Duration) {
        match self.read_within(within) {
            Read1::Timeout => {}
            other => panic!(
                "expected nothing for {within:?}, got {other:?}; lines so far: {:#?}",
                self.seen
            ),
        }
    }

    /// Closes the sending side (the server sees EOF).
    pub fn shutdown_write(&self) {
        self.stream.shutdown(Shutdown::Write).expect("shutdown");
    }

    /// Drops the connection with a TCP reset instead of a FIN: asks for `help`, waits until the
    /// reply is in the socket's receive buffer without reading it, then closes; closing a socket
    /// with unread data makes the OS send a RST.
    pub fn reset(mut self) {
        self.send("help");
        self.stream
            .set_read_timeout(Some(DEADLINE))
            .expect("set_read_timeout");
        let mut byte = [0u8; 1];
        let peeked = self.stream.peek(&mut byte).expect("peek at the help reply");
        assert!(peeked > 0, "server closed before the reset");
        drop(self);
    }
}
