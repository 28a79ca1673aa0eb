//! End-to-end: rooms and history across the three TCP runtimes of one `bind tcp_all` process
//! (one shared kernel), over real sockets, against the real binary.

#[allow(unused_macros, unused_imports)] // per_runtime! is not used here.
mod common;

use common::*;

/// `bind tcp_all` on free ports, memory store, no colour: tokio_chat, async_std_chat, smol_chat.
fn bind_tcp_all() -> Server {
    Server::start(
        &[
            "bind",
            "tcp_all",
            "--base-port",
            "0",
            "--store",
            "memory",
            "--no-color",
        ],
        3,
    )
}

/// Logs `name` in on server `on`; every client in `others` (already logged in) sees the login.
fn login(server: &Server, on: &str, name: &str, others: &mut [&mut Client]) -> Client {
    let client = server.login_on(on, name);
    for other in others.iter_mut() {
        other.expect_line(&format!("[SYSTEM INFO] - [{name}] login to chat."));
    }
    client
}

/// Proves `client` got nothing else so far: its `whoami` reply is the next line it reads.
/// (The kernel queues replies in order, so anything sent to it earlier would come first.)
fn nothing_pending(client: &mut Client, name: &str) {
    client.send("whoami");
    client.expect_line(&format!("[INFO] - {name}"));
}

#[test]
fn room_conversation_across_runtimes() {
    let server = bind_tcp_all();
    let mut alice = login(&server, "tokio_chat", "alice", &mut []);
    let mut bob = login(&server, "async_std_chat", "bob", &mut [&mut alice]);
    let mut carol = login(&server, "smol_chat", "carol", &mut [&mut alice, &mut bob]);

    // join creates the room; its name is shown as spelled at creation.
    alice.send("join #Rust");
    alice.expect_line("[SYSTEM INFO] - [alice] joined #Rust.");
    bob.send("/JOIN #rust");
    bob.expect_line("[SYSTEM INFO] - [bob] joined #Rust.");
    alice.expect_line("[SYSTEM INFO] - [bob] joined #Rust.");
    bob.send("join #RUST");
    bob.expect_line("[INFO] - already in #Rust");
    nothing_pending(&mut carol, "carol");

    // A room message reaches the members only, spacing kept.
    alice.send("msg #rust hello   room");
    let hello = alice.expect_chat("[#Rust][alice]: hello   room");
    assert_eq!(bob.read_line(), hello);
    nothing_pending(&mut carol, "carol");

    // A non-member cannot talk to a room, whether it exists or not.
    carol.send("msg #Rust let me in");
    carol.expect_line("[ERROR] - not in #Rust");
    carol.send("msg #nowhere anyone?");
    carol.expect_line("[ERROR] - not in #nowhere");
    carol.send("join rust");
    carol.expect_line("[ERROR] - invalid room name");
    nothing_pending(&mut alice, "alice");
    nothing_pending(&mut bob, "bob");

    // rooms: member counts, sorted by name (case-insensitively).
    carol.send("rooms");
    carol.expect_line("[INFO] - [#Rust (2)]");
    carol.send("join #go");
    carol.expect_line("[SYSTEM INFO] - [carol] joined #go.");
    carol.send("msg #GO gophers");
    let gophers = carol.expect_chat("[#go][carol]: gophers");
    alice.send("rooms");
    alice.expect_line("[INFO] - [#go (1), #Rust (2)]");

    // left / leave: members (the leaver too) see it; then the leaver hears the room no more.
    bob.send("leave #RUST");
    bob.expect_line("[SYSTEM INFO] - [bob] left #Rust.");
    alice.expect_line("[SYSTEM INFO] - [bob] left #Rust.");
    bob.send("left #rust");
    bob.expect_line("[ERROR] - not in #Rust");
    bob.send("left #nosuch");
    bob.expect_line("[ERROR] - [#nosuch] not found!");
    bob.send("left");
    bob.expect_line("[ERROR] - require room");
    alice.send("msg #rust after bob");
    let after_bob = alice.expect_chat("[#Rust][alice]: after bob");
    nothing_pending(&mut bob, "bob");
    bob.send("rooms");
    bob.expect_line("[INFO] - [#go (1), #Rust (1)]");

    // Joining a room with history replays it to the joiner only.
    bob.send("join #go");
    bob.expect_line("[SYSTEM INFO] - [bob] joined #go.");
    carol.expect_line("[SYSTEM INFO] - [bob] joined #go.");
    assert_eq!(bob.read_line(), gophers);
    bob.expect_line("[INFO] - end of history");
    carol.send("join #rust");
    carol.expect_line("[SYSTEM INFO] - [carol] joined #Rust.");
    alice.expect_line("[SYSTEM INFO] - [carol] joined #Rust.");
    assert_eq!(carol.read_line(), hello);
    assert_eq!(carol.read_line(), after_bob);
    carol.expect_line("[INFO] - end of history");
    nothing_pending(&mut alice, "alice");
    nothing_pending(&mut bob, "bob");

    // A disconnect leaves every room silently: members see only the logout line.
    drop(carol);
    alice.expect_line("[SYSTEM INFO] - [carol] logout from chat.");
    bob.expect_line("[SYSTEM INFO] - [carol] logout from chat.");
    nothing_pending(&mut alice, "alice");
    nothing_pending(&mut bob, "bob");
    alice.send("rooms");
    alice.expect_line("[INFO] - [#go (1), #Rust (1)]");

    // A logout too: the room members see the logout line and nothing else.
    bob.send("logout");
    bob.expect_line("[SYSTEM INFO] - [bob] logout from chat.");
    bob.expect_closed();
    alice.expect_line("[SYSTEM INFO] - [bob] logout from chat.");
    nothing_pending(&mut alice, "alice");
    // #go has stored history, so it outlives its members.
    alice.send("rooms");
    alice.expect_line("[INFO] - [#go (0), #Rust (1)]");
    alice.send("msg #go anyone?");
    alice.expect_line("[ERROR] - not in #go");
}

#[test]
fn join_replays_the_last_ten_lines_and_history_reads_rooms_and_msgall() {
    let server = bind_tcp_all();
    let mut alice = login(&server, "tokio_chat", "alice", &mut []);
    let mut bob = login(&server, "smol_chat", "bob", &mut [&mut alice]);

    alice.send("join #Talk");
    alice.expect_line("[SYSTEM INFO] - [alice] joined #Talk.");
    // Twelve messages, sent in one write.
    let burst: String = (1..=12).map(|i| format!("msg #talk m{i}\r\n")).collect();
    alice.send_raw(burst.as_bytes());
    let live: Vec<String> = (1..=12)
        .map(|i| alice.expect_chat(&format!("[#Talk][alice]: m{i}")))
        .collect();

    // history of a room: anyone may read it (rooms are public), with the original times.
    bob.send("history #talk 3");
    for line in &live[9..] {
        bob.expect_line(line);
    }
    bob.expect_line("[INFO] - end of history");
    bob.send("history #TALK");
    for line in &live {
        bob.expect_line(line);
    }
    bob.expect_line("[INFO] - end of history");
    bob.send("history #talk 500");
    for line in &live {
        bob.expect_line(line);
    }
    bob.expect_line("[INFO] - end of history");
    bob.send("history #nope");
    bob.expect_line("[ERROR] - [#nope] not found!");
    bob.send("history #talk 0");
    bob.expect_line("[ERROR] - invalid number");

    // join replays the last 10 lines, then `end of history`, to the joiner only.
    bob.send("join #TALK");
    bob.expect_line("[SYSTEM INFO] - [bob] joined #Talk.");
    alice.expect_line("[SYSTEM INFO] - [bob] joined #Talk.");
    for line in &live[2..] {
        bob.expect_line(line);
    }
    bob.expect_line("[INFO] - end of history");
    nothing_pending(&mut alice, "alice");

    // history without a room: msgall's; private messages are never part of it.
    bob.send("history");
    bob.expect_line("[INFO] - end of history");
    alice.send("msgall first");
    let first = alice.expect_chat("[alice]: first");
    assert_eq!(bob.read_line(), first);
    bob.send("msgall second");
    let second = bob.expect_chat("[bob]: second");
    assert_eq!(alice.read_line(), second);
    alice.send("msg bob psst");
    let psst = alice.expect_chat("[alice][->][bob]: psst");
    assert_eq!(bob.read_line(), psst);
    bob.send("history");
    bob.expect_lines(&[&first, &second, "[INFO] - end of history"]);
    bob.send("history 1");
    bob.expect_lines(&[&second, "[INFO] - end of history"]);

    // JSON form: live lines have no `history`, replayed ones carry `"history":true` and the
    // same time as when they were live.
    bob.send("format json");
    bob.expect_line(r#"{"type":"info","text":"format json"}"#);
    alice.send("msg #talk live one");
    alice.expect_chat("[#Talk][alice]: live one");
    let live_json = bob.expect_matching("a live JSON room message", |l| {
        json_message(l).is_some_and(|(_, rest)| {
            rest == r##""from":"alice","room":"#Talk","text":"live one"}"##
        })
    });
    bob.send("history #talk 2");
    let m12 = bob.expect_matching("a replayed JSON room message", |l| {
        json_message(l).is_some_and(|(_, rest)| {
            rest == r##""from":"alice","room":"#Talk","text":"m12","history":true}"##
        })
    });
    bob.expect_line(&replayed(&live_json));
    bob.expect_line(r#"{"type":"info","text":"end of history"}"#);
    bob.send("history 1");
    bob.expect_matching("a replayed JSON msgall", |l| {
        json_message(l)
            .is_some_and(|(_, rest)| rest == r#""from":"bob","text":"second","history":true}"#)
    });
    bob.expect_line(r#"{"type":"info","text":"end of history"}"#);

    // A third runtime joins in JSON: the replay carries `"history":true` too.
    let mut carol = server.client_on("async_std_chat");
    carol.send("format json");
    carol.expect_line(r#"{"type":"info","text":"format json"}"#);
    carol.send("login carol");
    carol.expect_line(r#"{"type":"login","user":"carol"}"#);
    alice.expect_line("[SYSTEM INFO] - [carol] login to chat.");
    bob.expect_line(r#"{"type":"login","user":"carol"}"#);
    carol.send("join #talk");
    carol.expect_line(r##"{"type":"join","user":"carol","room":"#Talk"}"##);
    alice.expect_line("[SYSTEM INFO] - [carol] joined #Talk.");
    bob.expect_line(r##"{"type":"join","user":"carol","room":"#Talk"}"##);
    // The last ten: m4..m12, then "live one".
    for i in 4..=12 {
        let line = carol.read_line();
        let (_, rest) = json_message(&line).unwrap_or_else(|| panic!("not a message: {line}"));
        assert_eq!(
            rest,
            format!(r##""from":"alice","room":"#Talk","text":"m{i}","history":true}}"##)
        );
        if i == 12 {
            assert_eq!(line, m12, "replayed twice, the same time");
        }
    }
    carol.expect_line(&replayed(&live_json));
    carol.expect_line(r#"{"type":"info","text":"end of history"}"#);
}

/// Splits `{"type":"message","time":"<RFC 3339 UTC>",<rest>` into its time and rest; `None` if
/// the line is not a JSON message or its time is not RFC 3339 UTC with milliseconds.
fn json_message(line: &str) -> Option<(&str, &str)> {
    let rest = line.strip_prefix(r#"{"type":"message","time":""#)?;
    let (time, rest) = rest.split_once("\",")?;
    let b = time.as_bytes();
    let shape = b.len() == 24
        && b[4] == b'-'
        && b[7] == b'-'
        && b[10] == b'T'
        && b[13] == b':'
        && b[16] == b':'
        && b[19] == b'.'
        && b[23] == b'Z';
    shape.then_some((time, rest))
}

/// A live JSON message line as it reads when replayed: `"history":true` added at the end.
fn replayed(live: &str) -> String {
    let body = live.strip_suffix('}').expect("a JSON object");
    format!(r#"{body},"history":true}}"#)
}
