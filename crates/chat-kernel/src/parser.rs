//! A cleaned line to a [`Command`] (PROTOCOL.md section 2), or a syntax [`ErrorKind`].
//!
//! Syntax is checked here, before any login state, and in the order of PROTOCOL.md section 3:
//! unknown command, require username, overage info, empty message, require password, require
//! room, invalid username, invalid room name, invalid number, unknown format. The command borrows
//! from the line, so parsing allocates nothing.

use crate::Format;
use crate::names::{valid_room, valid_user};
use crate::reply::ErrorKind;

/// The largest `history` count; bigger numbers read as this.
pub const HISTORY_MAX: usize = 100;
/// The `history` count when none is given.
pub const HISTORY_DEFAULT: usize = 20;

/// Where a `msg` goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target<'a> {
    /// A user, by name as typed.
    User(&'a str),
    /// A room, `#` included, as typed.
    Room(&'a str),
}

/// One parsed command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command<'a> {
    /// `login <name> [<password>]`.
    Login {
        /// The name to log in under.
        name: &'a str,
        /// The account password; `None` for a guest login.
        password: Option<&'a str>,
    },
    /// `register <name> <password>`.
    Register {
        /// The account name.
        name: &'a str,
        /// The password, hashed before it is stored.
        password: &'a str,
    },
    /// `msg <name|#room> <text>`.
    Msg {
        /// The user or room.
        to: Target<'a>,
        /// The message, exactly as typed.
        text: &'a str,
    },
    /// `msgall <text>`.
    MsgAll {
        /// The message, exactly as typed.
        text: &'a str,
    },
    /// `join <#room>`.
    Join {
        /// The room, `#` included.
        room: &'a str,
    },
    /// `left <#room>` or `leave <#room>`.
    Left {
        /// The room, `#` included.
        room: &'a str,
    },
    /// `rooms`.
    Rooms,
    /// `history [<#room>] [<n>]`.
    History {
        /// The room, or `None` for the `msgall` history.
        room: Option<&'a str>,
        /// How many lines, 1 to [`HISTORY_MAX`].
        count: usize,
    },
    /// `whoami`.
    Whoami,
    /// `userlist`.
    Userlist,
    /// `format [color|text|json]`; `None` asks for the current form.
    Format(Option<Format>),
    /// `help`.
    Help,
    /// `debug`.
    Debug,
    /// `logout`.
    Logout,
}

impl Command<'_> {
    /// Whether the command may be used before logging in.
    pub fn allowed_anonymous(&self) -> bool {
        matches!(
            self,
            Command::Login { .. } | Command::Register { .. } | Command::Format(_) | Command::Help
        )
    }
}

fn is_space(c: char) -> bool {
    c == ' ' || c == '\t'
}

/// Splits off the first word; returns it and the rest with leading spaces removed.
fn next_word(s: &str) -> Option<(&str, &str)> {
    if s.is_empty() {
        return None;
    }
    match s.find(is_space) {
        Some(end) => Some((&s[..end], s[end..].trim_start_matches(is_space))),
        None => Some((s, "")),
    }
}

/// All the words of `s`.
fn words(s: &str) -> Vec<&str> {
    s.split(is_space).filter(|w| !w.is_empty()).collect()
}

/// Parses one cleaned, non-empty line.
pub fn parse(line: &str) -> Result<Command<'_>, ErrorKind> {
    let (word, rest) = next_word(line).ok_or(ErrorKind::UnknownCommand)?;
    let word = word.strip_prefix('/').unwrap_or(word);
    let lower = word.to_ascii_lowercase();
    match lower.as_str() {
        "login" => parse_login(rest),
        "register" => parse_register(rest),
        "msg" => parse_msg(rest),
        "msgall" => match rest {
            "" => Err(ErrorKind::EmptyMessage),
            text => Ok(Command::MsgAll { text }),
        },
        "join" => parse_room(rest).map(|room| Command::Join { room }),
        "left" | "leave" => parse_room(rest).map(|room| Command::Left { room }),
        "history" => parse_history(rest),
        "format" => parse_format(rest),
        "rooms" => no_args(rest, Command::Rooms),
        "whoami" => no_args(rest, Command::Whoami),
        "userlist" => no_args(rest, Command::Userlist),
        "help" => no_args(rest, Command::Help),
        "debug" => no_args(rest, Command::Debug),
        "logout" => no_args(rest, Command::Logout),
        _ => Err(ErrorKind::UnknownCommand),
    }
}

fn no_args(rest: &str, command: Command<'static>) -> Result<Command<'static>, ErrorKind> {
    if rest.is_empty() {
        Ok(command)
    } else {
        Err(ErrorKind::OverageInfo)
    }
}

fn user_name(name: &str) -> Result<&str, ErrorKind> {
    if valid_user(name) {
        Ok(name)
    } else {
        Err(ErrorKind::InvalidUsername)
    }
}

fn room_name(room: &str) -> Result<&str, ErrorKind> {
    if valid_room(room) {
        Ok(room)
    } else {
        Err(ErrorKind::InvalidRoomName)
    }
}

fn parse_login(rest: &str) -> Result<Command<'_>, ErrorKind> {
    match words(rest)[..] {
        [] => Err(ErrorKind::RequireUsername),
        [name] => Ok(Command::Login {
            name: user_name(name)?,
            password: None,
        }),
        [name, password] => Ok(Command::Login {
            name: user_name(name)?,
            password: Some(password),
        }),
        _ => Err(ErrorKind::OverageInfo),
    }
}

fn parse_register(rest: &str) -> Result<Command<'_>, ErrorKind> {
    match words(rest)[..] {
        [] => Err(ErrorKind::RequireUsername),
        [_] => Err(ErrorKind::RequirePassword),
        [name, password] => Ok(Command::Register {
            name: user_name(name)?,
            password,
        }),
        _ => Err(ErrorKind::OverageInfo),
    }
}

fn parse_msg(rest: &str) -> Result<Command<'_>, ErrorKind> {
    // `msg` alone is "overage info", as in the original.
    let (to, text) = next_word(rest).ok_or(ErrorKind::OverageInfo)?;
    if text.is_empty() {
        return Err(ErrorKind::EmptyMessage);
    }
    let to = if to.starts_with('#') {
        Target::Room(room_name(to)?)
    } else {
        Target::User(user_name(to)?)
    };
    Ok(Command::Msg { to, text })
}

fn parse_room(rest: &str) -> Result<&str, ErrorKind> {
    match words(rest)[..] {
        [] => Err(ErrorKind::RequireRoom),
        [room] => room_name(room),
        _ => Err(ErrorKind::OverageInfo),
    }
}

fn parse_history(rest: &str) -> Result<Command<'_>, ErrorKind> {
    let (room, count) = match words(rest)[..] {
        [] => (None, None),
        [room] if room.starts_with('#') => (Some(room), None),
        [count] => (None, Some(count)),
        [room, count] if room.starts_with('#') => (Some(room), Some(count)),
        _ => return Err(ErrorKind::OverageInfo),
    };
    let room = room.map(room_name).transpose()?;
    let count = match count {
        None => HISTORY_DEFAULT,
        Some(n) => parse_count(n)?,
    };
    Ok(Command::History { room, count })
}

fn parse_count(n: &str) -> Result<usize, ErrorKind> {
    if n.is_empty() || !n.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ErrorKind::InvalidNumber);
    }
    let digits = n.trim_start_matches('0');
    if digits.is_empty() {
        return Err(ErrorKind::InvalidNumber);
    }
    // Any whole number past the maximum reads as the maximum, however many digits it has.
    Ok(digits
        .parse::<usize>()
        .map_or(HISTORY_MAX, |n| n.min(HISTORY_MAX)))
}

fn parse_format(rest: &str) -> Result<Command<'_>, ErrorKind> {
    match words(rest)[..] {
        [] => Ok(Command::Format(None)),
        [form] => Format::parse(form)
            .map(|f| Command::Format(Some(f)))
            .ok_or(ErrorKind::UnknownFormat),
        _ => Err(ErrorKind::OverageInfo),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ErrorKind::*;

    fn err(line: &str) -> ErrorKind {
        match parse(line) {
            Err(e) => e,
            Ok(c) => panic!("{line:?} parsed as {c:?}"),
        }
    }

    #[test]
    fn command_words_are_case_insensitive_and_may_start_with_slash() {
        for line in ["whoami", "WHOAMI", "WhoAmI", "/whoami", "/WHOAMI"] {
            assert_eq!(parse(line), Ok(Command::Whoami), "{line}");
        }
        assert_eq!(err("//whoami"), UnknownCommand);
        assert_eq!(err("/"), UnknownCommand);
        assert_eq!(err("hello"), UnknownCommand);
        assert_eq!(err("login2 x"), UnknownCommand);
    }

    #[test]
    fn login_forms_and_errors() {
        assert_eq!(
            parse("login alice"),
            Ok(Command::Login {
                name: "alice",
                password: None
            })
        );
        assert_eq!(
            parse("LOGIN  alice   s3cret"),
            Ok(Command::Login {
                name: "alice",
                password: Some("s3cret")
            })
        );
        assert_eq!(err("login"), RequireUsername);
        assert_eq!(err("login a b c"), OverageInfo);
        assert_eq!(err("login #a"), InvalidUsername);
        assert_eq!(err("login /a"), InvalidUsername);
        assert_eq!(err(&format!("login {}", "x".repeat(33))), InvalidUsername);
        assert!(parse(&format!("login {}", "é".repeat(32))).is_ok());
    }

    #[test]
    fn register_errors_in_protocol_order() {
        assert_eq!(err("register"), RequireUsername);
        assert_eq!(err("register a b c"), OverageInfo);
        assert_eq!(err("register #a"), RequirePassword);
        assert_eq!(err("register #a pw"), InvalidUsername);
        assert_eq!(
            parse("register bob pw"),
            Ok(Command::Register {
                name: "bob",
                password: "pw"
            })
        );
    }

    #[test]
    fn msg_text_is_kept_exactly() {
        assert_eq!(
            parse("msg bob   hi   there"),
            Ok(Command::Msg {
                to: Target::User("bob"),
                text: "hi   there"
            })
        );
        assert_eq!(
            parse("/msg #Rust x"),
            Ok(Command::Msg {
                to: Target::Room("#Rust"),
                text: "x"
            })
        );
        assert_eq!(parse("msgall  a  b"), Ok(Command::MsgAll { text: "a  b" }));
    }

    #[test]
    fn msg_errors() {
        assert_eq!(err("msg"), OverageInfo);
        assert_eq!(err("msg bob"), EmptyMessage);
        assert_eq!(err("msgall"), EmptyMessage);
        assert_eq!(err("msg #bad! hi"), InvalidRoomName);
        assert_eq!(err("msg /bob hi"), InvalidUsername);
        assert_eq!(err("msg # hi"), InvalidRoomName);
    }

    #[test]
    fn rooms_join_left() {
        assert_eq!(parse("join #rust"), Ok(Command::Join { room: "#rust" }));
        assert_eq!(
            parse("leave #a.b-c_d"),
            Ok(Command::Left { room: "#a.b-c_d" })
        );
        assert_eq!(parse("left #x"), Ok(Command::Left { room: "#x" }));
        assert_eq!(err("join"), RequireRoom);
        assert_eq!(err("left"), RequireRoom);
        assert_eq!(err("join #a #b"), OverageInfo);
        assert_eq!(err("join rust"), InvalidRoomName);
        assert_eq!(err("join #ru st"), OverageInfo);
        assert_eq!(err("join #rüst"), InvalidRoomName);
        assert_eq!(err(&format!("join #{}", "a".repeat(33))), InvalidRoomName);
        assert_eq!(err("rooms x"), OverageInfo);
    }

    #[test]
    fn history_arguments() {
        let h = |room, count| Ok(Command::History { room, count });
        assert_eq!(parse("history"), h(None, 20));
        assert_eq!(parse("history 5"), h(None, 5));
        assert_eq!(parse("history #rust"), h(Some("#rust"), 20));
        assert_eq!(parse("history #rust 7"), h(Some("#rust"), 7));
        assert_eq!(parse("history 500"), h(None, 100));
        assert_eq!(parse("history 99999999999999999999999"), h(None, 100));
        assert_eq!(err("history 0"), InvalidNumber);
        assert_eq!(err("history -1"), InvalidNumber);
        assert_eq!(err("history abc"), InvalidNumber);
        assert_eq!(err("history #rust x"), InvalidNumber);
        assert_eq!(err("history #bad! x"), InvalidRoomName);
        assert_eq!(err("history 5 #rust"), OverageInfo);
        assert_eq!(err("history #a 1 2"), OverageInfo);
    }

    #[test]
    fn format_argument() {
        assert_eq!(parse("format"), Ok(Command::Format(None)));
        assert_eq!(
            parse("format JSON"),
            Ok(Command::Format(Some(Format::Json)))
        );
        assert_eq!(
            parse("format text"),
            Ok(Command::Format(Some(Format::Text)))
        );
        assert_eq!(
            parse("format color"),
            Ok(Command::Format(Some(Format::Color)))
        );
        assert_eq!(err("format xml"), UnknownFormat);
        assert_eq!(err("format text json"), OverageInfo);
    }

    #[test]
    fn commands_without_arguments_reject_them() {
        for cmd in ["whoami", "userlist", "help", "debug", "logout", "rooms"] {
            assert_eq!(err(&format!("{cmd} x")), OverageInfo, "{cmd}");
        }
    }

    #[test]
    fn which_commands_need_login() {
        assert!(parse("help").unwrap().allowed_anonymous());
        assert!(parse("format").unwrap().allowed_anonymous());
        assert!(parse("register a b").unwrap().allowed_anonymous());
        assert!(parse("login a").unwrap().allowed_anonymous());
        for line in [
            "whoami", "msgall x", "join #a", "rooms", "debug", "logout", "history",
        ] {
            assert!(!parse(line).unwrap().allowed_anonymous(), "{line}");
        }
    }
}
