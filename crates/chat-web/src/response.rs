//! A response ready to write, and what to do with the socket afterwards.

use bytes::Bytes;

/// What the front-end does after writing a [`Response`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// The response was `101 Switching Protocols`: wrap the socket as a
    /// server-side WebSocket, handing it the bytes read after the head.
    Upgrade,
    /// Any other response: close the connection.
    Close,
}

/// An HTTP response as bytes (status line, headers and body), plus the
/// [`Action`] to take after writing it.
///
/// Responses that do not depend on the request (the page, the errors) are
/// rendered once and shared; cloning one is cheap.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// Status code, for logs and tests.
    status: u16,
    /// The bytes to write.
    bytes: Bytes,
    /// What to do after writing them.
    action: Action,
}

/// Headers sent on every response this crate makes, except the 101.
pub(crate) const COMMON_HEADERS: &str = "Connection: close\r\n\
X-Content-Type-Options: nosniff\r\n\
Referrer-Policy: no-referrer\r\n\
Server: async-chat\r\n";

impl Response {
    /// A response from parts.
    pub(crate) fn new(status: u16, bytes: Bytes, action: Action) -> Self {
        Self {
            status,
            bytes,
            action,
        }
    }

    /// The HTTP status code (101, 200, 400, 404, 405, 431).
    pub fn status(&self) -> u16 {
        self.status
    }

    /// The bytes to write to the socket.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The bytes to write, as a cheaply clonable buffer.
    pub fn into_bytes(self) -> Bytes {
        self.bytes
    }

    /// What to do after writing the bytes.
    pub fn action(&self) -> Action {
        self.action
    }

    /// Whether this is the `101 Switching Protocols` reply, after which the
    /// socket becomes a WebSocket.
    pub fn is_upgrade(&self) -> bool {
        self.action == Action::Upgrade
    }

    /// `400 Bad Request` (not HTTP, or a WebSocket upgrade request with a bad
    /// key or version). Without a body when `head_request` is true.
    pub fn bad_request(head_request: bool) -> Self {
        plain_error(400, "Bad Request", "", "bad request", head_request)
    }

    /// `400 Bad Request` for a WebSocket upgrade that cannot be accepted,
    /// naming the reason in the body and the supported version in a
    /// `Sec-WebSocket-Version` header (RFC 6455, section 4.4).
    pub(crate) fn bad_upgrade(reason: &str) -> Self {
        plain_error(
            400,
            "Bad Request",
            "Sec-WebSocket-Version: 13\r\n",
            &format!("bad WebSocket upgrade: {reason}"),
            false,
        )
    }

    /// `404 Not Found`.
    pub fn not_found(head_request: bool) -> Self {
        plain_error(404, "Not Found", "", "not found", head_request)
    }

    /// `405 Method Not Allowed`, with `Allow: GET, HEAD`.
    pub fn method_not_allowed() -> Self {
        plain_error(
            405,
            "Method Not Allowed",
            "Allow: GET, HEAD\r\n",
            "method not allowed",
            false,
        )
    }

    /// `431 Request Header Fields Too Large`.
    pub fn header_fields_too_large() -> Self {
        plain_error(
            431,
            "Request Header Fields Too Large",
            "",
            "request header fields too large",
            false,
        )
    }
}

/// A short `text/plain` error response followed by a close.
fn plain_error(
    status: u16,
    reason: &str,
    extra_headers: &str,
    text: &str,
    head_request: bool,
) -> Response {
    let body = format!("{status} {reason}: {text}\n");
    let mut out = format!(
        "HTTP/1.1 {status} {reason}\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\
         Content-Length: {}\r\n\
         Cache-Control: no-store\r\n\
         {COMMON_HEADERS}{extra_headers}\r\n",
        body.len()
    );
    if !head_request {
        out.push_str(&body);
    }
    Response::new(status, Bytes::from(out), Action::Close)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(response: &Response) -> &str {
        std::str::from_utf8(response.bytes()).expect("responses are ASCII")
    }

    /// Splits a response into head and body, checking Content-Length.
    fn split(response: &Response) -> (&str, &str) {
        let all = text(response);
        let (head, body) = all.split_once("\r\n\r\n").expect("head ends");
        (head, body)
    }

    #[test]
    fn error_responses_close_and_have_a_length() {
        for (response, status) in [
            (Response::bad_request(false), 400),
            (Response::not_found(false), 404),
            (Response::method_not_allowed(), 405),
            (Response::header_fields_too_large(), 431),
            (Response::bad_upgrade("missing key"), 400),
        ] {
            assert_eq!(response.status(), status);
            assert_eq!(response.action(), Action::Close);
            assert!(!response.is_upgrade());
            let (head, body) = split(&response);
            assert!(head.starts_with(&format!("HTTP/1.1 {status} ")), "{head}");
            assert!(head.contains("\r\nConnection: close"), "{head}");
            assert!(head.contains("\r\nX-Content-Type-Options: nosniff"));
            assert!(head.contains(&format!("\r\nContent-Length: {}", body.len())));
            assert!(body.starts_with(&status.to_string()));
        }
    }

    #[test]
    fn head_request_errors_have_no_body() {
        let response = Response::not_found(true);
        let (head, body) = split(&response);
        assert!(head.starts_with("HTTP/1.1 404 Not Found"));
        assert!(body.is_empty());
        assert!(!head.contains("Content-Length: 0"));
    }

    #[test]
    fn method_not_allowed_names_allowed_methods() {
        let response = Response::method_not_allowed();
        assert!(text(&response).contains("\r\nAllow: GET, HEAD\r\n"));
    }

    #[test]
    fn bad_upgrade_names_the_version() {
        let response = Response::bad_upgrade("unsupported version");
        let (head, body) = split(&response);
        assert!(head.contains("\r\nSec-WebSocket-Version: 13"));
        assert!(body.contains("unsupported version"));
        assert_eq!(response.clone().into_bytes(), response.bytes());
    }
}
