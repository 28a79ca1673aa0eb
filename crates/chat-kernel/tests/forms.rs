//! Output forms (PROTOCOL.md section 4): JSON for every reply type, ANSI colours, the `format`
//! command, transport defaults, and one rendering per form shared by every recipient.

mod common;

use chat_kernel::{KernelConfig, Limits, Transport};
use common::{Chat, Client, GREETING};
use serde_json::{Value, json};

fn color_config() -> KernelConfig {
    KernelConfig {
        limits: Limits {
            flood: None,
            ..Limits::default()
        },
        no_color: false,
    }
}

/// Removes the time value of a JSON message, after checking it is RFC 3339 UTC.
fn untimed(mut v: Value) -> Value {
    if let Some(t) = v.get("time") {
        let t = t.as_str().expect("time is a string");
        assert!(t.ends_with('Z'), "{t}");
        chrono::DateTime::parse_from_rfc3339(t).expect("RFC 3339");
        v.as_object_mut().unwrap().remove("time");
    }
    v
}

fn json_client(chat: &Chat, name: &str) -> Client {
    let c = chat.login(name);
    assert_eq!(
        c.ask_json("format json"),
        [json!({"type":"info","text":"format json"})]
    );
    c
}

fn ask(c: &Client, line: &str) -> Vec<Value> {
    c.ask_json(line).into_iter().map(untimed).collect()
}

#[test]
fn json_form_of_every_reply_type() {
    let chat = Chat::new();
    let a = json_client(&chat, "alice");
    let bob = chat.login("bob");
    assert_eq!(a.take_json(), [json!({"type":"login","user":"bob"})]);
    assert_eq!(
        ask(&a, "msgall hi"),
        [json!({"type":"message","from":"alice","text":"hi"})]
    );
    assert_eq!(
        ask(&a, "msg bob psst"),
        [json!({"type":"message","from":"alice","to":"bob","text":"psst"})]
    );
    assert_eq!(
        ask(&a, "join #Rust"),
        [json!({"type":"join","user":"alice","room":"#Rust"})]
    );
    assert_eq!(
        ask(&a, "join #rust"),
        [json!({"type":"info","text":"already in #Rust"})]
    );
    assert_eq!(
        ask(&a, "msg #rust r1"),
        [json!({"type":"message","from":"alice","room":"#Rust","text":"r1"})]
    );
    assert_eq!(
        ask(&a, "history #rust"),
        [
            json!({"type":"message","from":"alice","room":"#Rust","text":"r1","history":true}),
            json!({"type":"info","text":"end of history"})
        ]
    );
    assert_eq!(
        ask(&a, "history"),
        [
            json!({"type":"message","from":"alice","text":"hi","history":true}),
            json!({"type":"info","text":"end of history"})
        ]
    );
    assert_eq!(
        ask(&a, "userlist"),
        [json!({"type":"userlist","users":["alice","bob"]})]
    );
    assert_eq!(
        ask(&a, "rooms"),
        [json!({"type":"rooms","rooms":[{"name":"#Rust","members":1}]})]
    );
    assert_eq!(ask(&a, "whoami"), [json!({"type":"info","text":"alice"})]);
    assert_eq!(
        ask(&a, "debug"),
        [json!({"type":"info","text":"debug printed on server"})]
    );
    let help = ask(&a, "help");
    assert!(!help.is_empty());
    assert!(
        help.iter()
            .all(|h| h["type"] == "info" && h["text"].is_string())
    );
    assert_eq!(
        ask(&a, "frob"),
        [json!({"type":"error","code":"unknown_command","text":"unknown command"})]
    );
    assert_eq!(
        ask(&a, "msg #nope x"),
        [json!({"type":"error","code":"not_in_room","text":"not in #nope"})]
    );
    assert_eq!(
        ask(&a, "msg carl x"),
        [json!({"type":"error","code":"not_found","text":"[carl] not found!"})]
    );
    assert_eq!(
        ask(&a, "left #rust"),
        [json!({"type":"left","user":"alice","room":"#Rust"})]
    );
    bob.send("logout");
    assert_eq!(a.take_json(), [json!({"type":"logout","user":"bob"})]);
    chat.kernel.shutdown();
    assert_eq!(
        a.take_json(),
        [json!({"type":"server","text":"server shutting down"})]
    );
}

#[test]
fn json_payloads_are_one_line_each() {
    let chat = Chat::new();
    let a = json_client(&chat, "alice");
    a.send("msgall \"quoted\" \\ back\tslash </script>");
    let raw = a.take_raw();
    assert_eq!(raw.len(), 1);
    let s = std::str::from_utf8(&raw[0]).unwrap();
    assert!(s.ends_with("}\r\n"));
    assert_eq!(s.matches('\n').count(), 1);
    let v: Value = serde_json::from_str(s).unwrap();
    assert_eq!(v["text"], "\"quoted\" \\ back\tslash </script>");
    assert_eq!(
        a.ask_json("logout"),
        [json!({"type":"logout","user":"alice"})]
    );
}

const RESET: &str = "\x1b[0m";
fn green(s: &str) -> String {
    format!("\x1b[32m{s}{RESET}")
}
fn red(s: &str) -> String {
    format!("\x1b[31m{s}{RESET}")
}
fn yellow(s: &str) -> String {
    format!("\x1b[33m{s}{RESET}")
}
fn blue(s: &str) -> String {
    format!("\x1b[34m{s}{RESET}")
}

#[test]
fn color_form_is_ansi_as_in_the_original() {
    let chat = Chat::with_config(color_config());
    let c = chat.try_connect(Transport::Tcp).unwrap();
    assert_eq!(
        c.take(),
        [format!(
            "{} - Welcome to test_chat! Type help for commands.",
            blue("[SERVER INFO]")
        )]
    );
    assert_eq!(
        c.ask_raw("whoami"),
        [format!("{} - First login!", red("[ERROR]"))]
    );
    assert_eq!(
        c.ask_raw("login al"),
        [format!(
            "{} - {} {}",
            green("[SYSTEM INFO]"),
            yellow("[al]"),
            green("login to chat.")
        )]
    );
    assert_eq!(c.ask_raw("whoami"), [format!("{} - al", blue("[INFO]"))]);
    assert_eq!(
        c.ask_raw("userlist"),
        [format!("{} - [al]", blue("[INFO]"))]
    );
    let msg = c.ask_raw("msgall plain text");
    assert_eq!(msg.len(), 1);
    let (prefix, text) = msg[0].split_once(RESET).unwrap();
    assert_eq!(text, ": plain text", "text in the default colour");
    assert!(
        prefix.starts_with("\x1b[33m[") && prefix.ends_with("][al]"),
        "{prefix}"
    );
    assert_eq!(
        c.ask_raw("join #r"),
        [format!(
            "{} - {} joined #r.",
            green("[SYSTEM INFO]"),
            yellow("[al]")
        )]
    );
    assert_eq!(
        c.ask_raw("left #r"),
        [format!(
            "{} - {} left #r.",
            green("[SYSTEM INFO]"),
            yellow("[al]")
        )]
    );
    assert_eq!(
        c.ask_raw("logout"),
        [format!(
            "{} - {} {}",
            green("[SYSTEM INFO]"),
            yellow("[al]"),
            red("logout from chat.")
        )]
    );
}

#[test]
fn transport_defaults_tcp_color_no_color_text_websocket_text() {
    let chat = Chat::with_config(color_config());
    let tcp = chat.try_connect(Transport::Tcp).unwrap();
    assert!(tcp.take()[0].starts_with("\x1b[34m[SERVER INFO]"));
    assert_eq!(
        tcp.ask_raw("format"),
        [format!("{} - format color", blue("[INFO]"))]
    );
    let ws = chat.try_connect(Transport::WebSocket).unwrap();
    assert_eq!(ws.take(), [GREETING]);
    assert_eq!(ws.ask_raw("format"), ["[INFO] - format text"]);

    let chat = Chat::new(); // no_color
    let tcp = chat.try_connect(Transport::Tcp).unwrap();
    assert_eq!(tcp.take(), [GREETING]);
    assert_eq!(tcp.ask_raw("format"), ["[INFO] - format text"]);
    let ws = chat.try_connect(Transport::WebSocket).unwrap();
    assert_eq!(ws.take(), [GREETING]);
}

#[test]
fn the_reply_to_format_comes_in_the_new_form() {
    let chat = Chat::new();
    let c = chat.connect();
    assert_eq!(
        c.ask_json("format JSON"),
        [json!({"type":"info","text":"format json"})]
    );
    assert_eq!(
        c.ask_json("format"),
        [json!({"type":"info","text":"format json"})]
    );
    assert_eq!(
        c.ask_raw("format color"),
        [format!("{} - format color", blue("[INFO]"))]
    );
    assert_eq!(c.ask_raw("format text"), ["[INFO] - format text"]);
    // An error keeps the form.
    assert_eq!(c.ask_raw("format yaml"), ["[ERROR] - unknown format"]);
    assert_eq!(c.ask_raw("format"), ["[INFO] - format text"]);
}

#[test]
fn a_broadcast_reaches_each_form_and_is_rendered_once_per_form_and_transport() {
    let chat = Chat::with_config(color_config());
    let color1 = chat.login("c1");
    let color2 = chat.login("c2");
    let text1 = chat.login("t1");
    let text2 = chat.login("t2");
    let json1 = chat.login("j1");
    let json2 = chat.login("j2");
    let ws_login = |name: &str| {
        let c = chat.connect_ws();
        c.frame(&format!("login {name}"));
        c
    };
    let (ws1, ws2) = (ws_login("w1"), ws_login("w2"));
    for c in [&text1, &text2] {
        c.ask("format text");
    }
    for c in [&json1, &json2] {
        c.ask("format json");
    }
    let all = [&color1, &color2, &text1, &text2, &json1, &json2, &ws1, &ws2];
    for c in all {
        c.take();
    }
    text1.send("msgall shared");
    let raw: Vec<_> = all.iter().map(|c| c.take_queued().remove(0)).collect();
    for pair in raw.chunks(2) {
        assert_eq!(pair[0], pair[1]);
        assert_eq!(
            pair[0].as_ptr(),
            pair[1].as_ptr(),
            "one allocation per form and transport"
        );
    }
    // Over WebSocket: the text line, framed once, without its line end.
    let line = &raw[2][..raw[2].len() - 2];
    assert_eq!(raw[6][..2], [0x81, line.len() as u8]);
    assert_eq!(&raw[6][2..], line);
    let color = String::from_utf8(raw[0].to_vec()).unwrap();
    let text = String::from_utf8(raw[2].to_vec()).unwrap();
    assert_eq!(color.replace("\x1b[33m", "").replace(RESET, ""), text);
    assert!(text.ends_with("][t1]: shared\r\n"));
    let v: Value = serde_json::from_slice(&raw[4]).unwrap();
    assert_eq!(
        untimed(v),
        json!({"type":"message","from":"t1","text":"shared"})
    );
}
