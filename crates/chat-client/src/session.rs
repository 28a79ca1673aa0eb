//! Login state: asking for a name, logging in, and logging back in after a reconnect.

/// A name and, for a registered account, its password.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    /// The user name.
    pub name: String,
    /// The password; `None` logs in as a guest.
    pub password: Option<String>,
}

impl Credentials {
    /// The `login` command for these credentials.
    pub fn login_command(&self) -> String {
        match &self.password {
            Some(password) => format!("login {} {password}", self.name),
            None => format!("login {}", self.name),
        }
    }
}

/// What the input line is asking for while nobody is logged in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Prompt {
    /// The user name.
    Name,
    /// The password (typed hidden; empty for a guest login).
    Password,
}

/// Where the login stands.
#[derive(Debug, Clone, PartialEq, Eq)]
enum State {
    AskName,
    AskPassword { name: String },
    Pending { creds: Credentials, sent: bool },
    LoggedIn { name: String, creds: Credentials },
    LoggedOut,
}

/// Error codes that mean a `login` was refused.
const LOGIN_FAILURES: &[&str] = &[
    "username_taken",
    "password_required",
    "wrong_password",
    "invalid_username",
    "require_username",
    "overage_info",
];

/// The login state of the client, and what it must send to (re)establish it.
#[derive(Debug, Clone)]
pub struct Session {
    state: State,
    register_first: bool,
    awaiting_register: bool,
    /// `register NAME PASSWORD` commands the user typed, oldest first, until their answer: an
    /// account registered under the name we are logged in as must be logged back in to with
    /// its password after a reconnect (a guest login is refused for a registered name).
    typed_registers: Vec<Credentials>,
    rejoin: Vec<String>,
    quiet_userlist: usize,
    quiet_format: bool,
}

impl Session {
    /// A session that asks the user for a name in the input line.
    pub fn prompt() -> Self {
        Session {
            state: State::AskName,
            register_first: false,
            awaiting_register: false,
            typed_registers: Vec::new(),
            rejoin: Vec::new(),
            quiet_userlist: 0,
            quiet_format: false,
        }
    }

    /// A session that logs in with `creds` as soon as it is connected, registers the account
    /// first if `register` is set, and then joins `rooms`.
    pub fn with_credentials(creds: Credentials, register: bool, rooms: Vec<String>) -> Self {
        Session {
            register_first: register && creds.password.is_some(),
            state: State::Pending { creds, sent: false },
            awaiting_register: false,
            typed_registers: Vec::new(),
            rejoin: rooms,
            quiet_userlist: 0,
            quiet_format: false,
        }
    }

    /// A session that asks for a name, then joins `rooms` after logging in.
    pub fn prompt_then_join(rooms: Vec<String>) -> Self {
        Session {
            rejoin: rooms,
            ..Session::prompt()
        }
    }

    /// The name this client is logged in under, as the server shows it.
    pub fn logged_in_name(&self) -> Option<&str> {
        match &self.state {
            State::LoggedIn { name, .. } => Some(name),
            _ => None,
        }
    }

    /// The name being logged in with, or logged in under.
    pub fn name(&self) -> Option<&str> {
        match &self.state {
            State::LoggedIn { name, .. } => Some(name),
            State::Pending { creds, .. } => Some(&creds.name),
            State::AskPassword { name } => Some(name),
            State::AskName | State::LoggedOut => None,
        }
    }

    /// What the input line asks for, if the user has to type a name or password.
    pub fn prompt_for(&self) -> Option<Prompt> {
        match self.state {
            State::AskName => Some(Prompt::Name),
            State::AskPassword { .. } => Some(Prompt::Password),
            _ => None,
        }
    }

    /// Whether this user logged out (the client then ends).
    pub fn is_logged_out(&self) -> bool {
        self.state == State::LoggedOut
    }

    /// Whether a login is waiting for the server's answer (or for a connection).
    pub fn is_pending(&self) -> bool {
        matches!(self.state, State::Pending { .. })
    }

    /// The connection is up (and `format json` sent): the commands that log in.
    pub fn on_connected(&mut self) -> Vec<String> {
        self.quiet_format = true;
        self.login_commands()
    }

    /// The commands that log in, if a login is pending.
    fn login_commands(&mut self) -> Vec<String> {
        let State::Pending { creds, sent } = &mut self.state else {
            return Vec::new();
        };
        *sent = true;
        let mut commands = Vec::new();
        if self.register_first {
            if let Some(password) = &creds.password {
                commands.push(format!("register {} {password}", creds.name));
                self.awaiting_register = true;
            }
            self.register_first = false;
        }
        commands.push(creds.login_command());
        commands
    }

    /// The user typed `text` at a prompt: returns a note for the log, and the commands to send
    /// now if `connected` (otherwise the login goes out when the connection is up).
    pub fn answer_prompt(&mut self, text: &str, connected: bool) -> (Option<String>, Vec<String>) {
        let text = text.trim();
        match &self.state {
            State::AskName => {
                if text.is_empty() || text.contains(char::is_whitespace) {
                    return (
                        Some("a name is one word; type your name".into()),
                        Vec::new(),
                    );
                }
                self.state = State::AskPassword {
                    name: text.to_owned(),
                };
                (None, Vec::new())
            }
            State::AskPassword { name } => {
                let creds = Credentials {
                    name: name.clone(),
                    password: (!text.is_empty()).then(|| text.to_owned()),
                };
                self.state = State::Pending { creds, sent: false };
                let commands = if connected {
                    self.login_commands()
                } else {
                    Vec::new()
                };
                (None, commands)
            }
            _ => (None, Vec::new()),
        }
    }

    /// The user sent `command` by hand: a `login` there becomes the login to wait for (and to
    /// repeat after a reconnect); a `register NAME PASSWORD` is remembered until its answer
    /// (see [`Session::on_info`]).
    pub fn on_user_command(&mut self, command: &str) {
        let mut words = command.split_whitespace();
        let word = words.next().unwrap_or("").trim_start_matches('/');
        let (Some(name), password, None) = (words.next(), words.next(), words.next()) else {
            return;
        };
        if word.eq_ignore_ascii_case("register") {
            if let Some(password) = password {
                self.typed_registers.push(Credentials {
                    name: name.to_owned(),
                    password: Some(password.to_owned()),
                });
            }
            return;
        }
        if !word.eq_ignore_ascii_case("login") || matches!(self.state, State::LoggedIn { .. }) {
            return;
        }
        self.state = State::Pending {
            creds: Credentials {
                name: name.to_owned(),
                password: password.map(str::to_owned),
            },
            sent: true,
        };
    }

    /// Someone logged in: if it is our pending login, we are logged in and these are the
    /// commands to send next (user list, rooms to join).
    pub fn on_login(&mut self, user: &str) -> Option<Vec<String>> {
        let State::Pending { creds, sent: true } = &self.state else {
            return None;
        };
        if !creds.name.eq_ignore_ascii_case(user) {
            return None;
        }
        self.state = State::LoggedIn {
            name: user.to_owned(),
            creds: creds.clone(),
        };
        self.awaiting_register = false;
        self.quiet_userlist += 1;
        let mut commands = vec!["userlist".to_owned()];
        commands.extend(self.rejoin.drain(..).map(|room| format!("join {room}")));
        Some(commands)
    }

    /// Someone logged out: if it is us, the session is over.
    pub fn on_logout(&mut self, user: &str) {
        if self
            .logged_in_name()
            .is_some_and(|me| me.eq_ignore_ascii_case(user))
        {
            self.state = State::LoggedOut;
        }
    }

    /// An `[INFO]` reply arrived (it may answer our `register`, or one the user typed).
    ///
    /// `[NAME] registered.` answers the oldest typed `register` of that name still waiting
    /// (replies come in the order of the commands; the older ones for other names failed).
    /// When NAME is the name we are logged in (or logging in) under, its password becomes
    /// the one to log back in with after a reconnect.
    pub fn on_info(&mut self, text: &str) {
        let Some(name) = text
            .strip_suffix("] registered.")
            .and_then(|t| t.strip_prefix('['))
        else {
            return;
        };
        if self.awaiting_register {
            self.awaiting_register = false;
            return;
        }
        let Some(at) = self
            .typed_registers
            .iter()
            .position(|c| c.name.eq_ignore_ascii_case(name))
        else {
            return;
        };
        let registered = self.typed_registers.remove(at);
        self.typed_registers.drain(..at);
        if let State::LoggedIn { creds, .. } | State::Pending { creds, .. } = &mut self.state
            && creds.name.eq_ignore_ascii_case(&registered.name)
        {
            creds.password = registered.password;
        }
    }

    /// An error arrived: if it refuses our login, the session asks for a name again and the
    /// returned note says so.
    pub fn on_error(&mut self, code: &str) -> Option<String> {
        if self.awaiting_register {
            // The answer to `register` (e.g. the account exists already): the login follows.
            self.awaiting_register = false;
            return None;
        }
        if matches!(self.state, State::Pending { sent: true, .. }) && LOGIN_FAILURES.contains(&code)
        {
            self.state = State::AskName;
            return Some("login failed; type a name (or /login NAME PASSWORD)".into());
        }
        None
    }

    /// An `[INFO]` reply `format json` arrived: true if it answers the client's own
    /// `format json` (it is then not logged).
    pub fn take_quiet_format(&mut self) -> bool {
        std::mem::take(&mut self.quiet_format)
    }

    /// A `userlist` reply arrived: true if the client asked for it itself (it then only updates
    /// the user list, without a log line).
    pub fn take_quiet_userlist(&mut self) -> bool {
        if self.quiet_userlist > 0 {
            self.quiet_userlist -= 1;
            true
        } else {
            false
        }
    }

    /// The connection is gone: log in again (and join `rooms` again) once it is back.
    pub fn connection_lost(&mut self, rooms: Vec<String>) {
        self.awaiting_register = false;
        // Their answers will not come: a name registered meanwhile logs in as before.
        self.typed_registers.clear();
        self.quiet_userlist = 0;
        self.quiet_format = false;
        match &mut self.state {
            State::LoggedIn { creds, .. } => {
                self.state = State::Pending {
                    creds: creds.clone(),
                    sent: false,
                };
                self.rejoin = rooms;
            }
            State::Pending { sent, .. } => *sent = false,
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alice(password: Option<&str>) -> Credentials {
        Credentials {
            name: "alice".into(),
            password: password.map(Into::into),
        }
    }

    #[test]
    fn logs_in_on_connect_then_asks_userlist_and_joins() {
        let mut s = Session::with_credentials(alice(None), false, vec!["#rust".into()]);
        assert_eq!(s.name(), Some("alice"));
        assert_eq!(s.on_login("alice"), None, "login not sent yet");
        assert_eq!(s.on_connected(), ["login alice"]);
        assert_eq!(s.on_login("bob"), None);
        assert_eq!(s.on_login("Alice").unwrap(), ["userlist", "join #rust"]);
        assert_eq!(s.logged_in_name(), Some("Alice"));
        assert!(s.take_quiet_userlist());
        assert!(!s.take_quiet_userlist());
        assert_eq!(s.on_connected(), Vec::<String>::new());
    }

    #[test]
    fn registers_first_when_asked() {
        let mut s = Session::with_credentials(alice(Some("pw")), true, vec![]);
        assert_eq!(s.on_connected(), ["register alice pw", "login alice pw"]);
        // The account exists already: that error answers `register`, not the login.
        assert_eq!(s.on_error("username_taken"), None);
        assert!(s.is_pending());
        assert!(s.on_login("alice").is_some());
    }

    #[test]
    fn relogs_in_and_rejoins_after_reconnect() {
        let mut s = Session::with_credentials(alice(Some("pw")), true, vec![]);
        s.on_connected();
        s.on_info("[alice] registered.");
        s.on_login("alice");
        s.connection_lost(vec!["#rust".into(), "#go".into()]);
        assert_eq!(s.logged_in_name(), None);
        // No second `register` after a reconnect.
        assert_eq!(s.on_connected(), ["login alice pw"]);
        // Lost again before the login answer: the rooms are still remembered.
        s.connection_lost(vec![]);
        assert_eq!(s.on_connected(), ["login alice pw"]);
        assert_eq!(
            s.on_login("alice").unwrap(),
            ["userlist", "join #rust", "join #go"]
        );
    }

    #[test]
    fn a_guest_that_registers_its_own_name_logs_back_in_with_the_password() {
        let mut s = Session::with_credentials(alice(None), false, vec![]);
        s.on_connected();
        s.on_login("alice");
        s.on_user_command("/register bob other");
        s.on_user_command("REGISTER Alice pw");
        s.on_user_command("register alice again");
        // bob's failed (an error came first); the first of alice's is the one answered.
        s.on_info("[Alice] registered.");
        s.connection_lost(vec![]);
        assert_eq!(s.on_connected(), ["login alice pw"]);
    }

    #[test]
    fn registering_another_name_keeps_the_login() {
        let mut s = Session::with_credentials(alice(None), false, vec![]);
        s.on_connected();
        s.on_login("alice");
        s.on_user_command("register bob pw");
        s.on_user_command("register carol");
        s.on_info("[bob] registered.");
        s.on_info("[carol] registered.");
        s.on_info("format json");
        s.connection_lost(vec![]);
        assert_eq!(s.on_connected(), ["login alice"]);
    }

    #[test]
    fn a_register_answered_after_a_reconnect_is_not_ours() {
        let mut s = Session::with_credentials(alice(None), false, vec![]);
        s.on_connected();
        s.on_login("alice");
        s.on_user_command("register alice pw");
        s.connection_lost(vec![]);
        assert_eq!(s.on_connected(), ["login alice"]);
        s.on_login("alice");
        s.on_info("[alice] registered.");
        s.connection_lost(vec![]);
        assert_eq!(s.on_connected(), ["login alice"]);
    }

    #[test]
    fn prompt_asks_name_then_password() {
        let mut s = Session::prompt();
        assert_eq!(s.prompt_for(), Some(Prompt::Name));
        let (note, cmds) = s.answer_prompt("two words", true);
        assert!(note.is_some());
        assert!(cmds.is_empty());
        assert_eq!(s.answer_prompt("bob", true), (None, vec![]));
        assert_eq!(s.prompt_for(), Some(Prompt::Password));
        assert_eq!(s.answer_prompt("", true), (None, vec!["login bob".into()]));
        assert_eq!(s.prompt_for(), None);
        assert!(s.on_login("bob").is_some());
    }

    #[test]
    fn prompt_while_disconnected_logs_in_on_connect() {
        let mut s = Session::prompt();
        s.answer_prompt("bob", false);
        assert_eq!(s.answer_prompt("secret", false), (None, vec![]));
        assert_eq!(s.on_connected(), ["login bob secret"]);
    }

    #[test]
    fn refused_login_asks_again() {
        let mut s = Session::with_credentials(alice(None), false, vec![]);
        s.on_connected();
        assert_eq!(s.on_error("first_login"), None);
        assert!(s.on_error("username_taken").is_some());
        assert_eq!(s.prompt_for(), Some(Prompt::Name));
    }

    #[test]
    fn typed_login_is_tracked() {
        let mut s = Session::prompt();
        s.on_user_command("/LOGIN carol pw");
        assert!(s.is_pending());
        assert!(s.on_login("carol").is_some());
        s.connection_lost(vec![]);
        assert_eq!(s.on_connected(), ["login carol pw"]);
        s.on_login("carol");
        // Logged in: a typed login is the server's business (Already login!).
        s.on_user_command("login dave");
        assert_eq!(s.logged_in_name(), Some("carol"));
    }

    #[test]
    fn own_logout_ends_the_session() {
        let mut s = Session::with_credentials(alice(None), false, vec![]);
        s.on_connected();
        s.on_login("alice");
        s.on_logout("bob");
        assert!(!s.is_logged_out());
        s.on_logout("ALICE");
        assert!(s.is_logged_out());
    }
}
