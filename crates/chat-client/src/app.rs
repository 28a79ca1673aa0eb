//! The event loop: terminal keys, connection events and the model.

use std::io::IsTerminal;
use std::time::Duration;

use crossterm::event::{
    DisableBracketedPaste, EnableBracketedPaste, Event, EventStream, KeyCode, KeyEvent,
    KeyEventKind, KeyModifiers,
};
use futures_util::StreamExt;
use ratatui::DefaultTerminal;
use tokio::sync::mpsc::UnboundedSender;

use crate::args::{ClientArgs, Endpoint};
use crate::error::ClientError;
use crate::event;
use crate::input::{Action, CLIENT_HELP, LineEditor, parse_line};
use crate::model::{ConnState, Model};
use crate::net::{self, NetEvent, Outgoing};
use crate::session::{Credentials, Prompt, Session};
use crate::ui::{self, DrawInfo};

/// How long the client waits for the connection to close on exit.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(2);

/// At most this many queued connection events are handled between two redraws.
const EVENT_BATCH: usize = 512;

/// Restores the terminal when dropped, so that every way out (errors included) restores it.
struct RestoreGuard;

impl Drop for RestoreGuard {
    fn drop(&mut self) {
        let _ = crossterm::execute!(std::io::stdout(), DisableBracketedPaste);
        ratatui::restore();
    }
}

/// The login state the arguments ask for.
pub fn session_from_args(args: &ClientArgs) -> Session {
    match &args.name {
        Some(name) => Session::with_credentials(
            Credentials {
                name: name.clone(),
                password: args.password.clone(),
            },
            args.register,
            args.join.clone(),
        ),
        None => Session::prompt_then_join(args.join.clone()),
    }
}

/// Runs the client on the current tokio runtime until the user quits or logs out.
pub async fn run(args: ClientArgs, endpoint: Endpoint) -> Result<(), ClientError> {
    if !std::io::stdin().is_terminal() || !std::io::stdout().is_terminal() {
        return Err(ClientError::NotATerminal);
    }
    let mut model = Model::new(endpoint.display(), session_from_args(&args));
    let mut editor = LineEditor::new();
    let guard = RestoreGuard;
    let mut terminal = ratatui::try_init().map_err(ClientError::Terminal)?;
    // A paste comes as one event, not a key each: crossterm reads the terminal 1 KiB at a time
    // and returns after the first event of a read, so a paste of more than 1 KiB typed key by
    // key stalled until the next key arrived. A terminal without bracketed paste ignores this.
    let _ = crossterm::execute!(std::io::stdout(), EnableBracketedPaste);
    let mut net = net::spawn(endpoint, Duration::from_secs(args.max_backoff.max(1)));
    model.note(CLIENT_HELP);
    if model.session.prompt_for() == Some(Prompt::Name) {
        model.note("type your name to log in (or /register NAME PASSWORD first)");
    }
    let result = event_loop(&mut terminal, &mut model, &mut editor, &mut net).await;
    let _ = net.tx.send(Outgoing::Close);
    let _ = tokio::time::timeout(CLOSE_TIMEOUT, &mut net.task).await;
    drop(guard);
    result
}

async fn event_loop(
    terminal: &mut DefaultTerminal,
    model: &mut Model,
    editor: &mut LineEditor,
    net: &mut net::NetHandle,
) -> Result<(), ClientError> {
    let mut keys = EventStream::new();
    let quit_signal = quit_signal();
    tokio::pin!(quit_signal);
    loop {
        if model.session.is_logged_out() {
            return Ok(());
        }
        let mut info = DrawInfo::default();
        terminal
            .draw(|frame| info = ui::draw(frame, model, editor))
            .map_err(ClientError::Terminal)?;
        if let Some(max) = info.max_scroll {
            model.scroll = model.scroll.min(max);
        }
        tokio::select! {
            signal = &mut quit_signal => return signal.map_err(ClientError::Signal),
            key = keys.next() => match key {
                None => return Ok(()),
                Some(Err(e)) => return Err(ClientError::Terminal(e)),
                Some(Ok(Event::Key(key))) if key.kind != KeyEventKind::Release => {
                    if handle_key(key, model, editor, info, &net.tx) == Flow::Quit {
                        return Ok(());
                    }
                }
                Some(Ok(Event::Paste(text))) => editor.paste(&text),
                Some(Ok(_)) => {}
            },
            event = net.rx.recv() => {
                let Some(event) = event else { return Ok(()) };
                take_net(event, model, &net.tx)?;
                for _ in 0..EVENT_BATCH {
                    match net.rx.try_recv() {
                        Ok(event) => take_net(event, model, &net.tx)?,
                        Err(_) => break,
                    }
                }
            }
        }
    }
}

/// Completes on SIGINT, SIGTERM or SIGHUP (Ctrl-C itself arrives as a key in raw mode), so that
/// the client also exits cleanly, restoring the terminal, when it is told to from outside.
async fn quit_signal() -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = signal(SignalKind::terminate())?;
        let mut hangup = signal(SignalKind::hangup())?;
        tokio::select! {
            result = tokio::signal::ctrl_c() => result,
            _ = term.recv() => Ok(()),
            _ = hangup.recv() => Ok(()),
        }
    }
    #[cfg(not(unix))]
    {
        tokio::signal::ctrl_c().await
    }
}

/// Like [`handle_net`], but a server of the other transport ends the client: waiting will not
/// make it the right one, and the error names the address to use.
fn take_net(
    event: NetEvent,
    model: &mut Model,
    tx: &UnboundedSender<Outgoing>,
) -> Result<(), ClientError> {
    if let NetEvent::WrongTransport(hint) = event {
        return Err(ClientError::WrongTransport(hint));
    }
    handle_net(event, model, tx);
    Ok(())
}

/// Applies a connection event to the model and sends what it asks for.
pub fn handle_net(event: NetEvent, model: &mut Model, tx: &UnboundedSender<Outgoing>) {
    let commands = match event {
        NetEvent::Connected => {
            model.connected();
            model.session.on_connected()
        }
        NetEvent::Line(line) => event::apply(model, event::parse(&line)),
        NetEvent::Disconnected { attempt, reason } => {
            model.disconnected(attempt, reason);
            Vec::new()
        }
        NetEvent::WrongTransport(hint) => {
            model.note(hint);
            Vec::new()
        }
    };
    for command in commands {
        let _ = tx.send(Outgoing::Line(command));
    }
}

/// Whether the client goes on after a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    /// Keep running.
    Continue,
    /// Exit.
    Quit,
}

/// Handles one key press.
pub fn handle_key(
    key: KeyEvent,
    model: &mut Model,
    editor: &mut LineEditor,
    info: DrawInfo,
    tx: &UnboundedSender<Outgoing>,
) -> Flow {
    let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
    let page = info.log_rows.saturating_sub(1).max(1);
    match key.code {
        KeyCode::Char('c') if ctrl => return Flow::Quit,
        KeyCode::Char('d') if ctrl && editor.text().is_empty() => return Flow::Quit,
        KeyCode::Char('a') if ctrl => editor.home(),
        KeyCode::Char('e') if ctrl => editor.end(),
        KeyCode::Char('u') if ctrl => editor.kill_to_start(),
        KeyCode::Char('k') if ctrl => editor.kill_to_end(),
        KeyCode::Char('w') if ctrl => editor.delete_word(),
        KeyCode::Char(_) if ctrl || key.modifiers.contains(KeyModifiers::ALT) => {}
        KeyCode::Char(c) => editor.insert(c),
        KeyCode::Backspace => editor.backspace(),
        KeyCode::Delete => editor.delete(),
        KeyCode::Left => editor.left(),
        KeyCode::Right => editor.right(),
        KeyCode::Home => editor.home(),
        KeyCode::End => editor.end(),
        KeyCode::Up => editor.history_prev(),
        KeyCode::Down => editor.history_next(),
        KeyCode::Tab => model.cycle_target(true),
        KeyCode::BackTab => model.cycle_target(false),
        KeyCode::PageUp => model.scroll_up(page),
        KeyCode::PageDown => model.scroll_down(page),
        KeyCode::Esc => model.scroll = 0,
        KeyCode::Enter => return enter(model, editor, tx),
        _ => {}
    }
    Flow::Continue
}

/// Enter: answers the login prompt, or runs the entered line.
fn enter(model: &mut Model, editor: &mut LineEditor, tx: &UnboundedSender<Outgoing>) -> Flow {
    let connected = model.conn == ConnState::Connected;
    if model.session.prompt_for().is_some() && !editor.text().trim_start().starts_with('/') {
        let answer = editor.take();
        let (note, commands) = model.session.answer_prompt(&answer, connected);
        if let Some(note) = note {
            model.note(note);
        }
        for command in commands {
            let _ = tx.send(Outgoing::Line(command));
        }
        return Flow::Continue;
    }
    let line = editor.submit();
    match parse_line(&line, &model.target) {
        Action::Nothing => {}
        Action::Quit => return Flow::Quit,
        Action::ClearLog => model.clear_log(),
        Action::Note(note) => model.note(note),
        Action::SetTarget(target) => model.set_target(target),
        Action::Send(command) => {
            if connected {
                model.session.on_user_command(&command);
                let _ = tx.send(Outgoing::Line(command));
            } else {
                model.note(format!("not connected; not sent: {line}"));
            }
        }
    }
    model.scroll = 0;
    Flow::Continue
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{LineKind, Target};
    use tokio::sync::mpsc::{UnboundedReceiver, unbounded_channel};

    fn key(code: KeyCode) -> KeyEvent {
        KeyEvent::new(code, KeyModifiers::NONE)
    }

    fn type_line(
        text: &str,
        m: &mut Model,
        e: &mut LineEditor,
        tx: &UnboundedSender<Outgoing>,
    ) -> Flow {
        for c in text.chars() {
            handle_key(key(KeyCode::Char(c)), m, e, DrawInfo::default(), tx);
        }
        handle_key(key(KeyCode::Enter), m, e, DrawInfo::default(), tx)
    }

    fn sent(rx: &mut UnboundedReceiver<Outgoing>) -> Vec<String> {
        let mut out = Vec::new();
        while let Ok(Outgoing::Line(line)) = rx.try_recv() {
            out.push(line);
        }
        out
    }

    /// The server sent `line`.
    fn receive(line: &str, m: &mut Model, tx: &UnboundedSender<Outgoing>) {
        handle_net(NetEvent::Line(line.into()), m, tx);
    }

    /// The server went away (the first failed attempt).
    fn lose_connection(m: &mut Model, tx: &UnboundedSender<Outgoing>) {
        handle_net(
            NetEvent::Disconnected {
                attempt: 1,
                reason: "the server closed the connection".into(),
            },
            m,
            tx,
        );
    }

    fn args(extra: &[&str]) -> ClientArgs {
        use clap::Parser;
        #[derive(clap::Parser)]
        struct Cli {
            #[command(flatten)]
            args: ClientArgs,
        }
        let mut argv = vec!["client"];
        argv.extend_from_slice(extra);
        Cli::try_parse_from(argv).unwrap().args
    }

    #[test]
    fn prompt_login_then_chat_to_targets() {
        let (tx, mut rx) = unbounded_channel();
        let mut m = Model::new("h:1", session_from_args(&args(&[])));
        let mut e = LineEditor::new();
        handle_net(NetEvent::Connected, &mut m, &tx);
        receive(
            "[SERVER INFO] - Welcome to tokio_chat! Type help for commands.",
            &mut m,
            &tx,
        );
        assert!(sent(&mut rx).is_empty(), "no name yet");
        type_line("alice", &mut m, &mut e, &tx);
        type_line("", &mut m, &mut e, &tx);
        assert_eq!(sent(&mut rx), ["login alice"]);
        assert!(e.history().is_empty(), "prompt answers are not history");
        receive(r#"{"type":"login","user":"alice"}"#, &mut m, &tx);
        assert_eq!(sent(&mut rx), ["userlist"]);
        receive(
            r#"{"type":"userlist","users":["bob","alice"]}"#,
            &mut m,
            &tx,
        );

        type_line("hello all", &mut m, &mut e, &tx);
        assert_eq!(sent(&mut rx), ["msgall hello all"]);
        type_line("/join #rust", &mut m, &mut e, &tx);
        assert_eq!(sent(&mut rx), ["join #rust"]);
        receive(
            r##"{"type":"join","user":"alice","room":"#rust"}"##,
            &mut m,
            &tx,
        );
        // Tab: all -> #rust -> bob (alice herself is skipped) -> all.
        handle_key(key(KeyCode::Tab), &mut m, &mut e, DrawInfo::default(), &tx);
        assert_eq!(m.target, Target::Room("#rust".into()));
        type_line("in the room", &mut m, &mut e, &tx);
        assert_eq!(sent(&mut rx), ["msg #rust in the room"]);
        handle_key(key(KeyCode::Tab), &mut m, &mut e, DrawInfo::default(), &tx);
        assert_eq!(m.target, Target::User("bob".into()));
        type_line("psst", &mut m, &mut e, &tx);
        assert_eq!(sent(&mut rx), ["msg bob psst"]);
        handle_key(key(KeyCode::Tab), &mut m, &mut e, DrawInfo::default(), &tx);
        assert_eq!(m.target, Target::All);
        handle_key(
            key(KeyCode::BackTab),
            &mut m,
            &mut e,
            DrawInfo::default(),
            &tx,
        );
        assert_eq!(m.target, Target::User("bob".into()));
        type_line("/to all", &mut m, &mut e, &tx);
        assert_eq!(m.target, Target::All);
        type_line("/msg bob hi", &mut m, &mut e, &tx);
        assert_eq!(sent(&mut rx), ["msg bob hi"]);

        // Up recalls the history of the input line.
        handle_key(key(KeyCode::Up), &mut m, &mut e, DrawInfo::default(), &tx);
        assert_eq!(e.text(), "/msg bob hi");
        handle_key(key(KeyCode::Up), &mut m, &mut e, DrawInfo::default(), &tx);
        assert_eq!(e.text(), "/to all");
        handle_key(key(KeyCode::Down), &mut m, &mut e, DrawInfo::default(), &tx);
        handle_key(
            key(KeyCode::Enter),
            &mut m,
            &mut e,
            DrawInfo::default(),
            &tx,
        );
        assert_eq!(sent(&mut rx), ["msg bob hi"]);

        assert_eq!(type_line("/quit", &mut m, &mut e, &tx), Flow::Quit);
    }

    #[test]
    fn ctrl_c_quits_and_page_keys_scroll() {
        let (tx, _rx) = unbounded_channel();
        let mut m = Model::new("h:1", Session::prompt());
        let mut e = LineEditor::new();
        let info = DrawInfo {
            log_rows: 10,
            max_scroll: None,
        };
        handle_key(key(KeyCode::PageUp), &mut m, &mut e, info, &tx);
        assert_eq!(m.scroll, 9);
        handle_key(key(KeyCode::PageDown), &mut m, &mut e, info, &tx);
        assert_eq!(m.scroll, 0);
        let ctrl_c = KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL);
        assert_eq!(handle_key(ctrl_c, &mut m, &mut e, info, &tx), Flow::Quit);
        assert_eq!(e.text(), "", "ctrl-c types nothing");
    }

    #[test]
    fn reconnect_logs_back_in_and_rejoins() {
        let (tx, mut rx) = unbounded_channel();
        let mut m = Model::new(
            "h:1",
            session_from_args(&args(&["--name", "alice", "--join", "#go"])),
        );
        let mut e = LineEditor::new();
        handle_net(NetEvent::Connected, &mut m, &tx);
        assert_eq!(sent(&mut rx), ["login alice"]);
        receive(r#"{"type":"login","user":"alice"}"#, &mut m, &tx);
        assert_eq!(sent(&mut rx), ["userlist", "join #go"]);
        receive(
            r##"{"type":"join","user":"alice","room":"#go"}"##,
            &mut m,
            &tx,
        );
        lose_connection(&mut m, &tx);
        type_line("lost words", &mut m, &mut e, &tx);
        assert!(
            sent(&mut rx).is_empty(),
            "nothing is sent while disconnected"
        );
        assert_eq!(m.log().back().unwrap().kind, LineKind::Local);
        handle_net(NetEvent::Connected, &mut m, &tx);
        assert_eq!(sent(&mut rx), ["login alice"]);
        receive(r#"{"type":"login","user":"alice"}"#, &mut m, &tx);
        assert_eq!(sent(&mut rx), ["userlist", "join #go"]);
    }

    #[test]
    fn a_guest_that_registers_its_name_logs_back_in_with_the_password() {
        let (tx, mut rx) = unbounded_channel();
        let mut m = Model::new("h:1", session_from_args(&args(&["--name", "gg"])));
        let mut e = LineEditor::new();
        handle_net(NetEvent::Connected, &mut m, &tx);
        assert_eq!(sent(&mut rx), ["login gg"]);
        receive(r#"{"type":"login","user":"gg"}"#, &mut m, &tx);
        sent(&mut rx);
        type_line("/register gg pw", &mut m, &mut e, &tx);
        assert_eq!(sent(&mut rx), ["register gg pw"]);
        receive(r#"{"type":"info","text":"[gg] registered."}"#, &mut m, &tx);
        lose_connection(&mut m, &tx);
        handle_net(NetEvent::Connected, &mut m, &tx);
        assert_eq!(sent(&mut rx), ["login gg pw"]);
    }
}
