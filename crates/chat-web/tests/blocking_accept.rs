//! The accept path a front-end follows (read head -> respond -> write ->
//! upgrade with the leftover bytes, or close), run on blocking std sockets
//! against real clients: tungstenite's client, and raw bytes.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use chat_web::{Action, HeadBuffer, Page, respond};
use tungstenite::Message;
use tungstenite::protocol::{Role, WebSocket};

const TIMEOUT: Duration = Duration::from_secs(5);

/// What the test server saw on its one connection.
#[derive(Debug, PartialEq)]
enum Served {
    /// Answered with this status and closed.
    Closed(u16),
    /// Upgraded, and echoed this text message.
    Echoed(String),
}

/// Accepts one connection and runs the accept path; after an upgrade it
/// echoes one text message and closes.
fn serve_once() -> (u16, JoinHandle<Served>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("address").port();
    let handle = thread::spawn(move || {
        let page = Page::new("test_ws_chat");
        let (mut stream, _) = listener.accept().expect("accept");
        stream.set_read_timeout(Some(TIMEOUT)).expect("timeout");
        let mut head = HeadBuffer::new();
        let mut chunk = [0u8; 1024];
        let response = loop {
            let read = stream.read(&mut chunk).expect("read head");
            assert!(read > 0, "client closed before the head was complete");
            match head.push(&chunk[..read]) {
                Ok(Some(_)) => break respond(head.head().expect("complete"), &page),
                Ok(None) => continue,
                Err(error) => break error.response(),
            }
        };
        stream.write_all(response.bytes()).expect("write response");
        match response.action() {
            Action::Close => Served::Closed(response.status()),
            Action::Upgrade => {
                let mut socket = WebSocket::from_partially_read(
                    stream,
                    head.into_leftover(),
                    Role::Server,
                    None,
                );
                let text = match socket.read().expect("read message") {
                    Message::Text(text) => text.to_string(),
                    other => panic!("expected text, got {other:?}"),
                };
                socket.send(Message::text(text.clone())).expect("echo");
                // Send a close frame and drop the connection (no wait for
                // the client's close reply).
                socket.close(None).expect("close");
                socket.flush().expect("flush close");
                Served::Echoed(text)
            }
        }
    });
    (port, handle)
}

fn connect(port: u16) -> TcpStream {
    let stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    stream.set_read_timeout(Some(TIMEOUT)).expect("timeout");
    stream
}

/// Reads until the server closes.
fn read_all(mut stream: TcpStream) -> Vec<u8> {
    let mut bytes = Vec::new();
    stream.read_to_end(&mut bytes).expect("read until close");
    bytes
}

#[test]
fn tungstenite_client_upgrades_and_talks() {
    let (port, server) = serve_once();
    let stream = connect(port);
    let (mut client, response) =
        tungstenite::client::client(format!("ws://127.0.0.1:{port}/ws"), stream)
            .expect("handshake");
    assert_eq!(response.status(), 101);
    client.send(Message::text("login alice")).expect("send");
    let reply = client.read().expect("echo");
    assert_eq!(reply, Message::text("login alice"));
    assert!(matches!(client.read(), Ok(Message::Close(_))));
    assert_eq!(
        server.join().expect("server thread"),
        Served::Echoed("login alice".into())
    );
}

#[test]
fn frame_sent_with_the_head_is_not_lost() {
    let (port, server) = serve_once();
    let mut stream = connect(port);
    // The request and a first masked text frame "hi" in one write.
    let mut bytes = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n\
        Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
        Sec-WebSocket-Version: 13\r\n\r\n"
        .to_vec();
    let mask = [0x11, 0x22, 0x33, 0x44];
    bytes.extend_from_slice(&[0x81, 0x80 | 2]);
    bytes.extend_from_slice(&mask);
    bytes.extend(b"hi".iter().zip(mask).map(|(byte, key)| byte ^ key));
    stream.write_all(&bytes).expect("write");

    let received = read_all(stream);
    let expected_head = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\
        Connection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n";
    assert!(received.starts_with(expected_head));
    // Then the unmasked echo frame, then the server's close frame.
    let frames = &received[expected_head.len()..];
    assert_eq!(&frames[..4], &[0x81, 2, b'h', b'i']);
    assert_eq!(frames[4], 0x88, "close frame follows");
    assert_eq!(
        server.join().expect("server thread"),
        Served::Echoed("hi".into())
    );
}

#[test]
fn page_is_served_then_closed() {
    let (port, server) = serve_once();
    let mut stream = connect(port);
    stream
        .write_all(b"GET /?from=test HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        .expect("write");
    let received = String::from_utf8(read_all(stream)).expect("UTF-8");
    let (head, body) = received.split_once("\r\n\r\n").expect("head");
    assert!(head.starts_with("HTTP/1.1 200 OK\r\n"));
    assert!(head.contains(&format!("Content-Length: {}", body.len())));
    assert!(body.contains("data-server=\"test_ws_chat\""));
    assert_eq!(server.join().expect("server thread"), Served::Closed(200));
}

#[test]
fn head_written_in_pieces() {
    let (port, server) = serve_once();
    let mut stream = connect(port);
    stream.set_nodelay(true).expect("nodelay");
    for piece in [
        &b"HEAD /index"[..],
        b".html HTTP/1.1\r\nHo",
        b"st: x\r\n",
        b"\r\n",
    ] {
        stream.write_all(piece).expect("write piece");
        stream.flush().expect("flush");
    }
    let received = String::from_utf8(read_all(stream)).expect("UTF-8");
    assert!(received.starts_with("HTTP/1.1 200 OK\r\n"));
    assert!(received.ends_with("\r\n\r\n"), "HEAD has no body");
    assert_eq!(server.join().expect("server thread"), Served::Closed(200));
}

#[test]
fn not_http_gets_400_and_close() {
    let (port, server) = serve_once();
    let mut stream = connect(port);
    stream.write_all(b"login alice\r\n").expect("write");
    let received = String::from_utf8(read_all(stream)).expect("UTF-8");
    assert!(received.starts_with("HTTP/1.1 400 Bad Request\r\n"));
    assert_eq!(server.join().expect("server thread"), Served::Closed(400));
}

#[test]
fn oversized_head_gets_431_and_close() {
    let (port, server) = serve_once();
    let mut stream = connect(port);
    // Exactly the limit, without the end of the head: the server reads it
    // all (so its close is a clean FIN, not a reset) and refuses it.
    let mut request = b"GET / HTTP/1.1\r\nX-Big: ".to_vec();
    request.resize(chat_web::DEFAULT_HEAD_LIMIT, b'a');
    stream.write_all(&request).expect("write");
    let received = read_all(stream);
    assert!(received.starts_with(b"HTTP/1.1 431 "));
    assert_eq!(server.join().expect("server thread"), Served::Closed(431));
}
