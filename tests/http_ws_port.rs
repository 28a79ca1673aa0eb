//! End to end, on each runtime: HTTP on the WebSocket port (PROTOCOL.md section 1). `GET /` and
//! `/index.html` (query ignored) serve the page with the server's name, `HEAD` the same headers
//! without a body, other paths 404, other methods 405, anything that is not HTTP 400; every
//! answer is followed by the server closing the connection.

#[allow(unused_macros, unused_imports)]
mod common;
mod common_ws;

use std::io::Write;
use std::net::TcpStream;

use common_ws::*;

/// `GET /` and `GET /index.html?x=1`: 200, `text/html; charset=utf-8`, the whole page (its
/// length as announced), naming the server; the connection is then closed.
fn get_page(server_name: &str) {
    let server = ws_server(server_name, &[]);
    for target in ["/", "/index.html?x=1"] {
        let request = format!("GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
        let response = http(server.addr(), request.as_bytes());
        assert_eq!(response.status, 200, "{target}: {response:?}");
        assert_eq!(
            response.header("content-type"),
            Some("text/html; charset=utf-8"),
            "{target}"
        );
        let length: usize = response
            .header("content-length")
            .and_then(|v| v.parse().ok())
            .expect("Content-Length");
        assert_eq!(response.body.len(), length, "{target}: body length");
        let html = response.text();
        assert!(html.contains("<html"), "{target}: not HTML");
        assert!(html.contains(server_name), "{target}: no server name");
        assert_eq!(response.header("connection"), Some("close"));
    }
}

/// `HEAD /`: the same status and headers as `GET /`, no body.
fn head_page(server_name: &str) {
    let server = ws_server(server_name, &[]);
    let get = http(server.addr(), b"GET / HTTP/1.1\r\nHost: h\r\n\r\n");
    let head = http(server.addr(), b"HEAD / HTTP/1.1\r\nHost: h\r\n\r\n");
    assert_eq!(head.status, 200);
    assert_eq!(head.headers, get.headers);
    assert!(head.body.is_empty(), "HEAD has a body: {:?}", head.text());
}

/// Another path: 404 (also for `HEAD`, without a body).
fn unknown_path_404(server_name: &str) {
    let server = ws_server(server_name, &[]);
    let response = http(server.addr(), b"GET /nope HTTP/1.1\r\nHost: h\r\n\r\n");
    assert_eq!(response.status, 404, "{response:?}");
    assert!(!response.text().contains("<html"));
    let response = http(server.addr(), b"HEAD /nope HTTP/1.1\r\nHost: h\r\n\r\n");
    assert_eq!(response.status, 404, "{response:?}");
    assert!(response.body.is_empty());
}

/// Another method: 405 with `Allow: GET, HEAD`.
fn other_method_405(server_name: &str) {
    let server = ws_server(server_name, &[]);
    let response = http(
        server.addr(),
        b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello",
    );
    assert_eq!(response.status, 405, "{response:?}");
    assert_eq!(response.header("allow"), Some("GET, HEAD"));
}

/// Bytes that are not HTTP: 400, then the server closes the connection, even though the client
/// keeps sending.
fn garbage_400(server_name: &str) {
    let server = ws_server(server_name, &[]);
    let response = http(server.addr(), b"hello there\r\n\r\n");
    assert_eq!(response.status, 400, "{response:?}");

    // A client that keeps sending after the 400 (here 256 KiB more) still gets the whole
    // answer: the server reads on until the client is done instead of resetting the connection.
    let mut stream = TcpStream::connect(server.addr()).expect("connect");
    let mut writer = stream.try_clone().expect("clone the socket");
    let sending = std::thread::spawn(move || {
        let mut junk = b"login alice\r\n".to_vec();
        junk.extend(std::iter::repeat_n(b'x', 256 * 1024));
        // The server closes in the end; whether the last write fails does not matter.
        let _ = writer.write_all(&junk);
        let _ = writer.shutdown(std::net::Shutdown::Write);
    });
    let raw = read_until_closed(&mut stream);
    let text = String::from_utf8_lossy(&raw);
    assert!(text.starts_with("HTTP/1.1 400 "), "{text:?}");
    sending.join().expect("the sending thread");
}

/// A WebSocket upgrade with a bad key is refused with 400, and nothing is registered.
fn bad_upgrade_400(server_name: &str) {
    let server = ws_server(server_name, &[]);
    let response = http(
        server.addr(),
        b"GET /ws HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
          Sec-WebSocket-Key: short\r\nSec-WebSocket-Version: 13\r\n\r\n",
    );
    assert_eq!(response.status, 400, "{response:?}");
    // A good upgrade afterwards is the only connection the console reports: the console keeps
    // its order, so a connection registered for the bad one would have been printed first.
    let mut good = ws_client(&server);
    good.send("whoami");
    good.expect_text("[ERROR] - First login!");
    let line = server.expect_console("New connection");
    assert!(
        line.contains(
            &good
                .stream()
                .local_addr()
                .expect("local address")
                .to_string()
        ),
        "{line}"
    );
    assert_eq!(
        server
            .console
            .snapshot()
            .iter()
            .filter(|l| l.contains("New connection"))
            .count(),
        1
    );
}

per_ws_runtime!(
    get_page,
    head_page,
    unknown_path_404,
    other_method_405,
    garbage_400,
    bad_upgrade_400,
);
