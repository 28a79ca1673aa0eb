//! End to end over WebSocket, on each runtime: the limits and control frames of PROTOCOL.md
//! section 1 — a message over `--max-ws-message` closes with 1009, invalid UTF-8 with 1007
//! (nothing after the close frame), pings are answered, an idle client is pinged and dropped,
//! a full server sends the error and closes with 1013, and shutdown closes with 1001.

#[allow(unused_macros, unused_imports)]
mod common;
mod common_ws;

use std::io::{ErrorKind, Read};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::DEADLINE;
use common_ws::*;
use tungstenite::protocol::frame::Frame;
use tungstenite::protocol::frame::coding::{Data, OpCode};
use tungstenite::{Bytes, Message};

/// A message of exactly `--max-ws-message` bytes is fine; one byte more closes with 1009, the
/// user's logout reaches the others, and nothing follows the close frame.
fn message_too_big(server_name: &str) {
    let server = ws_server(server_name, &["--max-ws-message", "1024"]);
    let mut alice = ws_login(&server, "alice");
    let mut bob = ws_login(&server, "bob");
    alice.expect_text("[SYSTEM INFO] - [bob] login to chat.");

    let text = "a".repeat(1024 - "msgall ".len());
    alice.send(&format!("msgall {text}"));
    alice.expect_chat(&format!("[alice]: {text}"));
    bob.expect_chat(&format!("[alice]: {text}"));

    alice.send(&format!("msgall {text}b"));
    alice.expect_close(1009);
    bob.expect_text("[SYSTEM INFO] - [alice] logout from chat.");
    server.expect_console("[alice] disconnected: message too big");

    // Far over the limit: refused from the frame header on, with the same close.
    let mut carol = ws_client(&server);
    carol.send(&"c".repeat(512 * 1024));
    carol.expect_close(1009);
}

/// A message split over several frames counts as a whole against the limit.
fn fragmented_message_too_big(server_name: &str) {
    let server = ws_server(server_name, &["--max-ws-message", "1024"]);
    let mut alice = ws_client(&server);
    for (opcode, fin) in [
        (Data::Text, false),
        (Data::Continue, false),
        (Data::Continue, true),
    ] {
        let frame = Frame::message(Bytes::from(vec![b'x'; 500]), OpCode::Data(opcode), fin);
        alice.send_message(Message::Frame(frame));
    }
    alice.expect_close(1009);
}

/// A text frame that is not UTF-8 closes with 1007; nothing follows the close frame.
fn invalid_utf8_closes_1007(server_name: &str) {
    let server = ws_server(server_name, &[]);
    let mut alice = ws_login(&server, "alice");
    let mut bob = ws_login(&server, "bob");
    alice.expect_text("[SYSTEM INFO] - [bob] login to chat.");
    alice.send_raw_text(b"msgall caf\xc3\x28");
    alice.expect_close(1007);
    bob.expect_text("[SYSTEM INFO] - [alice] logout from chat.");
    server.expect_console("[alice] disconnected: invalid UTF-8");
}

/// A ping from the client is answered with a pong carrying the same data.
fn ping_answered(server_name: &str) {
    let server = ws_server(server_name, &[]);
    let mut alice = ws_client(&server);
    alice.send_message(Message::Ping(Bytes::from_static(b"are you there")));
    match alice.read_within(DEADLINE) {
        WsRead::Pong(data) => assert_eq!(data, b"are you there"),
        other => panic!("expected a pong, got {other:?}"),
    }
    // The connection is still fine.
    alice.send("whoami");
    alice.expect_text("[ERROR] - First login!");
}

/// With `--ws-idle 1`, a silent client is pinged; a client that answers stays connected.
fn idle_client_answering_pings_stays(server_name: &str) {
    let server = ws_server(server_name, &["--ws-idle", "1"]);
    let mut alice = ws_login(&server, "alice");
    // tungstenite answers each ping with the next read; two pings prove the first pong counted.
    for _ in 0..2 {
        match alice.read_within(DEADLINE) {
            WsRead::Ping(_) => {}
            other => panic!("expected a ping, got {other:?}"),
        }
    }
    alice.send("whoami");
    alice.expect_text("[INFO] - alice");
}

/// With `--ws-idle 1`, a client that never answers is pinged, then dropped with a close frame
/// (1001); the others see its logout.
fn idle_client_dropped(server_name: &str) {
    let server = ws_server(server_name, &["--ws-idle", "1"]);
    let mut sleepy = ws_login(&server, "sleepy");
    let mut watcher = ws_login(&server, "watcher");
    sleepy.expect_text("[SYSTEM INFO] - [watcher] login to chat.");

    // From now on read sleepy's socket raw (in a thread), so tungstenite sends no pong for it;
    // the watcher keeps reading, so its own pings are answered.
    let started = Instant::now();
    let mut raw_stream = sleepy.stream().try_clone().expect("clone the socket");
    let raw =
        std::thread::spawn(move || (read_raw_until_closed(&mut raw_stream), started.elapsed()));
    watcher.expect_text("[SYSTEM INFO] - [sleepy] logout from chat.");
    let (raw, elapsed) = raw.join().expect("the raw reader");
    let frames = parse_server_frames(&raw);
    assert_eq!(
        frames.first(),
        Some(&(0x9, Vec::new())),
        "first a ping; frames: {frames:?}"
    );
    let (opcode, payload) = frames.last().expect("a close frame after the ping");
    assert_eq!(*opcode, 0x8, "then a close frame; frames: {frames:?}");
    assert_eq!(u16::from_be_bytes([payload[0], payload[1]]), 1001);
    assert_eq!(&payload[2..], b"WebSocket timeout");
    assert_eq!(
        frames.len(),
        2,
        "nothing but the ping and the close: {frames:?}"
    );
    // Pinged after 1 s of silence, dropped after 1 s more.
    assert!(elapsed >= Duration::from_millis(1900), "{elapsed:?}");
    server.expect_console("[sleepy] disconnected: WebSocket timeout");
}

/// Reads raw bytes until the server closes the connection (within the deadline).
fn read_raw_until_closed(stream: &mut TcpStream) -> Vec<u8> {
    let deadline = Instant::now() + DEADLINE;
    let mut raw = Vec::new();
    let mut chunk = [0u8; 1024];
    loop {
        let now = Instant::now();
        assert!(now < deadline, "not closed in time; read {raw:?}");
        stream
            .set_read_timeout(Some(deadline - now))
            .expect("set_read_timeout");
        match stream.read(&mut chunk) {
            Ok(0) => return raw,
            Ok(n) => raw.extend_from_slice(&chunk[..n]),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => panic!("read failed: {e}; read {raw:?}"),
        }
    }
}

/// Splits unmasked server frames (payloads under 126 bytes) into (opcode, payload).
fn parse_server_frames(mut raw: &[u8]) -> Vec<(u8, Vec<u8>)> {
    let mut frames = Vec::new();
    while raw.len() >= 2 {
        let opcode = raw[0] & 0x0f;
        let len = usize::from(raw[1] & 0x7f);
        assert!(raw[1] & 0x80 == 0 && len < 126, "unexpected frame {raw:?}");
        assert!(raw.len() >= 2 + len, "truncated frame {raw:?}");
        frames.push((opcode, raw[2..2 + len].to_vec()));
        raw = &raw[2 + len..];
    }
    assert!(raw.is_empty(), "trailing bytes {raw:?}");
    frames
}

/// At the connection limit, a new WebSocket client gets `server full` as a text frame, then a
/// close with 1013; the first client is unaffected.
fn server_full_closes_1013(server_name: &str) {
    let server = ws_server(server_name, &["--max-connections", "1"]);
    let mut alice = ws_login(&server, "alice");
    let mut late = WsClient::connect(server.addr(), "/");
    late.expect_text("[ERROR] - server full");
    late.expect_close(1013);
    alice.send("whoami");
    alice.expect_text("[INFO] - alice");
}

/// SIGTERM: a WebSocket client gets `server shutting down`, then a close with 1001.
fn shutdown_closes_1001(server_name: &str) {
    let mut server = ws_server(server_name, &[]);
    // A connection that never sends its request head (a browser's preconnect) does not hold up
    // the shutdown: it is closed at once, unanswered. (Connections are accepted in order, so
    // alice's greeting proves the server has this one.)
    let mut silent = TcpStream::connect(server.addr()).expect("connect");
    let mut alice = ws_login(&server, "alice");
    let signalled = Instant::now();
    server.sigterm();
    alice.expect_text("[SERVER INFO] - server shutting down");
    alice.expect_close(1001);
    assert_eq!(read_until_closed(&mut silent), b"");
    assert!(
        signalled.elapsed() < Duration::from_secs(3),
        "the silent connection held up the shutdown: {:?}",
        signalled.elapsed()
    );
    let status = server.wait_exit(Duration::from_secs(5));
    assert!(status.success(), "{status:?}");
}

/// A WebSocket client that logs in and never reads is dropped once its pending output passes
/// `--send-queue`, while every broadcast still reaches the others; its socket is then closed.
fn slow_reader_is_dropped(server_name: &str) {
    /// Broadcasts sent at least, and at most while waiting for the drop (about 40 MB).
    const MIN_BROADCASTS: usize = 1_000;
    const MAX_BROADCASTS: usize = 20_000;
    /// Broadcasts per frame of the sender; the others read them all before the next frame.
    const BATCH: usize = 25;

    let server = ws_server(server_name, &["--send-queue", "65536", "--no-flood-limit"]);
    let mut watcher = ws_login(&server, "watcher");
    let mut sender = ws_login(&server, "sender");
    watcher.expect_text("[SYSTEM INFO] - [sender] login to chat.");
    let mut slow = ws_login(&server, "slow");
    watcher.expect_text("[SYSTEM INFO] - [slow] login to chat.");
    sender.expect_text("[SYSTEM INFO] - [slow] login to chat.");

    let body = "b".repeat(2_000);
    let dropped_line = "[slow] disconnected: send queue full";
    let mut sent = 0;
    let mut others = [(watcher, false), (sender, false)];
    while sent < MIN_BROADCASTS || !server.console_has(dropped_line) {
        assert!(sent < MAX_BROADCASTS, "slow reader never dropped");
        let frame: Vec<String> = (sent..sent + BATCH)
            .map(|i| format!("msgall {i} {body}"))
            .collect();
        others[1].0.send(&frame.join("\n"));
        for i in sent..sent + BATCH {
            let expected = format!("[sender]: {i} {body}");
            for (client, saw_logout) in &mut others {
                let mut text = client.read_text();
                if text == "[SYSTEM INFO] - [slow] logout from chat." {
                    assert!(!*saw_logout, "logout seen twice");
                    *saw_logout = true;
                    text = client.read_text();
                }
                assert!(
                    common::is_chat(&text, &expected),
                    "broadcast {i} missing or out of order: {:?}",
                    &text[..text.len().min(60)]
                );
            }
        }
        sent += BATCH;
    }
    for (client, saw_logout) in &mut others {
        if !*saw_logout {
            client.expect_text("[SYSTEM INFO] - [slow] logout from chat.");
        }
    }
    server.expect_console(&format!(
        "[{server_name}] - [SERVER INFO] - [slow] disconnected: send queue full"
    ));
    // The server closed the slow reader's socket: reading what was buffered ends in EOF.
    read_until_closed(slow.stream());
    let watcher = &mut others[0].0;
    watcher.send("userlist");
    watcher.expect_text("[INFO] - [watcher, sender]");
}

per_ws_runtime!(
    message_too_big,
    fragmented_message_too_big,
    invalid_utf8_closes_1007,
    ping_answered,
    idle_client_answering_pings_stays,
    idle_client_dropped,
    server_full_closes_1013,
    shutdown_closes_1001,
    slow_reader_is_dropped,
);
