//! End to end over TCP, on each runtime: the original async_chat's telnet session (errors,
//! login, duplicate names, msg, msgall, whoami, userlist, logout), and the output forms.

mod common;

use common::{Server, is_chat, per_runtime};

/// The original's screenshot session, reply by reply, with three users.
fn telnet_session(server_name: &str) {
    let server = Server::chat(server_name, &[]);
    let mut alice = server.client();

    // Errors: syntax is checked before the login state.
    alice.send("hello");
    alice.expect_line("[ERROR] - unknown command");
    alice.send("whoami");
    alice.expect_line("[ERROR] - First login!");
    alice.send("msgall hi");
    alice.expect_line("[ERROR] - First login!");
    alice.send("login");
    alice.expect_line("[ERROR] - require username");
    alice.send("login a b c");
    alice.expect_line("[ERROR] - overage info");
    alice.send("msg");
    alice.expect_line("[ERROR] - overage info");
    alice.send("msg bob");
    alice.expect_line("[ERROR] - empty message");
    alice.send("msgall");
    alice.expect_line("[ERROR] - empty message");
    alice.send("whoami now");
    alice.expect_line("[ERROR] - overage info");

    // Login, case-insensitive command word, console line.
    alice.send("LOGIN alice");
    alice.expect_line("[SYSTEM INFO] - [alice] login to chat.");
    server.expect_console(&format!(
        "[{server_name}] - [SERVER INFO] - [alice] login to chat."
    ));
    alice.send("login alice2");
    alice.expect_line("[ERROR] - Already login!");

    // A second user: duplicate name (any case), then the login broadcast to both.
    let mut bob = server.client();
    bob.send("login ALICE");
    bob.expect_line("[ERROR] - Username already taken!");
    bob.send("/login bob");
    bob.expect_line("[SYSTEM INFO] - [bob] login to chat.");
    alice.expect_line("[SYSTEM INFO] - [bob] login to chat.");

    // Private message: target and sender, inner spacing kept.
    alice.send("msg bob hi  there, bob");
    bob.expect_chat("[alice][->][bob]: hi  there, bob");
    alice.expect_chat("[alice][->][bob]: hi  there, bob");
    alice.send("msg carol hello");
    alice.expect_line("[ERROR] - [carol] not found!");
    // To oneself: once.
    alice.send("msg Alice note to self");
    alice.expect_chat("[alice][->][alice]: note to self");

    // msgall: everyone, the sender too.
    bob.send("msgall hello all");
    bob.expect_chat("[bob]: hello all");
    alice.expect_chat("[bob]: hello all");

    alice.send("whoami");
    alice.expect_line("[INFO] - alice");

    let mut carol = server.login("carol");
    alice.expect_line("[SYSTEM INFO] - [carol] login to chat.");
    bob.expect_line("[SYSTEM INFO] - [carol] login to chat.");
    carol.send("userlist");
    carol.expect_line("[INFO] - [alice, bob, carol]");

    // Logout: broadcast to everyone, the leaver too, then the leaver's connection closes.
    alice.send("logout");
    alice.expect_line("[SYSTEM INFO] - [alice] logout from chat.");
    alice.expect_closed();
    bob.expect_line("[SYSTEM INFO] - [alice] logout from chat.");
    carol.expect_line("[SYSTEM INFO] - [alice] logout from chat.");
    server.expect_console(&format!(
        "[{server_name}] - [SERVER INFO] - [alice] logout from chat."
    ));
    bob.send("userlist");
    bob.expect_line("[INFO] - [bob, carol]");

    // The name is free again, and the new alice is last in login order.
    let mut alice = server.login("Alice");
    bob.expect_line("[SYSTEM INFO] - [Alice] login to chat.");
    carol.expect_line("[SYSTEM INFO] - [Alice] login to chat.");
    alice.send("userlist");
    alice.expect_line("[INFO] - [bob, carol, Alice]");
}

/// `help` and `format` work before login; `format json` and `format text` switch forms.
fn help_and_formats(server_name: &str) {
    let server = Server::chat(server_name, &[]);
    let mut client = server.client();
    client.send("help");
    let first = client.read_line();
    assert!(first.starts_with("[INFO] - "), "help line: {first:?}");
    client.send("format");
    // The rest of help, then the format reply.
    let reply = loop {
        let line = client.read_line();
        assert!(line.starts_with("[INFO] - "), "help line: {line:?}");
        if line.starts_with("[INFO] - format") {
            break line;
        }
    };
    assert_eq!(reply, "[INFO] - format text");
    client.send("format json");
    client.expect_line(r#"{"type":"info","text":"format json"}"#);
    client.send("login json_user");
    client.expect_line(r#"{"type":"login","user":"json_user"}"#);
    client.send("whoami x");
    client.expect_line(r#"{"type":"error","code":"overage_info","text":"overage info"}"#);
    client.send("format yaml");
    client.expect_line(r#"{"type":"error","code":"unknown_format","text":"unknown format"}"#);
    client.send("format text");
    client.expect_line("[INFO] - format text");
}

/// Without `--no-color`, TCP replies come in the colour form; `format text` removes colour.
fn colour_by_default(server_name: &str) {
    let server = Server::start(&[server_name, "--port", "0", "--store", "memory"], 1);
    let mut client = common::Client::connect(server.addr());
    let greeting = client.read_line();
    assert!(
        greeting.contains('\x1b'),
        "greeting not coloured: {greeting:?}"
    );
    assert!(
        greeting.contains(&format!(
            "Welcome to {server_name}! Type help for commands."
        )),
        "{greeting:?}"
    );
    client.send("login alice");
    let login = client.read_line();
    assert!(
        login.starts_with("\x1b[32m[SYSTEM INFO]"),
        "login not green: {login:?}"
    );
    assert!(
        login.contains("\x1b[33m[alice]"),
        "name not yellow: {login:?}"
    );
    client.send("nope");
    let error = client.read_line();
    assert!(
        error.starts_with("\x1b[31m[ERROR]"),
        "error not red: {error:?}"
    );
    client.send("msgall plain text");
    let chat = client.read_line();
    assert!(chat.contains('\x1b'), "chat line not coloured: {chat:?}");
    let stripped = strip_ansi(&chat);
    assert!(is_chat(&stripped, "[alice]: plain text"), "{stripped:?}");
    client.send("format text");
    client.expect_line("[INFO] - format text");
    client.send("whoami");
    client.expect_line("[INFO] - alice");
}

/// Removes `ESC [ ... m` sequences.
fn strip_ansi(line: &str) -> String {
    let mut out = String::new();
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            for c in chars.by_ref() {
                if c == 'm' {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

per_runtime!(telnet_session, help_and_formats, colour_by_default);

/// A logged-in user whose connection ends (FIN or reset) is a logout for the others.
fn disconnect_is_logout(server_name: &str) {
    let server = Server::chat(server_name, &[]);
    let mut alice = server.login("alice");
    let mut bob = server.login("bob");
    alice.expect_line("[SYSTEM INFO] - [bob] login to chat.");
    let carol = server.login("carol");
    alice.expect_line("[SYSTEM INFO] - [carol] login to chat.");
    bob.expect_line("[SYSTEM INFO] - [carol] login to chat.");

    // An orderly close (FIN): bob has read everything, so closing sends no reset.
    drop(bob);
    alice.expect_line("[SYSTEM INFO] - [bob] logout from chat.");
    server.expect_console("[bob] disconnected: connection closed");

    // A reset (RST).
    carol.reset();
    alice.expect_line("[SYSTEM INFO] - [carol] logout from chat.");
    server.expect_console("[carol] disconnected: ");

    alice.send("userlist");
    alice.expect_line("[INFO] - [alice]");
}

per_runtime!(disconnect_is_logout);
