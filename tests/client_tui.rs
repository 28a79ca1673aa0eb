//! End to end: the real `async-chat client` in a real pseudo-terminal (tmux) against a real
//! server (`tokio_chat`; `bind tokio` for the WebSocket variant), with a raw TCP test client as
//! the other user.
//!
//! alice types in the TUI (over TCP, or over WebSocket), bob (raw TCP, text form) receives it;
//! bob answers, and the answer is read back from the tmux pane. `/quit` then ends the client with status 0. Everything is
//! waited for with deadlines; the tmux server and the chat server are killed at the end, also
//! when an assertion fails.
//!
//! A third test points the client at the other transport's port (a WebSocket server's port as
//! a TCP address, a TCP server's as a `ws://` URL): it exits with status 1 and names the address
//! to use, instead of retrying forever.

use std::io::{BufRead, BufReader, ErrorKind, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const BIN: &str = env!("CARGO_BIN_EXE_async-chat");
const DEADLINE: Duration = Duration::from_secs(20);
const POLL: Duration = Duration::from_millis(50);
const SESSION: &str = "alice";

/// Kills the tmux server and the chat server and removes the temp dir when the test ends,
/// however it ends.
struct Cleanup {
    /// The tmux server's own socket, inside `dir` (so no other tmux is touched).
    tmux_socket: PathBuf,
    server: Option<Child>,
    dir: PathBuf,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .arg("-S")
            .arg(&self.tmux_socket)
            .arg("kill-server")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        if let Some(server) = &mut self.server {
            let _ = server.kill();
            let _ = server.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Cleanup {
    fn tmux(&self, args: &[&str]) -> Output {
        let output = Command::new("tmux")
            .arg("-S")
            .arg(&self.tmux_socket)
            .args(args)
            .output()
            .expect("tmux must be installed for this test (apt-get install tmux)");
        assert!(
            output.status.success(),
            "tmux {args:?} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        output
    }

    /// The visible text of alice's pane (lines that wrapped joined again).
    fn screen(&self) -> String {
        String::from_utf8_lossy(
            &self
                .tmux(&["capture-pane", "-p", "-J", "-t", SESSION])
                .stdout,
        )
        .into_owned()
    }

    /// Waits until the pane shows every one of `wanted`; returns the screen.
    fn wait_screen(&self, wanted: &[&str]) -> String {
        let end = Instant::now() + DEADLINE;
        loop {
            let screen = self.screen();
            if wanted.iter().all(|w| screen.contains(w)) {
                return screen;
            }
            assert!(
                Instant::now() < end,
                "the client screen never showed {wanted:?}; it shows:\n{screen}"
            );
            std::thread::sleep(POLL);
        }
    }

    /// Types `text` into alice's pane, then Enter.
    fn type_line(&self, text: &str) {
        self.tmux(&["send-keys", "-t", SESSION, "-l", text]);
        self.tmux(&["send-keys", "-t", SESSION, "Enter"]);
    }
}

/// Starts the binary with `args` (servers on port 0) and returns it with the port of each of
/// `servers`, read from the `[NAME] - [SERVER INFO] - server started on 127.0.0.1:PORT` lines.
fn start_server(args: &[&str], servers: &[&str]) -> (Child, Vec<u16>) {
    let mut server = Command::new(BIN)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start the server");
    let stdout = server.stdout.take().expect("piped stdout");
    let (tx, rx) = mpsc::channel();
    // Keeps draining the console so the server never blocks on a full pipe.
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            // Once nobody listens, keep reading anyway to keep the pipe open.
            let _ = tx.send(line);
        }
    });
    let end = Instant::now() + DEADLINE;
    let marker = "- [SERVER INFO] - server started on 127.0.0.1:";
    let mut ports: Vec<Option<u16>> = vec![None; servers.len()];
    while ports.iter().any(Option::is_none) {
        let left = end.saturating_duration_since(Instant::now());
        let line = match rx.recv_timeout(left) {
            Ok(line) => line,
            Err(e) => {
                let _ = server.kill();
                let _ = server.wait();
                panic!("no '{marker}PORT' line for each of {servers:?} on stdout: {e}");
            }
        };
        let Some((name, port)) = line.split_once(marker) else {
            continue;
        };
        let name = name.trim().trim_start_matches('[').trim_end_matches(']');
        if let (Some(i), Ok(port)) = (servers.iter().position(|s| *s == name), port.trim().parse())
        {
            ports[i] = Some(port);
        }
    }
    (server, ports.into_iter().flatten().collect())
}

/// `bind tokio`: tokio_chat and tokio_ws_chat on one kernel; their ports, TCP first.
fn start_tokio_tcp_and_ws() -> (Child, Vec<u16>) {
    start_server(
        &[
            "bind",
            "tokio",
            "--base-port",
            "0",
            "--store",
            "memory",
            "--no-color",
        ],
        &["tokio_chat", "tokio_ws_chat"],
    )
}

/// A raw TCP chat user.
struct TcpUser {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
    buf: Vec<u8>,
}

impl TcpUser {
    fn connect(port: u16) -> Self {
        let stream = TcpStream::connect(("127.0.0.1", port)).expect("connect to the server");
        stream
            .set_read_timeout(Some(POLL))
            .expect("set a read timeout");
        let writer = stream.try_clone().expect("clone the socket");
        TcpUser {
            reader: BufReader::new(stream),
            writer,
            buf: Vec::new(),
        }
    }

    fn send(&mut self, line: &str) {
        self.writer
            .write_all(format!("{line}\r\n").as_bytes())
            .expect("send a line");
    }

    /// Reads lines until one contains `wanted`; returns it.
    fn wait_line(&mut self, wanted: &str) -> String {
        let end = Instant::now() + DEADLINE;
        let mut seen = Vec::new();
        loop {
            assert!(
                Instant::now() < end,
                "bob never received a line with {wanted:?}; he got {seen:#?}"
            );
            match self.reader.read_until(b'\n', &mut self.buf) {
                Ok(0) => panic!("the server closed bob's connection; he got {seen:#?}"),
                Ok(_) if self.buf.ends_with(b"\n") => {
                    let line = String::from_utf8_lossy(&self.buf).trim_end().to_owned();
                    self.buf.clear();
                    if line.contains(wanted) {
                        return line;
                    }
                    seen.push(line);
                }
                Ok(_) => {}
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
                Err(e) => panic!("reading bob's socket failed: {e}"),
            }
        }
    }
}

fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// A temp dir, the tmux server of the test and (once started) the chat server.
fn setup() -> Cleanup {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let dir = std::env::temp_dir().join(format!(
        "async-chat-client-e2e-{}-{}-{nanos}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir).expect("create a temp dir");
    Cleanup {
        tmux_socket: dir.join("tmux.sock"),
        server: None,
        dir,
    }
}

/// Starts `async-chat client CLIENT_ARGS` in alice's tmux pane; returns the file that the
/// shell around it writes the client's exit status to.
fn start_client(cleanup: &Cleanup, client_args: &[&str]) -> PathBuf {
    // A config of our own: the pane stays after the client exits (so that a failure shows what
    // the client printed), no status bar, no user config.
    let conf = cleanup.dir.join("tmux.conf");
    std::fs::write(&conf, "set -g remain-on-exit on\nset -g status off\n")
        .expect("write the tmux config");
    let status_file = cleanup.dir.join("client-exit-status");
    let args: Vec<String> = client_args.iter().map(|a| shell_quote(a)).collect();
    let client = format!(
        "{} client {}; echo $? > {}",
        shell_quote(BIN),
        args.join(" "),
        shell_quote(status_file.to_str().expect("utf-8 temp path"))
    );
    cleanup.tmux(&[
        "-f",
        conf.to_str().expect("utf-8 temp path"),
        "new-session",
        "-d",
        "-s",
        SESSION,
        "-x",
        "120",
        "-y",
        "35",
        &client,
    ]);
    status_file
}

/// Waits for the client to exit; returns its exit status. The shell around the client writes
/// it to a file (tmux's own #{pane_dead_status} is not reliable: tmux 3.3 can miss the
/// SIGCHLD).
fn wait_exit_status(cleanup: &Cleanup, status_file: &PathBuf) -> String {
    let end = Instant::now() + DEADLINE;
    loop {
        let status = std::fs::read_to_string(status_file).unwrap_or_default();
        if status.ends_with('\n') {
            return status.trim().to_owned();
        }
        assert!(
            Instant::now() < end,
            "the client did not exit:\n{}",
            cleanup.screen()
        );
        std::thread::sleep(POLL);
    }
}

/// bob (raw TCP on `tcp_port`) and alice (the TUI client connecting to `client_addr`) chat;
/// alice then quits with `/quit`.
fn chat(cleanup: &Cleanup, tcp_port: u16, client_addr: &str) {
    let mut bob = TcpUser::connect(tcp_port);
    bob.send("login bob");
    bob.wait_line("[SYSTEM INFO] - [bob] login to chat.");
    let status_file = start_client(cleanup, &[client_addr, "--name", "alice"]);

    // alice logs in at start (--name) and sees it on her screen; bob sees it too.
    cleanup.wait_screen(&["[alice] login to chat.", "connected", "bob"]);
    bob.wait_line("[SYSTEM INFO] - [alice] login to chat.");

    // Plain text goes to everyone (the default target).
    cleanup.type_line("hello from the terminal");
    let line = bob.wait_line("[alice]: hello from the terminal");
    assert!(line.starts_with('['), "a chat line with its time: {line}");

    // bob answers privately and to everyone; both show up in alice's log.
    bob.send("msg alice hi alice, bob here");
    bob.send("msgall   spaced  out");
    let screen =
        cleanup.wait_screen(&["[bob][->][alice]: hi alice, bob here", "[bob]: spaced  out"]);
    assert!(
        screen.contains("to: all"),
        "the status line names the target:\n{screen}"
    );

    // A slash command goes out as the protocol command.
    cleanup.type_line("/msg bob typed as a command");
    bob.wait_line("[alice][->][bob]: typed as a command");

    // /quit ends the client cleanly: bob sees alice leave and the client exits with 0.
    cleanup.type_line("/quit");
    bob.wait_line("[SYSTEM INFO] - [alice] logout from chat.");
    assert_eq!(
        wait_exit_status(cleanup, &status_file),
        "0",
        "the client did not exit with status 0:\n{}",
        cleanup.screen()
    );
}

#[test]
fn tui_client_chats_with_a_tcp_user() {
    let mut cleanup = setup();
    let (server, ports) = start_server(
        &[
            "tokio_chat",
            "--port",
            "0",
            "--store",
            "memory",
            "--no-color",
        ],
        &["tokio_chat"],
    );
    cleanup.server = Some(server);
    chat(&cleanup, ports[0], &format!("127.0.0.1:{}", ports[0]));
}

#[test]
fn tui_client_over_websocket_chats_with_a_tcp_user() {
    let mut cleanup = setup();
    // tokio_chat and tokio_ws_chat on one kernel: alice on WebSocket, bob on TCP.
    let (server, ports) = start_tokio_tcp_and_ws();
    cleanup.server = Some(server);
    chat(&cleanup, ports[0], &format!("ws://127.0.0.1:{}", ports[1]));
}

#[test]
fn a_client_pointed_at_the_other_transport_says_which_address_to_use() {
    let mut cleanup = setup();
    let (server, ports) = start_tokio_tcp_and_ws();
    cleanup.server = Some(server);
    let (tcp, ws) = (ports[0], ports[1]);

    // The WebSocket server's port as a TCP address: it answers in HTTP.
    let status_file = start_client(&cleanup, &[&format!("127.0.0.1:{ws}"), "--name", "alice"]);
    assert_eq!(wait_exit_status(&cleanup, &status_file), "1");
    cleanup.wait_screen(&[&format!("connect to ws://127.0.0.1:{ws})")]);
    cleanup.tmux(&["kill-session", "-t", SESSION]);
    let _ = std::fs::remove_file(&status_file);

    // The TCP server's port as a ws:// URL: it greets instead of answering the handshake.
    let url = format!("ws://127.0.0.1:{tcp}");
    let status_file = start_client(&cleanup, &[&url, "--name", "alice"]);
    assert_eq!(wait_exit_status(&cleanup, &status_file), "1");
    cleanup.wait_screen(&[&format!("connect to 127.0.0.1:{tcp})")]);
}
