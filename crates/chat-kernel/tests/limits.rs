//! Transports and limits: WebSocket frames, TCP bytes through the line decoder, the flood limit,
//! the connection limit, slow clients whose queue overflows, and shutdown.

mod common;

use std::time::Instant;

use chat_kernel::{
    Closing, FloodLimit, Flow, Input, KernelConfig, Limits, LineDecoder, Refused, Transport,
};
use common::{Chat, DEADLINE, GREETING, quiet_config};

fn limits(f: impl FnOnce(&mut Limits)) -> KernelConfig {
    let mut config = quiet_config();
    f(&mut config.limits);
    config
}

fn logout_line(name: &str) -> String {
    format!("[SYSTEM INFO] - [{name}] logout from chat.")
}

#[test]
fn a_websocket_frame_may_hold_several_lines() {
    let chat = Chat::new();
    let ws = chat.connect_ws();
    assert_eq!(
        ws.frame("login alice\nwhoami\r\n\n   \nuserlist\n"),
        Flow::Continue
    );
    assert_eq!(
        ws.take(),
        [
            "[SYSTEM INFO] - [alice] login to chat.",
            "[INFO] - alice",
            "[INFO] - [alice]"
        ]
    );
    // One payload per reply (the front-end sends each as one frame, without the line end).
    ws.frame("help");
    assert!(ws.take_raw().len() > 1);
}

#[test]
fn a_frame_stops_at_logout() {
    let chat = Chat::new();
    let watcher = chat.login("watcher");
    let ws = chat.connect_ws();
    assert_eq!(ws.frame("login bob\nlogout\nlogin carol"), Flow::Close);
    assert_eq!(
        ws.take(),
        ["[SYSTEM INFO] - [bob] login to chat.", &logout_line("bob")]
    );
    assert_eq!(
        watcher.ask("userlist"),
        [
            "[SYSTEM INFO] - [bob] login to chat.",
            &logout_line("bob"),
            "[INFO] - [watcher]"
        ]
    );
}

#[test]
fn an_over_long_line_in_a_frame_is_refused_and_the_others_run() {
    let chat = Chat::with_config(limits(|l| l.max_line = 16));
    let ws = chat.connect_ws();
    let long = "x".repeat(17);
    ws.frame(&format!("login al\n{long}\nwhoami"));
    assert_eq!(
        ws.take(),
        [
            "[SYSTEM INFO] - [al] login to chat.",
            "[ERROR] - line too long",
            "[INFO] - al"
        ]
    );
    ws.input(Input::BinaryFrame);
    assert_eq!(ws.take(), ["[ERROR] - binary frames are not supported"]);
}

#[test]
fn tcp_bytes_through_the_line_decoder() {
    let chat = Chat::with_config(limits(|l| l.max_line = 32));
    let c = chat.connect();
    let mut decoder = LineDecoder::new(chat.kernel.limits().max_line);
    let mut feed = |bytes: &[u8]| {
        decoder.feed(bytes, |input| {
            c.input(input);
        });
    };
    feed(b"\xff\xfd\x01log");
    feed(b"in al\r");
    feed(b"\nwhoami\nbad \xc3\x28 line\n");
    feed(&[b'y'; 100]);
    feed(b"more\nuserlist\r\n");
    assert_eq!(
        c.take(),
        [
            "[SYSTEM INFO] - [al] login to chat.",
            "[INFO] - al",
            "[ERROR] - invalid UTF-8",
            "[ERROR] - line too long",
            "[INFO] - [al]"
        ]
    );
}

#[test]
fn flood_limit_defaults_to_bursts_of_twenty_at_ten_a_second() {
    assert_eq!(
        Limits::default().flood,
        Some(FloodLimit {
            burst: 20,
            rate: 10.0
        })
    );
}

/// A burst of 20 that (for the length of a test) never refills.
fn flood_config() -> KernelConfig {
    limits(|l| {
        l.flood = Some(FloodLimit {
            burst: 20,
            rate: 0.001,
        })
    })
}

#[test]
fn flood_limit_burst_then_one_error_per_dropped_command() {
    let chat = Chat::with_config(flood_config());
    let alice = chat.login("alice"); // one command
    for _ in 0..19 {
        assert_eq!(alice.ask("whoami"), ["[INFO] - alice"]);
    }
    for _ in 0..3 {
        assert_eq!(alice.ask("msgall dropped"), ["[ERROR] - too many requests"]);
    }
    // Empty lines are not counted and get no reply.
    assert!(alice.ask("   ").is_empty());
    // Other connections have their own bucket.
    let bob = chat.login("bob");
    assert_eq!(bob.ask("whoami"), ["[INFO] - bob"]);
    assert!(
        alice.take().len() == 1,
        "only bob's login, never alice's dropped msgall"
    );
}

#[test]
fn flood_limit_applies_to_anonymous_connections_and_websocket_lines() {
    let chat = Chat::with_config(flood_config());
    let anon = chat.connect();
    for _ in 0..20 {
        assert_eq!(anon.ask("help x"), ["[ERROR] - overage info"]);
    }
    assert_eq!(anon.ask("login x"), ["[ERROR] - too many requests"]);
    let ws = chat.connect_ws();
    let frame = vec!["format"; 22].join("\n");
    ws.frame(&frame);
    let out = ws.take();
    assert_eq!(out.len(), 22);
    assert!(out[..20].iter().all(|l| l == "[INFO] - format text"));
    assert!(out[20..].iter().all(|l| l == "[ERROR] - too many requests"));
}

#[test]
fn flood_limit_refills_at_its_rate() {
    let chat = Chat::with_config(limits(|l| {
        l.flood = Some(FloodLimit {
            burst: 2,
            rate: 20.0,
        })
    }));
    let c = chat.connect();
    let start = Instant::now();
    let mut refused = 0;
    let mut answered = 0;
    while answered < 6 {
        match c.ask("format").as_slice() {
            [l] if l == "[INFO] - format text" => answered += 1,
            [l] if l == "[ERROR] - too many requests" => refused += 1,
            other => panic!("{other:?}"),
        }
        assert!(start.elapsed() < DEADLINE);
        std::thread::yield_now();
    }
    assert!(refused > 0, "the burst was exceeded at some point");
    // 6 commands with a burst of 2 need 4 refills at 20/s: at least 200 ms.
    assert!(start.elapsed().as_millis() >= 150, "{:?}", start.elapsed());
}

#[test]
fn no_flood_limit_when_turned_off() {
    let chat = Chat::new();
    let c = chat.login("alice");
    for _ in 0..500 {
        assert_eq!(c.ask("whoami"), ["[INFO] - alice"]);
    }
}

#[test]
fn server_full_counts_every_connection_and_frees_on_leave() {
    let chat = Chat::with_config(limits(|l| l.max_connections = 2));
    let anon = chat.connect();
    let alice = chat.login("alice");
    match chat.try_connect(Transport::WebSocket) {
        Err(Refused::ServerFull(p)) => assert_eq!(&p[..], b"\x81\x15[ERROR] - server full"),
        other => panic!("{:?}", other.map(|c| c.id)),
    }
    assert_eq!(chat.kernel.connections(), 2);
    anon.disconnect();
    let third = chat.try_connect(Transport::WebSocket).expect("room again");
    assert_eq!(third.take(), [GREETING]);
    assert!(matches!(
        chat.try_connect(Transport::Tcp),
        Err(Refused::ServerFull(_))
    ));
    alice.send("logout");
    assert!(chat.try_connect(Transport::Tcp).is_ok());
}

#[test]
fn a_slow_client_is_dropped_and_the_others_keep_receiving() {
    let chat = Chat::with_config(limits(|l| l.send_queue = 4096));
    let alice = chat.login("alice");
    let bob = chat.login("bob");
    let slow = chat.login("slow"); // never drained from here on
    alice.take();
    bob.take();
    let line = format!("msgall {}", "x".repeat(100));
    let mut sent = 0;
    while slow.closing().is_none() {
        assert_eq!(alice.send(&line), Flow::Continue);
        sent += 1;
        assert!(sent < 1000, "the slow client was never dropped");
        let dropped_now = slow.closing().is_some();
        assert_eq!(alice.take().len(), if dropped_now { 2 } else { 1 });
        assert_eq!(bob.take().len(), if dropped_now { 2 } else { 1 });
    }
    assert!(sent > 10, "dropped only once its queue was full ({sent})");
    assert_eq!(slow.closing(), Some(Closing::Abort));
    let mut batch = Vec::new();
    assert_eq!(slow.outbox.try_batch(&mut batch), Some(false));
    assert!(batch.is_empty(), "what was queued is dropped");
    assert_eq!(alice.ask("userlist"), ["[INFO] - [alice, bob]"]);
    // The others keep receiving, far past the slow client's limit.
    for i in 0..1_000 {
        alice.send(&format!("msgall after {i}"));
        assert_eq!(bob.take().len(), 1);
        alice.take();
    }
    assert_eq!(chat.kernel.connections(), 2);
}

#[test]
fn the_others_see_the_slow_clients_logout() {
    let chat = Chat::with_config(limits(|l| l.send_queue = 2048));
    let alice = chat.login("alice");
    let bob = chat.login("bob");
    let slow = chat.login("slow");
    alice.take();
    bob.take();
    let mut bob_saw = Vec::new();
    for _ in 0..100 {
        alice.send(&format!("msgall {}", "y".repeat(200)));
        alice.take();
        bob_saw.extend(bob.take());
        if slow.closing().is_some() {
            break;
        }
    }
    assert_eq!(slow.closing(), Some(Closing::Abort));
    assert_eq!(bob_saw.last(), Some(&logout_line("slow")));
    assert_eq!(
        bob_saw
            .iter()
            .filter(|l| **l == logout_line("slow"))
            .count(),
        1
    );
}

#[test]
fn shutdown_tells_everyone_then_refuses_connections() {
    let chat = Chat::with_config(KernelConfig {
        no_color: false,
        ..quiet_config()
    });
    let anon = chat.connect();
    let ws = chat.connect_ws();
    let text = chat.login("text");
    text.ask("format text");
    let json = chat.login("json");
    json.ask("format json");
    let color = chat.login("color");
    for c in [&anon, &ws, &text, &json, &color] {
        c.take();
    }
    assert!(!chat.kernel.shutdown_signal().is_triggered());
    chat.kernel.shutdown();
    assert!(chat.kernel.shutdown_signal().is_triggered());
    let shutting = "[SERVER INFO] - server shutting down";
    assert_eq!(
        anon.take(),
        ["\x1b[34m[SERVER INFO]\x1b[0m - server shutting down"]
    );
    assert_eq!(ws.take(), [shutting]);
    assert_eq!(text.take(), [shutting]);
    assert_eq!(
        json.take(),
        [r#"{"type":"server","text":"server shutting down"}"#]
    );
    assert_eq!(color.take().len(), 1);
    for c in [&anon, &ws, &text, &json, &color] {
        assert_eq!(c.closing(), Some(Closing::Flush));
        let mut batch = Vec::new();
        assert_eq!(c.outbox.try_batch(&mut batch), Some(false));
    }
    assert_eq!(
        chat.try_connect(Transport::Tcp).err(),
        Some(Refused::ShuttingDown)
    );
    assert_eq!(
        chat.try_connect(Transport::WebSocket).err(),
        Some(Refused::ShuttingDown)
    );
}
