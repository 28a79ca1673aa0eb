//! Server replies -> model updates.
//!
//! With `format json` every reply is one JSON object (PROTOCOL.md section 4). Lines that are not
//! such an object (the greeting, sent before `format json` takes effect, or a server that does
//! not speak JSON) are shown as they are, with ANSI colours and control characters removed.

use serde::Deserialize;

use crate::model::{LineKind, LogLine, Model};

/// One room of a `rooms` reply.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct RoomInfo {
    /// The room name, with its `#`.
    pub name: String,
    /// How many users are in it.
    pub members: u64,
}

/// A reply in the JSON output form.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum Reply {
    /// A user logged in.
    Login {
        /// Who.
        user: String,
    },
    /// A user logged out or was dropped.
    Logout {
        /// Who.
        user: String,
    },
    /// A chat message: to everyone, to a user (`to`) or to a room (`room`).
    Message {
        /// RFC 3339 UTC time.
        time: String,
        /// The sender.
        from: String,
        /// The message text.
        text: String,
        /// The receiver of a private message.
        #[serde(default)]
        to: Option<String>,
        /// The room of a room message.
        #[serde(default)]
        room: Option<String>,
        /// Set when the message is replayed history.
        #[serde(default)]
        history: bool,
    },
    /// A user joined a room.
    Join {
        /// Who.
        user: String,
        /// Which room.
        room: String,
    },
    /// A user left a room.
    Left {
        /// Who.
        user: String,
        /// Which room.
        room: String,
    },
    /// The online users, in login order.
    Userlist {
        /// Their names.
        users: Vec<String>,
    },
    /// Every room with its member count.
    Rooms {
        /// The rooms, sorted by name.
        rooms: Vec<RoomInfo>,
    },
    /// An `[INFO]` reply.
    Info {
        /// Its text.
        text: String,
    },
    /// A `[SERVER INFO]` line.
    Server {
        /// Its text.
        text: String,
    },
    /// An `[ERROR]` reply.
    Error {
        /// The error code of PROTOCOL.md section 3.
        code: String,
        /// The error text.
        text: String,
    },
}

/// A line received from the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Incoming {
    /// A JSON reply.
    Json(Reply),
    /// Anything else, cleaned of escape sequences and control characters.
    Text(String),
}

/// Reads one received line (or WebSocket frame).
pub fn parse(line: &str) -> Incoming {
    let trimmed = line.trim_end_matches(['\r', '\n']);
    if trimmed.trim_start().starts_with('{')
        && let Ok(reply) = serde_json::from_str::<Reply>(trimmed)
    {
        return Incoming::Json(reply);
    }
    Incoming::Text(clean_text(trimmed))
}

/// Removes ANSI escape sequences and the remaining control characters (TAB becomes a space).
pub fn clean_text(text: &str) -> String {
    let stripped = strip_ansi_escapes::strip_str(text.replace('\t', " "));
    stripped.chars().filter(|c| !c.is_control()).collect()
}

/// Shows an RFC 3339 time as local `HH:MM:SS` (or as received, if it does not parse).
pub fn local_time(rfc3339: &str) -> String {
    match chrono::DateTime::parse_from_rfc3339(rfc3339) {
        Ok(time) => time
            .with_timezone(&chrono::Local)
            .format("%H:%M:%S")
            .to_string(),
        Err(_) => clean_text(rfc3339),
    }
}

/// Applies a received line to the model; returns the commands the client must send in answer
/// (after its own login: the user list and the rooms to join again).
pub fn apply(model: &mut Model, incoming: Incoming) -> Vec<String> {
    match incoming {
        Incoming::Text(text) => {
            if !text.trim().is_empty() {
                let kind = text_kind(&text);
                model.push(LogLine::new(kind, text));
            }
            Vec::new()
        }
        Incoming::Json(reply) => apply_reply(model, reply),
    }
}

/// Applies one JSON reply to the model; returns the commands to send in answer.
pub fn apply_reply(model: &mut Model, reply: Reply) -> Vec<String> {
    let mut follow_up = Vec::new();
    // A join's replay is the run of that room's history messages right after our join.
    let replaying = model.take_replay();
    match reply {
        Reply::Login { user } => {
            let user = clean_text(&user);
            if let Some(commands) = model.session.on_login(&user) {
                follow_up = commands;
            }
            model.add_user(&user);
            model.push(LogLine::new(
                LineKind::Login,
                format!("[{user}] login to chat."),
            ));
        }
        Reply::Logout { user } => {
            let user = clean_text(&user);
            model.session.on_logout(&user);
            model.remove_user(&user);
            model.push(LogLine::new(
                LineKind::Logout,
                format!("[{user}] logout from chat."),
            ));
        }
        Reply::Message {
            time,
            from,
            text,
            to,
            room,
            history,
        } => {
            let from = clean_text(&from);
            if let (None, Some(room)) = (&to, &room) {
                let in_replay = history && replaying.as_deref() == Some(&room.to_lowercase());
                let new = model.show_room_message(room, (time.clone(), from.clone(), text.clone()));
                if in_replay {
                    model.continue_replay(room.to_lowercase());
                    // Rejoined after a reconnect: what the log shows already is not shown twice.
                    if !new {
                        return follow_up;
                    }
                }
            }
            let (kind, who) = match (to, room) {
                (Some(to), _) => (
                    LineKind::Private,
                    format!("[{from}][->][{}]", clean_text(&to)),
                ),
                (None, Some(room)) => (LineKind::Room, format!("[{}][{from}]", clean_text(&room))),
                (None, None) => (LineKind::Chat, format!("[{from}]")),
            };
            model.push(LogLine {
                kind: if history { LineKind::History } else { kind },
                time: Some(local_time(&time)),
                who: Some(who),
                text: clean_text(&text),
            });
        }
        Reply::Join { user, room } => {
            let (user, room) = (clean_text(&user), clean_text(&room));
            if model.is_me(&user) {
                model.add_room(&room);
                model.start_replay(&room);
            }
            model.push(LogLine::new(
                LineKind::Membership,
                format!("[{user}] joined {room}."),
            ));
        }
        Reply::Left { user, room } => {
            let (user, room) = (clean_text(&user), clean_text(&room));
            if model.is_me(&user) {
                model.remove_room(&room);
            }
            model.push(LogLine::new(
                LineKind::Membership,
                format!("[{user}] left {room}."),
            ));
        }
        Reply::Userlist { users } => {
            let users: Vec<String> = users.iter().map(|u| clean_text(u)).collect();
            let quiet = model.session.take_quiet_userlist();
            model.users.clear();
            for user in &users {
                model.add_user(user);
            }
            if !quiet {
                model.push(LogLine::new(
                    LineKind::Info,
                    format!("[INFO] - [{}]", users.join(", ")),
                ));
            }
        }
        Reply::Rooms { rooms } => {
            let list: Vec<String> = rooms
                .iter()
                .map(|r| format!("{} ({})", clean_text(&r.name), r.members))
                .collect();
            model.push(LogLine::new(
                LineKind::Info,
                format!("[INFO] - [{}]", list.join(", ")),
            ));
        }
        Reply::Info { text } => {
            let text = clean_text(&text);
            model.session.on_info(&text);
            if text == "format json" && model.session.take_quiet_format() {
                return follow_up;
            }
            model.push(LogLine::new(LineKind::Info, format!("[INFO] - {text}")));
        }
        Reply::Server { text } => {
            model.push(LogLine::new(
                LineKind::Server,
                format!("[SERVER INFO] - {}", clean_text(&text)),
            ));
        }
        Reply::Error { code, text } => {
            model.push(LogLine::new(
                LineKind::Error,
                format!("[ERROR] - {}", clean_text(&text)),
            ));
            if let Some(note) = model.session.on_error(&code) {
                model.note(note);
            }
        }
    }
    follow_up
}

/// The kind of a text-form line, from its prefix.
fn text_kind(text: &str) -> LineKind {
    if text.starts_with("[SERVER INFO]") {
        LineKind::Server
    } else if text.starts_with("[ERROR]") {
        LineKind::Error
    } else if text.starts_with("[INFO]") {
        LineKind::Info
    } else if text.starts_with("[SYSTEM INFO]") {
        if text.ends_with("logout from chat.") {
            LineKind::Logout
        } else if text.ends_with("login to chat.") {
            LineKind::Login
        } else {
            LineKind::Membership
        }
    } else {
        LineKind::Text
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Target;
    use crate::session::{Credentials, Session};

    fn logged_in_alice() -> Model {
        let creds = Credentials {
            name: "alice".into(),
            password: None,
        };
        let mut m = Model::new("x:1", Session::with_credentials(creds, false, vec![]));
        m.connected();
        assert_eq!(m.session.on_connected(), ["login alice"]);
        let cmds = feed(&mut m, r#"{"type":"login","user":"alice"}"#);
        assert_eq!(cmds, ["userlist"]);
        feed(&mut m, r#"{"type":"userlist","users":["bob","alice"]}"#);
        m
    }

    fn feed(m: &mut Model, line: &str) -> Vec<String> {
        apply(m, parse(line))
    }

    fn last(m: &Model) -> &LogLine {
        m.log().back().unwrap()
    }

    #[test]
    fn parses_every_reply_type() {
        let cases = [
            (
                r#"{"type":"login","user":"alice"}"#,
                Reply::Login {
                    user: "alice".into(),
                },
            ),
            (
                r#"{"type":"logout","user":"alice"}"#,
                Reply::Logout {
                    user: "alice".into(),
                },
            ),
            (
                r#"{"type":"message","time":"t","from":"a","text":"hi","to":"b"}"#,
                Reply::Message {
                    time: "t".into(),
                    from: "a".into(),
                    text: "hi".into(),
                    to: Some("b".into()),
                    room: None,
                    history: false,
                },
            ),
            (
                r##"{"type":"join","user":"a","room":"#r"}"##,
                Reply::Join {
                    user: "a".into(),
                    room: "#r".into(),
                },
            ),
            (
                r##"{"type":"left","user":"a","room":"#r"}"##,
                Reply::Left {
                    user: "a".into(),
                    room: "#r".into(),
                },
            ),
            (
                r#"{"type":"userlist","users":["a","b"]}"#,
                Reply::Userlist {
                    users: vec!["a".into(), "b".into()],
                },
            ),
            (
                r##"{"type":"rooms","rooms":[{"name":"#r","members":3}]}"##,
                Reply::Rooms {
                    rooms: vec![RoomInfo {
                        name: "#r".into(),
                        members: 3,
                    }],
                },
            ),
            (
                r#"{"type":"info","text":"x"}"#,
                Reply::Info { text: "x".into() },
            ),
            (
                r#"{"type":"server","text":"x"}"#,
                Reply::Server { text: "x".into() },
            ),
            (
                r#"{"type":"error","code":"unknown_command","text":"unknown command"}"#,
                Reply::Error {
                    code: "unknown_command".into(),
                    text: "unknown command".into(),
                },
            ),
        ];
        for (line, reply) in cases {
            assert_eq!(parse(line), Incoming::Json(reply), "{line}");
        }
    }

    #[test]
    fn non_json_lines_are_cleaned_text() {
        let greeting =
            "\x1b[34m[SERVER INFO]\x1b[0m - Welcome to tokio_chat! Type help for commands.\r\n";
        assert_eq!(
            parse(greeting),
            Incoming::Text("[SERVER INFO] - Welcome to tokio_chat! Type help for commands.".into())
        );
        assert_eq!(parse("a\x07b\tc"), Incoming::Text("ab c".into()));
        assert_eq!(
            parse(r#"{"type":"nope"}"#),
            Incoming::Text(r#"{"type":"nope"}"#.into())
        );
        let mut m = Model::new("x:1", Session::prompt());
        assert!(feed(&mut m, greeting).is_empty());
        assert_eq!(last(&m).kind, LineKind::Server);
        feed(&mut m, "[ERROR] - unknown command");
        assert_eq!(last(&m).kind, LineKind::Error);
        feed(&mut m, "[SYSTEM INFO] - [bob] logout from chat.");
        assert_eq!(last(&m).kind, LineKind::Logout);
        feed(&mut m, "hello");
        assert_eq!(last(&m).kind, LineKind::Text);
        let before = m.log().len();
        feed(&mut m, "   ");
        assert_eq!(m.log().len(), before, "blank lines are not logged");
    }

    #[test]
    fn own_login_sets_name_users_quietly() {
        let m = logged_in_alice();
        assert_eq!(m.session.logged_in_name(), Some("alice"));
        assert_eq!(m.users, ["bob", "alice"]);
        assert_eq!(last(&m).plain(), "[alice] login to chat.");
        assert_eq!(last(&m).kind, LineKind::Login);
    }

    #[test]
    fn asked_userlist_is_logged() {
        let mut m = logged_in_alice();
        feed(
            &mut m,
            r#"{"type":"userlist","users":["alice","bob","carol"]}"#,
        );
        assert_eq!(last(&m).plain(), "[INFO] - [alice, bob, carol]");
        assert_eq!(m.users, ["alice", "bob", "carol"]);
    }

    #[test]
    fn others_login_and_logout_update_users() {
        let mut m = logged_in_alice();
        feed(&mut m, r#"{"type":"login","user":"carol"}"#);
        assert_eq!(m.users, ["bob", "alice", "carol"]);
        m.target = Target::User("carol".into());
        feed(&mut m, r#"{"type":"logout","user":"carol"}"#);
        assert_eq!(m.users, ["bob", "alice"]);
        assert_eq!(
            m.target,
            Target::All,
            "target falls back when the user leaves"
        );
        assert!(
            m.log()
                .iter()
                .any(|l| l.plain() == "[carol] logout from chat." && l.kind == LineKind::Logout)
        );
        assert!(!m.session.is_logged_out());
        feed(&mut m, r#"{"type":"logout","user":"alice"}"#);
        assert!(m.session.is_logged_out());
    }

    #[test]
    fn messages_of_every_kind() {
        let mut m = logged_in_alice();
        let t = "2026-11-22T12:34:05Z";
        let expect_time = local_time(t);
        assert_eq!(expect_time.len(), 8);
        feed(
            &mut m,
            &format!(r#"{{"type":"message","time":"{t}","from":"bob","text":"hi  all"}}"#),
        );
        assert_eq!(last(&m).kind, LineKind::Chat);
        assert_eq!(last(&m).plain(), format!("[{expect_time}][bob]: hi  all"));
        feed(
            &mut m,
            &format!(
                r#"{{"type":"message","time":"{t}","from":"bob","to":"alice","text":"psst"}}"#
            ),
        );
        assert_eq!(last(&m).kind, LineKind::Private);
        assert_eq!(last(&m).who.as_deref(), Some("[bob][->][alice]"));
        feed(
            &mut m,
            &format!(
                r##"{{"type":"message","time":"{t}","from":"bob","room":"#rust","text":"r"}}"##
            ),
        );
        assert_eq!(last(&m).kind, LineKind::Room);
        assert_eq!(last(&m).who.as_deref(), Some("[#rust][bob]"));
        feed(
            &mut m,
            &format!(
                r##"{{"type":"message","time":"{t}","from":"bob","room":"#rust","text":"old","history":true}}"##
            ),
        );
        assert_eq!(last(&m).kind, LineKind::History);
        feed(
            &mut m,
            &format!(r#"{{"type":"message","time":"{t}","from":"bob","text":"\u001b[31mred"}}"#),
        );
        assert_eq!(
            last(&m).text,
            "red",
            "escape sequences never reach the terminal"
        );
    }

    #[test]
    fn own_format_reply_is_quiet_but_a_typed_one_is_shown() {
        let mut m = Model::new("x:1", Session::prompt());
        m.connected();
        m.session.on_connected();
        let before = m.log().len();
        feed(&mut m, r#"{"type":"info","text":"format json"}"#);
        assert_eq!(m.log().len(), before);
        feed(&mut m, r#"{"type":"info","text":"format json"}"#);
        assert_eq!(last(&m).plain(), "[INFO] - format json");
    }

    #[test]
    fn bad_time_is_shown_as_is() {
        assert_eq!(local_time("yesterday"), "yesterday");
    }

    #[test]
    fn join_and_left_track_own_rooms() {
        let mut m = logged_in_alice();
        feed(&mut m, r##"{"type":"join","user":"bob","room":"#go"}"##);
        assert!(m.rooms.is_empty(), "others' joins are not our rooms");
        assert_eq!(last(&m).plain(), "[bob] joined #go.");
        feed(&mut m, r##"{"type":"join","user":"alice","room":"#rust"}"##);
        assert_eq!(m.rooms, ["#rust"]);
        m.target = Target::Room("#rust".into());
        feed(&mut m, r##"{"type":"left","user":"bob","room":"#rust"}"##);
        assert_eq!(m.rooms, ["#rust"]);
        feed(&mut m, r##"{"type":"left","user":"alice","room":"#rust"}"##);
        assert!(m.rooms.is_empty());
        assert_eq!(m.target, Target::All);
    }

    #[test]
    fn rooms_info_server_and_errors() {
        let mut m = logged_in_alice();
        feed(
            &mut m,
            r##"{"type":"rooms","rooms":[{"name":"#go","members":1},{"name":"#rust","members":3}]}"##,
        );
        assert_eq!(last(&m).plain(), "[INFO] - [#go (1), #rust (3)]");
        assert!(
            m.rooms.is_empty(),
            "the rooms reply lists all rooms, not ours"
        );
        feed(&mut m, r#"{"type":"info","text":"alice"}"#);
        assert_eq!(last(&m).plain(), "[INFO] - alice");
        assert_eq!(last(&m).kind, LineKind::Info);
        feed(&mut m, r#"{"type":"server","text":"server shutting down"}"#);
        assert_eq!(last(&m).plain(), "[SERVER INFO] - server shutting down");
        assert_eq!(last(&m).kind, LineKind::Server);
        feed(
            &mut m,
            r#"{"type":"error","code":"not_found","text":"[carol] not found!"}"#,
        );
        assert_eq!(last(&m).plain(), "[ERROR] - [carol] not found!");
        assert_eq!(last(&m).kind, LineKind::Error);
    }

    #[test]
    fn refused_login_prompts_again() {
        let creds = Credentials {
            name: "bob".into(),
            password: None,
        };
        let mut m = Model::new("x:1", Session::with_credentials(creds, false, vec![]));
        m.connected();
        m.session.on_connected();
        feed(
            &mut m,
            r#"{"type":"error","code":"username_taken","text":"Username already taken!"}"#,
        );
        assert_eq!(m.session.prompt_for(), Some(crate::session::Prompt::Name));
        assert_eq!(last(&m).kind, LineKind::Local);
    }

    /// A `#rust` message from bob at `ms` milliseconds past 10:00, replayed if `history`.
    fn rust_message(text: &str, ms: u32, history: bool) -> String {
        let history = if history { r#","history":true"# } else { "" };
        format!(
            r##"{{"type":"message","time":"2026-12-03T10:00:00.{ms:03}Z","from":"bob","room":"#rust","text":"{text}"{history}}}"##
        )
    }

    #[test]
    fn a_rejoin_replay_skips_what_the_log_shows_but_not_news_or_a_typed_history() {
        let shown = |m: &Model, text: &str| m.log().iter().filter(|l| l.text == text).count();
        let mut m = logged_in_alice();
        feed(&mut m, r##"{"type":"join","user":"alice","room":"#rust"}"##);
        feed(&mut m, &rust_message("old", 1, true));
        feed(&mut m, r#"{"type":"info","text":"end of history"}"#);
        feed(&mut m, &rust_message("live", 2, false));

        // The connection drops; back, the client joins #rust again and the server replays the
        // room's last messages: two the log shows, one sent while we were away.
        m.disconnected(1, "connection reset".into());
        m.connected();
        m.session.on_connected();
        feed(&mut m, r#"{"type":"login","user":"alice"}"#);
        feed(&mut m, r##"{"type":"join","user":"alice","room":"#RUST"}"##);
        feed(&mut m, &rust_message("old", 1, true));
        feed(&mut m, &rust_message("live", 2, true));
        feed(&mut m, &rust_message("while away", 3, true));
        feed(&mut m, r#"{"type":"info","text":"end of history"}"#);
        assert_eq!(
            (shown(&m, "old"), shown(&m, "live"), shown(&m, "while away")),
            (1, 1, 1)
        );
        // The same text at another time is another message.
        feed(&mut m, &rust_message("live", 4, false));
        assert_eq!(shown(&m, "live"), 2);

        // A history the user asks for shows everything, seen or not.
        feed(&mut m, &rust_message("old", 1, true));
        assert_eq!(shown(&m, "old"), 2);
        // So does a join's replay after /clear.
        m.clear_log();
        feed(&mut m, r##"{"type":"left","user":"alice","room":"#rust"}"##);
        feed(&mut m, r##"{"type":"join","user":"alice","room":"#rust"}"##);
        feed(&mut m, &rust_message("old", 1, true));
        assert_eq!(shown(&m, "old"), 1);
    }

    #[test]
    fn reconnect_forgets_users_and_rejoins_rooms() {
        let mut m = logged_in_alice();
        feed(&mut m, r##"{"type":"join","user":"alice","room":"#rust"}"##);
        m.disconnected(1, "connection reset".into());
        assert!(m.users.is_empty());
        assert!(m.rooms.is_empty());
        assert!(matches!(
            m.conn,
            crate::model::ConnState::Reconnecting { attempt: 1, .. }
        ));
        m.connected();
        assert_eq!(m.session.on_connected(), ["login alice"]);
        let cmds = feed(&mut m, r#"{"type":"login","user":"alice"}"#);
        assert_eq!(cmds, ["userlist", "join #rust"]);
    }
}
