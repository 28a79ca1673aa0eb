//! The screen model: everything the UI shows, as plain data that tests can inspect.

use std::collections::{HashMap, VecDeque};

use crate::session::Session;

/// How many log lines are kept; older ones are dropped.
pub const LOG_CAPACITY: usize = 10_000;

/// How many of a room's latest messages are remembered, to tell the messages a join replays
/// (a room's last 10, PROTOCOL.md) that the log already shows from news.
const SEEN_PER_ROOM: usize = 10;

/// A room message as the server sent it: its time (RFC 3339, milliseconds), sender and text.
pub type MessageKey = (String, String, String);

/// What a log line is, which decides its colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineKind {
    /// A message to everyone (`msgall`).
    Chat,
    /// A private message (`msg <user>`), sent or received.
    Private,
    /// A message to a room.
    Room,
    /// A replayed message (`history`, or the history sent on `join`).
    History,
    /// Someone logged in.
    Login,
    /// Someone logged out or dropped.
    Logout,
    /// Someone joined or left a room.
    Membership,
    /// `[INFO]` replies (whoami, userlist, rooms, help, ...).
    Info,
    /// `[SERVER INFO]` lines (greeting, shutdown).
    Server,
    /// `[ERROR]` replies.
    Error,
    /// A note from the client itself (connection state, usage hints).
    Local,
    /// A line from the server that the client could not classify.
    Text,
}

/// One line of the message log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    /// What the line is.
    pub kind: LineKind,
    /// The time shown before the line (`HH:MM:SS`), for chat messages.
    pub time: Option<String>,
    /// Who and where, as the text form prints it: `[alice]`, `[alice][->][bob]`, `[#rust][alice]`.
    pub who: Option<String>,
    /// The rest of the line.
    pub text: String,
}

impl LogLine {
    /// A line with only a kind and a text.
    pub fn new(kind: LineKind, text: impl Into<String>) -> Self {
        LogLine {
            kind,
            time: None,
            who: None,
            text: text.into(),
        }
    }

    /// The line as one plain string, as the UI shows it without colour.
    pub fn plain(&self) -> String {
        let mut out = String::new();
        if let Some(time) = &self.time {
            out.push('[');
            out.push_str(time);
            out.push(']');
        }
        if let Some(who) = &self.who {
            out.push_str(who);
            out.push_str(": ");
        }
        out.push_str(&self.text);
        out
    }
}

/// The connection as the status line shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConnState {
    /// The first connection attempt is under way.
    Connecting,
    /// Connected to the server.
    Connected,
    /// The connection was lost (or refused); the next attempt comes after a backoff.
    Reconnecting {
        /// How many attempts failed in a row.
        attempt: u32,
        /// Why the last connection ended or failed.
        reason: String,
    },
}

/// Where plain text typed in the input line goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// Everyone (`msgall`).
    All,
    /// One user (`msg <user>`).
    User(String),
    /// A room (`msg <#room>`).
    Room(String),
}

impl Target {
    /// The target as the status line shows it.
    pub fn label(&self) -> &str {
        match self {
            Target::All => "all",
            Target::User(name) | Target::Room(name) => name,
        }
    }

    /// The protocol command that sends `text` to this target.
    pub fn command(&self, text: &str) -> String {
        match self {
            Target::All => format!("msgall {text}"),
            Target::User(name) | Target::Room(name) => format!("msg {name} {text}"),
        }
    }
}

/// Everything on screen, except the input line.
#[derive(Debug)]
pub struct Model {
    /// The server address, for the status line.
    pub server: String,
    /// The connection state.
    pub conn: ConnState,
    /// Login state and credentials.
    pub session: Session,
    /// Who is online, in login order.
    pub users: Vec<String>,
    /// The rooms this user is in, in the order they were joined.
    pub rooms: Vec<String>,
    /// Where plain text goes.
    pub target: Target,
    /// How many rows the log is scrolled back from its end (0: following new lines).
    pub scroll: usize,
    log: VecDeque<LogLine>,
    /// The latest room messages the log shows, by lower-case room name.
    seen: HashMap<String, VecDeque<MessageKey>>,
    /// The room whose join replay is arriving: set by our own join, it lasts while the replies
    /// that follow are that room's replayed messages.
    replaying: Option<String>,
}

impl Model {
    /// A model for a client of `server`, with this login state.
    pub fn new(server: impl Into<String>, session: Session) -> Self {
        Model {
            server: server.into(),
            conn: ConnState::Connecting,
            session,
            users: Vec::new(),
            rooms: Vec::new(),
            target: Target::All,
            scroll: 0,
            log: VecDeque::new(),
            seen: HashMap::new(),
            replaying: None,
        }
    }

    /// The log, oldest line first.
    pub fn log(&self) -> &VecDeque<LogLine> {
        &self.log
    }

    /// Appends a line to the log; a log scrolled back stays on the lines it shows.
    pub fn push(&mut self, line: LogLine) {
        if self.log.len() == LOG_CAPACITY {
            self.log.pop_front();
        }
        self.log.push_back(line);
        if self.scroll > 0 {
            self.scroll += 1;
        }
    }

    /// Appends a client note.
    pub fn note(&mut self, text: impl Into<String>) {
        self.push(LogLine::new(LineKind::Local, text));
    }

    /// Empties the log (a later join replays what it showed again).
    pub fn clear_log(&mut self) {
        self.log.clear();
        self.seen.clear();
        self.scroll = 0;
    }

    /// Records that the log shows this message of `room`; returns false if it already did.
    pub fn show_room_message(&mut self, room: &str, key: MessageKey) -> bool {
        let seen = self.seen.entry(room.to_lowercase()).or_default();
        if seen.contains(&key) {
            return false;
        }
        if seen.len() == SEEN_PER_ROOM {
            seen.pop_front();
        }
        seen.push_back(key);
        true
    }

    /// Makes `target` where plain text goes (`/to`), in the spelling of the user online or the
    /// room joined; says so, and warns when the server would refuse messages to it now.
    pub fn set_target(&mut self, target: Target) {
        let known = |list: &[String], name: &str| {
            list.iter().find(|n| n.eq_ignore_ascii_case(name)).cloned()
        };
        let (target, warning) = match target {
            Target::All => (Target::All, None),
            Target::User(name) => match known(&self.users, &name) {
                Some(online) => (Target::User(online), None),
                None => {
                    let warning = format!("{name} is not online now");
                    (Target::User(name), Some(warning))
                }
            },
            Target::Room(room) => match known(&self.rooms, &room) {
                Some(joined) => (Target::Room(joined), None),
                None => {
                    let warning = format!("you are not in {room}: /join {room} first");
                    (Target::Room(room), Some(warning))
                }
            },
        };
        self.target = target;
        match warning {
            None => self.note(format!("now writing to {}", self.target.label())),
            Some(warning) => self.note(format!(
                "now writing to {} ({warning})",
                self.target.label()
            )),
        }
    }

    /// Our own join of `room`: its replayed messages follow.
    pub fn start_replay(&mut self, room: &str) {
        self.replaying = Some(room.to_lowercase());
    }

    /// Ends a join replay; returns the room it was for. Every reply ends it but a replayed
    /// message of that room, which puts it back ([`Model::continue_replay`]).
    pub fn take_replay(&mut self) -> Option<String> {
        self.replaying.take()
    }

    /// Continues the join replay of `room` (lower case, as [`Model::take_replay`] gave it).
    pub fn continue_replay(&mut self, room: String) {
        self.replaying = Some(room);
    }

    /// Scrolls back (towards older lines) by `rows`.
    pub fn scroll_up(&mut self, rows: usize) {
        self.scroll = self.scroll.saturating_add(rows);
    }

    /// Scrolls forward (towards newer lines) by `rows`.
    pub fn scroll_down(&mut self, rows: usize) {
        self.scroll = self.scroll.saturating_sub(rows);
    }

    /// Whether `name` is this client's logged-in user (names compare case-insensitively).
    pub fn is_me(&self, name: &str) -> bool {
        self.session
            .logged_in_name()
            .is_some_and(|me| me.eq_ignore_ascii_case(name))
    }

    /// Adds a user to the online list (once).
    pub fn add_user(&mut self, name: &str) {
        if !self.users.iter().any(|u| u.eq_ignore_ascii_case(name)) {
            self.users.push(name.to_owned());
        }
    }

    /// Removes a user from the online list; a private target on them falls back to everyone.
    pub fn remove_user(&mut self, name: &str) {
        self.users.retain(|u| !u.eq_ignore_ascii_case(name));
        if matches!(&self.target, Target::User(u) if u.eq_ignore_ascii_case(name)) {
            self.target = Target::All;
            self.note(format!("{name} left; now writing to all"));
        }
    }

    /// Records that this user joined `room`.
    pub fn add_room(&mut self, room: &str) {
        if !self.rooms.iter().any(|r| r.eq_ignore_ascii_case(room)) {
            self.rooms.push(room.to_owned());
        }
    }

    /// Records that this user left `room`; a target on it falls back to everyone.
    pub fn remove_room(&mut self, room: &str) {
        self.rooms.retain(|r| !r.eq_ignore_ascii_case(room));
        if matches!(&self.target, Target::Room(r) if r.eq_ignore_ascii_case(room)) {
            self.target = Target::All;
            self.note(format!("left {room}; now writing to all"));
        }
    }

    /// Every target Tab cycles through: everyone, this user's rooms, then the other users.
    pub fn targets(&self) -> Vec<Target> {
        let mut targets = vec![Target::All];
        targets.extend(self.rooms.iter().cloned().map(Target::Room));
        targets.extend(
            self.users
                .iter()
                .filter(|u| !self.is_me(u))
                .cloned()
                .map(Target::User),
        );
        targets
    }

    /// Moves the target to the next (or, with `forward` false, the previous) one of [`targets`].
    ///
    /// [`targets`]: Model::targets
    pub fn cycle_target(&mut self, forward: bool) {
        let targets = self.targets();
        let current = targets.iter().position(|t| *t == self.target);
        let next = match (current, forward) {
            (Some(i), true) => (i + 1) % targets.len(),
            (Some(i), false) => (i + targets.len() - 1) % targets.len(),
            (None, _) => 0,
        };
        self.target = targets[next].clone();
    }

    /// The connection is up.
    pub fn connected(&mut self) {
        self.conn = ConnState::Connected;
        self.note(format!("connected to {}", self.server));
    }

    /// The connection was lost or refused: forget who is online and which rooms we are in (the
    /// session keeps the rooms to join again after logging back in).
    pub fn disconnected(&mut self, attempt: u32, reason: String) {
        let was_connected = self.conn == ConnState::Connected;
        if was_connected {
            self.note(format!("connection lost: {reason}; reconnecting"));
        } else if attempt == 1 {
            self.note(format!(
                "cannot connect to {}: {reason}; retrying",
                self.server
            ));
        }
        let rooms = std::mem::take(&mut self.rooms);
        self.session.connection_lost(rooms);
        self.users.clear();
        self.conn = ConnState::Reconnecting { attempt, reason };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::Session;

    fn model() -> Model {
        Model::new("127.0.0.1:8000", Session::prompt())
    }

    #[test]
    fn a_target_takes_the_spelling_online_and_warns_when_messages_would_be_refused() {
        let mut m = model();
        m.add_user("Bob");
        m.add_room("#Rust");
        let last = |m: &Model| m.log().back().map(LogLine::plain).unwrap_or_default();
        m.set_target(Target::User("bob".into()));
        assert_eq!(m.target, Target::User("Bob".into()));
        assert_eq!(last(&m), "now writing to Bob");
        m.set_target(Target::Room("#rust".into()));
        assert_eq!(m.target, Target::Room("#Rust".into()));
        assert_eq!(last(&m), "now writing to #Rust");
        m.set_target(Target::User("carol".into()));
        assert_eq!(m.target, Target::User("carol".into()));
        assert_eq!(last(&m), "now writing to carol (carol is not online now)");
        m.set_target(Target::Room("#go".into()));
        assert_eq!(
            last(&m),
            "now writing to #go (you are not in #go: /join #go first)"
        );
        m.set_target(Target::All);
        assert_eq!(
            (m.target.clone(), last(&m)),
            (Target::All, "now writing to all".into())
        );
    }

    #[test]
    fn plain_text_of_lines() {
        let line = LogLine {
            kind: LineKind::Chat,
            time: Some("12:34:05".into()),
            who: Some("[alice]".into()),
            text: "hi".into(),
        };
        assert_eq!(line.plain(), "[12:34:05][alice]: hi");
        assert_eq!(
            LogLine::new(LineKind::Info, "[INFO] - x").plain(),
            "[INFO] - x"
        );
    }

    #[test]
    fn log_is_capped_and_scroll_stays_on_its_lines() {
        let mut m = model();
        for i in 0..LOG_CAPACITY + 5 {
            m.note(i.to_string());
        }
        assert_eq!(m.log().len(), LOG_CAPACITY);
        assert_eq!(m.log().front().unwrap().text, "5");
        m.scroll_up(3);
        m.note("new");
        assert_eq!(m.scroll, 4);
        m.scroll_down(10);
        assert_eq!(m.scroll, 0);
        m.clear_log();
        assert!(m.log().is_empty());
    }

    #[test]
    fn target_commands() {
        assert_eq!(Target::All.command("hi  there"), "msgall hi  there");
        assert_eq!(Target::User("bob".into()).command("hi"), "msg bob hi");
        assert_eq!(Target::Room("#rust".into()).command("hi"), "msg #rust hi");
        assert_eq!(Target::All.label(), "all");
    }

    #[test]
    fn users_and_rooms_are_kept_once() {
        let mut m = model();
        m.add_user("alice");
        m.add_user("Alice");
        m.add_user("bob");
        assert_eq!(m.users, ["alice", "bob"]);
        m.remove_user("ALICE");
        assert_eq!(m.users, ["bob"]);
        m.add_room("#rust");
        m.add_room("#RUST");
        assert_eq!(m.rooms, ["#rust"]);
    }
}
