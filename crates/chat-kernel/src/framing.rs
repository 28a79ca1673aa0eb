//! Bytes to lines: the framing rules of PROTOCOL.md section 1, written once for every front-end.
//!
//! A TCP front-end feeds whatever it read into a [`LineDecoder`], which copes with lines split
//! across reads, several lines in one read, `\r\n`, telnet option negotiation, over-long lines and
//! invalid UTF-8, and hands each complete line to a callback as an [`Input`]. A WebSocket
//! front-end calls [`split_frame`] on each text frame instead. [`clean_line`] then removes control
//! characters and trims, which the kernel does for both transports.

use std::borrow::Cow;

/// One unit of client input, as the kernel consumes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Input<'a> {
    /// A complete line, valid UTF-8, without its line end (not yet cleaned).
    Line(&'a str),
    /// A line longer than the limit; reported once, the rest of it is discarded.
    TooLong,
    /// A line that was not valid UTF-8; discarded.
    InvalidUtf8,
    /// A binary WebSocket frame; not supported.
    BinaryFrame,
}

const IAC: u8 = 0xFF;
const SB: u8 = 0xFA;
const SE: u8 = 0xF0;
const WILL: u8 = 0xFB;
const DONT: u8 = 0xFE;
/// The lowest telnet command byte (`SE`): after `IAC`, a byte below it is no command.
const FIRST_COMMAND: u8 = SE;

/// The most bytes a subnegotiation may hold before the stripper gives up on it. The server
/// agrees to no telnet option, so a conforming client sends none; real ones (window size,
/// terminal type) are a few bytes to a few dozen. A client that opens one and never ends it
/// must not have everything it sends afterwards swallowed.
const SUB_MAX: u8 = 64;

/// Where the telnet command stripper is within an `IAC` sequence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Telnet {
    /// Plain data.
    Data,
    /// Just saw `IAC`.
    Iac,
    /// Saw `IAC WILL|WONT|DO|DONT`; the option byte comes next.
    Option,
    /// Inside `IAC SB ... IAC SE`, with this many bytes of it seen.
    Sub(u8),
    /// Saw `IAC` inside a subnegotiation.
    SubIac(u8),
}

/// Splits a TCP byte stream into lines, stripping telnet negotiation.
///
/// The decoder keeps at most `max_line` bytes of a pending line, so a client cannot make the
/// server buffer an unbounded line.
#[derive(Debug)]
pub struct LineDecoder {
    max_line: usize,
    buf: Vec<u8>,
    telnet: Telnet,
    /// The current line passed the limit: report once, then drop bytes until `\n`.
    discarding: bool,
}

impl LineDecoder {
    /// A decoder for lines of at most `max_line` bytes (line end excluded).
    pub fn new(max_line: usize) -> Self {
        LineDecoder {
            max_line,
            buf: Vec::new(),
            telnet: Telnet::Data,
            discarding: false,
        }
    }

    /// Feeds bytes read from the socket; calls `on_input` for every complete line or error.
    ///
    /// Plain text is taken a run at a time (up to the next `\n` or telnet `IAC`, found with
    /// `memchr`), and a line that arrives whole in one read goes to `on_input` straight from
    /// `data`, not through the decoder's buffer; only telnet sequences go byte by byte.
    pub fn feed(&mut self, mut data: &[u8], mut on_input: impl FnMut(Input<'_>)) {
        while let Some(&first) = data.first() {
            if self.telnet != Telnet::Data || first == IAC {
                let (next, is_data) = self.telnet.step(first);
                self.telnet = next;
                if !is_data {
                    // Part of a telnet sequence: never chat data.
                    data = &data[1..];
                    continue;
                }
                // The byte ended a sequence without being part of it (`first` is no `IAC`).
            }
            let end = memchr::memchr2(b'\n', IAC, data).unwrap_or(data.len());
            let run = &data[..end];
            if data.get(end) == Some(&b'\n') {
                self.complete(run, &mut on_input);
                data = &data[end + 1..];
            } else {
                self.take_run(run, &mut on_input);
                data = &data[end..];
            }
        }
        if self.buf.capacity() > 4 * 1024 && self.buf.is_empty() {
            // Do not keep a large buffer for an idle connection after one long line.
            self.buf = Vec::new();
        }
    }

    /// The most bytes a pending line may hold: `max_line`, and a `\r` that may end it.
    fn most_kept(&self) -> usize {
        self.max_line.saturating_add(1)
    }

    /// Adds plain bytes to the pending line. A line that grows past [`Self::most_kept`] is
    /// reported once and dropped up to its `\n`.
    fn take_run(&mut self, run: &[u8], on_input: &mut impl FnMut(Input<'_>)) {
        if self.discarding || run.is_empty() {
            return;
        }
        if self.buf.len() + run.len() > self.most_kept() {
            self.buf.clear();
            self.discarding = true;
            on_input(Input::TooLong);
        } else {
            self.buf.extend_from_slice(run);
        }
    }

    /// Ends the pending line with `run`, the plain bytes before its `\n`.
    fn complete(&mut self, run: &[u8], on_input: &mut impl FnMut(Input<'_>)) {
        if self.buf.is_empty() && !self.discarding {
            // The whole line is in this read: no copy.
            if run.len() > self.most_kept() {
                on_input(Input::TooLong);
            } else {
                emit(run, self.max_line, on_input);
            }
            return;
        }
        self.take_run(run, on_input);
        if self.discarding {
            self.discarding = false;
        } else {
            emit(&self.buf, self.max_line, on_input);
        }
        self.buf.clear();
    }
}

impl Telnet {
    /// The state after `byte`, and whether `byte` is chat data.
    fn step(self, byte: u8) -> (Telnet, bool) {
        let next = match (self, byte) {
            (Telnet::Data, IAC) => Telnet::Iac,
            (Telnet::Data, _) => return (Telnet::Data, true),
            // A stray 0xFF (no telnet client's: the next byte is no command) is dropped, and
            // the byte after it is text, not swallowed.
            (Telnet::Iac, ..FIRST_COMMAND) => return (Telnet::Data, true),
            (Telnet::Iac, SB) => Telnet::Sub(0),
            (Telnet::Iac, WILL..=DONT) => Telnet::Option,
            // `IAC IAC` is a literal 0xFF, never valid UTF-8 text: dropped with the rest.
            (Telnet::Iac, _) | (Telnet::Option, _) => Telnet::Data,
            (Telnet::Sub(n), IAC) => Telnet::SubIac(n),
            // A subnegotiation is never left open: a line end, or more than a real one holds,
            // ends it, and that byte is text again.
            (Telnet::Sub(_), b'\n') => return (Telnet::Data, true),
            (Telnet::Sub(n), _) if n >= SUB_MAX => return (Telnet::Data, true),
            (Telnet::Sub(n), _) => Telnet::Sub(n + 1),
            (Telnet::SubIac(_), SE) => Telnet::Data,
            (Telnet::SubIac(n), _) => Telnet::Sub(n.saturating_add(1)),
        };
        (next, false)
    }
}

/// Hands a complete line (its `\n` removed) to `on_input`: without a final `\r`, checked
/// against the limit and for UTF-8.
fn emit(line: &[u8], max_line: usize, on_input: &mut impl FnMut(Input<'_>)) {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    if line.len() > max_line {
        on_input(Input::TooLong);
    } else {
        match std::str::from_utf8(line) {
            Ok(line) => on_input(Input::Line(line)),
            Err(_) => on_input(Input::InvalidUtf8),
        }
    }
}

/// Splits one WebSocket text frame into its lines (`\n`-separated, a `\r` before it dropped),
/// applying the same line limit as TCP.
pub fn split_frame(text: &str, max_line: usize, mut on_input: impl FnMut(Input<'_>)) {
    for line in text.split('\n') {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.len() > max_line {
            on_input(Input::TooLong);
        } else {
            on_input(Input::Line(line));
        }
    }
}

/// Whether a character is removed from incoming text: C0 controls but TAB, DEL, and C1.
pub fn is_stripped_control(c: char) -> bool {
    (c.is_control() && c != '\t') || ('\u{80}'..='\u{9f}').contains(&c)
}

/// Removes control characters, then trims spaces. An empty result means "ignore this line".
pub fn clean_line(line: &str) -> Cow<'_, str> {
    // ASCII text (most chat) is checked byte by byte; C1 controls are never ASCII.
    let stripped = if line.is_ascii() {
        line.bytes().any(|b| (b < 0x20 && b != b'\t') || b == 0x7f)
    } else {
        line.chars().any(is_stripped_control)
    };
    if stripped {
        let cleaned: String = line.chars().filter(|&c| !is_stripped_control(c)).collect();
        Cow::Owned(cleaned.trim().to_owned())
    } else {
        Cow::Borrowed(line.trim())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(max: usize, chunks: &[&[u8]]) -> Vec<String> {
        let mut dec = LineDecoder::new(max);
        let mut out = Vec::new();
        for chunk in chunks {
            dec.feed(chunk, |input| {
                out.push(match input {
                    Input::Line(l) => format!("line:{l}"),
                    other => format!("{other:?}"),
                })
            });
        }
        out
    }

    /// The decoder as it was first written, one byte at a time through one state machine: the
    /// model the run-at-a-time decoder must match.
    struct ByteAtATime {
        max_line: usize,
        buf: Vec<u8>,
        telnet: Telnet,
        discarding: bool,
    }

    impl ByteAtATime {
        fn feed(&mut self, data: &[u8], out: &mut Vec<String>) {
            for &byte in data {
                let (next, is_data) = self.telnet.step(byte);
                self.telnet = next;
                if !is_data {
                    continue;
                }
                if byte == b'\n' {
                    if self.discarding {
                        self.discarding = false;
                    } else {
                        emit(&self.buf, self.max_line, &mut |i| out.push(show(i)));
                    }
                    self.buf.clear();
                } else if self.discarding {
                } else if self.buf.len() > self.max_line {
                    self.buf.clear();
                    self.discarding = true;
                    out.push(show(Input::TooLong));
                } else {
                    self.buf.push(byte);
                }
            }
        }
    }

    fn show(input: Input<'_>) -> String {
        match input {
            Input::Line(l) => format!("line:{l}"),
            other => format!("{other:?}"),
        }
    }

    #[test]
    fn runs_at_a_time_decode_as_bytes_at_a_time_do() {
        // Bytes that matter to the decoder: text, line ends, telnet commands, UTF-8 pieces.
        const ALPHABET: &[u8] = &[
            b'a', b'b', b' ', b'\r', b'\n', b'\n', IAC, SB, SE, WILL, DONT, 1, 0xc3, 0xa9, 0x80,
        ];
        let mut seed = 0x2545_f491_4f6c_dd1d_u64;
        let mut next = |bound: usize| {
            // xorshift64: deterministic, so a failure reproduces.
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % bound as u64) as usize
        };
        for case in 0..20_000 {
            let max_line = next(8);
            let len = next(40);
            let data: Vec<u8> = (0..len).map(|_| ALPHABET[next(ALPHABET.len())]).collect();
            let mut model = ByteAtATime {
                max_line,
                buf: Vec::new(),
                telnet: Telnet::Data,
                discarding: false,
            };
            let mut want = Vec::new();
            model.feed(&data, &mut want);
            // The same bytes, cut into reads at random places.
            let mut decoder = LineDecoder::new(max_line);
            let mut got = Vec::new();
            let mut rest = &data[..];
            while !rest.is_empty() {
                let (read, after) = rest.split_at(1 + next(rest.len()));
                decoder.feed(read, |i| got.push(show(i)));
                rest = after;
            }
            assert_eq!(got, want, "case {case}: max_line {max_line}, {data:?}");
        }
    }

    #[test]
    fn lines_split_across_reads_and_several_in_one_read() {
        assert_eq!(
            decode(
                100,
                &[b"log", b"in al", b"ice\r\nwho", b"ami\nuserlist\r", b"\n"]
            ),
            ["line:login alice", "line:whoami", "line:userlist"]
        );
    }

    #[test]
    fn no_line_until_newline() {
        assert!(decode(100, &[b"partial"]).is_empty());
    }

    #[test]
    fn over_long_line_reported_once_and_discarded_to_newline() {
        let long = vec![b'a'; 50];
        let out = decode(10, &[&long, &long, b"tail\nok\n"]);
        assert_eq!(out, ["TooLong", "line:ok"]);
    }

    #[test]
    fn line_of_exactly_max_bytes_passes_with_crlf() {
        assert_eq!(decode(4, &[b"abcd\r\n"]), ["line:abcd"]);
        assert_eq!(decode(4, &[b"abcde\n"]), ["TooLong"]);
    }

    #[test]
    fn invalid_utf8_is_reported_and_next_line_works() {
        assert_eq!(
            decode(100, &[b"bad \xc3\x28\nfine\n"]),
            ["InvalidUtf8", "line:fine"]
        );
    }

    #[test]
    fn utf8_split_across_reads_is_fine() {
        let s = "héllo\n".as_bytes();
        assert_eq!(decode(100, &[&s[..2], &s[2..]]), ["line:héllo"]);
    }

    #[test]
    fn telnet_negotiation_is_stripped() {
        // IAC DO ECHO, IAC WILL SUPPRESS-GO-AHEAD, IAC SB NAWS ... IAC SE, IAC NOP.
        let mut data = vec![0xFF, 0xFD, 0x01, b'h', 0xFF, 0xFB, 0x03, b'i'];
        data.extend_from_slice(&[0xFF, 0xFA, 0x1F, 0x00, 0x50, 0x00, 0x18, 0xFF, 0xF0]);
        data.extend_from_slice(&[0xFF, 0xF1, b'!', b'\n']);
        assert_eq!(decode(100, &[&data[..4], &data[4..]]), ["line:hi!"]);
    }

    #[test]
    fn a_stray_iac_does_not_swallow_the_next_byte() {
        // 0xFF before a byte that is no telnet command: dropped, the byte kept.
        assert_eq!(decode(100, &[b"\xffwhoami\n"]), ["line:whoami"]);
        assert_eq!(decode(100, &[b"a\xff", b"\nb\n"]), ["line:a", "line:b"]);
    }

    #[test]
    fn a_subnegotiation_left_open_ends_at_a_line_end_or_its_limit() {
        // `IAC SB TTYPE` never ended: what follows up to the line end is lost, not the rest.
        assert_eq!(
            decode(100, &[b"\xff\xfa\x18whoami\n", b"next\n"]),
            ["line:", "line:next"]
        );
        // Without a line end, at most SUB_MAX bytes are taken for it.
        let mut data = vec![IAC, SB];
        data.extend(std::iter::repeat_n(b'x', usize::from(SUB_MAX) + 6));
        data.push(b'\n');
        assert_eq!(decode(100, &[&data]), ["line:xxxxxx"]);
        // A closed one of that size is stripped whole.
        let mut data = vec![IAC, SB];
        data.extend(std::iter::repeat_n(b'x', usize::from(SUB_MAX)));
        data.extend_from_slice(&[IAC, SE, b'o', b'k', b'\n']);
        assert_eq!(decode(100, &[&data]), ["line:ok"]);
    }

    #[test]
    fn telnet_interrupt_mid_line() {
        assert_eq!(decode(100, &[b"ab\xff\xf4cd\n"]), ["line:abcd"]);
    }

    #[test]
    fn frames_split_on_newlines() {
        let mut out = Vec::new();
        split_frame("login a\r\nwhoami\n", 100, |i| out.push(format!("{i:?}")));
        assert_eq!(
            out,
            [r#"Line("login a")"#, r#"Line("whoami")"#, r#"Line("")"#]
        );
        let mut out = Vec::new();
        split_frame(&"x".repeat(20), 10, |i| out.push(i == Input::TooLong));
        assert_eq!(out, [true]);
    }

    #[test]
    fn ascii_and_other_text_are_cleaned_alike() {
        assert_eq!(clean_line("a\x7fb\x1bc\td "), "abc\td");
        assert_eq!(clean_line("é\x7fb\u{85}c\u{9f} "), "ébc");
        assert!(matches!(
            clean_line(" plain ascii "),
            Cow::Borrowed("plain ascii")
        ));
    }

    #[test]
    fn control_characters_removed_and_trimmed() {
        assert_eq!(clean_line("  hi\x1b[31m there\x07 "), "hi[31m there");
        assert_eq!(clean_line("a\tb"), "a\tb");
        assert_eq!(clean_line("x\u{85}y\u{7f}"), "xy");
        assert_eq!(clean_line(" \x1b "), "");
        assert!(matches!(clean_line(" plain "), Cow::Borrowed("plain")));
    }
}
