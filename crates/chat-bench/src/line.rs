//! Classifying the reply lines a chat server sends (text output form, PROTOCOL.md section 3).

/// What one reply line is, as far as the bench cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reply<'a> {
    /// `[HH:MM:SS][name]: text` (also room and private forms; `name` then holds the brackets).
    Chat {
        /// Everything between the time's `][` and the `]: ` separator.
        name: &'a [u8],
        /// The message text, exactly as sent.
        text: &'a [u8],
    },
    /// `[SYSTEM INFO] - [name] login to chat.`
    Login(&'a [u8]),
    /// `[SYSTEM INFO] - [name] logout from chat.`
    Logout(&'a [u8]),
    /// `[ERROR] - text`
    Error(&'a [u8]),
    /// `[INFO] - text`
    Info(&'a [u8]),
    /// `[SERVER INFO] - text`
    Server(&'a [u8]),
    /// Anything else.
    Other,
}

/// Classifies one line (without its line end).
pub fn classify(line: &[u8]) -> Reply<'_> {
    if let Some(reply) = chat(line) {
        return reply;
    }
    if let Some(rest) = line.strip_prefix(b"[SYSTEM INFO] - [") {
        if let Some(name) = rest.strip_suffix(b"] login to chat.") {
            return Reply::Login(name);
        }
        if let Some(name) = rest.strip_suffix(b"] logout from chat.") {
            return Reply::Logout(name);
        }
        return Reply::Other;
    }
    if let Some(text) = line.strip_prefix(b"[ERROR] - ") {
        return Reply::Error(text);
    }
    if let Some(text) = line.strip_prefix(b"[INFO] - ") {
        return Reply::Info(text);
    }
    if let Some(text) = line.strip_prefix(b"[SERVER INFO] - ") {
        return Reply::Server(text);
    }
    Reply::Other
}

/// Parses `[HH:MM:SS][name]: text`.
fn chat(line: &[u8]) -> Option<Reply<'_>> {
    let head = line.get(..11)?;
    let digits_ok = [1, 2, 4, 5, 7, 8].iter().all(|&i| head[i].is_ascii_digit());
    if head[0] != b'[' || head[3] != b':' || head[6] != b':' || head[9] != b']' || head[10] != b'['
    {
        return None;
    }
    if !digits_ok {
        return None;
    }
    let rest = &line[11..];
    // The first `]` followed by `: ` (a name cannot hold `]: `; the text can). memchr finds
    // each `]`: a substring searcher would be built per line, and a window-by-window scan
    // showed in the load generator's profile (this runs once per delivery).
    let mut from = 0;
    let sep = loop {
        let at = from + memchr::memchr(b']', &rest[from..])?;
        if rest[at + 1..].starts_with(b": ") {
            break at;
        }
        from = at + 1;
    };
    Some(Reply::Chat {
        name: &rest[..sep],
        text: &rest[sep + 3..],
    })
}

/// Removes ANSI escape sequences (`ESC [ ... letter`), for showing coloured replies in reports.
pub fn strip_ansi(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            // Skip `[` and parameters up to the final letter.
            for d in chars.by_ref() {
                if d.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// The start of a line a server sent (60 characters at most), for an error message.
pub fn shorten(line: &[u8]) -> String {
    String::from_utf8_lossy(line).chars().take(60).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_msgall_line() {
        assert_eq!(
            classify(b"[12:34:05][bench7]: b1:2:3:4:xx"),
            Reply::Chat {
                name: b"bench7",
                text: b"b1:2:3:4:xx"
            }
        );
    }

    #[test]
    fn keeps_the_text_exactly() {
        assert_eq!(
            classify(b"[00:00:00][a]: x]:  y "),
            Reply::Chat {
                name: b"a",
                text: b"x]:  y "
            }
        );
        assert_eq!(
            classify(b"[00:00:00][a]: "),
            Reply::Chat {
                name: b"a",
                text: b""
            }
        );
    }

    #[test]
    fn room_and_private_forms_are_chat_too() {
        assert_eq!(
            classify(b"[12:34:05][#rust][alice]: hi"),
            Reply::Chat {
                name: b"#rust][alice",
                text: b"hi"
            }
        );
    }

    #[test]
    fn system_lines() {
        assert_eq!(
            classify(b"[SYSTEM INFO] - [bench1] login to chat."),
            Reply::Login(b"bench1")
        );
        assert_eq!(
            classify(b"[SYSTEM INFO] - [bench1] logout from chat."),
            Reply::Logout(b"bench1")
        );
        assert_eq!(
            classify(b"[SYSTEM INFO] - [bench1] joined #rust."),
            Reply::Other
        );
        assert_eq!(
            classify(b"[ERROR] - too many requests"),
            Reply::Error(b"too many requests")
        );
        assert_eq!(
            classify(b"[INFO] - format text"),
            Reply::Info(b"format text")
        );
        assert_eq!(
            classify(b"[SERVER INFO] - Welcome to tokio_chat! Type help for commands."),
            Reply::Server(b"Welcome to tokio_chat! Type help for commands.")
        );
    }

    #[test]
    fn malformed_chat_lines_are_other() {
        for line in [
            &b""[..],
            b"[12:34:05][bench7] no separator",
            b"[1a:34:05][x]: t",
            b"[12-34-05][x]: t",
            b"[12:34:05]",
            b"[12:34:05][x]",
            b"[12:34:05][x]:",
            b"[12:34:05][x]]:x",
            b"hello",
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
    fn strips_colours() {
        assert_eq!(
            strip_ansi("\u{1b}[31m[ERROR]\u{1b}[0m - server full"),
            "[ERROR] - server full"
        );
        assert_eq!(strip_ansi("plain"), "plain");
    }
}
