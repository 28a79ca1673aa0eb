//! Rooms: join, left/leave, msg #room, rooms, replay on join, and leaving on logout.

mod common;

use common::Chat;
use serde_json::json;

fn joined(user: &str, room: &str) -> String {
    format!("[SYSTEM INFO] - [{user}] joined {room}.")
}

fn left(user: &str, room: &str) -> String {
    format!("[SYSTEM INFO] - [{user}] left {room}.")
}

#[test]
fn join_creates_a_room_without_history_lines() {
    let chat = Chat::new();
    let alice = chat.login("alice");
    assert_eq!(alice.ask("join #Rust"), [joined("alice", "#Rust")]);
    assert_eq!(alice.ask("rooms"), ["[INFO] - [#Rust (1)]"]);
}

#[test]
fn join_is_seen_by_every_member_with_the_room_as_created() {
    let chat = Chat::new();
    let alice = chat.login("alice");
    let bob = chat.login("bob");
    let carol = chat.login("carol");
    alice.ask("join #Rust");
    alice.take();
    bob.take();
    assert_eq!(bob.ask("join #rust"), [joined("bob", "#Rust")]);
    assert_eq!(alice.take(), [joined("bob", "#Rust")]);
    assert!(carol.take().is_empty(), "non-members see no join");
    assert_eq!(alice.ask("rooms"), ["[INFO] - [#Rust (2)]"]);
}

#[test]
fn already_in_a_room() {
    let chat = Chat::new();
    let alice = chat.login("alice");
    alice.ask("join #Rust");
    assert_eq!(alice.ask("join #RUST"), ["[INFO] - already in #Rust"]);
    assert_eq!(alice.ask("rooms"), ["[INFO] - [#Rust (1)]"]);
}

#[test]
fn room_messages_reach_members_only() {
    let chat = Chat::new();
    let alice = chat.login("alice");
    let bob = chat.login("bob");
    let carol = chat.login("carol");
    alice.ask("join #rust");
    bob.ask("join #RUST");
    alice.take();
    carol.take();
    alice.send("msg #Rust  hello   room");
    assert_eq!(alice.take_norm(), ["[T][#rust][alice]: hello   room"]);
    assert_eq!(bob.take_norm(), ["[T][#rust][alice]: hello   room"]);
    assert!(carol.take().is_empty());
    assert_eq!(carol.ask("msg #rust hi"), ["[ERROR] - not in #rust"]);
    assert!(alice.take().is_empty() && bob.take().is_empty());
}

#[test]
fn left_and_leave() {
    let chat = Chat::new();
    let alice = chat.login("alice");
    let bob = chat.login("bob");
    alice.ask("join #Rust");
    bob.ask("join #rust");
    alice.take();
    assert_eq!(bob.ask("left #rust"), [left("bob", "#Rust")]);
    assert_eq!(alice.take(), [left("bob", "#Rust")]);
    assert_eq!(bob.ask("left #rust"), ["[ERROR] - not in #Rust"]);
    assert_eq!(bob.ask("msg #rust hi"), ["[ERROR] - not in #Rust"]);
    assert_eq!(alice.ask("rooms"), ["[INFO] - [#Rust (1)]"]);
    bob.ask("join #rust");
    alice.take();
    assert_eq!(bob.ask("/LEAVE #RUST"), [left("bob", "#Rust")]);
    assert_eq!(alice.take(), [left("bob", "#Rust")]);
    // The last member leaves a room without history: it is gone.
    assert_eq!(alice.ask("leave #rust"), [left("alice", "#Rust")]);
    assert_eq!(alice.ask("rooms"), ["[INFO] - []"]);
    assert_eq!(alice.ask("left #rust"), ["[ERROR] - [#rust] not found!"]);
    // Re-created with another spelling: shown as the new creator spelled it.
    assert_eq!(alice.ask("join #RUST"), [joined("alice", "#RUST")]);
}

#[test]
fn rooms_sorted_by_name_with_member_counts() {
    let chat = Chat::new();
    let a = chat.login("a");
    let b = chat.login("b");
    let c = chat.login("c");
    for room in ["#rust", "#go", "#Alpha"] {
        a.ask(&format!("join {room}"));
    }
    b.ask("join #rust");
    c.ask("join #rust");
    c.ask("join #zig");
    a.take();
    assert_eq!(
        a.ask("rooms"),
        ["[INFO] - [#Alpha (1), #go (1), #rust (3), #zig (1)]"]
    );
    assert_eq!(
        a.ask_json("format json"),
        [json!({"type":"info","text":"format json"})]
    );
    assert_eq!(
        a.ask_json("rooms"),
        [json!({"type":"rooms","rooms":[
            {"name":"#Alpha","members":1},
            {"name":"#go","members":1},
            {"name":"#rust","members":3},
            {"name":"#zig","members":1}
        ]})]
    );
}

#[test]
fn a_room_with_history_but_no_members_is_still_listed() {
    let chat = Chat::new();
    let alice = chat.login("alice");
    alice.ask("join #Rust");
    alice.ask("msg #rust kept");
    alice.ask("left #rust");
    assert_eq!(alice.ask("rooms"), ["[INFO] - [#Rust (0)]"]);
    // Still a room: history works, left says "not in", and join replays.
    assert_eq!(
        alice.ask("history #rust"),
        ["[T][#Rust][alice]: kept", "[INFO] - end of history"]
    );
    assert_eq!(alice.ask("left #rust"), ["[ERROR] - not in #Rust"]);
    assert_eq!(
        alice.ask("join #RUST"),
        [
            joined("alice", "#Rust"),
            "[T][#Rust][alice]: kept".to_owned(),
            "[INFO] - end of history".to_owned()
        ]
    );
}

#[test]
fn join_replays_the_last_ten_lines_then_end_of_history() {
    let chat = Chat::new();
    let alice = chat.login("alice");
    let bob = chat.login("bob");
    alice.ask("join #rust");
    for i in 1..=12 {
        alice.ask(&format!("msg #rust line {i}"));
    }
    bob.take();
    let mut want = vec![joined("bob", "#rust")];
    want.extend((3..=12).map(|i| format!("[T][#rust][alice]: line {i}")));
    want.push("[INFO] - end of history".to_owned());
    assert_eq!(bob.ask("join #rust"), want);
    // Members already in see only the join line.
    assert_eq!(alice.take(), [joined("bob", "#rust")]);
}

#[test]
fn join_replay_in_json_is_marked_history() {
    let chat = Chat::new();
    let alice = chat.login("alice");
    let bob = chat.login("bob");
    alice.ask("join #rust");
    alice.ask("format json");
    let live = alice.ask_json("msg #rust one");
    assert_eq!(live[0]["text"], "one");
    assert!(
        live[0].get("history").is_none(),
        "live lines are not marked"
    );
    bob.ask("format json");
    let got = bob.ask_json("join #rust");
    assert_eq!(got.len(), 3, "{got:?}");
    assert_eq!(got[0], json!({"type":"join","user":"bob","room":"#rust"}));
    assert_eq!(
        got[1],
        json!({"type":"message","time":live[0]["time"],"from":"alice","room":"#rust","text":"one","history":true})
    );
    assert_eq!(got[2], json!({"type":"info","text":"end of history"}));
}

#[test]
fn logout_leaves_rooms_silently() {
    let chat = Chat::new();
    let alice = chat.login("alice");
    let bob = chat.login("bob");
    alice.ask("join #rust");
    bob.ask("join #rust");
    alice.ask("join #go");
    bob.take();
    alice.send("logout");
    assert_eq!(
        bob.take(),
        ["[SYSTEM INFO] - [alice] logout from chat."],
        "members see only the logout line"
    );
    assert_eq!(bob.ask("rooms"), ["[INFO] - [#rust (1)]"]);
    // Logging in again does not put the name back in its rooms.
    let alice = chat.login("alice");
    assert_eq!(alice.ask("msg #rust hi"), ["[ERROR] - not in #rust"]);
}

#[test]
fn disconnect_leaves_rooms_silently() {
    let chat = Chat::new();
    let alice = chat.login("alice");
    let bob = chat.login("bob");
    alice.ask("join #rust");
    bob.ask("join #rust");
    alice.ask("msg #rust kept");
    bob.take();
    alice.disconnect();
    assert_eq!(bob.take(), ["[SYSTEM INFO] - [alice] logout from chat."]);
    assert_eq!(bob.ask("rooms"), ["[INFO] - [#rust (1)]"]);
    bob.disconnect();
    let carol = chat.login("carol");
    assert_eq!(
        carol.ask("rooms"),
        ["[INFO] - [#rust (0)]"],
        "history keeps it"
    );
}

#[test]
fn history_of_a_room_needs_no_membership() {
    let chat = Chat::new();
    let alice = chat.login("alice");
    let bob = chat.login("bob");
    alice.ask("join #rust");
    alice.ask("msg #rust a");
    alice.ask("msg #rust b");
    assert_eq!(
        bob.ask("history #RUST"),
        [
            "[T][#rust][alice]: a",
            "[T][#rust][alice]: b",
            "[INFO] - end of history"
        ]
    );
    // A room with members and no history: only the end line.
    alice.ask("join #quiet");
    assert_eq!(bob.ask("history #quiet"), ["[INFO] - end of history"]);
    assert_eq!(bob.ask("history #none"), ["[ERROR] - [#none] not found!"]);
}

#[test]
fn a_newcomer_in_a_gone_members_place_hears_only_what_it_joined() {
    // The registry reuses a closed connection's record slot; broadcasts reach members through
    // their slots, so the room and the login order must not still hold the one who left.
    let chat = Chat::new();
    let alice = chat.login("alice");
    let bob = chat.login("bob");
    bob.ask("join #Rust");
    alice.take();
    bob.disconnect();
    alice.take();
    let carol = chat.connect(); // takes bob's slot, not logged in, in no room
    carol.take();
    alice.ask("join #Rust");
    alice.send("msg #Rust only alice");
    alice.send("msgall everyone");
    assert!(
        carol.take().is_empty(),
        "carol is not logged in and in no room"
    );
    alice.take();
    assert_eq!(alice.ask("rooms"), ["[INFO] - [#Rust (1)]"]);
    // Logged in, carol hears the broadcast and, once joined, the room.
    carol.send("login carol");
    carol.take();
    alice.send("msgall hi carol");
    assert_eq!(carol.take_norm(), ["[T][alice]: hi carol"]);
    carol.ask("join #Rust");
    alice.take();
    alice.send("msg #Rust hi room");
    assert_eq!(carol.take_norm(), ["[T][#Rust][alice]: hi room"]);
}
