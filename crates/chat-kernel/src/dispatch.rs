//! The chat's rules: what each command does to the registry and who hears about it.
//!
//! Everything here runs under the kernel's one lock and never waits: replies are rendered and
//! pushed into recipients' queues, and work that may take time (password hashing and checking,
//! history writes) is left in [`State::deferred`] for the kernel to hand to the store thread
//! once the lock is released.

use std::collections::{HashMap, HashSet, VecDeque};
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Instant;

use chrono::Utc;

use crate::Format;
use crate::console::{Console, ConsoleEvent};
use crate::framing::{Input, clean_line};
use crate::history::{History, HistoryKey};
use crate::limits::Limits;
use crate::names::{room_key, user_key};
use crate::packer::Rendered;
use crate::parser::{Command, Target, parse};
use crate::registry::{ConnId, ConnTable, Pending, Recipient, Registry, Room};
use crate::reply::{ChatLine, Destination, ErrorKind, Reply};
use crate::store::{Account, HistoryRecord, Loaded, StoreError};

/// Lines a busy connection may queue while its password is checked.
const BACKLOG_MAX: usize = 64;
/// Lines of history replayed to a joiner.
const JOIN_REPLAY: usize = 10;

/// What a front-end should do with a connection after its input was handled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    /// Keep reading.
    Continue,
    /// Stop reading; the writer finishes what is queued and closes (logout, dropped).
    Close,
}

/// Work for the store thread, sent once the lock is released.
pub(crate) enum Deferred {
    Append(HistoryRecord),
    Register {
        id: ConnId,
        name: String,
        password: String,
    },
    Verify {
        id: ConnId,
        /// The client's address: the check counts toward its limit even if it left meanwhile.
        ip: IpAddr,
        name: String,
        /// The account's hash; `None` for a name without one, which is checked against the
        /// store's stand-in hash all the same (and fails), so it takes as long to refuse.
        hash: Option<String>,
        password: String,
    },
}

/// The kernel's state, behind its lock.
pub(crate) struct State {
    pub reg: Registry,
    pub history: History,
    /// Registered accounts by name key.
    pub accounts: HashMap<String, Account>,
    /// Name keys with a registration in flight.
    pub registering: HashSet<String>,
    /// Failed password attempts per name key and client address.
    pub failures: HashMap<(String, IpAddr), VecDeque<Instant>>,
    /// Password checks running per name key and client address: they count toward the limit,
    /// so guesses sent at once from many connections are not all checked.
    pub checking: HashMap<(String, IpAddr), u32>,
    /// Connections whose queue overflowed during the current operation.
    pub dropped: Vec<ConnId>,
    /// Store work to send after unlocking.
    pub deferred: Vec<Deferred>,
    pub next_id: ConnId,
    pub shutting_down: bool,
    pub limits: Limits,
    pub console: Console,
}

/// Sends `reply` to every open connection in `to` (ids, or members of the login order or a
/// room), rendering it at most once per output form and transport. Connections whose queue is
/// full are noted in `dropped`, never waited on.
fn deliver<'a, R: Recipient + 'a>(
    conns: &ConnTable,
    to: impl IntoIterator<Item = &'a R>,
    reply: &Reply,
    dropped: &mut Vec<ConnId>,
) {
    let mut rendered = Rendered::new(reply);
    for recipient in to {
        if let Some(conn) = recipient.find(conns)
            && conn
                .out
                .push(rendered.get(conn.form, conn.transport))
                .is_err()
        {
            dropped.push(conn.id);
        }
    }
}

impl State {
    /// A state holding what the store loaded.
    pub fn new(loaded: Loaded, limits: Limits, console: Console) -> State {
        let mut state = State {
            reg: Registry::default(),
            history: History::default(),
            accounts: HashMap::new(),
            registering: HashSet::new(),
            failures: HashMap::new(),
            checking: HashMap::new(),
            dropped: Vec::new(),
            deferred: Vec::new(),
            next_id: 1,
            shutting_down: false,
            limits,
            console,
        };
        for account in loaded.accounts {
            state.accounts.insert(user_key(&account.name), account);
        }
        for record in loaded.history {
            let (key, to) = match &record.room {
                None => (None, Destination::All),
                Some(room) => {
                    let key = room_key(room);
                    let name = state
                        .reg
                        .rooms
                        .entry(key.clone())
                        .or_insert_with(|| Room {
                            name: Arc::from(room.as_str()),
                            members: Vec::new(),
                        })
                        .name
                        .clone();
                    (Some(key), Destination::Room(name))
                }
            };
            let line = ChatLine {
                time: record.time,
                from: Arc::from(record.from),
                to,
                text: Arc::from(record.text),
            };
            state.history.push(key, line);
        }
        state
    }

    /// Sends one reply to one connection.
    pub fn send(&mut self, id: ConnId, reply: Reply) {
        deliver(&self.reg.conns, [&id], &reply, &mut self.dropped);
    }

    fn send_error(&mut self, id: ConnId, error: ErrorKind) {
        self.send(id, Reply::Error(error));
    }

    fn print(&self, id: ConnId, event: ConsoleEvent) {
        if let Some(conn) = self.reg.conns.get(&id) {
            self.console.print(&conn.server, event);
        }
    }

    /// Whether the connection is still open (and the server not shutting down).
    pub fn flow(&self, id: ConnId) -> Flow {
        if self.reg.conns.contains_key(&id) && !self.shutting_down {
            Flow::Continue
        } else {
            Flow::Close
        }
    }

    /// Handles one unit of client input.
    pub fn input(&mut self, id: ConnId, input: Input<'_>) -> Flow {
        if self.shutting_down {
            // Nobody would hear what it says: ignore input once the shutdown began.
            return Flow::Close;
        }
        let line = match input {
            Input::Line(raw) => {
                let line = clean_line(raw);
                if line.is_empty() {
                    return self.flow(id);
                }
                Some(line)
            }
            _ => None,
        };
        let Some(conn) = self.reg.conns.get_mut(&id) else {
            return Flow::Close;
        };
        if let Some(bucket) = &mut conn.flood
            && !bucket.take(Instant::now())
        {
            self.send_error(id, ErrorKind::TooManyRequests);
            return self.flow(id);
        }
        let pending = match (input, line) {
            (_, Some(line)) => Pending::Line(line.into_owned()),
            (Input::TooLong, None) => Pending::Error(ErrorKind::LineTooLong),
            (Input::InvalidUtf8, None) => Pending::Error(ErrorKind::InvalidUtf8),
            (Input::BinaryFrame, None) => Pending::Error(ErrorKind::BinaryFrame),
            (Input::Line(_), None) => return self.flow(id),
        };
        if conn.busy {
            // A password check is running: keep the order of replies.
            if conn.backlog.len() >= BACKLOG_MAX {
                self.send_error(id, ErrorKind::TooManyRequests);
            } else {
                conn.backlog.push_back(pending);
            }
        } else {
            self.run(id, pending);
        }
        self.flow(id)
    }

    fn run(&mut self, id: ConnId, pending: Pending) {
        match pending {
            Pending::Line(line) => self.dispatch(id, &line),
            Pending::Error(error) => self.send_error(id, error),
        }
    }

    /// Parses and runs one cleaned line.
    fn dispatch(&mut self, id: ConnId, line: &str) {
        let command = match parse(line) {
            Ok(command) => command,
            Err(error) => return self.send_error(id, error),
        };
        let Some(user) = self.reg.conns.get(&id).map(|c| c.user.clone()) else {
            return;
        };
        let user = match (user, command.allowed_anonymous()) {
            (Some(user), _) => Some(user),
            (None, true) => None,
            (None, false) => return self.send_error(id, ErrorKind::FirstLogin),
        };
        match (command, user) {
            (Command::Login { .. }, Some(_)) => self.send_error(id, ErrorKind::AlreadyLogin),
            (
                Command::Login {
                    name,
                    password: None,
                },
                None,
            ) => self.login_guest(id, name),
            (
                Command::Login {
                    name,
                    password: Some(pw),
                },
                None,
            ) => self.login_account(id, name, pw),
            (Command::Register { name, password }, _) => self.register(id, name, password),
            (Command::Format(form), _) => self.format(id, form),
            (Command::Help, _) => self.help(id),
            (command, Some(user)) => self.logged_in(id, user, command),
            (_, None) => self.send_error(id, ErrorKind::FirstLogin),
        }
    }

    fn logged_in(&mut self, id: ConnId, user: Arc<str>, command: Command<'_>) {
        match command {
            Command::Msg {
                to: Target::User(name),
                text,
            } => self.msg_user(id, user, name, text),
            Command::Msg {
                to: Target::Room(room),
                text,
            } => self.msg_room(id, user, room, text),
            Command::MsgAll { text } => self.msg_all(user, text),
            Command::Join { room } => self.join(id, user, room),
            Command::Left { room } => self.left(id, user, room),
            Command::Rooms => self.rooms(id),
            Command::History { room, count } => self.replay(id, room, count),
            Command::Whoami => self.send(id, Reply::Info(user.to_string())),
            Command::Userlist => self.userlist(id),
            Command::Debug => {
                self.print(id, ConsoleEvent::Raw(self.reg.describe()));
                self.send(id, Reply::Info("debug printed on server".into()));
            }
            Command::Logout => self.logout(id, user),
            Command::Login { .. }
            | Command::Register { .. }
            | Command::Format(_)
            | Command::Help => {}
        }
    }

    fn name_in_use(&self, key: &str, except: Option<ConnId>) -> bool {
        self.reg
            .users
            .get(key)
            .is_some_and(|&owner| Some(owner) != except)
            || self.registering.contains(key)
    }

    fn login_guest(&mut self, id: ConnId, name: &str) {
        let key = user_key(name);
        if self.accounts.contains_key(&key) {
            self.send_error(id, ErrorKind::PasswordRequired);
        } else if self.name_in_use(&key, None) {
            self.send_error(id, ErrorKind::UsernameTaken);
        } else {
            self.log_in(id, name);
        }
    }

    fn peer_ip(&self, id: ConnId) -> Option<IpAddr> {
        self.reg.conns.get(&id).map(|c| c.peer.ip())
    }

    fn login_account(&mut self, id: ConnId, name: &str, password: &str) {
        let key = user_key(name);
        let Some(ip) = self.peer_ip(id) else { return };
        let hash = self.accounts.get(&key).map(|a| a.password_hash.clone());
        if self.too_many_failures(&key, ip) {
            return self.send_error(id, ErrorKind::WrongPassword);
        }
        // A name without an account is `wrong password` whoever is online under it.
        if hash.is_some() && self.name_in_use(&key, None) {
            return self.send_error(id, ErrorKind::UsernameTaken);
        }
        *self.checking.entry((key, ip)).or_default() += 1;
        self.set_busy(id, true);
        self.deferred.push(Deferred::Verify {
            id,
            ip,
            name: name.to_owned(),
            hash,
            password: password.to_owned(),
        });
    }

    /// The password check for `login <name> <password>` finished. It is counted (and a failure
    /// recorded) for the address that asked even if that client left meanwhile: dropping the
    /// connection neither hides a wrong guess nor leaves a check counted forever.
    pub fn login_checked(&mut self, id: ConnId, ip: IpAddr, name: &str, ok: bool) {
        let key = user_key(name);
        let entry = (key.clone(), ip);
        if let Some(n) = self.checking.get_mut(&entry) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                self.checking.remove(&entry);
            }
        }
        if !ok {
            self.record_failure(key.clone(), ip);
        }
        if !self.reg.conns.contains_key(&id) {
            return;
        }
        self.set_busy(id, false);
        if !ok {
            self.send_error(id, ErrorKind::WrongPassword);
        } else if self.name_in_use(&key, None) {
            self.send_error(id, ErrorKind::UsernameTaken);
        } else {
            self.log_in(id, name);
        }
        self.resume(id);
    }

    fn too_many_failures(&mut self, key: &str, ip: IpAddr) -> bool {
        let window = self.limits.password_window;
        let now = Instant::now();
        let entry = (key.to_owned(), ip);
        let running = self.checking.get(&entry).copied().unwrap_or(0) as usize;
        let failed = match self.failures.get_mut(&entry) {
            Some(times) => {
                while times
                    .front()
                    .is_some_and(|t| now.duration_since(*t) >= window)
                {
                    times.pop_front();
                }
                times.len()
            }
            None => 0,
        };
        failed + running >= self.limits.password_failures as usize
    }

    fn record_failure(&mut self, key: String, ip: IpAddr) {
        let now = Instant::now();
        let window = self.limits.password_window;
        if self.failures.len() > 10_000 {
            self.failures
                .retain(|_, t| t.back().is_some_and(|t| now.duration_since(*t) < window));
        }
        self.failures.entry((key, ip)).or_default().push_back(now);
    }

    fn register(&mut self, id: ConnId, name: &str, password: &str) {
        let key = user_key(name);
        if self.accounts.contains_key(&key) || self.name_in_use(&key, Some(id)) {
            return self.send_error(id, ErrorKind::UsernameTaken);
        }
        self.registering.insert(key);
        self.set_busy(id, true);
        self.deferred.push(Deferred::Register {
            id,
            name: name.to_owned(),
            password: password.to_owned(),
        });
    }

    /// The store finished (or failed) a registration.
    pub fn registered(&mut self, id: ConnId, name: &str, result: Result<Account, StoreError>) {
        let key = user_key(name);
        self.registering.remove(&key);
        match result {
            Ok(account) => {
                self.accounts.insert(key, account);
                self.send(id, Reply::Info(format!("[{name}] registered.")));
            }
            Err(StoreError::AccountExists) => self.send_error(id, ErrorKind::UsernameTaken),
            Err(e) => {
                self.console.print(
                    "store",
                    ConsoleEvent::Error(format!("register {name}: {e}")),
                );
                self.send_error(id, ErrorKind::Unavailable);
            }
        }
        self.set_busy(id, false);
        self.resume(id);
    }

    fn set_busy(&mut self, id: ConnId, busy: bool) {
        if let Some(conn) = self.reg.conns.get_mut(&id) {
            conn.busy = busy;
        }
    }

    /// Runs the lines a connection sent while it was busy, until it is busy again.
    fn resume(&mut self, id: ConnId) {
        loop {
            let Some(conn) = self.reg.conns.get_mut(&id) else {
                return;
            };
            if conn.busy {
                return;
            }
            let Some(pending) = conn.backlog.pop_front() else {
                return;
            };
            self.run(id, pending);
        }
    }

    fn log_in(&mut self, id: ConnId, name: &str) {
        let Some(conn) = self.reg.conns.get_mut(&id) else {
            return;
        };
        let user: Arc<str> = Arc::from(name);
        conn.user = Some(user.clone());
        self.reg.users.insert(user_key(name), id);
        self.reg.login_order.extend(self.reg.conns.member(id));
        deliver(
            &self.reg.conns,
            &self.reg.login_order,
            &Reply::Login(user),
            &mut self.dropped,
        );
        self.print(id, ConsoleEvent::Login(name.to_owned()));
    }

    fn msg_user(&mut self, id: ConnId, from: Arc<str>, name: &str, text: &str) {
        let Some(&to_id) = self.reg.users.get(&user_key(name)) else {
            return self.send_error(id, ErrorKind::NotFound(name.to_owned()));
        };
        let Some(to) = self.reg.conns.get(&to_id).and_then(|c| c.user.clone()) else {
            return;
        };
        let reply = Reply::Message {
            line: ChatLine {
                time: Utc::now(),
                from,
                to: Destination::User(to),
                text: Arc::from(text),
            },
            history: false,
        };
        let ids = if to_id == id {
            vec![id]
        } else {
            vec![to_id, id]
        };
        deliver(&self.reg.conns, &ids, &reply, &mut self.dropped);
    }

    fn store_line(&mut self, key: HistoryKey, line: ChatLine) {
        // `str::to_owned`, not `to_string`: on an `Arc<str>` that goes through `Display`, about
        // 180 instructions a copy, three per chat line.
        self.deferred.push(Deferred::Append(HistoryRecord {
            time: line.time,
            room: match &line.to {
                Destination::Room(room) => Some(room.as_ref().to_owned()),
                _ => None,
            },
            from: line.from.as_ref().to_owned(),
            text: line.text.as_ref().to_owned(),
        }));
        self.history.push(key, line);
    }

    fn msg_room(&mut self, id: ConnId, from: Arc<str>, room: &str, text: &str) {
        let key = room_key(room);
        let room_name = match self.reg.rooms.get(&key) {
            Some(r) if r.has(id) => r.name.clone(),
            Some(r) => return self.send_error(id, ErrorKind::NotInRoom(r.name.to_string())),
            None => return self.send_error(id, ErrorKind::NotInRoom(room.to_owned())),
        };
        let line = ChatLine {
            time: Utc::now(),
            from,
            to: Destination::Room(room_name),
            text: Arc::from(text),
        };
        let reply = Reply::Message {
            line: line.clone(),
            history: false,
        };
        if let Some(r) = self.reg.rooms.get(&key) {
            deliver(&self.reg.conns, &r.members, &reply, &mut self.dropped);
        }
        self.store_line(Some(key), line);
    }

    fn msg_all(&mut self, from: Arc<str>, text: &str) {
        let line = ChatLine {
            time: Utc::now(),
            from,
            to: Destination::All,
            text: Arc::from(text),
        };
        let reply = Reply::Message {
            line: line.clone(),
            history: false,
        };
        deliver(
            &self.reg.conns,
            &self.reg.login_order,
            &reply,
            &mut self.dropped,
        );
        self.store_line(None, line);
    }

    fn join(&mut self, id: ConnId, user: Arc<str>, room: &str) {
        let key = room_key(room);
        let Some(member) = self.reg.conns.member(id) else {
            return;
        };
        let entry = self.reg.rooms.entry(key.clone()).or_insert_with(|| Room {
            name: Arc::from(room),
            members: Vec::new(),
        });
        if entry.has(id) {
            let text = format!("already in {}", entry.name);
            return self.send(id, Reply::Info(text));
        }
        entry.members.push(member);
        let reply = Reply::Join {
            user,
            room: entry.name.clone(),
        };
        deliver(&self.reg.conns, &entry.members, &reply, &mut self.dropped);
        if let Some(conn) = self.reg.conns.get_mut(&id) {
            conn.rooms.push(key.clone());
        }
        let key = Some(key);
        if self.history.has(&key) {
            let lines: Vec<ChatLine> = self.history.last(&key, JOIN_REPLAY).cloned().collect();
            self.replay_lines(id, lines);
        }
    }

    fn replay_lines(&mut self, id: ConnId, lines: Vec<ChatLine>) {
        for line in lines {
            self.send(
                id,
                Reply::Message {
                    line,
                    history: true,
                },
            );
        }
        self.send(id, Reply::Info("end of history".into()));
    }

    fn left(&mut self, id: ConnId, user: Arc<str>, room: &str) {
        let key = room_key(room);
        let Some(r) = self.reg.rooms.get(&key) else {
            return self.send_error(id, ErrorKind::NotFound(room.to_owned()));
        };
        if !r.has(id) {
            return self.send_error(id, ErrorKind::NotInRoom(r.name.to_string()));
        }
        let reply = Reply::Left {
            user,
            room: r.name.clone(),
        };
        deliver(&self.reg.conns, &r.members, &reply, &mut self.dropped);
        if let Some(conn) = self.reg.conns.get_mut(&id) {
            conn.rooms.retain(|k| *k != key);
        }
        self.leave_room(id, &key);
    }

    /// Takes `id` out of a room, forgetting the room if nothing keeps it.
    fn leave_room(&mut self, id: ConnId, key: &str) {
        let Some(r) = self.reg.rooms.get_mut(key) else {
            return;
        };
        r.members.retain(|m| m.id != id);
        if r.members.is_empty() && !self.history.has(&Some(key.to_owned())) {
            self.reg.rooms.remove(key);
        }
    }

    fn rooms(&mut self, id: ConnId) {
        let list = self
            .reg
            .rooms
            .values()
            .map(|r| (r.name.clone(), r.members.len()))
            .collect();
        self.send(id, Reply::Rooms(list));
    }

    fn replay(&mut self, id: ConnId, room: Option<&str>, count: usize) {
        let key = match room {
            None => None,
            Some(room) => {
                let key = room_key(room);
                if !self.reg.rooms.contains_key(&key) {
                    return self.send_error(id, ErrorKind::NotFound(room.to_owned()));
                }
                Some(key)
            }
        };
        let lines: Vec<ChatLine> = self.history.last(&key, count).cloned().collect();
        self.replay_lines(id, lines);
    }

    fn userlist(&mut self, id: ConnId) {
        let users = self
            .reg
            .login_order
            .iter()
            .filter_map(|m| self.reg.conns.at(m)?.user.clone())
            .collect();
        self.send(id, Reply::Userlist(users));
    }

    fn format(&mut self, id: ConnId, form: Option<Format>) {
        let Some(conn) = self.reg.conns.get_mut(&id) else {
            return;
        };
        if let Some(form) = form {
            conn.form = form;
        }
        let text = format!("format {}", conn.form.name());
        self.send(id, Reply::Info(text));
    }

    fn help(&mut self, id: ConnId) {
        const HELP: [&str; 6] = [
            "commands (a leading / is optional; command words are case-insensitive):",
            "login <name> | login <name> <password> | register <name> <password> | logout",
            "msg <name> <text> | msg <#room> <text> | msgall <text>",
            "join <#room> | left <#room> (or leave) | rooms | history [<#room>] [<n>]",
            "whoami | userlist | format [color|text|json] | debug | help",
            "names: 1-32 characters, no spaces; rooms: # then 1-32 of A-Z a-z 0-9 - _ .",
        ];
        for line in HELP {
            self.send(id, Reply::Info(line.to_owned()));
        }
    }

    /// Takes a logged-in connection out of the user list and its rooms (no room lines: members
    /// see only the logout line).
    fn remove_user(&mut self, id: ConnId, user: &str) {
        self.reg.users.remove(&user_key(user));
        self.reg.login_order.retain(|m| m.id != id);
        let rooms = self
            .reg
            .conns
            .get_mut(&id)
            .map(|c| std::mem::take(&mut c.rooms))
            .unwrap_or_default();
        for key in rooms {
            self.leave_room(id, &key);
        }
    }

    fn logout(&mut self, id: ConnId, user: Arc<str>) {
        deliver(
            &self.reg.conns,
            &self.reg.login_order,
            &Reply::Logout(user.clone()),
            &mut self.dropped,
        );
        self.print(id, ConsoleEvent::Logout(user.to_string()));
        self.remove_user(id, &user);
        if let Some(conn) = self.reg.conns.remove(&id) {
            conn.out.close();
        }
    }

    /// The connection is gone (EOF, error, dropped by the server): tell the others.
    pub fn disconnect(&mut self, id: ConnId, reason: &str) {
        let Some(user) = self.reg.conns.get(&id).map(|c| c.user.clone()) else {
            return;
        };
        match user {
            Some(user) => {
                self.print(
                    id,
                    ConsoleEvent::Disconnected(user.to_string(), reason.to_owned()),
                );
                self.remove_user(id, &user);
                if let Some(conn) = self.reg.conns.remove(&id) {
                    // What is queued is still sent: a client that half-closed after its last
                    // command gets its replies. A dropped client's queue was aborted already.
                    conn.out.close();
                }
                deliver(
                    &self.reg.conns,
                    &self.reg.login_order,
                    &Reply::Logout(user),
                    &mut self.dropped,
                );
            }
            None => {
                if let Some(conn) = self.reg.conns.remove(&id) {
                    let text = format!("Connection closed: {} ({reason}).", conn.peer);
                    self.console.print(&conn.server, ConsoleEvent::Info(text));
                    conn.out.close();
                }
            }
        }
    }

    /// Drops every client whose queue overflowed, which may overflow others in turn.
    pub fn settle(&mut self) {
        while let Some(id) = self.dropped.pop() {
            if let Some(conn) = self.reg.conns.get(&id) {
                conn.out.abort();
            }
            self.disconnect(id, "send queue full");
        }
    }
}
