//! The server side of the WebSocket opening handshake (RFC 6455, section 4.2).
//!
//! Only the HTTP part lives here: recognising an upgrade request, checking
//! it and writing the `101 Switching Protocols` reply. Framing is
//! tungstenite's job once the front-end wraps the socket.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use thiserror::Error;
use tungstenite::handshake::derive_accept_key;

use crate::response::{Action, Response};

/// Why a WebSocket upgrade request is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub(crate) enum UpgradeError {
    /// The request is HTTP/1.0.
    #[error("HTTP/1.1 required")]
    OldHttp,
    /// No `Connection` header with an `upgrade` token.
    #[error("missing Connection: upgrade")]
    MissingConnectionUpgrade,
    /// No `Sec-WebSocket-Key` header.
    #[error("missing Sec-WebSocket-Key")]
    MissingKey,
    /// A key that is not base64 of 16 bytes, or more than one key.
    #[error("invalid Sec-WebSocket-Key")]
    InvalidKey,
    /// No `Sec-WebSocket-Version: 13`.
    #[error("unsupported Sec-WebSocket-Version (13 required)")]
    UnsupportedVersion,
}

/// The values of every header field named `name` (case-insensitive), as
/// trimmed strings; values that are not UTF-8 are skipped.
fn header_values<'a>(
    request: &'a httparse::Request<'_, '_>,
    name: &'a str,
) -> impl Iterator<Item = &'a str> + 'a {
    request
        .headers
        .iter()
        .filter(move |header| header.name.eq_ignore_ascii_case(name))
        .filter_map(|header| std::str::from_utf8(header.value).ok())
        .map(str::trim)
}

/// Whether a comma-separated header field `name` holds `token`
/// (case-insensitive), in any of its occurrences.
fn has_token(request: &httparse::Request<'_, '_>, name: &str, token: &str) -> bool {
    header_values(request, name)
        .flat_map(|value| value.split(','))
        .any(|item| item.trim().eq_ignore_ascii_case(token))
}

/// Whether the request asks for a WebSocket (`Upgrade: websocket`).
pub(crate) fn wants_websocket(request: &httparse::Request<'_, '_>) -> bool {
    has_token(request, "upgrade", "websocket")
}

/// Checks an upgrade request and returns its `Sec-WebSocket-Key`.
fn check<'r>(request: &'r httparse::Request<'_, '_>) -> Result<&'r str, UpgradeError> {
    if request.version != Some(1) {
        return Err(UpgradeError::OldHttp);
    }
    if !has_token(request, "connection", "upgrade") {
        return Err(UpgradeError::MissingConnectionUpgrade);
    }
    let mut keys = header_values(request, "sec-websocket-key");
    let key = keys.next().ok_or(UpgradeError::MissingKey)?;
    if keys.next().is_some() {
        return Err(UpgradeError::InvalidKey);
    }
    match STANDARD.decode(key) {
        Ok(nonce) if nonce.len() == 16 => {}
        _ => return Err(UpgradeError::InvalidKey),
    }
    if !has_token(request, "sec-websocket-version", "13") {
        return Err(UpgradeError::UnsupportedVersion);
    }
    Ok(key)
}

/// The `101 Switching Protocols` bytes for a client key.
pub(crate) fn switching_protocols(key: &str) -> Bytes {
    Bytes::from(format!(
        "HTTP/1.1 101 Switching Protocols\r\n\
         Upgrade: websocket\r\n\
         Connection: Upgrade\r\n\
         Sec-WebSocket-Accept: {}\r\n\r\n",
        derive_accept_key(key.as_bytes())
    ))
}

/// The reply to a request that [`wants_websocket`]: a 101 to upgrade, or a
/// 400 naming what is wrong.
pub(crate) fn accept(request: &httparse::Request<'_, '_>) -> Response {
    match check(request) {
        Ok(key) => Response::new(101, switching_protocols(key), Action::Upgrade),
        Err(error) => Response::bad_upgrade(&error.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE_KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";

    fn parse_and<T>(head: &str, then: impl FnOnce(&httparse::Request<'_, '_>) -> T) -> T {
        let mut headers = [httparse::EMPTY_HEADER; 16];
        let mut request = httparse::Request::new(&mut headers);
        let status = request.parse(head.as_bytes()).expect("valid head");
        assert!(status.is_complete());
        then(&request)
    }

    fn upgrade_head(extra: &str) -> String {
        format!("GET /chat HTTP/1.1\r\nHost: server.example.com\r\n{extra}\r\n")
    }

    #[test]
    fn rfc_sample_key() {
        let bytes = switching_protocols(SAMPLE_KEY);
        assert_eq!(
            &bytes[..],
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
              Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n"
        );
    }

    #[test]
    fn tokens_are_case_insensitive_and_comma_separated() {
        let head = upgrade_head(
            "Upgrade: WebSocket\r\nConnection: keep-alive, Upgrade\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n",
        );
        parse_and(&head, |request| {
            assert!(wants_websocket(request));
            assert_eq!(check(request), Ok(SAMPLE_KEY));
        });
    }

    #[test]
    fn not_a_websocket_request() {
        parse_and(&upgrade_head("Upgrade: h2c\r\n"), |request| {
            assert!(!wants_websocket(request));
        });
        parse_and(&upgrade_head(""), |request| {
            assert!(!wants_websocket(request));
        });
    }

    #[test]
    fn refusals() {
        let good_key = "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n";
        let cases = [
            (
                "Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n".to_string() + good_key,
                UpgradeError::MissingConnectionUpgrade,
            ),
            (
                "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
                    .to_string(),
                UpgradeError::MissingKey,
            ),
            (
                "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n\
                 Sec-WebSocket-Key: not base64!\r\n"
                    .to_string(),
                UpgradeError::InvalidKey,
            ),
            (
                // Valid base64, but of 5 bytes instead of 16.
                "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n\
                 Sec-WebSocket-Key: aGVsbG8=\r\n"
                    .to_string(),
                UpgradeError::InvalidKey,
            ),
            (
                "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
                    .to_string()
                    + good_key
                    + good_key,
                UpgradeError::InvalidKey,
            ),
            (
                "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 8\r\n"
                    .to_string()
                    + good_key,
                UpgradeError::UnsupportedVersion,
            ),
            (
                "Upgrade: websocket\r\nConnection: Upgrade\r\n".to_string() + good_key,
                UpgradeError::UnsupportedVersion,
            ),
        ];
        for (headers, expected) in cases {
            parse_and(&upgrade_head(&headers), |request| {
                assert!(wants_websocket(request));
                assert_eq!(check(request), Err(expected), "{headers}");
                let response = accept(request);
                assert_eq!(response.status(), 400);
                assert!(!response.is_upgrade());
            });
        }
    }

    #[test]
    fn http_1_0_is_refused() {
        let head = "GET / HTTP/1.0\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
                    Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
        parse_and(head, |request| {
            assert_eq!(check(request), Err(UpgradeError::OldHttp));
        });
    }
}
