//! A [`Reply`] to the bytes of one output form (PROTOCOL.md sections 3 and 4).
//!
//! Every line ends in `\r\n`. A TCP connection receives it as it is; a WebSocket connection
//! receives one text frame carrying it without the last two bytes, framed here, so its writer
//! hands its queue to the socket untouched. [`Rendered`] renders a broadcast at most once per
//! form and transport, its bytes shared by every recipient.

use bytes::Bytes;
use chrono::{DateTime, Local, SecondsFormat, Timelike, Utc};
use serde::Serialize;

use crate::Transport;
use crate::color::{Paint, paint};
use crate::reply::{ChatLine, Destination, Reply};
use crate::wsframe::{encode_text, text_frame_len};

/// A connection's output form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// Text with ANSI colours (TCP default).
    Color,
    /// Plain text (WebSocket default).
    Text,
    /// One JSON object per reply.
    Json,
}

impl Format {
    /// All forms, in the order of their index (`Format::index`).
    pub const ALL: [Format; 3] = [Format::Color, Format::Text, Format::Json];

    /// The form's name as the `format` command spells it.
    pub fn name(self) -> &'static str {
        match self {
            Format::Color => "color",
            Format::Text => "text",
            Format::Json => "json",
        }
    }

    /// Reads a form's name, case-insensitively.
    pub fn parse(name: &str) -> Option<Format> {
        Format::ALL
            .into_iter()
            .find(|f| f.name().eq_ignore_ascii_case(name))
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// A reply and its renderings so far: each form is rendered for each transport on first use,
/// then shared.
#[derive(Debug)]
pub struct Rendered<'a> {
    reply: &'a Reply,
    /// By form, then transport (see [`Rendered::slot`]).
    wires: [Option<Bytes>; 6],
}

impl<'a> Rendered<'a> {
    /// Wraps a reply; nothing is rendered yet.
    pub fn new(reply: &'a Reply) -> Self {
        Rendered {
            reply,
            wires: Default::default(),
        }
    }

    /// The bytes a connection in `form` over `transport` receives, rendered on first call;
    /// later calls clone a pointer.
    pub fn get(&mut self, form: Format, transport: Transport) -> Bytes {
        self.wires[Self::slot(form, transport)]
            .get_or_insert_with(|| wire(self.reply, form, transport))
            .clone()
    }

    fn slot(form: Format, transport: Transport) -> usize {
        form.index() * 2
            + match transport {
                Transport::Tcp => 0,
                Transport::WebSocket => 1,
            }
    }
}

/// `reply` in `form` as a connection over `transport` receives it: the line with its line end
/// (TCP), or one text frame carrying the line without it (WebSocket).
pub fn wire(reply: &Reply, form: Format, transport: Transport) -> Bytes {
    let line = render(reply, form);
    match transport {
        Transport::Tcp => line,
        Transport::WebSocket => {
            let body = line.strip_suffix(b"\r\n").unwrap_or(&line);
            let mut frame = Vec::with_capacity(text_frame_len(body.len()));
            encode_text(body, &mut frame);
            Bytes::from(frame)
        }
    }
}

/// Renders `reply` in `form`, line end included.
pub fn render(reply: &Reply, form: Format) -> Bytes {
    let mut out = String::with_capacity(capacity_hint(reply));
    match form {
        Format::Color => render_text(reply, true, &mut out),
        Format::Text => render_text(reply, false, &mut out),
        Format::Json => render_json(reply, &mut out),
    }
    out.push_str("\r\n");
    Bytes::from(out)
}

/// Appends `[name]`.
fn push_bracketed(out: &mut String, name: &str) {
    out.push('[');
    out.push_str(name);
    out.push(']');
}

fn bracket_name(out: &mut String, color: bool, name: &str) {
    let mut s = String::with_capacity(name.len() + 2);
    push_bracketed(&mut s, name);
    paint(out, color, Paint::Yellow, &s);
}

fn system(out: &mut String, color: bool, user: &str, tail: &str, tail_paint: Option<Paint>) {
    paint(out, color, Paint::Green, "[SYSTEM INFO]");
    out.push_str(" - ");
    bracket_name(out, color, user);
    out.push(' ');
    match tail_paint {
        Some(p) => paint(out, color, p, tail),
        None => out.push_str(tail),
    }
}

/// Room enough for most renderings of `reply` in any form, so the line is written without
/// regrowing its buffer: a chat line's text and names, its clock, brackets, colour codes (or
/// JSON keys and the timestamp) and line end. Growing from a fixed 64 bytes reallocated (and
/// copied) almost every chat line, about a third of rendering one (callgrind).
fn capacity_hint(reply: &Reply) -> usize {
    /// Beyond the names and the text: JSON's keys and timestamp are the most, 99 bytes for a
    /// private line replayed from history (the test below checks every kind).
    const FRAME: usize = 112;
    match reply {
        Reply::Message { line, .. } => {
            let to = match &line.to {
                Destination::All => 0,
                Destination::User(name) | Destination::Room(name) => name.len(),
            };
            FRAME + line.text.len() + line.from.len() + to
        }
        _ => 64,
    }
}

/// Appends a chat line's `[HH:MM:SS][from]` (or `[..][from][->][to]`, `[..][room][from]`).
fn push_chat_prefix(out: &mut String, line: &ChatLine) {
    out.push('[');
    push_clock(out, &line.time);
    out.push(']');
    let names: &[&str] = match &line.to {
        Destination::All => &[&line.from],
        Destination::User(to) => &[&line.from, "->", to],
        Destination::Room(room) => &[room, &line.from],
    };
    for name in names {
        push_bracketed(out, name);
    }
}

/// Appends `time` as a chat line shows it: local `HH:MM:SS`. Written digit by digit: chrono's
/// `format("%H:%M:%S")` parses its pattern and formats the offset's name on every call, which
/// was about two thirds of rendering a chat line (criterion `render_message`).
fn push_clock(out: &mut String, time: &DateTime<Utc>) {
    let local = time.with_timezone(&Local);
    for (i, field) in [local.hour(), local.minute(), local.second()]
        .into_iter()
        .enumerate()
    {
        if i > 0 {
            out.push(':');
        }
        for digit in [field / 10, field % 10] {
            out.push(char::from_digit(digit, 10).unwrap_or('0'));
        }
    }
}

fn render_text(reply: &Reply, color: bool, out: &mut String) {
    match reply {
        Reply::Login(user) => system(out, color, user, "login to chat.", Some(Paint::Green)),
        Reply::Logout(user) => system(out, color, user, "logout from chat.", Some(Paint::Red)),
        Reply::Join { user, room } => system(out, color, user, &format!("joined {room}."), None),
        Reply::Left { user, room } => system(out, color, user, &format!("left {room}."), None),
        Reply::Message { line, .. } => {
            if color {
                let mut prefix = String::with_capacity(64);
                push_chat_prefix(&mut prefix, line);
                paint(out, color, Paint::Yellow, &prefix);
            } else {
                // The plain form needs no copy: the prefix goes straight into the line.
                push_chat_prefix(out, line);
            }
            out.push_str(": ");
            out.push_str(&line.text);
        }
        Reply::Userlist(users) => {
            paint(out, color, Paint::Blue, "[INFO]");
            out.push_str(" - [");
            out.push_str(&users.join(", "));
            out.push(']');
        }
        Reply::Rooms(rooms) => {
            paint(out, color, Paint::Blue, "[INFO]");
            out.push_str(" - [");
            let list: Vec<String> = rooms
                .iter()
                .map(|(room, members)| format!("{room} ({members})"))
                .collect();
            out.push_str(&list.join(", "));
            out.push(']');
        }
        Reply::Info(text) => {
            paint(out, color, Paint::Blue, "[INFO]");
            out.push_str(" - ");
            out.push_str(text);
        }
        Reply::Server(text) => {
            paint(out, color, Paint::Blue, "[SERVER INFO]");
            out.push_str(" - ");
            out.push_str(text);
        }
        Reply::Error(kind) => {
            paint(out, color, Paint::Red, "[ERROR]");
            out.push_str(" - ");
            out.push_str(&kind.to_string());
        }
    }
}

fn is_false(b: &bool) -> bool {
    !b
}

/// One room in the JSON `rooms` reply.
#[derive(Serialize)]
struct JsonRoom<'a> {
    name: &'a str,
    members: usize,
}

/// The JSON shape of every reply (PROTOCOL.md section 4).
#[derive(Serialize)]
#[serde(tag = "type", rename_all = "lowercase")]
enum Json<'a> {
    Login {
        user: &'a str,
    },
    Logout {
        user: &'a str,
    },
    Message {
        time: String,
        from: &'a str,
        #[serde(skip_serializing_if = "Option::is_none")]
        to: Option<&'a str>,
        #[serde(skip_serializing_if = "Option::is_none")]
        room: Option<&'a str>,
        text: &'a str,
        #[serde(skip_serializing_if = "is_false")]
        history: bool,
    },
    Join {
        user: &'a str,
        room: &'a str,
    },
    Left {
        user: &'a str,
        room: &'a str,
    },
    Userlist {
        users: Vec<&'a str>,
    },
    Rooms {
        rooms: Vec<JsonRoom<'a>>,
    },
    Info {
        text: &'a str,
    },
    Server {
        text: &'a str,
    },
    Error {
        code: &'static str,
        text: String,
    },
}

fn render_json(reply: &Reply, out: &mut String) {
    let json = match reply {
        Reply::Login(user) => Json::Login { user },
        Reply::Logout(user) => Json::Logout { user },
        Reply::Message { line, history } => Json::Message {
            time: line.time.to_rfc3339_opts(SecondsFormat::Millis, true),
            from: &line.from,
            to: match &line.to {
                Destination::User(to) => Some(to),
                _ => None,
            },
            room: match &line.to {
                Destination::Room(room) => Some(room),
                _ => None,
            },
            text: &line.text,
            history: *history,
        },
        Reply::Join { user, room } => Json::Join { user, room },
        Reply::Left { user, room } => Json::Left { user, room },
        Reply::Userlist(users) => Json::Userlist {
            users: users.iter().map(|u| &**u).collect(),
        },
        Reply::Rooms(rooms) => Json::Rooms {
            rooms: rooms
                .iter()
                .map(|(name, members)| JsonRoom {
                    name,
                    members: *members,
                })
                .collect(),
        },
        Reply::Info(text) => Json::Info { text },
        Reply::Server(text) => Json::Server { text },
        Reply::Error(kind) => Json::Error {
            code: kind.code(),
            text: kind.to_string(),
        },
    };
    // Serializing these plain structs to a String cannot fail.
    if let Ok(s) = serde_json::to_string(&json) {
        out.push_str(&s);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reply::ErrorKind;
    use chrono::{TimeZone, Utc};
    use std::sync::Arc;

    fn text(reply: &Reply) -> String {
        String::from_utf8(render(reply, Format::Text).to_vec()).unwrap()
    }
    fn json(reply: &Reply) -> serde_json::Value {
        serde_json::from_slice(&render(reply, Format::Json)).unwrap()
    }
    fn line(to: Destination) -> ChatLine {
        ChatLine {
            time: Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap(),
            from: Arc::from("alice"),
            to,
            text: Arc::from("hi  <b>"),
        }
    }
    fn local_time() -> String {
        line(Destination::All)
            .time
            .with_timezone(&Local)
            .format("%H:%M:%S")
            .to_string()
    }

    #[test]
    fn system_lines() {
        assert_eq!(
            text(&Reply::Login("alice".into())),
            "[SYSTEM INFO] - [alice] login to chat.\r\n"
        );
        assert_eq!(
            text(&Reply::Logout("alice".into())),
            "[SYSTEM INFO] - [alice] logout from chat.\r\n"
        );
        let join = Reply::Join {
            user: "alice".into(),
            room: "#Rust".into(),
        };
        assert_eq!(text(&join), "[SYSTEM INFO] - [alice] joined #Rust.\r\n");
        let left = Reply::Left {
            user: "alice".into(),
            room: "#Rust".into(),
        };
        assert_eq!(text(&left), "[SYSTEM INFO] - [alice] left #Rust.\r\n");
    }

    #[test]
    fn the_clock_matches_chrono_at_every_time_of_day() {
        let midnight = Utc.with_ymd_and_hms(2026, 3, 29, 0, 0, 0).unwrap();
        // Every second of two days would do too; every 7 seconds covers each digit of each field.
        for step in (0..2 * 86_400).step_by(7) {
            let time = midnight + chrono::TimeDelta::seconds(step);
            let mut ours = String::new();
            push_clock(&mut ours, &time);
            let theirs = time.with_timezone(&Local).format("%H:%M:%S").to_string();
            assert_eq!(ours, theirs, "{time}");
        }
    }

    #[test]
    fn chat_lines_in_text() {
        let t = local_time();
        let m = |to| Reply::Message {
            line: line(to),
            history: false,
        };
        assert_eq!(
            text(&m(Destination::All)),
            format!("[{t}][alice]: hi  <b>\r\n")
        );
        assert_eq!(
            text(&m(Destination::User("bob".into()))),
            format!("[{t}][alice][->][bob]: hi  <b>\r\n")
        );
        assert_eq!(
            text(&m(Destination::Room("#rust".into()))),
            format!("[{t}][#rust][alice]: hi  <b>\r\n")
        );
    }

    #[test]
    fn info_lists_and_errors() {
        assert_eq!(
            text(&Reply::Userlist(vec!["alice".into(), "bob".into()])),
            "[INFO] - [alice, bob]\r\n"
        );
        assert_eq!(
            text(&Reply::Rooms(vec![("#go".into(), 1), ("#rust".into(), 3)])),
            "[INFO] - [#go (1), #rust (3)]\r\n"
        );
        assert_eq!(text(&Reply::Info("alice".into())), "[INFO] - alice\r\n");
        assert_eq!(
            text(&Reply::Server("server shutting down".into())),
            "[SERVER INFO] - server shutting down\r\n"
        );
        assert_eq!(
            text(&Reply::Error(ErrorKind::NotFound("bob".into()))),
            "[ERROR] - [bob] not found!\r\n"
        );
    }

    #[test]
    fn color_form_styles_the_original_way() {
        let login =
            String::from_utf8(render(&Reply::Login("al".into()), Format::Color).to_vec()).unwrap();
        assert_eq!(
            login,
            "\x1b[32m[SYSTEM INFO]\x1b[0m - \x1b[33m[al]\x1b[0m \x1b[32mlogin to chat.\x1b[0m\r\n"
        );
        let logout =
            String::from_utf8(render(&Reply::Logout("al".into()), Format::Color).to_vec()).unwrap();
        assert!(logout.contains("\x1b[31mlogout from chat.\x1b[0m"));
        let err =
            String::from_utf8(render(&Reply::Error(ErrorKind::FirstLogin), Format::Color).to_vec())
                .unwrap();
        assert_eq!(err, "\x1b[31m[ERROR]\x1b[0m - First login!\r\n");
        let info =
            String::from_utf8(render(&Reply::Info("x".into()), Format::Color).to_vec()).unwrap();
        assert_eq!(info, "\x1b[34m[INFO]\x1b[0m - x\r\n");
        let msg = Reply::Message {
            line: line(Destination::All),
            history: false,
        };
        let msg = String::from_utf8(render(&msg, Format::Color).to_vec()).unwrap();
        assert_eq!(
            msg,
            format!("\x1b[33m[{}][alice]\x1b[0m: hi  <b>\r\n", local_time())
        );
    }

    #[test]
    fn json_shapes() {
        use serde_json::json;
        assert_eq!(
            json(&Reply::Login("a".into())),
            json!({"type":"login","user":"a"})
        );
        assert_eq!(
            json(&Reply::Logout("a".into())),
            json!({"type":"logout","user":"a"})
        );
        let msg = |to, history| Reply::Message {
            line: line(to),
            history,
        };
        assert_eq!(
            json(&msg(Destination::All, false)),
            json!({"type":"message","time":"2026-01-02T03:04:05.000Z","from":"alice","text":"hi  <b>"})
        );
        assert_eq!(
            json(&msg(Destination::User("bob".into()), false)),
            json!({"type":"message","time":"2026-01-02T03:04:05.000Z","from":"alice","to":"bob","text":"hi  <b>"})
        );
        assert_eq!(
            json(&msg(Destination::Room("#r".into()), true)),
            json!({"type":"message","time":"2026-01-02T03:04:05.000Z","from":"alice","room":"#r","text":"hi  <b>","history":true})
        );
        assert_eq!(
            json(&Reply::Join {
                user: "a".into(),
                room: "#r".into()
            }),
            json!({"type":"join","user":"a","room":"#r"})
        );
        assert_eq!(
            json(&Reply::Left {
                user: "a".into(),
                room: "#r".into()
            }),
            json!({"type":"left","user":"a","room":"#r"})
        );
        assert_eq!(
            json(&Reply::Userlist(vec!["a".into(), "b".into()])),
            json!({"type":"userlist","users":["a","b"]})
        );
        assert_eq!(
            json(&Reply::Rooms(vec![("#r".into(), 3)])),
            json!({"type":"rooms","rooms":[{"name":"#r","members":3}]})
        );
        assert_eq!(
            json(&Reply::Info("x".into())),
            json!({"type":"info","text":"x"})
        );
        assert_eq!(
            json(&Reply::Server("x".into())),
            json!({"type":"server","text":"x"})
        );
        assert_eq!(
            json(&Reply::Error(ErrorKind::UnknownCommand)),
            json!({"type":"error","code":"unknown_command","text":"unknown command"})
        );
        // One object per line.
        assert!(render(&Reply::Info("a\nb".into()), Format::Json).ends_with(b"}\r\n"));
    }

    #[test]
    fn a_chat_line_is_rendered_without_regrowing_its_buffer() {
        // Any destination, short and long names and text (text JSON need not escape), any
        // form, history replay or not: the line fits the room reserved for it.
        for (name, text) in [(1, 0), (1, 1), (5, 7), (32, 100), (32, 4000)] {
            let name = "n".repeat(name);
            for to in [
                Destination::All,
                Destination::User(Arc::from(name.as_str())),
                Destination::Room(Arc::from(name.as_str())),
            ] {
                for history in [false, true] {
                    let reply = Reply::Message {
                        line: ChatLine {
                            time: Utc.with_ymd_and_hms(2026, 12, 31, 23, 59, 59).unwrap(),
                            from: Arc::from(name.as_str()),
                            to: to.clone(),
                            text: Arc::from("a b".repeat(text).as_str()),
                        },
                        history,
                    };
                    for form in Format::ALL {
                        let len = render(&reply, form).len();
                        let room = capacity_hint(&reply);
                        assert!(len <= room, "{form:?} {to:?}: {len} bytes, {room} reserved");
                    }
                }
            }
        }
    }

    #[test]
    fn rendered_once_per_form_and_transport() {
        let reply = Reply::Login("a".into());
        let mut r = Rendered::new(&reply);
        let text = r.get(Format::Text, Transport::Tcp).to_vec();
        assert_eq!(text, b"[SYSTEM INFO] - [a] login to chat.\r\n");
        assert_eq!(
            r.get(Format::Text, Transport::Tcp).as_ptr(),
            r.get(Format::Text, Transport::Tcp).as_ptr(),
            "rendered once, then shared"
        );
        // The WebSocket form is the same line, framed, without its line end.
        let mut frame = vec![0x81, 34];
        frame.extend_from_slice(&text[..34]);
        assert_eq!(r.get(Format::Text, Transport::WebSocket), frame);
        assert_ne!(r.get(Format::Json, Transport::Tcp), text);
        let json = r.get(Format::Json, Transport::WebSocket).to_vec();
        let line = render(&reply, Format::Json);
        let body = line.strip_suffix(b"\r\n").unwrap();
        assert_eq!(json[..2], [0x81, body.len() as u8]);
        assert_eq!(&json[2..], body);
    }

    #[test]
    fn every_error_code_is_distinct_snake_case() {
        use ErrorKind::*;
        let all = [
            UnknownCommand,
            RequireUsername,
            OverageInfo,
            EmptyMessage,
            RequirePassword,
            RequireRoom,
            InvalidUsername,
            InvalidRoomName,
            InvalidNumber,
            UnknownFormat,
            FirstLogin,
            AlreadyLogin,
            UsernameTaken,
            PasswordRequired,
            WrongPassword,
            NotFound("x".into()),
            NotInRoom("#x".into()),
            TooManyRequests,
            LineTooLong,
            InvalidUtf8,
            BinaryFrame,
            ServerFull,
            Unavailable,
        ];
        let codes: std::collections::HashSet<_> = all.iter().map(|e| e.code()).collect();
        assert_eq!(codes.len(), all.len());
        assert!(codes.iter().all(|c| {
            c.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        }));
    }
}
