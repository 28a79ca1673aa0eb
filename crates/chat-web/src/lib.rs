//! HTTP on the WebSocket port, shared by the tokio, async-std and smol
//! WebSocket front-ends, and the web client page they serve.
//!
//! This crate has no async runtime and does no I/O. A front-end's accept
//! path, on any runtime:
//!
//! 1. Read from the fresh socket (within [`HEAD_TIMEOUT`]) and
//!    [`HeadBuffer::feed`] the bytes until it returns a [`Response`]
//!    (EOF first: just drop the socket).
//! 2. Write [`Response::bytes`].
//! 3. [`Action::Upgrade`]: wrap the socket as a server-side WebSocket with
//!    tungstenite's `from_partially_read(socket, head.into_leftover(),
//!    Role::Server, config)`, the socket inside a [`GatherStream`] (tokio: the same around
//!    tokio's traits), and pass the stream's [`Wire`] to [`serve_websocket`].
//!    [`Action::Close`]: close the socket.
//!
//! ```
//! use chat_web::{Action, HeadBuffer, Page};
//!
//! let page = Page::new("smol_ws_chat"); // once per server
//! let mut head = HeadBuffer::new(); // once per connection
//! let reads: [&[u8]; 2] = [
//!     b"GET /ws HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n",
//!     b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n\x81",
//! ];
//! let mut response = None;
//! for bytes in reads {
//!     // In a front-end: `let n = socket.read(&mut buf).await?; head.feed(&buf[..n], &page)`
//!     response = head.feed(bytes, &page);
//!     if response.is_some() {
//!         break;
//!     }
//! }
//! let response = response.expect("head complete");
//! // socket.write_all(response.bytes()).await?;
//! assert!(response.bytes().starts_with(b"HTTP/1.1 101 Switching Protocols\r\n"));
//! match response.action() {
//!     // from_partially_read(socket, leftover, Role::Server, config)
//!     Action::Upgrade => assert_eq!(head.into_leftover(), b"\x81"),
//!     Action::Close => {} // drop / shut down the socket
//! }
//! ```
//!
//! # Layout
//!
//! - `head`: [`HeadBuffer`] collects the request head and keeps the bytes
//!   after it; [`HeadError`] for heads that are too large or not HTTP.
//! - `route`: [`respond`] decides the answer to a complete head.
//! - `handshake`: the WebSocket opening handshake (the `101` reply).
//! - `response`: [`Response`] (bytes ready to write) and [`Action`].
//! - `page`: [`Page`], the web client (`page/index.html`) rendered once per
//!   server with its name, and its pre-rendered `GET`/`HEAD` responses.
//! - `websocket`: [`serve_websocket`], one upgraded connection between a
//!   tungstenite stream and the kernel (reader, writer, idle pings, close
//!   codes), shared by the three runtimes; [`websocket_config`].
//! - `gather`: [`Wire`], a connection's pending output, shared by tungstenite and the writer
//!   and released when a batch is written, so idle connections keep none; [`GatherStream`]
//!   (futures-io), the socket under tungstenite that writes into it; its core [`Gather`].
//! - `frame`: the check for a close frame among what tungstenite writes (the text frames come
//!   framed from the kernel, `chat_kernel::wsframe`, and skip tungstenite).

#![warn(missing_docs)]

mod frame;
mod gather;
mod handshake;
mod head;
mod page;
mod response;
mod route;
mod websocket;

pub use gather::{GATHER_LIMIT, Gather, GatherStream, Wire, WireClosed};
pub use head::{DEFAULT_HEAD_LIMIT, HEAD_TIMEOUT, HeadBuffer, HeadError, MAX_HEADERS};
pub use page::{Page, SERVER_PLACEHOLDER, TEMPLATE};
pub use response::{Action, Response};
pub use route::respond;
pub use websocket::{CLOSE_TIMEOUT, LINGER, Runtime, serve_websocket, websocket_config};
