//! HTTP on the WebSocket port, shared by the tokio, async-std and smol
//! WebSocket front-ends, and the web client page they serve.
//!
//! This crate has no async runtime and does no I/O: a front-end reads bytes
//! from a fresh socket into a [`HeadBuffer`] until the request head is
//! complete, asks [`respond`] for the answer, writes [`Response::bytes`],
//! and then either hands the socket (with [`HeadBuffer::into_leftover`]) to
//! tungstenite as a server-side WebSocket, or closes it.
//!
//! ```
//! use chat_web::{Action, HeadBuffer, Page, respond};
//!
//! let page = Page::new("smol_ws_chat"); // once per server
//! let mut head = HeadBuffer::new();
//! // ... for each read from the socket:
//! let read = b"GET /ws HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
//!     Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n\x81";
//! let response = match head.push(read) {
//!     Ok(Some(_)) => respond(head.head().unwrap_or_default(), &page),
//!     Ok(None) => return, // read more (with a deadline, see HEAD_TIMEOUT)
//!     Err(error) => error.response(),
//! };
//! // write response.bytes() to the socket, then:
//! assert_eq!(response.action(), Action::Upgrade);
//! assert_eq!(head.into_leftover(), b"\x81"); // for from_partially_read
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

#![warn(missing_docs)]

mod handshake;
mod head;
mod page;
mod response;
mod route;

pub use head::{DEFAULT_HEAD_LIMIT, HEAD_TIMEOUT, HeadBuffer, HeadError, MAX_HEADERS};
pub use page::{Page, SERVER_PLACEHOLDER, TEMPLATE};
pub use response::{Action, Response};
pub use route::respond;
