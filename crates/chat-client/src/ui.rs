//! Drawing the model with ratatui: log, user list, rooms, status line, input line.
//!
//! The input line has its own row, so incoming messages never garble what is being typed.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Position, Rect};
use ratatui::style::{Color, Modifier, Style, Stylize};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, List, ListItem, Paragraph, Wrap};

use crate::input::LineEditor;
use crate::model::{ConnState, LineKind, LogLine, Model, Target};
use crate::session::Prompt;

/// Width of the column with users and rooms.
const SIDE_WIDTH: u16 = 24;

/// What a draw learned about the screen, for the app's key handling.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DrawInfo {
    /// Rows of the log area (a page for PgUp/PgDn).
    pub log_rows: usize,
    /// The largest scroll offset the log allows, when the draw reached its first line.
    pub max_scroll: Option<usize>,
}

/// The colour of a log line's text, by kind.
pub fn kind_style(kind: LineKind) -> Style {
    match kind {
        LineKind::Chat | LineKind::Private | LineKind::Room | LineKind::Text => Style::new(),
        LineKind::History => Style::new().fg(Color::DarkGray),
        LineKind::Login | LineKind::Membership => Style::new().fg(Color::Green),
        LineKind::Logout => Style::new().fg(Color::Red),
        LineKind::Info => Style::new().fg(Color::LightBlue),
        LineKind::Server => Style::new()
            .fg(Color::LightBlue)
            .add_modifier(Modifier::BOLD),
        LineKind::Error => Style::new().fg(Color::Red).add_modifier(Modifier::BOLD),
        LineKind::Local => Style::new()
            .fg(Color::DarkGray)
            .add_modifier(Modifier::ITALIC),
    }
}

/// The colour of a chat line's `[time][who]` prefix, by kind.
fn prefix_style(kind: LineKind) -> Style {
    match kind {
        LineKind::Private => Style::new().fg(Color::Magenta),
        LineKind::Room => Style::new().fg(Color::Cyan),
        LineKind::History => Style::new().fg(Color::DarkGray),
        _ => Style::new().fg(Color::Yellow),
    }
}

/// One log line as styled ratatui text.
pub fn styled_line(line: &LogLine) -> Line<'static> {
    let mut spans = Vec::new();
    let prefix = prefix_style(line.kind);
    if let Some(time) = &line.time {
        spans.push(Span::styled(format!("[{time}]"), prefix));
    }
    if let Some(who) = &line.who {
        spans.push(Span::styled(who.clone(), prefix));
        spans.push(Span::styled(": ", prefix));
    }
    spans.push(Span::styled(line.text.clone(), kind_style(line.kind)));
    Line::from(spans)
}

/// Draws the whole screen.
pub fn draw(frame: &mut Frame, model: &Model, editor: &LineEditor) -> DrawInfo {
    let [main, status, input] = Layout::vertical([
        Constraint::Min(3),
        Constraint::Length(1),
        Constraint::Length(1),
    ])
    .areas(frame.area());
    let side_width = if main.width >= SIDE_WIDTH * 3 {
        SIDE_WIDTH
    } else {
        0
    };
    let [log_area, side] =
        Layout::horizontal([Constraint::Min(10), Constraint::Length(side_width)]).areas(main);
    let info = draw_log(frame, model, log_area);
    if side_width > 0 {
        draw_side(frame, model, side);
    }
    draw_status(frame, model, status);
    draw_input(frame, model, editor, input);
    info
}

fn draw_log(frame: &mut Frame, model: &Model, area: Rect) -> DrawInfo {
    let mut title = vec![Span::raw(format!(" async-chat · {} ", model.server)).bold()];
    if model.scroll > 0 {
        title.push(Span::raw(" ↑ scrolled back · PgDn ").reversed());
    }
    let block = Block::bordered().title(Line::from(title));
    let inner = block.inner(area);
    let height = usize::from(inner.height);
    let wanted = height.saturating_add(model.scroll);
    let mut rows = 0usize;
    let mut lines = Vec::new();
    for line in model.log().iter().rev() {
        let styled = styled_line(line);
        rows += Paragraph::new(styled.clone())
            .wrap(Wrap { trim: false })
            .line_count(inner.width)
            .max(1);
        lines.push(styled);
        if rows >= wanted {
            break;
        }
    }
    lines.reverse();
    let max_scroll = (rows < wanted).then(|| rows.saturating_sub(height));
    let scroll = max_scroll.map_or(model.scroll, |max| model.scroll.min(max));
    let top = rows.saturating_sub(height).saturating_sub(scroll);
    let paragraph = Paragraph::new(lines)
        .block(block)
        .wrap(Wrap { trim: false })
        .scroll((u16::try_from(top).unwrap_or(u16::MAX), 0));
    frame.render_widget(paragraph, area);
    DrawInfo {
        log_rows: height,
        max_scroll,
    }
}

fn draw_side(frame: &mut Frame, model: &Model, area: Rect) {
    let room_rows = u16::try_from(model.rooms.len())
        .unwrap_or(u16::MAX)
        .saturating_add(2)
        .clamp(3, area.height / 2);
    let [users_area, rooms_area] =
        Layout::vertical([Constraint::Min(3), Constraint::Length(room_rows)]).areas(area);
    let target_style = Style::new().reversed();
    let users: Vec<ListItem> = model
        .users
        .iter()
        .map(|user| {
            let mut style = Style::new();
            if model.is_me(user) {
                style = style.bold().fg(Color::Yellow);
            }
            if matches!(&model.target, Target::User(t) if t.eq_ignore_ascii_case(user)) {
                style = style.patch(target_style);
            }
            ListItem::new(Span::styled(user.clone(), style))
        })
        .collect();
    frame.render_widget(
        List::new(users).block(Block::bordered().title(format!(" users ({}) ", model.users.len()))),
        users_area,
    );
    let rooms: Vec<ListItem> = model
        .rooms
        .iter()
        .map(|room| {
            let mut style = Style::new().fg(Color::Cyan);
            if matches!(&model.target, Target::Room(t) if t.eq_ignore_ascii_case(room)) {
                style = style.patch(target_style);
            }
            ListItem::new(Span::styled(room.clone(), style))
        })
        .collect();
    frame.render_widget(
        List::new(rooms).block(Block::bordered().title(" my rooms ")),
        rooms_area,
    );
}

fn draw_status(frame: &mut Frame, model: &Model, area: Rect) {
    let base = Style::new().bg(Color::DarkGray).fg(Color::White);
    let (state, state_style) = match &model.conn {
        ConnState::Connecting => ("connecting".to_owned(), Color::Yellow),
        ConnState::Connected => ("connected".to_owned(), Color::LightGreen),
        ConnState::Reconnecting { attempt, reason } => (
            format!("reconnecting (attempt {attempt}: {reason})"),
            Color::LightYellow,
        ),
    };
    let name = match (model.session.logged_in_name(), model.session.name()) {
        (Some(me), _) => me.to_owned(),
        (None, Some(name)) => format!("{name} (logging in)"),
        (None, None) => "not logged in".to_owned(),
    };
    let spans = vec![
        Span::styled(" ● ", base.fg(state_style)),
        Span::styled(state, base.fg(state_style).bold()),
        Span::styled(format!(" │ {} │ ", model.server), base),
        Span::styled(name, base.bold()),
        Span::styled(" │ to: ", base),
        Span::styled(
            model.target.label().to_owned(),
            base.bold().fg(Color::LightCyan),
        ),
        Span::styled(
            " │ Tab: target  PgUp/PgDn: scroll  /quit or Ctrl-C: exit",
            base,
        ),
    ];
    frame.render_widget(Paragraph::new(Line::from(spans)).style(base), area);
}

fn draw_input(frame: &mut Frame, model: &Model, editor: &LineEditor, area: Rect) {
    let (prompt, mask) = match model.session.prompt_for() {
        Some(Prompt::Name) => ("name> ".to_owned(), false),
        Some(Prompt::Password) => ("password (empty for guest)> ".to_owned(), true),
        None => (format!("[{}]> ", model.target.label()), false),
    };
    let prompt_width = u16::try_from(unicode_width::UnicodeWidthStr::width(prompt.as_str()))
        .unwrap_or(u16::MAX)
        .min(area.width.saturating_sub(1));
    let (text, cursor) = editor.view(usize::from(area.width - prompt_width), mask);
    let line = Line::from(vec![
        Span::styled(prompt, Style::new().fg(Color::LightCyan).bold()),
        Span::raw(text),
    ]);
    frame.render_widget(Paragraph::new(line), area);
    let x = area
        .x
        .saturating_add(prompt_width)
        .saturating_add(u16::try_from(cursor).unwrap_or(u16::MAX))
        .min(area.right().saturating_sub(1));
    frame.set_cursor_position(Position::new(x, area.y));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{apply, parse};
    use crate::session::{Credentials, Session};
    use ratatui::Terminal;
    use ratatui::backend::TestBackend;

    fn screen(model: &Model, editor: &LineEditor, w: u16, h: u16) -> (Vec<String>, DrawInfo) {
        let mut terminal = Terminal::new(TestBackend::new(w, h)).unwrap();
        let mut info = DrawInfo::default();
        terminal
            .draw(|frame| info = draw(frame, model, editor))
            .unwrap();
        let buffer = terminal.backend().buffer();
        let rows = (0..h)
            .map(|y| {
                (0..w)
                    .map(|x| buffer[(x, y)].symbol().to_owned())
                    .collect::<String>()
            })
            .collect();
        (rows, info)
    }

    fn alice() -> Model {
        let creds = Credentials {
            name: "alice".into(),
            password: None,
        };
        let mut m = Model::new(
            "127.0.0.1:8000",
            Session::with_credentials(creds, false, vec![]),
        );
        m.connected();
        m.session.on_connected();
        apply(&mut m, parse(r#"{"type":"login","user":"alice"}"#));
        apply(
            &mut m,
            parse(r#"{"type":"userlist","users":["alice","bob"]}"#),
        );
        apply(
            &mut m,
            parse(r##"{"type":"join","user":"alice","room":"#rust"}"##),
        );
        m
    }

    #[test]
    fn shows_log_users_rooms_status_and_input() {
        let m = alice();
        let mut editor = LineEditor::new();
        "hello".chars().for_each(|c| editor.insert(c));
        let (rows, _) = screen(&m, &editor, 100, 20);
        let all = rows.join("\n");
        assert!(all.contains("[alice] login to chat."), "{all}");
        assert!(all.contains("[alice] joined #rust."), "{all}");
        assert!(all.contains("users (2)"), "{all}");
        assert!(all.contains("bob"), "{all}");
        assert!(all.contains("#rust"), "{all}");
        assert!(rows[18].contains("connected"), "{}", rows[18]);
        assert!(rows[18].contains("alice"), "{}", rows[18]);
        assert!(rows[18].contains("to: all"), "{}", rows[18]);
        assert!(rows[19].starts_with("[all]> hello"), "{}", rows[19]);
    }

    #[test]
    fn password_prompt_is_masked() {
        let mut m = Model::new("h:1", Session::prompt());
        m.session.answer_prompt("bob", true);
        let mut editor = LineEditor::new();
        "secret".chars().for_each(|c| editor.insert(c));
        let (rows, _) = screen(&m, &editor, 80, 10);
        assert!(rows[9].contains("******"), "{}", rows[9]);
        assert!(!rows.join("").contains("secret"));
    }

    #[test]
    fn reconnecting_is_shown() {
        let mut m = alice();
        m.disconnected(3, "connection refused".into());
        let (rows, _) = screen(&m, &LineEditor::new(), 120, 10);
        assert!(
            rows[8].contains("reconnecting (attempt 3: connection refused)"),
            "{}",
            rows[8]
        );
    }

    #[test]
    fn log_follows_the_end_and_scrolls_back() {
        let mut m = alice();
        for i in 0..50 {
            m.note(format!("line {i}"));
        }
        let editor = LineEditor::new();
        let (rows, info) = screen(&m, &editor, 80, 12);
        // 12 rows - status - input - 2 borders = 8 log rows, ending with the newest line.
        assert_eq!(info.log_rows, 8);
        assert_eq!(info.max_scroll, None);
        assert!(rows[8].contains("line 49"), "{}", rows[8]);
        assert!(rows[1].contains("line 42"), "{}", rows[1]);
        m.scroll_up(10);
        let (rows, _) = screen(&m, &editor, 80, 12);
        assert!(rows[8].contains("line 39"), "{}", rows[8]);
        assert!(rows[0].contains("scrolled back"), "{}", rows[0]);
        m.scroll_up(1000);
        let (rows, info) = screen(&m, &editor, 80, 12);
        assert!(
            rows[1].contains("connected to 127.0.0.1:8000"),
            "{}",
            rows[1]
        );
        // 53 lines in the log, 8 shown: at most 45 rows back.
        assert_eq!(info.max_scroll, Some(45));
    }

    #[test]
    fn styles_by_kind() {
        let line = LogLine {
            kind: LineKind::Private,
            time: Some("12:00:00".into()),
            who: Some("[bob][->][alice]".into()),
            text: "hi".into(),
        };
        let styled = styled_line(&line);
        assert_eq!(styled.spans.len(), 4);
        assert_eq!(styled.spans[1].style.fg, Some(Color::Magenta));
        assert_eq!(kind_style(LineKind::Error).fg, Some(Color::Red));
        assert_eq!(kind_style(LineKind::Login).fg, Some(Color::Green));
        assert_eq!(kind_style(LineKind::Logout).fg, Some(Color::Red));
        assert_eq!(kind_style(LineKind::Info).fg, Some(Color::LightBlue));
    }
}
