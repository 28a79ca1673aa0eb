//! End to end over TCP, on each runtime: the framing rules of PROTOCOL.md section 1 (partial
//! lines, several lines per write, line ends, the line limit, invalid UTF-8, control characters,
//! telnet negotiation, empty lines).

mod common;

use common::{Server, per_runtime};

/// Lines split across writes and several lines in one write; `\n` and `\r\n` both end a line.
fn partial_and_batched_lines(server_name: &str) {
    let server = Server::chat(server_name, &[]);
    let mut alice = server.client();
    // The first write ends in half a command; the reply to `whoami` proves the server has read
    // that write, so the rest of the command arrives in another read.
    alice.send_raw(b"whoami\r\nlog");
    alice.expect_line("[ERROR] - First login!");
    alice.send_raw(b"in al");
    alice.send_raw(b"ice\r\nwhoami\nmsgall one\r\nmsgall two\nuserl");
    alice.expect_line("[SYSTEM INFO] - [alice] login to chat.");
    alice.expect_line("[INFO] - alice");
    alice.expect_chat("[alice]: one");
    alice.expect_chat("[alice]: two");
    alice.send_raw(b"ist\n");
    alice.expect_line("[INFO] - [alice]");
    // A multi-byte character split between writes.
    let text = "msgall héllo\r\n".as_bytes();
    alice.send_raw(&text[..9]);
    alice.send_raw(&text[9..]);
    alice.expect_chat("[alice]: héllo");
}

/// A line over `--max-line` gets one `line too long`, the rest of it is dropped, and the
/// connection stays usable; a line of exactly the limit passes.
fn line_too_long(server_name: &str) {
    let server = Server::chat(server_name, &["--max-line", "64"]);
    let mut alice = server.login("alice");

    let long = format!("msgall {}\r\n", "x".repeat(200));
    alice.send_raw(long.as_bytes());
    alice.expect_line("[ERROR] - line too long");
    alice.send("whoami");
    alice.expect_line("[INFO] - alice");

    // Over the limit across several writes: still one error, then the next line works.
    let chunk = "y".repeat(50);
    alice.send_raw(b"msgall ");
    alice.send_raw(chunk.as_bytes());
    alice.send_raw(chunk.as_bytes());
    alice.send_raw(chunk.as_bytes());
    alice.send_raw(b"\r\nwhoami\r\n");
    alice.expect_line("[ERROR] - line too long");
    alice.expect_line("[INFO] - alice");

    // Exactly 64 bytes (line end excluded) is accepted, with `\r\n` and with `\n`.
    let exact = format!("msgall {}", "z".repeat(64 - 7));
    assert_eq!(exact.len(), 64);
    alice.send(&exact);
    alice.expect_chat(&format!("[alice]: {}", "z".repeat(57)));
    alice.send_raw(format!("{exact}\n").as_bytes());
    alice.expect_chat(&format!("[alice]: {}", "z".repeat(57)));
    alice.send_raw(format!("{exact}z\n").as_bytes());
    alice.expect_line("[ERROR] - line too long");
    alice.send("whoami");
    alice.expect_line("[INFO] - alice");
}

/// A line that is not UTF-8 gets `invalid UTF-8` and is dropped; the next line works.
fn invalid_utf8(server_name: &str) {
    let server = Server::chat(server_name, &[]);
    let mut alice = server.login("alice");
    alice.send_raw(b"msgall bad \xc3\x28 bytes\r\nwhoami\r\n");
    alice.expect_line("[ERROR] - invalid UTF-8");
    alice.expect_line("[INFO] - alice");
    alice.send_raw(b"\xff\xfe\xfd\n");
    // 0xFF starts a telnet command: `\xff\xfe\xfd` is IAC DONT <option>, stripped, so the
    // line is empty and ignored; a lone invalid byte is not.
    alice.send_raw(b"\x80\n");
    alice.expect_line("[ERROR] - invalid UTF-8");
    alice.send("whoami");
    alice.expect_line("[INFO] - alice");
}

/// Control characters (C0 but TAB, DEL, C1) never reach another user: an ESC sequence sent to
/// bob arrives without its ESC.
fn control_characters_stripped(server_name: &str) {
    let server = Server::chat(server_name, &[]);
    let mut alice = server.login("alice");
    let mut bob = server.login("bob");
    alice.expect_line("[SYSTEM INFO] - [bob] login to chat.");

    alice.send_raw(
        "msg bob \x1b[2J\x1b[31mred\x1b[0m\x07 bell\x7f c1:\u{85}\u{9b}end\ttab\r\n".as_bytes(),
    );
    let line = bob.expect_chat("[alice][->][bob]: [2J[31mred[0m bell c1:end\ttab");
    assert!(!line.contains('\x1b'), "{line:?}");
    alice.expect_chat("[alice][->][bob]: [2J[31mred[0m bell c1:end\ttab");

    // Controls in a command word are removed before parsing, too.
    alice.send_raw(b"who\x1bami\r\n");
    alice.expect_line("[INFO] - alice");
}

/// Telnet option negotiation (IAC sequences) is stripped before parsing.
fn telnet_negotiation_stripped(server_name: &str) {
    let server = Server::chat(server_name, &[]);
    let mut alice = server.client();
    // What a telnet client sends first: IAC DO SUPPRESS-GO-AHEAD, IAC WILL TERMINAL-TYPE,
    // IAC WILL NAWS, then NAWS subnegotiation, around and inside a command.
    let mut bytes = vec![0xFF, 0xFD, 0x03, 0xFF, 0xFB, 0x18];
    bytes.extend_from_slice(b"log");
    bytes.extend_from_slice(&[0xFF, 0xFB, 0x1F]);
    bytes.extend_from_slice(b"in ali");
    bytes.extend_from_slice(&[0xFF, 0xFA, 0x1F, 0x00, 0x50, 0x00, 0x18, 0xFF, 0xF0]);
    bytes.extend_from_slice(b"ce\r\n");
    alice.send_raw(&bytes[..5]);
    alice.send_raw(&bytes[5..]);
    alice.expect_line("[SYSTEM INFO] - [alice] login to chat.");
    // IAC NOP and IAC AYT mid-line.
    alice.send_raw(b"who\xff\xf1am\xff\xf6i\r\n");
    alice.expect_line("[INFO] - alice");
}

/// Empty lines (also after stripping controls and spaces) get no reply and do not count
/// toward the flood limit.
fn empty_lines_ignored(server_name: &str) {
    let server = Server::chat(server_name, &["--flood-burst", "3", "--flood-rate", "0.01"]);
    let mut alice = server.client();
    alice.send_raw(b"\r\n\n   \r\n\t\n\x1b\x07\r\n\n\n\n\n\n\nlogin alice\r\n");
    alice.expect_line("[SYSTEM INFO] - [alice] login to chat.");
    alice.send_raw(b"\n\n\n\n\n\n\n\nwhoami\r\n\r\n\r\n  \r\nwhoami\n");
    alice.expect_line("[INFO] - alice");
    alice.expect_line("[INFO] - alice");
    // The bucket (3) is now empty: the next command is dropped.
    alice.send("whoami");
    alice.expect_line("[ERROR] - too many requests");
}

per_runtime!(
    partial_and_batched_lines,
    line_too_long,
    invalid_utf8,
    control_characters_stripped,
    telnet_negotiation_stripped,
    empty_lines_ignored,
);
