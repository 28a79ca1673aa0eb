//! WebSocket and raw-HTTP test clients for the WebSocket servers, on top of `common` (which
//! starts the binary). Every wait has a deadline ([`DEADLINE`]).
//!
//! - [`per_ws_runtime!`] runs one test body on `tokio_ws_chat`, `async_std_ws_chat` and
//!   `smol_ws_chat`.
//! - [`ws_server`] starts one WebSocket server on a free port with the memory store.
//! - [`WsClient`] is a synchronous tungstenite client with read timeouts: `send`,
//!   `expect_text`, `expect_chat`, `expect_close`, ...
//! - [`http`] sends raw bytes to a port and reads the whole response until the server closes.
//!
//! ```ignore
//! mod common;
//! mod common_ws;
//! use common_ws::*;
//!
//! fn whoami(server_name: &str) {
//!     let server = ws_server(server_name, &[]);
//!     let mut alice = ws_login(&server, "alice");
//!     alice.send("whoami");
//!     alice.expect_text("[INFO] - alice");
//! }
//! per_ws_runtime!(whoami);
//! ```

#![allow(dead_code)]

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use tungstenite::protocol::CloseFrame;
use tungstenite::protocol::frame::Frame;
use tungstenite::protocol::frame::coding::{Data as OpData, OpCode};
use tungstenite::{Bytes, Message, WebSocket};

use crate::common::{DEADLINE, Server, is_chat};

/// Runs a test body `fn(&str)` once per WebSocket server: defines a module named like the
/// function with one `#[test]` per runtime (`tokio_ws_chat`, `async_std_ws_chat`, `smol_ws_chat`).
macro_rules! per_ws_runtime {
    ($($body:ident),+ $(,)?) => {
        $(
            mod $body {
                #[test]
                fn tokio_ws_chat() {
                    super::$body("tokio_ws_chat");
                }
                #[test]
                fn async_std_ws_chat() {
                    super::$body("async_std_ws_chat");
                }
                #[test]
                fn smol_ws_chat() {
                    super::$body("smol_ws_chat");
                }
            }
        )+
    };
}
pub(crate) use per_ws_runtime;

/// Starts one WebSocket server (`tokio_ws_chat`, ...) on a free port with the memory store,
/// plus `extra` options.
pub fn ws_server(name: &str, extra: &[&str]) -> Server {
    let mut args = vec![name, "--port", "0", "--store", "memory"];
    args.extend_from_slice(extra);
    Server::start(&args, 1)
}

/// The greeting a server called `name` sends first.
pub fn greeting(name: &str) -> String {
    format!("[SERVER INFO] - Welcome to {name}! Type help for commands.")
}

/// Connects a WebSocket client to the first server of `server` (path `/`) and reads the greeting.
pub fn ws_client(server: &Server) -> WsClient {
    ws_client_on(server, &server.servers[0].0.clone())
}

/// Connects a WebSocket client to the server called `name` and reads the greeting.
pub fn ws_client_on(server: &Server, name: &str) -> WsClient {
    let mut client = WsClient::connect(server.addr_of(name), "/");
    client.expect_text(&greeting(name));
    client
}

/// Connects to the first server and logs in as `user` (greeting and own login line read).
pub fn ws_login(server: &Server, user: &str) -> WsClient {
    ws_login_on(server, &server.servers[0].0.clone(), user)
}

/// Connects to the server called `name` and logs in as `user`.
pub fn ws_login_on(server: &Server, name: &str, user: &str) -> WsClient {
    let mut client = ws_client_on(server, name);
    client.send(&format!("login {user}"));
    client.expect_text(&format!("[SYSTEM INFO] - [{user}] login to chat."));
    client
}

/// What one read with a deadline found.
#[derive(Debug, PartialEq, Eq)]
pub enum WsRead {
    /// A text frame.
    Text(String),
    /// A binary frame.
    Binary(Vec<u8>),
    /// A ping (tungstenite queues the pong; it goes out with the next read or write).
    Ping(Vec<u8>),
    /// A pong.
    Pong(Vec<u8>),
    /// A close frame: code and reason.
    Close(Option<(u16, String)>),
    /// The connection ended (after a close handshake, or not): the error text.
    Ended(String),
    /// Nothing within the time.
    Timeout,
}

/// A synchronous WebSocket test client.
pub struct WsClient {
    ws: WebSocket<TcpStream>,
    /// Everything read so far, for failure messages.
    seen: Vec<String>,
}

impl WsClient {
    /// Opens a WebSocket to `ws://addr<path>` (nothing read after the handshake).
    pub fn connect(addr: SocketAddr, path: &str) -> WsClient {
        let stream = TcpStream::connect(addr).expect("connect to the WebSocket server");
        stream.set_nodelay(true).expect("set_nodelay");
        stream
            .set_read_timeout(Some(DEADLINE))
            .expect("set_read_timeout");
        let url = format!("ws://{addr}{path}");
        let (ws, response) = tungstenite::client(url.as_str(), stream)
            .unwrap_or_else(|e| panic!("WebSocket handshake with {url} failed: {e}"));
        assert_eq!(response.status(), 101);
        WsClient {
            ws,
            seen: Vec::new(),
        }
    }

    /// The socket, for tests that read or write raw bytes.
    pub fn stream(&mut self) -> &mut TcpStream {
        self.ws.get_mut()
    }

    /// Sends one text frame.
    pub fn send(&mut self, text: &str) {
        self.send_message(Message::text(text));
    }

    /// Sends any message (flushed).
    pub fn send_message(&mut self, message: Message) {
        self.ws.send(message).expect("send to the WebSocket server");
    }

    /// Sends a text frame whose payload is `bytes` as they are (e.g. invalid UTF-8).
    pub fn send_raw_text(&mut self, bytes: &'static [u8]) {
        let frame = Frame::message(Bytes::from_static(bytes), OpCode::Data(OpData::Text), true);
        self.send_message(Message::Frame(frame));
    }

    /// Reads one message, waiting at most `within`.
    pub fn read_within(&mut self, within: Duration) -> WsRead {
        let timeout = within.max(Duration::from_millis(1));
        self.ws
            .get_mut()
            .set_read_timeout(Some(timeout))
            .expect("set_read_timeout");
        let read = match self.ws.read() {
            Ok(Message::Text(text)) => WsRead::Text(text.to_string()),
            Ok(Message::Binary(data)) => WsRead::Binary(data.to_vec()),
            Ok(Message::Ping(data)) => WsRead::Ping(data.to_vec()),
            Ok(Message::Pong(data)) => WsRead::Pong(data.to_vec()),
            Ok(Message::Close(frame)) => WsRead::Close(
                frame.map(|CloseFrame { code, reason }| (u16::from(code), reason.to_string())),
            ),
            Ok(Message::Frame(_)) => unreachable!("tungstenite never reads raw frames"),
            Err(tungstenite::Error::Io(e))
                if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) =>
            {
                WsRead::Timeout
            }
            Err(e) => WsRead::Ended(e.to_string()),
        };
        self.seen.push(format!("{read:?}"));
        read
    }

    /// Reads the next message that is not a ping or pong (tungstenite answers pings itself).
    pub fn read_skipping_pings(&mut self, within: Duration) -> WsRead {
        let deadline = Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.read_within(left) {
                WsRead::Ping(_) | WsRead::Pong(_) if !left.is_zero() => {}
                other => return other,
            }
        }
    }

    /// Reads one text frame (fails the test on anything else).
    pub fn read_text(&mut self) -> String {
        match self.read_skipping_pings(DEADLINE) {
            WsRead::Text(text) => text,
            other => panic!(
                "expected a text frame, got {other:?}; read so far: {:#?}",
                self.seen
            ),
        }
    }

    /// Reads one text frame and checks it is exactly `expected`.
    pub fn expect_text(&mut self, expected: &str) {
        let text = self.read_text();
        assert_eq!(text, expected, "read so far: {:#?}", self.seen);
    }

    /// Reads text frames and checks them, in order, against `expected`.
    pub fn expect_texts(&mut self, expected: &[&str]) {
        for text in expected {
            self.expect_text(text);
        }
    }

    /// Reads one chat frame `[HH:MM:SS]<rest>`.
    pub fn expect_chat(&mut self, rest: &str) -> String {
        let text = self.read_text();
        assert!(
            is_chat(&text, rest),
            "expected [HH:MM:SS]{rest}, got {text:?}; read so far: {:#?}",
            self.seen
        );
        text
    }

    /// Checks that the next frame is a close frame with `code`, and that the connection then
    /// ends without any other frame. Returns the close reason.
    pub fn expect_close(&mut self, code: u16) -> String {
        let reason = match self.read_skipping_pings(DEADLINE) {
            WsRead::Close(Some((got, reason))) if got == code => reason,
            other => panic!(
                "expected a close frame with code {code}, got {other:?}; read so far: {:#?}",
                self.seen
            ),
        };
        self.expect_ended();
        reason
    }

    /// Checks that the connection ends (no frame, no timeout).
    pub fn expect_ended(&mut self) {
        match self.read_within(DEADLINE) {
            WsRead::Ended(_) => {}
            other => panic!(
                "expected the connection to end, got {other:?}; read so far: {:#?}",
                self.seen
            ),
        }
    }

    /// Checks that no text frame arrives within `within` (pings are skipped).
    pub fn expect_no_text_within(&mut self, within: Duration) {
        match self.read_skipping_pings(within) {
            WsRead::Timeout => {}
            other => panic!(
                "expected nothing for {within:?}, got {other:?}; read so far: {:#?}",
                self.seen
            ),
        }
    }
}

/// A raw HTTP response: status code, header lines (`name: value`, as sent) and body.
#[derive(Debug)]
pub struct HttpResponse {
    /// The status code.
    pub status: u16,
    /// Header lines as sent.
    pub headers: Vec<String>,
    /// Everything after the empty line.
    pub body: Vec<u8>,
}

impl HttpResponse {
    /// The value of the first header called `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find_map(|line| {
            let (n, v) = line.split_once(':')?;
            n.eq_ignore_ascii_case(name).then_some(v.trim())
        })
    }

    /// The body as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Sends `request` as it is to `addr` and reads until the server closes the connection (which
/// it must, within [`DEADLINE`]); parses the response.
pub fn http(addr: SocketAddr, request: &[u8]) -> HttpResponse {
    let mut stream = TcpStream::connect(addr).expect("connect to the WebSocket port");
    stream.write_all(request).expect("send the request");
    let raw = read_until_closed(&mut stream);
    let text = String::from_utf8_lossy(&raw);
    let (head, _) = text
        .split_once("\r\n\r\n")
        .unwrap_or_else(|| panic!("no complete response head in {text:?}"));
    let body = raw[head.len() + 4..].to_vec();
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status = status_line
        .strip_prefix("HTTP/1.1 ")
        .and_then(|rest| rest.get(..3))
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("bad status line {status_line:?}"));
    HttpResponse {
        status,
        headers: lines.map(str::to_owned).collect(),
        body,
    }
}

/// Reads everything until EOF; fails the test if the server does not close within [`DEADLINE`].
pub fn read_until_closed(stream: &mut TcpStream) -> Vec<u8> {
    let deadline = Instant::now() + DEADLINE;
    let mut raw = Vec::new();
    let mut chunk = [0u8; 16 * 1024];
    loop {
        let now = Instant::now();
        assert!(
            now < deadline,
            "the server did not close the connection in time; read {:?}",
            String::from_utf8_lossy(&raw)
        );
        stream
            .set_read_timeout(Some(deadline - now))
            .expect("set_read_timeout");
        match stream.read(&mut chunk) {
            Ok(0) => return raw,
            Ok(n) => raw.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(e) => panic!("reading the response failed: {e}"),
        }
    }
}
