//! A black-box harness for the kernel: connections as plain values whose output is read as
//! strings (or JSON), through the public API only.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use chat_kernel::store::MemoryStore;
use chat_kernel::{
    Closing, Console, Flow, Input, Kernel, KernelConfig, Limits, Outbox, Refused, Store, Transport,
};

/// The server name every test connection comes in through.
pub const SERVER: &str = "test_chat";

/// The greeting, text form.
pub const GREETING: &str = "[SERVER INFO] - Welcome to test_chat! Type help for commands.";

/// How long a test waits for something that runs on the store thread.
pub const DEADLINE: Duration = Duration::from_secs(20);

/// Text form for TCP, no flood limit: the configuration most tests want.
pub fn quiet_config() -> KernelConfig {
    KernelConfig {
        limits: Limits {
            flood: None,
            ..Limits::default()
        },
        no_color: true,
    }
}

/// A kernel and the server name its connections use.
pub struct Chat {
    pub kernel: Kernel,
    server: Arc<str>,
    next_port: std::cell::Cell<u16>,
}

impl Chat {
    /// A kernel on a memory store with [`quiet_config`].
    pub fn new() -> Chat {
        Chat::with_config(quiet_config())
    }

    /// A kernel on a memory store.
    pub fn with_config(config: KernelConfig) -> Chat {
        Chat::with_store(config, Box::new(MemoryStore::default()))
    }

    /// A kernel on any store.
    pub fn with_store(config: KernelConfig, store: Box<dyn Store>) -> Chat {
        let kernel = Kernel::new(config, store, Console::stdout(false)).expect("kernel starts");
        Chat {
            kernel,
            server: Arc::from(SERVER),
            next_port: std::cell::Cell::new(40000),
        }
    }

    fn peer(&self, ip: [u8; 4]) -> SocketAddr {
        let port = self.next_port.get();
        self.next_port.set(port + 1);
        SocketAddr::from((ip, port))
    }

    /// Connects over `transport` from `ip`.
    pub fn try_connect_from(&self, transport: Transport, ip: [u8; 4]) -> Result<Client, Refused> {
        let conn = self
            .kernel
            .connect(&self.server, self.peer(ip), transport)?;
        Ok(Client {
            id: conn.id,
            outbox: conn.outbox,
            transport,
            kernel: self.kernel.clone(),
        })
    }

    /// Connects over `transport` from 127.0.0.1.
    pub fn try_connect(&self, transport: Transport) -> Result<Client, Refused> {
        self.try_connect_from(transport, [127, 0, 0, 1])
    }

    /// A TCP connection; its greeting is checked and consumed.
    pub fn connect(&self) -> Client {
        let c = self.try_connect(Transport::Tcp).expect("connect");
        c.take();
        c
    }

    /// A WebSocket connection; its greeting is checked and consumed.
    pub fn connect_ws(&self) -> Client {
        let c = self.try_connect(Transport::WebSocket).expect("connect");
        assert_eq!(c.take(), [GREETING]);
        c
    }

    /// A TCP connection logged in as a guest under `name`; its own output is consumed.
    pub fn login(&self, name: &str) -> Client {
        let c = self.connect();
        c.send(&format!("login {name}"));
        let out = c.take();
        assert_eq!(
            out.last().map(|l| strip_ansi(l)),
            Some(format!("[SYSTEM INFO] - [{name}] login to chat.")),
            "login {name}: {out:?}"
        );
        c
    }

    /// Waits until the store thread has done everything sent so far (password work included).
    pub fn sync(&self) {
        self.kernel.sync_store();
    }
}

/// One connection as the front-end sees it: an id and the outbox.
pub struct Client {
    pub id: chat_kernel::ConnId,
    pub outbox: Outbox,
    pub transport: Transport,
    kernel: Kernel,
}

/// Splits the bytes a connection's queue held into the payloads they carry: over TCP, lines,
/// each with its `\r\n`; over WebSocket, the bodies of unmasked, final text frames. Panics
/// on bytes that are neither (a payload cut short, a frame a server must not send).
pub fn split_payloads(mut bytes: &[u8], transport: Transport) -> Vec<Vec<u8>> {
    let mut payloads = Vec::new();
    while !bytes.is_empty() {
        let end = match transport {
            Transport::Tcp => {
                let end = bytes
                    .windows(2)
                    .position(|w| w == b"\r\n")
                    .unwrap_or_else(|| panic!("bytes without \\r\\n: {bytes:?}"));
                payloads.push(bytes[..end + 2].to_vec());
                end + 2
            }
            Transport::WebSocket => {
                assert_eq!(bytes[0], 0x81, "a final text frame: {bytes:?}");
                let (len, header) = match bytes[1] {
                    126 => (usize::from(u16::from_be_bytes([bytes[2], bytes[3]])), 4),
                    127 => {
                        let mut be = [0; 8];
                        be.copy_from_slice(&bytes[2..10]);
                        (usize::try_from(u64::from_be_bytes(be)).expect("length"), 10)
                    }
                    n if n < 126 => (usize::from(n), 2),
                    masked => panic!("a server frame is not masked: {masked:#x}"),
                };
                payloads.push(bytes[header..header + len].to_vec());
                header + len
            }
        };
        bytes = &bytes[end..];
    }
    payloads
}

/// A payload as a string: a TCP line with its `\r\n` line end checked and removed, a
/// WebSocket frame's body as it is (checked to have none).
pub fn payload_str(payload: &[u8], transport: Transport) -> String {
    let s = std::str::from_utf8(payload).expect("payload is UTF-8");
    match transport {
        Transport::Tcp => s
            .strip_suffix("\r\n")
            .unwrap_or_else(|| panic!("payload without \\r\\n: {s:?}"))
            .to_owned(),
        Transport::WebSocket => {
            assert!(!s.ends_with("\r\n"), "a frame carries no line end: {s:?}");
            s.to_owned()
        }
    }
}

/// Removes ANSI SGR sequences (`ESC [ ... m`).
pub fn strip_ansi(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find("\x1b[") {
        out.push_str(&rest[..i]);
        rest = &rest[i..];
        match rest.find('m') {
            Some(end) => rest = &rest[end + 1..],
            None => break,
        }
    }
    out.push_str(rest);
    out
}

/// Replaces a leading `[HH:MM:SS]` with `[T]`, so chat lines compare without the clock.
pub fn norm(line: &str) -> String {
    let b = line.as_bytes();
    let is_time = b.len() >= 10
        && b[0] == b'['
        && b[9] == b']'
        && b[3] == b':'
        && b[6] == b':'
        && [1, 2, 4, 5, 7, 8].iter().all(|&i| b[i].is_ascii_digit());
    if is_time {
        format!("[T]{}", &line[10..])
    } else {
        line.to_owned()
    }
}

impl Client {
    /// Sends one TCP line.
    pub fn send(&self, line: &str) -> Flow {
        self.kernel.handle(self.id, Input::Line(line))
    }

    /// Sends one unit of input.
    pub fn input(&self, input: Input<'_>) -> Flow {
        self.kernel.handle(self.id, input)
    }

    /// Sends one WebSocket text frame.
    pub fn frame(&self, text: &str) -> Flow {
        self.kernel.handle_frame(self.id, text)
    }

    /// The socket ended.
    pub fn disconnect(&self) {
        self.kernel.disconnect(self.id, "test disconnect");
    }

    /// Everything queued now, as the writer takes it: one buffer per push.
    pub fn take_queued(&self) -> Vec<Bytes> {
        let mut batch = Vec::new();
        self.outbox.try_batch(&mut batch);
        batch
    }

    /// Everything queued now, as raw payloads (see [`split_payloads`]).
    pub fn take_raw(&self) -> Vec<Vec<u8>> {
        self.take_queued()
            .iter()
            .map(|queued| {
                let mut payloads = split_payloads(queued, self.transport);
                assert_eq!(payloads.len(), 1, "one payload per push: {queued:?}");
                payloads.remove(0)
            })
            .collect()
    }

    /// Everything queued now, one string per payload (line end removed).
    pub fn take(&self) -> Vec<String> {
        self.take_raw()
            .iter()
            .map(|payload| payload_str(payload, self.transport))
            .collect()
    }

    /// Everything queued now, with chat-line times replaced by `[T]`.
    pub fn take_norm(&self) -> Vec<String> {
        self.take().iter().map(|l| norm(l)).collect()
    }

    /// Everything queued now, each payload parsed as JSON.
    pub fn take_json(&self) -> Vec<serde_json::Value> {
        self.take()
            .iter()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l:?}: {e}")))
            .collect()
    }

    /// Sends a line and returns what came back at once, times normalised.
    pub fn ask(&self, line: &str) -> Vec<String> {
        self.send(line);
        self.take_norm()
    }

    /// Sends a line and returns what came back at once, times kept.
    pub fn ask_raw(&self, line: &str) -> Vec<String> {
        self.send(line);
        self.take()
    }

    /// Sends a line and returns its JSON replies.
    pub fn ask_json(&self, line: &str) -> Vec<serde_json::Value> {
        self.send(line);
        self.take_json()
    }

    /// Collects output (times normalised) until there are `n` payloads, waiting on the store
    /// thread in between; fails after [`DEADLINE`].
    pub fn wait_lines(&self, chat: &Chat, n: usize) -> Vec<String> {
        let start = Instant::now();
        let mut out = Vec::new();
        loop {
            chat.sync();
            out.extend(self.take_norm());
            if out.len() >= n {
                return out;
            }
            assert!(
                start.elapsed() < DEADLINE,
                "waited for {n} lines, got {out:?}"
            );
        }
    }

    /// How the connection is closing, if it is.
    pub fn closing(&self) -> Option<Closing> {
        self.outbox.closing()
    }
}
