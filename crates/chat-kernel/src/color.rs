//! ANSI styling shared by the packer (the `color` output form) and the server console.
//!
//! The colours follow the original's telnet screenshots: `[SYSTEM INFO]` green, `[ERROR]` red,
//! `[INFO]` and `[SERVER INFO]` blue, names yellow, `login to chat.` green, `logout from chat.` red.

use std::fmt::Write;

use owo_colors::{OwoColorize, Style};

/// The styles of the chat's text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Paint {
    /// `[SYSTEM INFO]`, `login to chat.`
    Green,
    /// `[ERROR]`, `logout from chat.`
    Red,
    /// `[INFO]`, `[SERVER INFO]`
    Blue,
    /// `[alice]`, a chat line's `[time][name]` prefix.
    Yellow,
}

impl Paint {
    fn style(self) -> Style {
        match self {
            Paint::Green => Style::new().green(),
            Paint::Red => Style::new().red(),
            Paint::Blue => Style::new().blue(),
            Paint::Yellow => Style::new().yellow(),
        }
    }
}

/// Appends `text` to `out`, styled when `color` is on.
pub fn paint(out: &mut String, color: bool, paint: Paint, text: &str) {
    if color {
        // Writing to a String cannot fail.
        let _ = write!(out, "{}", text.style(paint.style()));
    } else {
        out.push_str(text);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paints_only_when_asked() {
        let mut plain = String::new();
        paint(&mut plain, false, Paint::Red, "[ERROR]");
        assert_eq!(plain, "[ERROR]");
        let mut red = String::new();
        paint(&mut red, true, Paint::Red, "[ERROR]");
        assert_eq!(red, "\x1b[31m[ERROR]\x1b[0m");
    }
}
