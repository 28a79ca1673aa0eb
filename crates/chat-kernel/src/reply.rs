//! What the server says to a client, before it is rendered for an output form.
//!
//! A [`Reply`] is built once per event and handed to the packer, which renders it at most once
//! per output form however many recipients it has.

use std::sync::Arc;

use chrono::{DateTime, Utc};

/// An error reply (PROTOCOL.md section 3), with its JSON `code` and its text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ErrorKind {
    /// The command word is not known.
    #[error("unknown command")]
    UnknownCommand,
    /// `login` / `register` without a name.
    #[error("require username")]
    RequireUsername,
    /// Too many arguments.
    #[error("overage info")]
    OverageInfo,
    /// `msg <name>` or `msgall` without text.
    #[error("empty message")]
    EmptyMessage,
    /// `register <name>` without a password.
    #[error("require password")]
    RequirePassword,
    /// `join` / `left` without a room.
    #[error("require room")]
    RequireRoom,
    /// A name that breaks the name rules.
    #[error("invalid username")]
    InvalidUsername,
    /// A room name that breaks the room rules.
    #[error("invalid room name")]
    InvalidRoomName,
    /// A `history` count that is not a whole number from 1 up.
    #[error("invalid number")]
    InvalidNumber,
    /// `format` with anything but color, text, json.
    #[error("unknown format")]
    UnknownFormat,
    /// A command that needs login, sent anonymously.
    #[error("First login!")]
    FirstLogin,
    /// `login` while logged in.
    #[error("Already login!")]
    AlreadyLogin,
    /// The name is online, or already registered.
    #[error("Username already taken!")]
    UsernameTaken,
    /// Guest login with a registered name.
    #[error("password required")]
    PasswordRequired,
    /// Bad password, or no such account.
    #[error("wrong password")]
    WrongPassword,
    /// A user or room that does not exist; holds the name as the client wrote it.
    #[error("[{0}] not found!")]
    NotFound(String),
    /// Not a member of the room; holds the room name.
    #[error("not in {0}")]
    NotInRoom(String),
    /// The flood limit dropped this command.
    #[error("too many requests")]
    TooManyRequests,
    /// A line over the line limit.
    #[error("line too long")]
    LineTooLong,
    /// A TCP line that is not UTF-8.
    #[error("invalid UTF-8")]
    InvalidUtf8,
    /// A binary WebSocket frame.
    #[error("binary frames are not supported")]
    BinaryFrame,
    /// The connection limit is reached.
    #[error("server full")]
    ServerFull,
    /// The store failed (disk full, ...); the client may try again. Not in the original.
    #[error("service unavailable, try again later")]
    Unavailable,
}

impl ErrorKind {
    /// The JSON `code` of this error.
    pub fn code(&self) -> &'static str {
        match self {
            ErrorKind::UnknownCommand => "unknown_command",
            ErrorKind::RequireUsername => "require_username",
            ErrorKind::OverageInfo => "overage_info",
            ErrorKind::EmptyMessage => "empty_message",
            ErrorKind::RequirePassword => "require_password",
            ErrorKind::RequireRoom => "require_room",
            ErrorKind::InvalidUsername => "invalid_username",
            ErrorKind::InvalidRoomName => "invalid_room_name",
            ErrorKind::InvalidNumber => "invalid_number",
            ErrorKind::UnknownFormat => "unknown_format",
            ErrorKind::FirstLogin => "first_login",
            ErrorKind::AlreadyLogin => "already_login",
            ErrorKind::UsernameTaken => "username_taken",
            ErrorKind::PasswordRequired => "password_required",
            ErrorKind::WrongPassword => "wrong_password",
            ErrorKind::NotFound(_) => "not_found",
            ErrorKind::NotInRoom(_) => "not_in_room",
            ErrorKind::TooManyRequests => "too_many_requests",
            ErrorKind::LineTooLong => "line_too_long",
            ErrorKind::InvalidUtf8 => "invalid_utf8",
            ErrorKind::BinaryFrame => "binary_frame",
            ErrorKind::ServerFull => "server_full",
            ErrorKind::Unavailable => "unavailable",
        }
    }
}

/// Where a chat line was sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destination {
    /// `msgall`: everyone.
    All,
    /// A private message to this user (name as shown).
    User(Arc<str>),
    /// A room message (room name as created).
    Room(Arc<str>),
}

/// One chat message, live or replayed from history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatLine {
    /// When the server received it.
    pub time: DateTime<Utc>,
    /// The sender's name as shown.
    pub from: Arc<str>,
    /// Where it went.
    pub to: Destination,
    /// The text, exactly as sent.
    pub text: Arc<str>,
}

/// Everything the server can say to a client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// `[SYSTEM INFO] - [alice] login to chat.`
    Login(Arc<str>),
    /// `[SYSTEM INFO] - [alice] logout from chat.`
    Logout(Arc<str>),
    /// A chat line; `history` is true when it is replayed.
    Message {
        /// The message.
        line: ChatLine,
        /// Replayed from history rather than live.
        history: bool,
    },
    /// `[SYSTEM INFO] - [alice] joined #rust.`
    Join {
        /// Who joined.
        user: Arc<str>,
        /// The room as created.
        room: Arc<str>,
    },
    /// `[SYSTEM INFO] - [alice] left #rust.`
    Left {
        /// Who left.
        user: Arc<str>,
        /// The room as created.
        room: Arc<str>,
    },
    /// `[INFO] - [alice, bob]`
    Userlist(Vec<Arc<str>>),
    /// `[INFO] - [#go (1), #rust (3)]`
    Rooms(Vec<(Arc<str>, usize)>),
    /// `[INFO] - <text>`
    Info(String),
    /// `[SERVER INFO] - <text>`
    Server(String),
    /// `[ERROR] - <text>`
    Error(ErrorKind),
}
