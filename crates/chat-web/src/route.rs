//! Deciding the answer to one request head (PROTOCOL.md section 1, "HTTP on
//! the WebSocket port").

use crate::handshake;
use crate::head::MAX_HEADERS;
use crate::page::Page;
use crate::response::Response;

/// The response to a complete request head.
///
/// - `GET` with `Upgrade: websocket`, on any path: `101 Switching Protocols`
///   ([`Action::Upgrade`](crate::Action::Upgrade)), or 400 when the key or
///   version is missing or wrong.
/// - `GET` / `HEAD` of `/` or `/index.html` (query string ignored): the page
///   (`HEAD`: the same headers, no body).
/// - Any other path: 404. Any other method: 405 with `Allow: GET, HEAD`.
/// - Not an HTTP request head: 400; too many header fields: 431.
///
/// Every response but the 101 carries `Connection: close` and asks the
/// front-end to close ([`Action::Close`](crate::Action::Close)).
/// `head` may carry bytes after the head; they are ignored.
pub fn respond(head: &[u8], page: &Page) -> Response {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut request = httparse::Request::new(&mut headers);
    match request.parse(head) {
        Ok(httparse::Status::Complete(_)) => {}
        Ok(httparse::Status::Partial) => return Response::bad_request(false),
        Err(httparse::Error::TooManyHeaders) => return Response::header_fields_too_large(),
        Err(_) => return Response::bad_request(false),
    }
    let (Some(method), Some(target)) = (request.method, request.path) else {
        return Response::bad_request(false);
    };
    let is_head = match method {
        "GET" => false,
        "HEAD" => true,
        _ => return Response::method_not_allowed(),
    };
    if !is_head && handshake::wants_websocket(&request) {
        return handshake::accept(&request);
    }
    match path_of(target) {
        "/" | "/index.html" if is_head => page.head_response(),
        "/" | "/index.html" => page.get_response(),
        _ => Response::not_found(is_head),
    }
}

/// The path of a request target: without query or fragment, and without
/// scheme and authority when the target is in absolute form
/// (`http://host:port/path`).
fn path_of(target: &str) -> &str {
    let without_query = target.split(['?', '#']).next().unwrap_or_default();
    match without_query.split_once("://") {
        Some((scheme, rest)) if !scheme.contains('/') => {
            rest.find('/').map_or("/", |slash| &rest[slash..])
        }
        _ => without_query,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::response::Action;

    fn page() -> Page {
        Page::new("test_ws_chat")
    }

    fn text(response: &Response) -> &str {
        std::str::from_utf8(response.bytes()).expect("UTF-8 response")
    }

    const UPGRADE_HEADERS: &str = "Host: 127.0.0.1:8082\r\nUpgrade: websocket\r\n\
        Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
        Sec-WebSocket-Version: 13\r\n\r\n";

    const SAMPLE_101: &str = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\
        Connection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n";

    #[test]
    fn upgrade_on_any_path() {
        for path in ["/", "/ws", "/chat", "/index.html", "/anything?x=1"] {
            let head = format!("GET {path} HTTP/1.1\r\n{UPGRADE_HEADERS}");
            let response = respond(head.as_bytes(), &page());
            assert_eq!(response.status(), 101, "{path}");
            assert_eq!(response.action(), Action::Upgrade);
            assert_eq!(text(&response), SAMPLE_101);
        }
    }

    #[test]
    fn browser_like_upgrade() {
        let head = "GET /ws HTTP/1.1\r\nHost: localhost:8082\r\nConnection: Upgrade\r\n\
            Pragma: no-cache\r\nCache-Control: no-cache\r\nUser-Agent: Mozilla/5.0\r\n\
            Upgrade: websocket\r\nOrigin: http://localhost:8082\r\nSec-WebSocket-Version: 13\r\n\
            Accept-Encoding: gzip, deflate, br\r\nAccept-Language: en\r\n\
            Sec-WebSocket-Key: x3JJHMbDL1EzLkh9GBhXDw==\r\n\
            Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\r\n";
        let response = respond(head.as_bytes(), &page());
        assert!(response.is_upgrade());
        // The key/accept pair of Wikipedia's WebSocket handshake example.
        assert!(text(&response).contains("Sec-WebSocket-Accept: HSmrc0sMlYUkAGmm5OPpG2HaGWk=\r\n"));
        assert!(!text(&response).contains("Sec-WebSocket-Extensions"));
    }

    #[test]
    fn leftover_after_head_is_ignored() {
        let head = format!("GET /ws HTTP/1.1\r\n{UPGRADE_HEADERS}\u{81}\u{0}");
        assert!(respond(head.as_bytes(), &page()).is_upgrade());
    }

    #[test]
    fn bad_upgrades_are_400() {
        let missing_key = "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n\
            Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n\r\n";
        let bad_version = "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n\
            Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
            Sec-WebSocket-Version: 12\r\n\r\n";
        let bad_key = "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n\
            Connection: Upgrade\r\nSec-WebSocket-Key: short\r\n\
            Sec-WebSocket-Version: 13\r\n\r\n";
        for head in [missing_key, bad_version, bad_key] {
            let response = respond(head.as_bytes(), &page());
            assert_eq!(response.status(), 400, "{head}");
            assert_eq!(response.action(), Action::Close);
            assert!(text(&response).starts_with("HTTP/1.1 400 Bad Request\r\n"));
            assert!(text(&response).contains("\r\nConnection: close\r\n"));
        }
    }

    #[test]
    fn page_on_root_and_index() {
        let page = page();
        for path in ["/", "/index.html", "/?x=1", "/index.html?a=b&c", "/#top"] {
            let head = format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n");
            let response = respond(head.as_bytes(), &page);
            assert_eq!(response.status(), 200, "{path}");
            assert_eq!(response.action(), Action::Close);
            assert_eq!(response.bytes(), page.get_response().bytes());
            let all = text(&response);
            assert!(all.starts_with("HTTP/1.1 200 OK\r\n"));
            assert!(all.contains("\r\nContent-Type: text/html; charset=utf-8\r\n"));
            assert!(all.contains("\r\nConnection: close\r\n"));
            assert!(all.ends_with("</html>\n"));
        }
    }

    #[test]
    fn absolute_form_target() {
        let head = "GET http://127.0.0.1:8082/index.html?x HTTP/1.1\r\nHost: x\r\n\r\n";
        assert_eq!(respond(head.as_bytes(), &page()).status(), 200);
        let head = "GET http://127.0.0.1:8082 HTTP/1.1\r\nHost: x\r\n\r\n";
        assert_eq!(respond(head.as_bytes(), &page()).status(), 200);
        let head = "GET http://127.0.0.1:8082/nope HTTP/1.1\r\nHost: x\r\n\r\n";
        assert_eq!(respond(head.as_bytes(), &page()).status(), 404);
    }

    #[test]
    fn get_without_websocket_upgrade_serves_page() {
        let head = "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: h2c\r\nConnection: Upgrade\r\n\r\n";
        assert_eq!(respond(head.as_bytes(), &page()).status(), 200);
    }

    #[test]
    fn head_has_same_headers_and_no_body() {
        let page = page();
        let get = respond(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", &page);
        let head = respond(b"HEAD /index.html?q HTTP/1.1\r\nHost: x\r\n\r\n", &page);
        assert_eq!(head.status(), 200);
        assert_eq!(head.action(), Action::Close);
        let get_text = text(&get);
        let (get_head, body) = get_text.split_once("\r\n\r\n").expect("head");
        assert_eq!(text(&head), format!("{get_head}\r\n\r\n"));
        assert!(get_head.contains(&format!("\r\nContent-Length: {}\r\n", body.len())));
    }

    #[test]
    fn other_paths_are_404() {
        for path in ["/ws", "/favicon.ico", "/index.htm", "//", "/index.html/x"] {
            let head = format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n");
            let response = respond(head.as_bytes(), &page());
            assert_eq!(response.status(), 404, "{path}");
            assert!(text(&response).starts_with("HTTP/1.1 404 Not Found\r\n"));
            assert!(text(&response).contains("\r\nConnection: close\r\n"));
            assert_eq!(response.action(), Action::Close);
        }
        let response = respond(b"HEAD /nope HTTP/1.1\r\nHost: x\r\n\r\n", &page());
        assert_eq!(response.status(), 404);
        assert!(text(&response).ends_with("\r\n\r\n"));
    }

    #[test]
    fn other_methods_are_405() {
        for method in ["POST", "PUT", "DELETE", "OPTIONS", "get", "PATCH"] {
            let head = format!("{method} / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n");
            let response = respond(head.as_bytes(), &page());
            assert_eq!(response.status(), 405, "{method}");
            assert!(text(&response).contains("\r\nAllow: GET, HEAD\r\n"));
            assert_eq!(response.action(), Action::Close);
        }
        // A POST asking for an upgrade is still a wrong method.
        let head = format!("POST /ws HTTP/1.1\r\n{UPGRADE_HEADERS}");
        assert_eq!(respond(head.as_bytes(), &page()).status(), 405);
    }

    #[test]
    fn not_http_is_400() {
        for head in [
            &b"hello\r\n\r\n"[..],
            b"login alice\r\n\r\n",
            b"\x16\x03\x01\x00\x05hello",
            b"GET / HTTP/1.1\r\nHost: x\r\n", // incomplete
            b"GET / HTTP/2.0\r\n\r\n",
            b"",
        ] {
            let response = respond(head, &page());
            assert_eq!(response.status(), 400, "{head:?}");
            assert_eq!(response.action(), Action::Close);
            assert!(text(&response).contains("\r\nConnection: close\r\n"));
        }
    }

    #[test]
    fn too_many_headers_is_431() {
        let mut head = String::from("GET / HTTP/1.1\r\n");
        for index in 0..=MAX_HEADERS {
            head.push_str(&format!("X-{index}: v\r\n"));
        }
        head.push_str("\r\n");
        assert_eq!(respond(head.as_bytes(), &page()).status(), 431);
    }

    #[test]
    fn path_of_targets() {
        assert_eq!(path_of("/"), "/");
        assert_eq!(path_of("/index.html?x=1"), "/index.html");
        assert_eq!(path_of("/a#b"), "/a");
        assert_eq!(path_of("http://h:1/x?y"), "/x");
        assert_eq!(path_of("https://h"), "/");
        assert_eq!(path_of("/redirect?to=http://h/x"), "/redirect");
        assert_eq!(path_of("*"), "*");
    }
}
