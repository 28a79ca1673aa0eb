//! Accumulating the HTTP request head read from a freshly accepted socket.
//!
//! A front-end reads whatever the socket gives it and pushes the bytes into a
//! [`HeadBuffer`]. The buffer answers, after each push, whether the request
//! head (request line and headers, up to the empty line) is complete. Bytes
//! that arrived after the head (a client may send its first WebSocket frame
//! right after the handshake request) stay available as
//! [`HeadBuffer::leftover`] so they can be handed to the WebSocket layer.
//!
//! The bytes are checked with `httparse` on every push, so a client that
//! does not speak HTTP at all (a telnet user, a TLS client hello) is turned
//! away at once instead of after the size limit.

use std::time::Duration;

use thiserror::Error;

use crate::page::Page;
use crate::response::Response;

/// Default limit for the size of a request head: 8 KiB.
pub const DEFAULT_HEAD_LIMIT: usize = 8 * 1024;

/// Maximum number of header fields a request head may carry (browsers send
/// about 15 to 20). More is answered with 431.
pub const MAX_HEADERS: usize = 64;

/// How long a front-end should wait for a complete request head before it
/// drops the connection without an answer (a client that connects and says
/// nothing, or trickles bytes). Front-ends apply it with their runtime's
/// timeout; it lives here so the three of them agree.
pub const HEAD_TIMEOUT: Duration = Duration::from_secs(10);

/// Why a request head could not be accepted.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum HeadError {
    /// No complete head within the size limit.
    #[error("request head larger than {limit} bytes")]
    TooLarge {
        /// The limit in bytes that was exceeded.
        limit: usize,
    },
    /// More header fields than [`MAX_HEADERS`].
    #[error("more than {MAX_HEADERS} header fields")]
    TooManyHeaders,
    /// The bytes are not an HTTP/1.x request head.
    #[error("not an HTTP request: {0}")]
    Malformed(httparse::Error),
}

impl HeadError {
    /// The response to send before closing: 431 for a head that is too
    /// large or has too many fields, 400 for anything that is not HTTP.
    pub fn response(&self) -> Response {
        match self {
            HeadError::TooLarge { .. } | HeadError::TooManyHeaders => {
                Response::header_fields_too_large()
            }
            HeadError::Malformed(_) => Response::bad_request(false),
        }
    }
}

/// Parses `bytes` as a request head (with a header array of [`MAX_HEADERS`]).
///
/// `Ok(Some(len))`: a complete head of `len` bytes; `Ok(None)`: valid so far
/// but incomplete.
pub(crate) fn parse_head_len(bytes: &[u8]) -> Result<Option<usize>, HeadError> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut request = httparse::Request::new(&mut headers);
    match request.parse(bytes) {
        Ok(httparse::Status::Complete(len)) => Ok(Some(len)),
        Ok(httparse::Status::Partial) => Ok(None),
        Err(httparse::Error::TooManyHeaders) => Err(HeadError::TooManyHeaders),
        Err(error) => Err(HeadError::Malformed(error)),
    }
}

/// Collects the bytes of one HTTP request head.
///
/// ```
/// use chat_web::HeadBuffer;
///
/// let mut buffer = HeadBuffer::new();
/// assert_eq!(buffer.push(b"GET / HTTP/1.1\r\nHost: x\r\n"), Ok(None));
/// assert_eq!(buffer.push(b"\r\nextra"), Ok(Some(27)));
/// assert_eq!(buffer.head(), Some(&b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"[..]));
/// assert_eq!(buffer.leftover(), b"extra");
/// ```
#[derive(Debug, Clone)]
pub struct HeadBuffer {
    /// Every byte pushed so far.
    bytes: Vec<u8>,
    /// Largest head accepted.
    limit: usize,
    /// Length of the head once it is complete.
    head_len: Option<usize>,
}

impl Default for HeadBuffer {
    fn default() -> Self {
        Self::new()
    }
}

impl HeadBuffer {
    /// An empty buffer with the [`DEFAULT_HEAD_LIMIT`].
    pub fn new() -> Self {
        Self::with_limit(DEFAULT_HEAD_LIMIT)
    }

    /// An empty buffer accepting heads of at most `limit` bytes.
    pub fn with_limit(limit: usize) -> Self {
        Self {
            bytes: Vec::new(),
            limit,
            head_len: None,
        }
    }

    /// Appends bytes read from the socket.
    ///
    /// Returns `Ok(Some(head_len))` once the head is complete (and on every
    /// later push, which only adds to [`leftover`](Self::leftover)),
    /// `Ok(None)` while more bytes are needed, and an error when the bytes
    /// can never become an acceptable head; the front-end then writes
    /// [`HeadError::response`] and closes.
    pub fn push(&mut self, bytes: &[u8]) -> Result<Option<usize>, HeadError> {
        self.bytes.extend_from_slice(bytes);
        if let Some(len) = self.head_len {
            return Ok(Some(len));
        }
        match parse_head_len(&self.bytes)? {
            Some(len) if len <= self.limit => {
                self.head_len = Some(len);
                Ok(Some(len))
            }
            Some(_) => Err(HeadError::TooLarge { limit: self.limit }),
            None if self.bytes.len() >= self.limit => {
                Err(HeadError::TooLarge { limit: self.limit })
            }
            None => Ok(None),
        }
    }

    /// Pushes bytes read from the socket and, once the answer is known,
    /// returns it: [`respond`](crate::respond) to the complete head, or the
    /// error response of a head that can never be accepted. `None`: read
    /// more (within [`HEAD_TIMEOUT`]).
    ///
    /// This is the whole read loop of a front-end:
    ///
    /// ```
    /// use chat_web::{HeadBuffer, Page};
    ///
    /// let page = Page::new("tokio_ws_chat");
    /// let mut head = HeadBuffer::new();
    /// assert!(head.feed(b"GET / HTTP/1.1\r\n", &page).is_none());
    /// let response = head.feed(b"Host: x\r\n\r\n", &page).expect("complete");
    /// assert_eq!(response.status(), 200);
    /// ```
    pub fn feed(&mut self, bytes: &[u8], page: &Page) -> Option<Response> {
        match self.push(bytes) {
            Ok(Some(_)) => Some(crate::respond(self.head().unwrap_or_default(), page)),
            Ok(None) => None,
            Err(error) => Some(error.response()),
        }
    }

    /// The complete head (request line, headers and the empty line), or
    /// `None` while it is incomplete.
    pub fn head(&self) -> Option<&[u8]> {
        self.head_len.and_then(|len| self.bytes.get(..len))
    }

    /// The bytes received after the head (empty while the head is
    /// incomplete). Hand them to the WebSocket layer after an upgrade.
    pub fn leftover(&self) -> &[u8] {
        match self.head_len {
            Some(len) => self.bytes.get(len..).unwrap_or_default(),
            None => &[],
        }
    }

    /// Consumes the buffer, returning the bytes received after the head, in
    /// the form `from_partially_read` takes.
    pub fn into_leftover(mut self) -> Vec<u8> {
        match self.head_len {
            Some(len) if len <= self.bytes.len() => self.bytes.split_off(len),
            _ => Vec::new(),
        }
    }

    /// Number of bytes pushed so far.
    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    /// Whether nothing has been pushed yet (a client that connected and
    /// closed without a byte needs no answer).
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// The size limit of this buffer.
    pub fn limit(&self) -> usize {
        self.limit
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const REQUEST: &[u8] = b"GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n\r\n";

    #[test]
    fn complete_head_in_one_push() {
        let mut buffer = HeadBuffer::new();
        assert_eq!(buffer.push(REQUEST), Ok(Some(REQUEST.len())));
        assert_eq!(buffer.head(), Some(REQUEST));
        assert!(buffer.leftover().is_empty());
    }

    #[test]
    fn head_split_over_many_pushes() {
        let mut buffer = HeadBuffer::new();
        for (index, byte) in REQUEST.iter().enumerate() {
            let result = buffer.push(std::slice::from_ref(byte));
            if index + 1 < REQUEST.len() {
                assert_eq!(result, Ok(None), "complete too early at byte {index}");
                assert_eq!(buffer.head(), None);
            } else {
                assert_eq!(result, Ok(Some(REQUEST.len())));
            }
        }
        assert_eq!(buffer.head(), Some(REQUEST));
    }

    #[test]
    fn terminator_split_across_pushes() {
        let mut buffer = HeadBuffer::new();
        let (first, second) = REQUEST.split_at(REQUEST.len() - 3);
        assert_eq!(buffer.push(first), Ok(None));
        assert_eq!(buffer.push(second), Ok(Some(REQUEST.len())));
    }

    #[test]
    fn leftover_bytes_are_kept() {
        let mut buffer = HeadBuffer::new();
        let mut bytes = REQUEST.to_vec();
        bytes.extend_from_slice(&[0x81, 0x85, 1, 2, 3, 4]);
        assert_eq!(buffer.push(&bytes), Ok(Some(REQUEST.len())));
        assert_eq!(buffer.leftover(), &[0x81, 0x85, 1, 2, 3, 4]);
        // Later pushes only add to the leftover.
        assert_eq!(buffer.push(&[5, 6]), Ok(Some(REQUEST.len())));
        assert_eq!(buffer.head(), Some(REQUEST));
        assert_eq!(buffer.into_leftover(), vec![0x81, 0x85, 1, 2, 3, 4, 5, 6]);
    }

    #[test]
    fn incomplete_head_has_no_leftover() {
        let mut buffer = HeadBuffer::new();
        assert_eq!(buffer.push(b"GET / HTTP/1.1\r\n"), Ok(None));
        assert!(buffer.leftover().is_empty());
        assert!(buffer.into_leftover().is_empty());
    }

    #[test]
    fn too_large_without_terminator() {
        let mut buffer = HeadBuffer::with_limit(64);
        assert_eq!(buffer.push(b"GET / HTTP/1.1\r\n"), Ok(None));
        let filler = format!("X-Filler: {}\r\n", "a".repeat(60));
        assert_eq!(
            buffer.push(filler.as_bytes()),
            Err(HeadError::TooLarge { limit: 64 })
        );
    }

    #[test]
    fn too_large_default_limit() {
        let mut buffer = HeadBuffer::new();
        assert_eq!(buffer.push(b"GET / HTTP/1.1\r\n"), Ok(None));
        let line = format!("X-Filler: {}\r\n", "a".repeat(500));
        let mut result = Ok(None);
        while result == Ok(None) {
            result = buffer.push(line.as_bytes());
        }
        assert_eq!(
            result,
            Err(HeadError::TooLarge {
                limit: DEFAULT_HEAD_LIMIT
            })
        );
        assert!(buffer.len() >= DEFAULT_HEAD_LIMIT);
        assert!(buffer.len() < DEFAULT_HEAD_LIMIT + line.len());
    }

    #[test]
    fn complete_head_over_limit_is_too_large() {
        let mut buffer = HeadBuffer::with_limit(20);
        assert_eq!(buffer.push(REQUEST), Err(HeadError::TooLarge { limit: 20 }));
    }

    #[test]
    fn head_exactly_at_limit_is_accepted() {
        let mut buffer = HeadBuffer::with_limit(REQUEST.len());
        assert_eq!(buffer.push(REQUEST), Ok(Some(REQUEST.len())));
    }

    #[test]
    fn non_http_is_rejected_early() {
        let mut buffer = HeadBuffer::new();
        assert!(matches!(
            buffer.push(b"hello there\r\n"),
            Err(HeadError::Malformed(_))
        ));
        let mut tls = HeadBuffer::new();
        assert!(matches!(
            tls.push(&[0x16, 0x03, 0x01, 0x02, 0x00]),
            Err(HeadError::Malformed(_))
        ));
    }

    #[test]
    fn too_many_headers() {
        let mut request = b"GET / HTTP/1.1\r\n".to_vec();
        for index in 0..=MAX_HEADERS {
            request.extend_from_slice(format!("X-{index}: v\r\n").as_bytes());
        }
        request.extend_from_slice(b"\r\n");
        let mut buffer = HeadBuffer::new();
        assert_eq!(buffer.push(&request), Err(HeadError::TooManyHeaders));
    }

    #[test]
    fn error_responses() {
        let too_large = HeadError::TooLarge { limit: 8 }.response();
        assert!(too_large.bytes().starts_with(b"HTTP/1.1 431 "));
        assert!(!too_large.is_upgrade());
        let malformed = HeadError::Malformed(httparse::Error::Token).response();
        assert!(malformed.bytes().starts_with(b"HTTP/1.1 400 "));
        assert!(!malformed.is_upgrade());
    }

    #[test]
    fn feed_answers_once_the_head_is_known() {
        let page = Page::new("test_ws_chat");
        let mut buffer = HeadBuffer::new();
        assert_eq!(buffer.feed(b"GET /ws HTTP/1.1\r\nHost: x\r\n", &page), None);
        let upgrade = buffer.feed(
            b"Upgrade: websocket\r\nConnection: Upgrade\r\n\
              Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n\x81",
            &page,
        );
        assert_eq!(upgrade.map(|response| response.status()), Some(101));
        assert_eq!(buffer.into_leftover(), vec![0x81]);

        let mut garbage = HeadBuffer::new();
        let answer = garbage.feed(b"\x16\x03\x01", &page).expect("answer");
        assert_eq!(answer.status(), 400);

        let mut big = HeadBuffer::with_limit(16);
        let answer = big
            .feed(b"GET / HTTP/1.1\r\nHost: x", &page)
            .expect("answer");
        assert_eq!(answer.status(), 431);
    }

    #[test]
    fn empty_buffer() {
        let buffer = HeadBuffer::default();
        assert!(buffer.is_empty());
        assert_eq!(buffer.len(), 0);
        assert_eq!(buffer.limit(), DEFAULT_HEAD_LIMIT);
        assert_eq!(buffer.head(), None);
    }
}
