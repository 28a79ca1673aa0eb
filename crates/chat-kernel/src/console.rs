//! The server console (PROTOCOL.md section 5): one line per event, prefixed with the server name.
//!
//! Lines go through a bounded channel to a printer thread, so the kernel never waits on a slow
//! or blocked stdout; if the printer falls 10,000 lines behind, further lines are counted and
//! dropped rather than stalling the chat.

use std::io::{IsTerminal, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{SyncSender, TrySendError, sync_channel};
use std::thread::JoinHandle;

use parking_lot::Mutex;

use crate::color::{Paint, paint};

/// What the console prints, before styling.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConsoleEvent {
    /// `[SERVER INFO] - <text>`
    Info(String),
    /// `[SERVER INFO] - [alice] login to chat.`
    Login(String),
    /// `[SERVER INFO] - [alice] logout from chat.`
    Logout(String),
    /// `[SERVER INFO] - [alice] disconnected: <reason>`
    Disconnected(String, String),
    /// `[ERROR] - <text>`
    Error(String),
    /// A block of lines (the `debug` dump), each printed with the server's prefix as every
    /// console line is, so a dump stays attributable when several servers share the console.
    Raw(String),
}

#[derive(Debug)]
struct Printer {
    tx: Option<SyncSender<String>>,
    thread: Option<JoinHandle<()>>,
}

/// The console: cheap to clone, shared by every server of the process.
#[derive(Debug, Clone)]
pub struct Console {
    color: bool,
    printer: Arc<Mutex<Printer>>,
    dropped: Arc<AtomicU64>,
}

impl Console {
    /// A console on stdout; coloured when `color` is asked for, stdout is a terminal and
    /// `NO_COLOR` is unset.
    pub fn stdout(color: bool) -> Console {
        let color =
            color && std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
        let (tx, rx) = sync_channel::<String>(10_000);
        let thread = std::thread::Builder::new()
            .name("console".into())
            .spawn(move || {
                let stdout = std::io::stdout();
                while let Ok(line) = rx.recv() {
                    let mut out = stdout.lock();
                    // A closed stdout must not take the server down: printing is best effort.
                    let _ = out.write_all(line.as_bytes());
                    while let Ok(line) = rx.try_recv() {
                        let _ = out.write_all(line.as_bytes());
                    }
                    let _ = out.flush();
                }
            })
            .ok();
        Console {
            color,
            printer: Arc::new(Mutex::new(Printer {
                tx: Some(tx),
                thread,
            })),
            dropped: Arc::new(AtomicU64::new(0)),
        }
    }

    /// Formats one console line (without sending it).
    pub fn format(&self, server: &str, event: &ConsoleEvent) -> String {
        let c = self.color;
        let mut out = String::with_capacity(80);
        if let ConsoleEvent::Raw(text) = event {
            for line in text.lines() {
                out.push('[');
                out.push_str(server);
                out.push_str("] - ");
                out.push_str(line);
                out.push('\n');
            }
            return out;
        }
        out.push('[');
        out.push_str(server);
        out.push_str("] - ");
        let name =
            |out: &mut String, user: &str| paint(out, c, Paint::Yellow, &format!("[{user}]"));
        match event {
            ConsoleEvent::Error(text) => {
                paint(&mut out, c, Paint::Red, "[ERROR]");
                out.push_str(" - ");
                out.push_str(text);
            }
            other => {
                paint(&mut out, c, Paint::Blue, "[SERVER INFO]");
                out.push_str(" - ");
                match other {
                    ConsoleEvent::Info(text) => out.push_str(text),
                    ConsoleEvent::Login(user) => {
                        name(&mut out, user);
                        out.push(' ');
                        paint(&mut out, c, Paint::Green, "login to chat.");
                    }
                    ConsoleEvent::Logout(user) => {
                        name(&mut out, user);
                        out.push(' ');
                        paint(&mut out, c, Paint::Red, "logout from chat.");
                    }
                    ConsoleEvent::Disconnected(user, reason) => {
                        name(&mut out, user);
                        out.push_str(" disconnected: ");
                        out.push_str(reason);
                    }
                    ConsoleEvent::Error(_) | ConsoleEvent::Raw(_) => {}
                }
            }
        }
        out.push('\n');
        out
    }

    /// Prints one event for `server` without waiting on stdout.
    pub fn print(&self, server: &str, event: ConsoleEvent) {
        let line = self.format(server, &event);
        let printer = self.printer.lock();
        if let Some(tx) = &printer.tx
            && let Err(TrySendError::Full(_)) = tx.try_send(line)
        {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Lines dropped because stdout could not keep up.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Prints everything still queued and stops the printer (at exit).
    pub fn flush(&self) {
        let mut printer = self.printer.lock();
        printer.tx = None;
        if let Some(thread) = printer.thread.take() {
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn console_lines_per_protocol() {
        let console = Console::stdout(false);
        assert_eq!(
            console.format(
                "tokio_chat",
                &ConsoleEvent::Info("server started on 127.0.0.1:8000".into())
            ),
            "[tokio_chat] - [SERVER INFO] - server started on 127.0.0.1:8000\n"
        );
        assert_eq!(
            console.format("smol_chat", &ConsoleEvent::Login("alice".into())),
            "[smol_chat] - [SERVER INFO] - [alice] login to chat.\n"
        );
        assert_eq!(
            console.format("smol_chat", &ConsoleEvent::Logout("alice".into())),
            "[smol_chat] - [SERVER INFO] - [alice] logout from chat.\n"
        );
        assert_eq!(
            console.format(
                "x",
                &ConsoleEvent::Disconnected("alice".into(), "send queue full".into())
            ),
            "[x] - [SERVER INFO] - [alice] disconnected: send queue full\n"
        );
        console.flush();
    }

    #[test]
    fn every_line_of_a_debug_dump_names_its_server() {
        let console = Console::stdout(false);
        assert_eq!(
            console.format(
                "tokio_chat",
                &ConsoleEvent::Raw("registry: 1 connections\n  #1 alice\n".into())
            ),
            "[tokio_chat] - registry: 1 connections\n[tokio_chat] -   #1 alice\n"
        );
        console.flush();
    }
}
