//! Every error row of PROTOCOL.md section 3: exact text, JSON code, and the order in which
//! syntax is checked (before the login state).

mod common;

use chat_kernel::{Input, KernelConfig, Limits, Refused, Transport};
use common::{Chat, Client};
use serde_json::json;

/// Sends `line` in text form and in JSON form and checks both renderings of the one error.
fn expect_error(c: &Client, line: &str, text: &str, code: &str) {
    assert_eq!(c.ask(line), [format!("[ERROR] - {text}")], "{line}");
    assert_eq!(
        c.ask_json("format json"),
        [json!({"type":"info","text":"format json"})]
    );
    assert_eq!(
        c.ask_json(line),
        [json!({"type":"error","code":code,"text":text})],
        "{line}"
    );
    assert_eq!(c.ask("format text"), ["[INFO] - format text"]);
}

#[test]
fn unknown_command() {
    let chat = Chat::new();
    let anon = chat.connect();
    let alice = chat.login("alice");
    for c in [&anon, &alice] {
        for line in [
            "hello",
            "login2 x",
            "/",
            "//login x",
            "message bob hi",
            "quit",
        ] {
            expect_error(c, line, "unknown command", "unknown_command");
        }
    }
}

#[test]
fn require_username() {
    let chat = Chat::new();
    let anon = chat.connect();
    for line in ["login", "register", "/LOGIN", "Register   "] {
        expect_error(&anon, line, "require username", "require_username");
    }
}

#[test]
fn overage_info() {
    let chat = Chat::new();
    let anon = chat.connect();
    let alice = chat.login("alice");
    for c in [&anon, &alice] {
        for line in [
            "login a b c",
            "register a b c",
            "logout x",
            "msg",
            "whoami x",
            "userlist x",
            "rooms x",
            "help x",
            "debug x",
            "join #a #b",
            "left #a #b",
            "history #a 1 2",
            "history 5 #a",
            "format text json",
        ] {
            expect_error(c, line, "overage info", "overage_info");
        }
    }
}

#[test]
fn empty_message() {
    let chat = Chat::new();
    let anon = chat.connect();
    let alice = chat.login("alice");
    for c in [&anon, &alice] {
        for line in ["msg bob", "msgall", "msg #rust", "msg   bob   "] {
            expect_error(c, line, "empty message", "empty_message");
        }
    }
}

#[test]
fn require_password() {
    let chat = Chat::new();
    let anon = chat.connect();
    expect_error(
        &anon,
        "register bob",
        "require password",
        "require_password",
    );
    // Password is asked for before the name is judged.
    expect_error(
        &anon,
        "register #bob",
        "require password",
        "require_password",
    );
}

#[test]
fn require_room() {
    let chat = Chat::new();
    let anon = chat.connect();
    let alice = chat.login("alice");
    for c in [&anon, &alice] {
        for line in ["join", "left", "leave", "/JOIN"] {
            expect_error(c, line, "require room", "require_room");
        }
    }
}

#[test]
fn invalid_username() {
    let chat = Chat::new();
    let anon = chat.connect();
    let alice = chat.login("alice");
    let long = format!("login {}", "x".repeat(33));
    for line in [
        "login #a",
        "login /a",
        long.as_str(),
        "register #a pw",
        "register /a pw",
        "login #a pw",
        // Our choice: invisible characters would make a second `alice` that looks the same.
        "login ali\u{200B}ce",
        "register ali\u{202E}ce pw",
    ] {
        expect_error(&anon, line, "invalid username", "invalid_username");
    }
    expect_error(
        &alice,
        "msg /bob hi",
        "invalid username",
        "invalid_username",
    );
    // 32 characters is fine.
    let ok = format!("login {}", "é".repeat(32));
    assert_eq!(anon.ask(&ok).len(), 1);
    assert!(anon.ask("whoami")[0].starts_with("[INFO] - é"));
}

#[test]
fn invalid_room_name() {
    let chat = Chat::new();
    let anon = chat.connect();
    let alice = chat.login("alice");
    let long = format!("join #{}", "a".repeat(33));
    for c in [&anon, &alice] {
        for line in [
            "join rust",
            "join #ru$t",
            "join #rüst",
            "join #",
            long.as_str(),
            "left #a!",
            "leave nohash",
            "msg #bad! hi",
            "msg # hi",
            "history #bad!",
            "history #bad! x",
        ] {
            expect_error(c, line, "invalid room name", "invalid_room_name");
        }
    }
    let ok = format!("join #{}", "a".repeat(32));
    assert_eq!(alice.ask(&ok).len(), 1);
}

#[test]
fn invalid_number() {
    let chat = Chat::new();
    let anon = chat.connect();
    let alice = chat.login("alice");
    for c in [&anon, &alice] {
        for line in [
            "history 0",
            "history 00",
            "history -1",
            "history x",
            "history 1.5",
            "history #rust 0",
            "history #rust +3",
        ] {
            expect_error(c, line, "invalid number", "invalid_number");
        }
    }
}

#[test]
fn unknown_format() {
    let chat = Chat::new();
    let anon = chat.connect();
    for line in ["format xml", "format colour", "format html"] {
        expect_error(&anon, line, "unknown format", "unknown_format");
    }
}

#[test]
fn first_login_for_every_command_that_needs_it() {
    let chat = Chat::new();
    let anon = chat.connect();
    for line in [
        "msg bob hi",
        "msg #rust hi",
        "msgall hi",
        "join #rust",
        "left #rust",
        "leave #rust",
        "rooms",
        "history",
        "history #rust 5",
        "whoami",
        "userlist",
        "debug",
        "logout",
    ] {
        expect_error(&anon, line, "First login!", "first_login");
    }
}

#[test]
fn already_login() {
    let chat = Chat::new();
    let alice = chat.login("alice");
    for line in ["login alice", "login bob", "login bob pw", "LOGIN alice"] {
        expect_error(&alice, line, "Already login!", "already_login");
    }
}

#[test]
fn username_taken() {
    let chat = Chat::new();
    let _alice = chat.login("Alice");
    let anon = chat.connect();
    for line in ["login alice", "login ALICE", "register alice pw"] {
        expect_error(&anon, line, "Username already taken!", "username_taken");
    }
    // An already registered name.
    assert!(anon.ask("register bob pw").is_empty(), "registration runs");
    assert_eq!(anon.wait_lines(&chat, 1), ["[INFO] - [bob] registered."]);
    expect_error(
        &anon,
        "register BOB other",
        "Username already taken!",
        "username_taken",
    );
}

#[test]
fn password_required_and_wrong_password() {
    let chat = Chat::new();
    let anon = chat.connect();
    anon.send("register bob pw");
    assert_eq!(anon.wait_lines(&chat, 1), ["[INFO] - [bob] registered."]);
    expect_error(&anon, "login bob", "password required", "password_required");
    expect_error(&anon, "login BOB", "password required", "password_required");
    for (line, json_line) in [
        ("login bob nope", "login bob nope2"),
        ("login ghost pw", "login ghost pw"),
    ] {
        anon.send(line);
        assert_eq!(anon.wait_lines(&chat, 1), ["[ERROR] - wrong password"]);
        anon.ask_json("format json");
        anon.send(json_line);
        chat.sync();
        assert_eq!(
            anon.take_json(),
            [json!({"type":"error","code":"wrong_password","text":"wrong password"})]
        );
        anon.ask("format text");
    }
}

#[test]
fn not_found_user_and_room() {
    let chat = Chat::new();
    let alice = chat.login("alice");
    expect_error(&alice, "msg bob hi", "[bob] not found!", "not_found");
    expect_error(&alice, "msg BoB hi", "[BoB] not found!", "not_found");
    expect_error(&alice, "history #Rust", "[#Rust] not found!", "not_found");
    expect_error(&alice, "history #rust 3", "[#rust] not found!", "not_found");
    expect_error(&alice, "left #rust", "[#rust] not found!", "not_found");
    expect_error(&alice, "leave #rust", "[#rust] not found!", "not_found");
}

#[test]
fn not_in_room() {
    let chat = Chat::new();
    let alice = chat.login("alice");
    let bob = chat.login("bob");
    bob.ask("join #Rust");
    alice.take();
    expect_error(&alice, "msg #rust hi", "not in #Rust", "not_in_room");
    expect_error(&alice, "left #RUST", "not in #Rust", "not_in_room");
    // A room that does not exist at all: msg says "not in" with the name as written.
    expect_error(&alice, "msg #nowhere hi", "not in #nowhere", "not_in_room");
    assert!(bob.take().is_empty(), "errors go to the requester only");
}

#[test]
fn too_many_requests() {
    let chat = Chat::with_config(KernelConfig {
        no_color: true,
        limits: Limits {
            flood: Some(chat_kernel::FloodLimit {
                burst: 8,
                rate: 0.001,
            }),
            ..Limits::default()
        },
    });
    let text = chat.connect();
    for _ in 0..8 {
        assert_eq!(text.ask("help x"), ["[ERROR] - overage info"]);
    }
    assert_eq!(text.ask("whoami"), ["[ERROR] - too many requests"]);
    let json = chat.connect();
    json.ask("format json");
    for _ in 0..7 {
        json.ask("help x");
    }
    assert_eq!(
        json.ask_json("whoami"),
        [json!({"type":"error","code":"too_many_requests","text":"too many requests"})]
    );
}

#[test]
fn line_too_long_invalid_utf8_binary_frame() {
    let chat = Chat::new();
    let c = chat.connect();
    for (input, text, code) in [
        (Input::TooLong, "line too long", "line_too_long"),
        (Input::InvalidUtf8, "invalid UTF-8", "invalid_utf8"),
        (
            Input::BinaryFrame,
            "binary frames are not supported",
            "binary_frame",
        ),
    ] {
        c.input(input);
        assert_eq!(c.take(), [format!("[ERROR] - {text}")]);
        c.ask("format json");
        c.input(input);
        assert_eq!(
            c.take_json(),
            [json!({"type":"error","code":code,"text":text})]
        );
        c.ask("format text");
    }
}

#[test]
fn server_full_payload_in_the_default_form_of_the_transport() {
    let limits = Limits {
        max_connections: 1,
        flood: None,
        ..Limits::default()
    };
    let cases: [(bool, Transport, &[u8]); 3] = [
        (true, Transport::Tcp, b"[ERROR] - server full\r\n"),
        (
            false,
            Transport::Tcp,
            b"\x1b[31m[ERROR]\x1b[0m - server full\r\n",
        ),
        // Framed: one text frame, without the line end.
        (
            false,
            Transport::WebSocket,
            b"\x81\x15[ERROR] - server full",
        ),
    ];
    for (no_color, transport, want) in cases {
        let chat = Chat::with_config(KernelConfig {
            limits: limits.clone(),
            no_color,
        });
        let _first = chat.connect();
        match chat.try_connect(transport) {
            Err(Refused::ServerFull(payload)) => assert_eq!(&payload[..], want),
            other => panic!("expected server full, got {:?}", other.map(|c| c.id)),
        }
    }
}

#[test]
fn syntax_is_checked_before_login_state() {
    let chat = Chat::new();
    let anon = chat.connect();
    for (line, want) in [
        ("msg", "overage info"),
        ("msg bob", "empty message"),
        ("msgall", "empty message"),
        ("logout now", "overage info"),
        ("whoami x", "overage info"),
        ("join", "require room"),
        ("join rust", "invalid room name"),
        ("msg /x hi", "invalid username"),
        ("history 0", "invalid number"),
        ("history #r x", "invalid number"),
        ("frobnicate", "unknown command"),
    ] {
        assert_eq!(anon.ask(line), [format!("[ERROR] - {want}")], "{line}");
    }
    let alice = chat.login("alice");
    // Syntax before "Already login!".
    assert_eq!(alice.ask("login #x"), ["[ERROR] - invalid username"]);
    assert_eq!(alice.ask("login"), ["[ERROR] - require username"]);
}

#[test]
fn syntax_errors_come_in_protocol_order() {
    let chat = Chat::new();
    let anon = chat.connect();
    for (line, want) in [
        // overage info before invalid username
        ("login #a b c", "overage info"),
        ("register #a b c", "overage info"),
        // empty message before invalid names
        ("msg #bad!", "empty message"),
        ("msg /bob", "empty message"),
        // require password before invalid username
        ("register /x", "require password"),
        // overage info before invalid room name
        ("join #a! #b!", "overage info"),
        // invalid room name before invalid number
        ("history #bad! 0", "invalid room name"),
        // unknown command before everything
        ("hello #a! 0", "unknown command"),
    ] {
        assert_eq!(anon.ask(line), [format!("[ERROR] - {want}")], "{line}");
    }
}
