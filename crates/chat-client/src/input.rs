//! The input line: a small line editor with history, and what a typed line means.

use unicode_width::UnicodeWidthChar;

use crate::model::Target;

/// How many entered lines the history keeps.
pub const HISTORY_CAPACITY: usize = 500;

/// A one-line editor: text, cursor (in characters) and the history of entered lines.
#[derive(Debug, Default, Clone)]
pub struct LineEditor {
    chars: Vec<char>,
    cursor: usize,
    history: Vec<String>,
    /// Position while browsing the history (`None`: editing a new line).
    browsing: Option<usize>,
    /// The new line being edited when history browsing started.
    draft: Vec<char>,
}

impl LineEditor {
    /// An empty editor with an empty history.
    pub fn new() -> Self {
        Self::default()
    }

    /// The current text.
    pub fn text(&self) -> String {
        self.chars.iter().collect()
    }

    /// The cursor position, in characters from the start.
    pub fn cursor(&self) -> usize {
        self.cursor
    }

    /// The entered lines, oldest first.
    pub fn history(&self) -> &[String] {
        &self.history
    }

    /// Inserts a character at the cursor.
    pub fn insert(&mut self, c: char) {
        if c.is_control() {
            return;
        }
        self.chars.insert(self.cursor, c);
        self.cursor += 1;
    }

    /// Inserts pasted text at the cursor, in one step: each line end becomes a space (one
    /// input line is one command), and other control characters are left out, as typed ones are.
    pub fn paste(&mut self, text: &str) {
        for c in text.replace("\r\n", "\n").chars() {
            self.insert(if matches!(c, '\r' | '\n') { ' ' } else { c });
        }
    }

    /// Deletes the character before the cursor.
    pub fn backspace(&mut self) {
        if self.cursor > 0 {
            self.cursor -= 1;
            self.chars.remove(self.cursor);
        }
    }

    /// Deletes the character under the cursor.
    pub fn delete(&mut self) {
        if self.cursor < self.chars.len() {
            self.chars.remove(self.cursor);
        }
    }

    /// Moves the cursor one character left.
    pub fn left(&mut self) {
        self.cursor = self.cursor.saturating_sub(1);
    }

    /// Moves the cursor one character right.
    pub fn right(&mut self) {
        self.cursor = (self.cursor + 1).min(self.chars.len());
    }

    /// Moves the cursor to the start.
    pub fn home(&mut self) {
        self.cursor = 0;
    }

    /// Moves the cursor to the end.
    pub fn end(&mut self) {
        self.cursor = self.chars.len();
    }

    /// Deletes everything before the cursor (Ctrl-U).
    pub fn kill_to_start(&mut self) {
        self.chars.drain(..self.cursor);
        self.cursor = 0;
    }

    /// Deletes everything from the cursor on (Ctrl-K).
    pub fn kill_to_end(&mut self) {
        self.chars.truncate(self.cursor);
    }

    /// Deletes the word before the cursor, and the spaces after it (Ctrl-W).
    pub fn delete_word(&mut self) {
        let mut start = self.cursor;
        while start > 0 && self.chars[start - 1] == ' ' {
            start -= 1;
        }
        while start > 0 && self.chars[start - 1] != ' ' {
            start -= 1;
        }
        self.chars.drain(start..self.cursor);
        self.cursor = start;
    }

    /// Shows the previous (older) history entry; the line being typed is kept as a draft.
    pub fn history_prev(&mut self) {
        let index = match self.browsing {
            None if self.history.is_empty() => return,
            None => {
                self.draft = std::mem::take(&mut self.chars);
                self.history.len() - 1
            }
            Some(0) => 0,
            Some(i) => i - 1,
        };
        self.browsing = Some(index);
        self.chars = self.history[index].chars().collect();
        self.cursor = self.chars.len();
    }

    /// Shows the next (newer) history entry, or the draft after the newest.
    pub fn history_next(&mut self) {
        let Some(index) = self.browsing else {
            return;
        };
        if index + 1 < self.history.len() {
            self.browsing = Some(index + 1);
            self.chars = self.history[index + 1].chars().collect();
        } else {
            self.browsing = None;
            self.chars = std::mem::take(&mut self.draft);
        }
        self.cursor = self.chars.len();
    }

    /// Takes the line out of the editor (Enter); a non-blank line is added to the history
    /// (unless it repeats the last entry or carries a password, see [`carries_password`]).
    pub fn submit(&mut self) -> String {
        let line = self.take();
        if !line.trim().is_empty() && !carries_password(&line) && self.history.last() != Some(&line)
        {
            if self.history.len() == HISTORY_CAPACITY {
                self.history.remove(0);
            }
            self.history.push(line.clone());
        }
        line
    }

    /// Takes the line out of the editor without recording it (for passwords).
    pub fn take(&mut self) -> String {
        let line = self.text();
        self.chars.clear();
        self.cursor = 0;
        self.browsing = None;
        self.draft.clear();
        line
    }

    /// The part of the line that fits in `width` columns, keeping the cursor visible, and the
    /// cursor's column in it. With `mask`, every character shows as `*`.
    pub fn view(&self, width: usize, mask: bool) -> (String, usize) {
        let width = width.max(1);
        let shown = |c: char| if mask { '*' } else { c };
        let col = |c: char| shown(c).width().unwrap_or(0);
        // Start as far right as needed so that the cursor (one column) fits.
        let mut start = self.cursor;
        let mut used = 1;
        while start > 0 && used + col(self.chars[start - 1]) <= width {
            start -= 1;
            used += col(self.chars[start]);
        }
        let cursor_col: usize = self.chars[start..self.cursor].iter().map(|&c| col(c)).sum();
        let mut text = String::new();
        let mut cols = 0;
        for &c in &self.chars[start..] {
            let w = col(c);
            if cols + w > width {
                break;
            }
            cols += w;
            text.push(shown(c));
        }
        (text, cursor_col)
    }
}

/// Whether `line` is a `/login NAME PASSWORD` or `/register NAME PASSWORD` command (such lines
/// are kept out of the history).
pub fn carries_password(line: &str) -> bool {
    let mut words = line.split_whitespace();
    let word = words.next().unwrap_or("");
    let word = word.strip_prefix('/').unwrap_or(word);
    (word.eq_ignore_ascii_case("login") || word.eq_ignore_ascii_case("register"))
        && words.nth(1).is_some()
}

/// What an entered line asks the client to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Nothing (a blank line).
    Nothing,
    /// Send this protocol command.
    Send(String),
    /// Make this the target of plain text (`/to`).
    SetTarget(Target),
    /// Empty the log (`/clear`).
    ClearLog,
    /// Show a note in the log (a usage hint).
    Note(String),
    /// End the client (`/quit`, `/exit`).
    Quit,
}

/// The client's own commands, as shown by the usage hint.
pub const CLIENT_HELP: &str = "client: Tab/Shift-Tab target · /to NAME|#ROOM|all · \
PgUp/PgDn scroll · /clear · //text sends text starting with / · /quit or Ctrl-C";

/// Reads an entered line: `/quit`, `/to`, `/clear` are the client's; any other `/command args`
/// is sent as the protocol command `command args`; `//text` and plain text go to `target`.
pub fn parse_line(line: &str, target: &Target) -> Action {
    let line = line.trim();
    if line.is_empty() {
        return Action::Nothing;
    }
    if let Some(text) = line.strip_prefix("//") {
        return Action::Send(target.command(&format!("/{text}")));
    }
    let Some(command) = line.strip_prefix('/') else {
        return Action::Send(target.command(line));
    };
    let (word, rest) = match command.split_once(' ') {
        Some((word, rest)) => (word, rest.trim_start()),
        None => (command, ""),
    };
    match word.to_ascii_lowercase().as_str() {
        "" => Action::Note(CLIENT_HELP.to_owned()),
        "quit" | "exit" => Action::Quit,
        "clear" => Action::ClearLog,
        "to" | "target" => match rest {
            "" => Action::Note("usage: /to NAME, /to #ROOM or /to all".to_owned()),
            // Names and rooms hold no spaces: `/to bob hi` is not a target.
            more if more.contains(char::is_whitespace) => Action::Note(
                "usage: /to NAME, /to #ROOM or /to all (one word; then type the message)"
                    .to_owned(),
            ),
            "all" | "*" => Action::SetTarget(Target::All),
            room if room.starts_with('#') => Action::SetTarget(Target::Room(room.to_owned())),
            user => Action::SetTarget(Target::User(user.to_owned())),
        },
        _ => Action::Send(command.to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_paste_is_one_line_at_the_cursor() {
        let mut e = LineEditor::new();
        e.insert('<');
        e.insert('>');
        e.left();
        e.paste("one\r\ntwo\nthree\u{7}");
        assert_eq!(e.text(), "<one two three>");
        assert_eq!(e.cursor(), 14);
        let long = "x".repeat(5000);
        e.paste(&long);
        assert_eq!(e.text().len(), 5015);
    }

    fn typed(text: &str) -> LineEditor {
        let mut e = LineEditor::new();
        text.chars().for_each(|c| e.insert(c));
        e
    }

    #[test]
    fn slash_commands_become_protocol_commands() {
        let all = Target::All;
        assert_eq!(
            parse_line("/msg bob hi  there", &all),
            Action::Send("msg bob hi  there".into())
        );
        assert_eq!(
            parse_line("/join #rust", &all),
            Action::Send("join #rust".into())
        );
        assert_eq!(parse_line("/history", &all), Action::Send("history".into()));
        assert_eq!(
            parse_line("/LOGIN bob pw", &all),
            Action::Send("LOGIN bob pw".into())
        );
        assert_eq!(parse_line("/quit", &all), Action::Quit);
        assert_eq!(parse_line("  /EXIT  ", &all), Action::Quit);
        assert_eq!(parse_line("/clear", &all), Action::ClearLog);
        assert_eq!(parse_line("   ", &all), Action::Nothing);
        assert!(matches!(parse_line("/", &all), Action::Note(_)));
    }

    #[test]
    fn plain_text_goes_to_the_target() {
        assert_eq!(
            parse_line("hello  world", &Target::All),
            Action::Send("msgall hello  world".into())
        );
        assert_eq!(
            parse_line("hi", &Target::User("bob".into())),
            Action::Send("msg bob hi".into())
        );
        assert_eq!(
            parse_line("hi", &Target::Room("#rust".into())),
            Action::Send("msg #rust hi".into())
        );
        assert_eq!(
            parse_line("//etc/passwd is a path", &Target::All),
            Action::Send("msgall /etc/passwd is a path".into())
        );
    }

    #[test]
    fn to_switches_target() {
        let all = Target::All;
        assert_eq!(
            parse_line("/to bob", &all),
            Action::SetTarget(Target::User("bob".into()))
        );
        assert_eq!(
            parse_line("/to #rust", &all),
            Action::SetTarget(Target::Room("#rust".into()))
        );
        assert_eq!(parse_line("/to all", &all), Action::SetTarget(Target::All));
        assert!(matches!(parse_line("/to", &all), Action::Note(_)));
        assert!(matches!(
            parse_line("/to bob hi there", &all),
            Action::Note(_)
        ));
    }

    #[test]
    fn editing_moves_and_deletes() {
        let mut e = typed("helo");
        e.left();
        e.insert('l');
        assert_eq!(e.text(), "hello");
        assert_eq!(e.cursor(), 4);
        e.home();
        e.delete();
        assert_eq!(e.text(), "ello");
        e.end();
        e.backspace();
        assert_eq!(e.text(), "ell");
        e.right();
        assert_eq!(e.cursor(), 3, "right stops at the end");
        e.home();
        e.left();
        e.backspace();
        assert_eq!(e.cursor(), 0);
        assert_eq!(e.text(), "ell");
        e.insert('\u{1b}');
        assert_eq!(e.text(), "ell", "control characters are not inserted");
    }

    #[test]
    fn kills_and_word_delete() {
        let mut e = typed("one two  three");
        e.delete_word();
        assert_eq!(e.text(), "one two  ");
        e.delete_word();
        assert_eq!(e.text(), "one ");
        let mut e = typed("abcdef");
        e.left();
        e.left();
        e.kill_to_end();
        assert_eq!(e.text(), "abcd");
        e.left();
        e.kill_to_start();
        assert_eq!(e.text(), "d");
        assert_eq!(e.cursor(), 0);
    }

    #[test]
    fn history_browses_and_keeps_the_draft() {
        let mut e = LineEditor::new();
        for line in ["first", "second", "second", "  "] {
            line.chars().for_each(|c| e.insert(c));
            assert_eq!(e.submit(), line);
        }
        assert_eq!(e.history(), ["first", "second"], "no repeats, no blanks");
        "draft".chars().for_each(|c| e.insert(c));
        e.history_prev();
        assert_eq!(e.text(), "second");
        assert_eq!(e.cursor(), 6);
        e.history_prev();
        assert_eq!(e.text(), "first");
        e.history_prev();
        assert_eq!(e.text(), "first", "stays on the oldest");
        e.history_next();
        assert_eq!(e.text(), "second");
        e.history_next();
        assert_eq!(e.text(), "draft");
        e.history_next();
        assert_eq!(e.text(), "draft");
        // An edited history entry is submitted as a new line.
        e.history_prev();
        e.insert('!');
        assert_eq!(e.submit(), "second!");
        assert_eq!(e.history().last().unwrap(), "second!");
        assert_eq!(e.text(), "");
    }

    #[test]
    fn passwords_stay_out_of_history() {
        assert!(carries_password("/login bob pw"));
        assert!(carries_password("REGISTER bob pw"));
        assert!(!carries_password("/login bob"));
        assert!(!carries_password("/msg bob login x y"));
        let mut e = typed("/login bob secret");
        assert_eq!(e.submit(), "/login bob secret");
        assert!(e.history().is_empty());
    }

    #[test]
    fn take_does_not_record() {
        let mut e = typed("secret");
        assert_eq!(e.take(), "secret");
        assert!(e.history().is_empty());
        e.history_prev();
        assert_eq!(e.text(), "");
    }

    #[test]
    fn history_is_capped() {
        let mut e = LineEditor::new();
        for i in 0..HISTORY_CAPACITY + 3 {
            i.to_string().chars().for_each(|c| e.insert(c));
            e.submit();
        }
        assert_eq!(e.history().len(), HISTORY_CAPACITY);
        assert_eq!(e.history()[0], "3");
    }

    #[test]
    fn view_scrolls_to_the_cursor_and_masks() {
        let e = typed("abcdefghij");
        assert_eq!(e.view(20, false), ("abcdefghij".into(), 10));
        assert_eq!(e.view(5, false), ("ghij".into(), 4));
        let mut e2 = e.clone();
        e2.home();
        assert_eq!(e2.view(5, false), ("abcde".into(), 0));
        assert_eq!(typed("pw").view(10, true), ("**".into(), 2));
        let wide = typed("日本語");
        assert_eq!(wide.view(10, false), ("日本語".into(), 6));
        assert_eq!(wide.view(4, false), ("語".into(), 2));
    }
}
