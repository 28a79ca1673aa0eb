//! The little of IRC the bench speaks, to load an IRC server the way it loads ours.
//!
//! A client registers (`NICK`, `USER`), waits for the welcome (`001`), joins one channel and
//! waits for the end of its names list (`366`): then it is "logged in". Senders send
//! `PRIVMSG #bench :<payload>`; receivers read `:<nick>!<user>@<host> PRIVMSG #bench :<payload>`.
//! Error numerics (4xx, 5xx; not 422, "no message of the day") and `ERROR` lines count as
//! errors, by their text, as `[ERROR] - ...` does in ours.
//!
//! A `PING` is answered with a `PONG` carrying the same parameters, during registration and
//! during a run alike (the receiving side writes through its own handle on the connection), so
//! a run may last longer than the server's ping interval.

use crate::conn::LineSink;
use crate::line::Reply;

/// The channel every bench client joins.
pub const CHANNEL: &str = "#bench";

/// What goes before a payload to send it to the channel.
pub const SEND_PREFIX: &[u8] = b"PRIVMSG #bench :";

/// The most characters of a nickname the bench makes (the prefix, then the client's index):
/// InspIRCd's default `NICKLEN` is 30.
pub const MAX_NICK: usize = 30;

/// Splits `[:prefix ]command rest` into its prefix (if any), command and the rest.
fn split(line: &[u8]) -> (Option<&[u8]>, &[u8], &[u8]) {
    let (prefix, rest) = match line.strip_prefix(b":") {
        Some(tail) => match tail.iter().position(|&b| b == b' ') {
            Some(i) => (Some(&tail[..i]), &tail[i + 1..]),
            None => (Some(tail), &b""[..]),
        },
        None => (None, line),
    };
    match rest.iter().position(|&b| b == b' ') {
        Some(i) => (prefix, &rest[..i], &rest[i + 1..]),
        None => (prefix, rest, &b""[..]),
    }
}

/// The trailing parameter of `params` (after ` :`, or a leading `:`), if there is one.
fn trailing(params: &[u8]) -> Option<&[u8]> {
    if let Some(t) = params.strip_prefix(b":") {
        return Some(t);
    }
    params
        .windows(2)
        .position(|w| w == b" :")
        .map(|i| &params[i + 2..])
}

/// If `line` is a `PING`, appends its answer (`PONG` with the same parameters, CR LF) to `out`
/// and returns true.
pub fn answer_ping(line: &[u8], out: &mut Vec<u8>) -> bool {
    let (_, command, params) = split(line);
    if command != b"PING" {
        return false;
    }
    out.extend_from_slice(b"PONG ");
    out.extend_from_slice(params);
    out.extend_from_slice(b"\r\n");
    true
}

/// `ERR_NOMOTD`: says only that the server has no message of the day, which is no error.
const NO_MOTD: &[u8] = b"422";

/// Whether `command` is an error numeric (400-599, but for [`NO_MOTD`]).
fn is_error_numeric(command: &[u8]) -> bool {
    command.len() == 3
        && matches!(command[0], b'4' | b'5')
        && command.iter().all(u8::is_ascii_digit)
        && command != NO_MOTD
}

/// Classifies one IRC line (without its line end) in the bench's terms.
pub fn classify(line: &[u8]) -> Reply<'_> {
    let (prefix, command, params) = split(line);
    match command {
        b"PRIVMSG" => {
            let Some(prefix) = prefix else {
                return Reply::Other;
            };
            let nick = prefix.split(|&b| b == b'!').next().unwrap_or(prefix);
            match trailing(params) {
                Some(text) => Reply::Chat { name: nick, text },
                None => Reply::Other,
            }
        }
        // The text alone (`Cannot send to channel`), without the nickname the numeric is
        // addressed to: the report counts errors by text, and 1,000 clients are one line.
        c if c == b"ERROR" || is_error_numeric(c) => {
            Reply::Error(trailing(params).unwrap_or(params))
        }
        _ => Reply::Other,
    }
}

/// Whether `prefix` makes valid nicknames (a letter or one of `[]\`_^{|}` first, then those,
/// digits and `-`), short enough for `clients` of them.
pub fn valid_nick_prefix(prefix: &str, clients: usize) -> bool {
    let special = |c: char| "[]\\`_^{|}".contains(c);
    let mut chars = prefix.chars();
    let first_ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || special(c));
    let digits = clients.saturating_sub(1).to_string().len();
    first_ok
        && chars.all(|c| c.is_ascii_alphanumeric() || special(c) || c == '-')
        && prefix.len() + digits <= MAX_NICK
}

/// The lines that register `nick`.
pub fn register(nick: &str) -> String {
    format!("NICK {nick}\r\nUSER {nick} 0 * :async-chat bench\r\n")
}

/// The line that joins the bench channel.
pub fn join() -> String {
    format!("JOIN {CHANNEL}\r\n")
}

/// Follows one client's registration and join.
#[derive(Debug)]
pub struct LoginSink {
    /// The welcome (`001`) arrived: the client may join.
    pub registered: bool,
    /// The end of the channel's names list (`366`) arrived after the welcome: joined.
    pub joined: bool,
    /// `PONG` replies owed to the server's `PING`s, in order, each ending in CR LF.
    pub pongs: Vec<u8>,
    /// The first error the server sent.
    pub error: Option<String>,
}

impl LoginSink {
    /// Nothing seen yet.
    pub fn new() -> Self {
        LoginSink {
            registered: false,
            joined: false,
            pongs: Vec::new(),
            error: None,
        }
    }
}

impl Default for LoginSink {
    fn default() -> Self {
        LoginSink::new()
    }
}

impl LineSink for LoginSink {
    fn line(&mut self, line: &[u8]) {
        if self.error.is_some() {
            return;
        }
        if let Reply::Error(e) = classify(line) {
            self.error = Some(String::from_utf8_lossy(e).into_owned());
            return;
        }
        // An IRC message begins with its `:prefix` or its command; `[SERVER INFO] - ...` is
        // one of our servers, which would never register this client.
        if line.starts_with(b"[") {
            self.error = Some(format!(
                "not an IRC server: it sent {:?}",
                crate::line::shorten(line)
            ));
            return;
        }
        if answer_ping(line, &mut self.pongs) {
            return;
        }
        let (_, command, _) = split(line);
        match command {
            b"001" => self.registered = true,
            b"366" if self.registered => self.joined = true,
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_channel_message_is_a_delivery_from_its_nick() {
        assert_eq!(
            classify(b":bench7!~bench7@127.0.0.1 PRIVMSG #bench :b1:2:3:4:xx"),
            Reply::Chat {
                name: b"bench7",
                text: b"b1:2:3:4:xx"
            }
        );
        // The text is kept exactly, colons and spaces included.
        assert_eq!(
            classify(b":a!b@c PRIVMSG #bench : x :y "),
            Reply::Chat {
                name: b"a",
                text: b" x :y "
            }
        );
        // A prefix with no user and host still names the sender.
        assert_eq!(
            classify(b":a PRIVMSG #bench :hi"),
            Reply::Chat {
                name: b"a",
                text: b"hi"
            }
        );
    }

    #[test]
    fn error_numerics_and_error_lines_are_errors() {
        assert_eq!(
            classify(b":irc.local 404 bench3 #bench :Cannot send to channel"),
            Reply::Error(b"Cannot send to channel")
        );
        assert_eq!(
            classify(b":irc.local 433 * bench3 :Nickname is already in use."),
            Reply::Error(b"Nickname is already in use.")
        );
        assert_eq!(
            classify(b":irc.local 471 bench3 #bench :Cannot join channel (channel is full)"),
            Reply::Error(b"Cannot join channel (channel is full)")
        );
        assert_eq!(
            classify(b"ERROR :Closing link: (bench3@127.0.0.1) [Excess Flood]"),
            Reply::Error(b"Closing link: (bench3@127.0.0.1) [Excess Flood]")
        );
    }

    #[test]
    fn everything_else_is_other() {
        for line in [
            &b""[..],
            b":irc.local 001 bench3 :Welcome",
            b":irc.local 366 bench3 #bench :End of /NAMES list.",
            b":bench3!bench3@127.0.0.1 JOIN :#bench",
            b"PING :irc.local",
            b"PRIVMSG #bench :no prefix",
            b":a!b@c PRIVMSG #bench",
            b":irc.local 4040 x :not a numeric",
            // No message of the day is not an error.
            b":irc.local 422 bench3 :Message of the day file is missing.",
        ] {
            assert_eq!(
                classify(line),
                Reply::Other,
                "{}",
                String::from_utf8_lossy(line)
            );
        }
    }

    #[test]
    fn login_waits_for_the_welcome_then_the_names_list_and_answers_pings() {
        let mut sink = LoginSink::new();
        sink.line(b"PING :cookie123");
        assert_eq!(sink.pongs, b"PONG :cookie123\r\n");
        // A names list before the welcome is not the join's.
        sink.line(b":irc.local 366 bench0 #other :End of /NAMES list.");
        assert!(!sink.joined);
        sink.line(b":irc.local 001 bench0 :Welcome to the bench IRC Network");
        assert!(sink.registered && !sink.joined);
        sink.line(b":bench0!bench0@127.0.0.1 JOIN :#bench");
        sink.line(b":irc.local 353 bench0 = #bench :@bench0");
        assert!(!sink.joined);
        sink.line(b":irc.local 366 bench0 #bench :End of /NAMES list.");
        assert!(sink.joined);
        assert_eq!(sink.error, None);
    }

    #[test]
    fn a_ping_is_answered_with_its_own_parameters() {
        let mut out = Vec::new();
        assert!(answer_ping(b"PING :irc.local", &mut out));
        assert!(answer_ping(b":irc.local PING irc.local :x y", &mut out));
        assert!(!answer_ping(b":irc.local PONG irc.local :x", &mut out));
        assert!(!answer_ping(b"PINGS :x", &mut out));
        assert_eq!(out, b"PONG :irc.local\r\nPONG irc.local :x y\r\n");
    }

    #[test]
    fn one_of_our_servers_is_no_irc_server() {
        let mut sink = LoginSink::new();
        sink.line(b"[SERVER INFO] - Welcome to tokio_chat! Type help for commands.");
        assert!(
            sink.error
                .as_deref()
                .is_some_and(|e| e.starts_with("not an IRC server: it sent")),
            "{:?}",
            sink.error
        );
    }

    #[test]
    fn a_refused_registration_is_the_login_error() {
        let mut sink = LoginSink::new();
        sink.line(b":irc.local 433 * bench0 :Nickname is already in use.");
        sink.line(b":irc.local 001 bench0 :Welcome");
        assert_eq!(sink.error.as_deref(), Some("Nickname is already in use."));
    }

    #[test]
    fn nick_prefixes_must_make_valid_short_nicknames() {
        assert!(valid_nick_prefix("bench", 10_000));
        assert!(valid_nick_prefix("[b]-x_", 100));
        assert!(!valid_nick_prefix("1bench", 10));
        assert!(!valid_nick_prefix("-bench", 10));
        assert!(!valid_nick_prefix("be.nch", 10));
        assert!(!valid_nick_prefix("", 10));
        // 26 characters and a 4-digit index (up to 10,000 clients) are 30; a 5-digit one, 31.
        assert!(valid_nick_prefix(&"b".repeat(26), 10_000));
        assert!(!valid_nick_prefix(&"b".repeat(26), 100_000));
    }

    #[test]
    fn registration_and_join_lines() {
        assert_eq!(
            register("bench0"),
            "NICK bench0\r\nUSER bench0 0 * :async-chat bench\r\n"
        );
        assert_eq!(join(), "JOIN #bench\r\n");
    }
}
