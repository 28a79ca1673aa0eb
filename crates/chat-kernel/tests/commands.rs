//! Every command of PROTOCOL.md section 2 through the public API, text form.

mod common;

use chat_kernel::{Closing, Flow, Transport};
use common::{Chat, GREETING};

fn login_line(name: &str) -> String {
    format!("[SYSTEM INFO] - [{name}] login to chat.")
}

fn logout_line(name: &str) -> String {
    format!("[SYSTEM INFO] - [{name}] logout from chat.")
}

#[test]
fn greeting_on_connect_names_the_server() {
    let chat = Chat::new();
    let c = chat.try_connect(Transport::Tcp).unwrap();
    assert_eq!(c.take(), [GREETING]);
    let ws = chat.try_connect(Transport::WebSocket).unwrap();
    assert_eq!(ws.take(), [GREETING]);
    assert_eq!(chat.kernel.connections(), 2);
}

#[test]
fn login_is_broadcast_to_every_logged_in_user_the_new_one_too() {
    let chat = Chat::new();
    let alice = chat.login("alice");
    let anon = chat.connect();
    let bob = chat.connect();
    assert_eq!(bob.ask("login bob"), [login_line("bob")]);
    assert_eq!(alice.take(), [login_line("bob")]);
    assert!(anon.take().is_empty(), "anonymous connections hear nothing");
}

#[test]
fn whoami_shows_the_name_as_typed() {
    let chat = Chat::new();
    let c = chat.login("ÁliCe");
    assert_eq!(c.ask("whoami"), ["[INFO] - ÁliCe"]);
}

#[test]
fn names_are_unique_case_insensitively() {
    let chat = Chat::new();
    let _alice = chat.login("Alice");
    let other = chat.connect();
    assert_eq!(
        other.ask("login alice"),
        ["[ERROR] - Username already taken!"]
    );
    assert_eq!(
        other.ask("login ALICE"),
        ["[ERROR] - Username already taken!"]
    );
    // Unicode case folding too.
    let _e = chat.login("Émile");
    assert_eq!(
        other.ask("login émile"),
        ["[ERROR] - Username already taken!"]
    );
}

#[test]
fn command_words_are_case_insensitive_and_may_start_with_a_slash() {
    let chat = Chat::new();
    let c = chat.connect();
    assert_eq!(c.ask("/LOGIN alice"), [login_line("alice")]);
    for line in ["whoami", "WHOAMI", "WhoAmI", "/whoami", "/WhoAmI"] {
        assert_eq!(c.ask(line), ["[INFO] - alice"], "{line}");
    }
    assert_eq!(c.ask("//whoami"), ["[ERROR] - unknown command"]);
    assert_eq!(c.ask("/MsgAll hi"), ["[T][alice]: hi"]);
}

#[test]
fn leading_and_trailing_spaces_are_trimmed_and_empty_lines_ignored() {
    let chat = Chat::new();
    let c = chat.login("alice");
    assert!(c.ask("").is_empty());
    assert!(c.ask("    ").is_empty());
    assert!(c.ask("\x07\x1b").is_empty(), "only control characters");
    assert_eq!(c.ask("   whoami   "), ["[INFO] - alice"]);
}

#[test]
fn msg_goes_to_target_and_sender_with_text_kept_exactly() {
    let chat = Chat::new();
    let alice = chat.login("alice");
    let bob = chat.login("Bob");
    let carol = chat.login("carol");
    alice.take();
    bob.take();
    alice.send("msg bob   hi   there  ");
    let want = ["[T][alice][->][Bob]: hi   there"];
    assert_eq!(alice.take_norm(), want);
    assert_eq!(bob.take_norm(), want);
    assert!(
        carol.take().is_empty(),
        "a private message reaches nobody else"
    );
}

#[test]
fn msg_to_self_is_delivered_once() {
    let chat = Chat::new();
    let alice = chat.login("alice");
    assert_eq!(alice.ask("msg ALICE note"), ["[T][alice][->][alice]: note"]);
}

#[test]
fn msg_to_an_offline_user_is_not_found_as_written() {
    let chat = Chat::new();
    let alice = chat.login("alice");
    assert_eq!(alice.ask("msg Bob hi"), ["[ERROR] - [Bob] not found!"]);
    let bob = chat.login("bob");
    bob.send("logout");
    alice.take();
    assert_eq!(alice.ask("msg bob hi"), ["[ERROR] - [bob] not found!"]);
}

#[test]
fn msgall_reaches_every_logged_in_user_sender_too() {
    let chat = Chat::new();
    let alice = chat.login("alice");
    let bob = chat.login("bob");
    let anon = chat.connect();
    alice.take();
    alice.send("msgall  hello   world");
    assert_eq!(alice.take_norm(), ["[T][alice]: hello   world"]);
    assert_eq!(bob.take_norm(), ["[T][alice]: hello   world"]);
    assert!(anon.take().is_empty());
}

#[test]
fn chat_line_time_is_hh_mm_ss() {
    let chat = Chat::new();
    let alice = chat.login("alice");
    alice.send("msgall x");
    let line = alice.take().remove(0);
    let now = chrono::Local::now();
    let b = line.as_bytes();
    assert_eq!(b[0], b'[');
    assert_eq!(&line[9..], "][alice]: x");
    let t = chrono::NaiveTime::parse_from_str(&line[1..9], "%H:%M:%S").unwrap();
    let diff = (now.time() - t).num_seconds().abs();
    assert!(diff <= 5 || diff >= 86_395, "{line} vs {now}");
}

#[test]
fn control_characters_are_removed_from_what_others_see() {
    let chat = Chat::new();
    let alice = chat.login("alice");
    let bob = chat.login("bob");
    alice.take();
    alice.send("msgall hi\x1b[31m red\x07\u{9b} \tend");
    assert_eq!(bob.take_norm(), ["[T][alice]: hi[31m red \tend"]);
}

#[test]
fn userlist_is_in_login_order() {
    let chat = Chat::new();
    let zed = chat.login("zed");
    let _amy = chat.login("amy");
    let _mo = chat.login("Mo");
    assert_eq!(zed.take().len(), 2);
    assert_eq!(zed.ask("userlist"), ["[INFO] - [zed, amy, Mo]"]);
    let _anon = chat.connect();
    assert_eq!(zed.ask("userlist"), ["[INFO] - [zed, amy, Mo]"]);
}

#[test]
fn help_names_every_command() {
    let chat = Chat::new();
    let anon = chat.connect();
    let help = anon.ask("help");
    assert!(!help.is_empty());
    assert!(help.iter().all(|l| l.starts_with("[INFO] - ")), "{help:?}");
    let all = help.join("\n");
    for cmd in [
        "login", "register", "msg", "msgall", "join", "left", "leave", "rooms", "history",
        "whoami", "userlist", "format", "help", "debug", "logout",
    ] {
        assert!(
            all.split(|c: char| !c.is_ascii_alphanumeric())
                .any(|w| w == cmd),
            "help lacks {cmd}: {all}"
        );
    }
    let alice = chat.login("alice");
    assert_eq!(alice.ask("/HELP"), help);
}

#[test]
fn debug_answers_the_client() {
    let chat = Chat::new();
    let alice = chat.login("alice");
    assert_eq!(alice.ask("debug"), ["[INFO] - debug printed on server"]);
}

#[test]
fn format_alone_names_the_current_form() {
    let chat = Chat::new();
    let anon = chat.connect();
    assert_eq!(anon.ask("format"), ["[INFO] - format text"]);
    assert_eq!(anon.ask("format TEXT"), ["[INFO] - format text"]);
}

#[test]
fn logout_is_seen_by_everyone_then_the_connection_closes() {
    let chat = Chat::new();
    let alice = chat.login("alice");
    let bob = chat.login("bob");
    alice.take();
    assert_eq!(bob.send("logout"), Flow::Close);
    assert_eq!(bob.take(), [logout_line("bob")]);
    assert_eq!(alice.take(), [logout_line("bob")]);
    assert_eq!(bob.closing(), Some(Closing::Flush));
    let mut batch = Vec::new();
    assert_eq!(bob.outbox.try_batch(&mut batch), Some(false));
    assert_eq!(alice.ask("userlist"), ["[INFO] - [alice]"]);
    assert_eq!(chat.kernel.connections(), 1);
    // Input after the close is ignored, and the name is free again.
    assert_eq!(bob.send("whoami"), Flow::Close);
    let again = chat.login("BOB");
    assert_eq!(again.ask("whoami"), ["[INFO] - BOB"]);
}

#[test]
fn disconnect_is_a_logout_for_the_others() {
    let chat = Chat::new();
    let alice = chat.login("alice");
    let bob = chat.login("bob");
    alice.take();
    bob.disconnect();
    assert_eq!(alice.take(), [logout_line("bob")]);
    // The queue is closed after what it holds, so a half-closed client still gets its replies.
    assert_eq!(bob.closing(), Some(Closing::Flush));
    assert_eq!(alice.ask("userlist"), ["[INFO] - [alice]"]);
    // A second disconnect of the same connection is harmless.
    bob.disconnect();
    assert!(alice.take().is_empty());
}

#[test]
fn anonymous_disconnect_is_silent() {
    let chat = Chat::new();
    let alice = chat.login("alice");
    let anon = chat.connect();
    anon.disconnect();
    assert!(alice.take().is_empty());
    assert_eq!(chat.kernel.connections(), 1);
}

#[test]
fn original_session() {
    // The original's telnet walk-through: errors, login, duplicate name, msg, msgall,
    // whoami, userlist, logout.
    let chat = Chat::new();
    let a = chat.connect();
    assert_eq!(a.ask("hello"), ["[ERROR] - unknown command"]);
    assert_eq!(a.ask("whoami"), ["[ERROR] - First login!"]);
    assert_eq!(a.ask("login"), ["[ERROR] - require username"]);
    assert_eq!(a.ask("login a b c"), ["[ERROR] - overage info"]);
    assert_eq!(a.ask("login user1"), [login_line("user1")]);
    assert_eq!(a.ask("login user1"), ["[ERROR] - Already login!"]);
    let b = chat.connect();
    assert_eq!(b.ask("login user1"), ["[ERROR] - Username already taken!"]);
    assert_eq!(b.ask("login user2"), [login_line("user2")]);
    assert_eq!(a.take(), [login_line("user2")]);
    b.send("msg user1 hello");
    assert_eq!(a.take_norm(), ["[T][user2][->][user1]: hello"]);
    assert_eq!(b.take_norm(), ["[T][user2][->][user1]: hello"]);
    a.send("msgall hi all");
    assert_eq!(b.take_norm(), ["[T][user1]: hi all"]);
    assert_eq!(a.take_norm(), ["[T][user1]: hi all"]);
    assert_eq!(a.ask("userlist"), ["[INFO] - [user1, user2]"]);
    assert_eq!(b.ask("logout"), [logout_line("user2")]);
    assert_eq!(a.take(), [logout_line("user2")]);
}

#[test]
fn userlist_order_follows_the_latest_login() {
    let chat = Chat::new();
    let a = chat.login("a");
    let b = chat.login("b");
    let _c = chat.login("c");
    a.send("logout");
    let a = chat.login("a");
    b.take();
    assert_eq!(b.ask("userlist"), ["[INFO] - [b, c, a]"]);
    assert_eq!(a.ask("userlist"), ["[INFO] - [b, c, a]"]);
}
