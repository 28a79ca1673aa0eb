//! End to end over WebSocket, on each runtime: the same session as over TCP (errors, login,
//! duplicate names, msg, msgall, whoami, userlist, logout and its close), several commands in
//! one frame, the upgrade on any path, binary frames, JSON form, close and drop as logout, the
//! flood limit, and WebSocket and TCP users in one chat under `bind`.

#[allow(unused_macros, unused_imports)]
mod common;
mod common_ws;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Instant;

use common::{Server, is_chat};
use common_ws::*;

/// The original's session, reply by reply, over WebSocket (text form, one reply per frame).
fn ws_session(server_name: &str) {
    let server = ws_server(server_name, &[]);
    let mut alice = ws_client(&server);

    alice.send("hello");
    alice.expect_text("[ERROR] - unknown command");
    alice.send("whoami");
    alice.expect_text("[ERROR] - First login!");
    alice.send("login");
    alice.expect_text("[ERROR] - require username");
    alice.send("login a b c");
    alice.expect_text("[ERROR] - overage info");
    alice.send("msg bob");
    alice.expect_text("[ERROR] - empty message");
    alice.send("msgall");
    alice.expect_text("[ERROR] - empty message");

    alice.send("LOGIN alice");
    alice.expect_text("[SYSTEM INFO] - [alice] login to chat.");
    server.expect_console(&format!(
        "[{server_name}] - [SERVER INFO] - [alice] login to chat."
    ));
    alice.send("login alice2");
    alice.expect_text("[ERROR] - Already login!");

    let mut bob = ws_client(&server);
    bob.send("login ALICE");
    bob.expect_text("[ERROR] - Username already taken!");
    bob.send("/login bob");
    bob.expect_text("[SYSTEM INFO] - [bob] login to chat.");
    alice.expect_text("[SYSTEM INFO] - [bob] login to chat.");

    alice.send("msg bob hi  there, bob");
    bob.expect_chat("[alice][->][bob]: hi  there, bob");
    alice.expect_chat("[alice][->][bob]: hi  there, bob");
    alice.send("msg carol hello");
    alice.expect_text("[ERROR] - [carol] not found!");

    bob.send("msgall hello all");
    bob.expect_chat("[bob]: hello all");
    alice.expect_chat("[bob]: hello all");

    alice.send("whoami");
    alice.expect_text("[INFO] - alice");

    let mut carol = ws_login(&server, "carol");
    alice.expect_text("[SYSTEM INFO] - [carol] login to chat.");
    bob.expect_text("[SYSTEM INFO] - [carol] login to chat.");
    carol.send("userlist");
    carol.expect_text("[INFO] - [alice, bob, carol]");

    // Logout: everyone sees it, the leaver too, then a normal close (1000) and nothing more.
    alice.send("logout");
    alice.expect_text("[SYSTEM INFO] - [alice] logout from chat.");
    alice.expect_close(1000);
    bob.expect_text("[SYSTEM INFO] - [alice] logout from chat.");
    carol.expect_text("[SYSTEM INFO] - [alice] logout from chat.");
    server.expect_console(&format!(
        "[{server_name}] - [SERVER INFO] - [alice] logout from chat."
    ));
    bob.send("userlist");
    bob.expect_text("[INFO] - [bob, carol]");
}

/// One frame may hold several commands separated by `\n` (a `\r` before it dropped); each gets
/// its own reply frame, in order. Empty lines in a frame are ignored.
fn several_commands_in_one_frame(server_name: &str) {
    let server = ws_server(server_name, &[]);
    let mut alice = ws_client(&server);
    alice.send("login alice\r\nwhoami\n\n  \nuserlist\nnope");
    alice.expect_texts(&[
        "[SYSTEM INFO] - [alice] login to chat.",
        "[INFO] - alice",
        "[INFO] - [alice]",
        "[ERROR] - unknown command",
    ]);
    // Replies never carry a line end.
    alice.send("msgall one\nmsgall two");
    let one = alice.expect_chat("[alice]: one");
    assert!(!one.ends_with(['\r', '\n']), "{one:?}");
    alice.expect_chat("[alice]: two");
}

/// The upgrade works on any path: `/`, `/ws`, anything else, and with a query string.
fn upgrade_on_any_path(server_name: &str) {
    let server = ws_server(server_name, &[]);
    for path in ["/", "/ws", "/chat/room", "/ws?token=1"] {
        let mut client = WsClient::connect(server.addr(), path);
        client.expect_text(&greeting(server_name));
        client.send("whoami");
        client.expect_text("[ERROR] - First login!");
    }
}

/// A binary frame gets the error, and the connection stays up.
fn binary_frame_error(server_name: &str) {
    let server = ws_server(server_name, &[]);
    let mut alice = ws_client(&server);
    alice.send_message(tungstenite::Message::binary(b"login alice".to_vec()));
    alice.expect_text("[ERROR] - binary frames are not supported");
    alice.send("login alice");
    alice.expect_text("[SYSTEM INFO] - [alice] login to chat.");
}

/// `format json` works over WebSocket: one JSON object per frame.
fn json_form(server_name: &str) {
    let server = ws_server(server_name, &[]);
    let mut alice = ws_client(&server);
    alice.send("format json");
    alice.expect_text(r#"{"type":"info","text":"format json"}"#);
    alice.send("login alice\nwhoami x");
    alice.expect_texts(&[
        r#"{"type":"login","user":"alice"}"#,
        r#"{"type":"error","code":"overage_info","text":"overage info"}"#,
    ]);
}

/// A close frame from the client, or a dropped socket, is a logout for the others.
fn close_or_drop_is_logout(server_name: &str) {
    let server = ws_server(server_name, &[]);
    let mut alice = ws_login(&server, "alice");
    let mut bob = ws_login(&server, "bob");
    alice.expect_text("[SYSTEM INFO] - [bob] login to chat.");
    let carol = ws_login(&server, "carol");
    alice.expect_text("[SYSTEM INFO] - [carol] login to chat.");
    bob.expect_text("[SYSTEM INFO] - [carol] login to chat.");

    // bob closes properly: the server answers his close frame, then the connection ends.
    bob.send_message(tungstenite::Message::Close(None));
    match bob.read_skipping_pings(common::DEADLINE) {
        WsRead::Close(_) => {}
        other => panic!("expected the close reply, got {other:?}"),
    }
    bob.expect_ended();
    alice.expect_text("[SYSTEM INFO] - [bob] logout from chat.");
    server.expect_console("[bob] disconnected: connection closed");

    // carol's socket just goes away.
    drop(carol);
    alice.expect_text("[SYSTEM INFO] - [carol] logout from chat.");
    alice.send("userlist");
    alice.expect_text("[INFO] - [alice]");
}

/// The flood limit applies per command, also to the commands of one frame.
fn flood_limit(server_name: &str) {
    let server = ws_server(server_name, &["--flood-burst", "3", "--flood-rate", "0.01"]);
    let mut alice = ws_client(&server);
    alice.send("login alice\nwhoami\nwhoami\nwhoami\nwhoami");
    alice.expect_texts(&[
        "[SYSTEM INFO] - [alice] login to chat.",
        "[INFO] - alice",
        "[INFO] - alice",
        "[ERROR] - too many requests",
        "[ERROR] - too many requests",
    ]);
    alice.send("whoami");
    alice.expect_text("[ERROR] - too many requests");
}

/// A line of a frame over `--max-line` gets `line too long`; the other lines of the frame are
/// handled.
fn line_too_long_in_frame(server_name: &str) {
    let server = ws_server(server_name, &["--max-line", "20"]);
    let mut alice = ws_client(&server);
    alice.send(&format!("login alice\nmsgall {}\nwhoami", "x".repeat(20)));
    alice.expect_texts(&[
        "[SYSTEM INFO] - [alice] login to chat.",
        "[ERROR] - line too long",
        "[INFO] - alice",
    ]);
}

/// `logout` in the middle of a frame: the rest of the frame is not handled, the logout line
/// comes last, then the close.
fn logout_mid_frame(server_name: &str) {
    let server = ws_server(server_name, &[]);
    let mut bob = ws_login(&server, "bob");
    let mut alice = ws_client(&server);
    alice.send("login alice\nlogout\nmsgall too late");
    alice.expect_texts(&[
        "[SYSTEM INFO] - [alice] login to chat.",
        "[SYSTEM INFO] - [alice] logout from chat.",
    ]);
    alice.expect_close(1000);
    bob.expect_texts(&[
        "[SYSTEM INFO] - [alice] login to chat.",
        "[SYSTEM INFO] - [alice] logout from chat.",
    ]);
    bob.send("msgall still here");
    bob.expect_chat("[bob]: still here");
}

/// A client may send its first frame in the same packet as the upgrade request: the bytes after
/// the request head are the start of the WebSocket stream.
fn first_frame_with_the_upgrade(server_name: &str) {
    let server = ws_server(server_name, &[]);
    let mut stream = TcpStream::connect(server.addr()).expect("connect");
    let mut bytes = b"GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n\
        Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
        Sec-WebSocket-Version: 13\r\n\r\n"
        .to_vec();
    // A masked text frame (mask key 0, so the payload reads as it is).
    let command = b"login early";
    bytes.extend_from_slice(&[0x81, 0x80 | command.len() as u8, 0, 0, 0, 0]);
    bytes.extend_from_slice(command);
    stream.write_all(&bytes).expect("write");

    let expected_head = "HTTP/1.1 101 Switching Protocols\r\n";
    let greeting = greeting(server_name);
    let login = "[SYSTEM INFO] - [early] login to chat.";
    let want = expected_head.len() + 4 + greeting.len() + 2 + login.len();
    let deadline = Instant::now() + common::DEADLINE;
    let mut raw = Vec::new();
    let mut chunk = [0u8; 4096];
    let (head_end, frames) = loop {
        if let Some(end) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
            let frames = &raw[end + 4..];
            if frames.len() >= greeting.len() + 2 + login.len() + 2 {
                break (end + 4, frames.to_vec());
            }
        }
        let now = Instant::now();
        assert!(
            now < deadline,
            "incomplete answer {raw:?} (want {want}+ bytes)"
        );
        stream
            .set_read_timeout(Some(deadline - now))
            .expect("set_read_timeout");
        let n = stream.read(&mut chunk).expect("read");
        assert!(n > 0, "closed early: {raw:?}");
        raw.extend_from_slice(&chunk[..n]);
    };
    assert!(raw.starts_with(expected_head.as_bytes()), "{raw:?}");
    assert!(head_end > expected_head.len());
    // Two unmasked text frames, each under 126 bytes: the greeting, then the login.
    let mut rest = &frames[..];
    for text in [greeting.as_str(), login] {
        assert_eq!(rest[0], 0x81, "{frames:?}");
        let len = usize::from(rest[1]);
        assert_eq!(&rest[2..2 + len], text.as_bytes());
        rest = &rest[2 + len..];
    }
}

per_ws_runtime!(
    ws_session,
    several_commands_in_one_frame,
    upgrade_on_any_path,
    binary_frame_error,
    json_form,
    close_or_drop_is_logout,
    flood_limit,
    line_too_long_in_frame,
    logout_mid_frame,
    first_frame_with_the_upgrade,
);

/// `bind <runtime>` runs that runtime's TCP and WebSocket servers on one kernel: a telnet user
/// and a browser user are in the same chat.
fn ws_and_tcp_users_chat(runtime: &str) {
    let server = Server::start(
        &[
            "bind",
            runtime,
            "--base-port",
            "0",
            "--store",
            "memory",
            "--no-color",
        ],
        2,
    );
    let tcp_name = format!("{runtime}_chat");
    let ws_name = format!("{runtime}_ws_chat");
    let mut telnet = server.login_on(&tcp_name, "telnet");
    let mut browser = ws_login_on(&server, &ws_name, "browser");
    telnet.expect_line("[SYSTEM INFO] - [browser] login to chat.");

    telnet.send("msgall hi from telnet");
    telnet.expect_chat("[telnet]: hi from telnet");
    browser.expect_chat("[telnet]: hi from telnet");
    browser.send("msg telnet hi from the browser");
    browser.expect_chat("[browser][->][telnet]: hi from the browser");
    telnet.expect_chat("[browser][->][telnet]: hi from the browser");
    browser.send("userlist");
    browser.expect_text("[INFO] - [telnet, browser]");

    browser.send("logout");
    browser.expect_text("[SYSTEM INFO] - [browser] logout from chat.");
    browser.expect_close(1000);
    telnet.expect_line("[SYSTEM INFO] - [browser] logout from chat.");
}

mod ws_and_tcp_users_chat {
    #[test]
    fn tokio() {
        super::ws_and_tcp_users_chat("tokio");
    }
    #[test]
    fn async_std() {
        super::ws_and_tcp_users_chat("async_std");
    }
    #[test]
    fn smol() {
        super::ws_and_tcp_users_chat("smol");
    }
}

/// `bind all`: users on the three WebSocket servers and a TCP server talk to each other.
#[test]
fn bind_all_one_chat() {
    let server = Server::start(
        &[
            "bind",
            "all",
            "--base-port",
            "0",
            "--store",
            "memory",
            "--no-color",
        ],
        6,
    );
    let mut telnet = server.login_on("smol_chat", "telnet");
    let mut users = Vec::new();
    for (i, name) in ["tokio_ws_chat", "async_std_ws_chat", "smol_ws_chat"]
        .iter()
        .enumerate()
    {
        let user = format!("web{i}");
        let client = ws_login_on(&server, name, &user);
        telnet.expect_line(&format!("[SYSTEM INFO] - [{user}] login to chat."));
        for earlier in &mut users {
            let earlier: &mut WsClient = earlier;
            earlier.expect_text(&format!("[SYSTEM INFO] - [{user}] login to chat."));
        }
        users.push(client);
    }
    users[0].send("msgall across runtimes");
    telnet.expect_chat("[web0]: across runtimes");
    for user in &mut users {
        let text = user.read_text();
        assert!(is_chat(&text, "[web0]: across runtimes"), "{text:?}");
    }
}
