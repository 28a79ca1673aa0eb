//! End-to-end: registered accounts over TCP on each runtime (`register`, `login` with a
//! password, guests and registered names, the failed-password limit).

mod common;

use common::*;

fn accounts(server_name: &str) {
    let server = Server::chat(server_name, &[]);

    // register creates an account; the connection stays anonymous.
    let mut reg = server.client();
    reg.send("register alice s3cret-pass");
    reg.expect_line("[INFO] - [alice] registered.");
    reg.send("whoami");
    reg.expect_line("[ERROR] - First login!");
    reg.send("register Alice other-pass");
    reg.expect_line("[ERROR] - Username already taken!");
    reg.send("register bob");
    reg.expect_line("[ERROR] - require password");

    // A guest cannot take a registered name, in any case.
    let mut c = server.client();
    c.send("login alice");
    c.expect_line("[ERROR] - password required");
    c.send("login ALICE");
    c.expect_line("[ERROR] - password required");
    // A wrong password and an unknown account read the same.
    c.send("login alice not-the-pass");
    c.expect_line("[ERROR] - wrong password");
    c.send("login nobody s3cret-pass");
    c.expect_line("[ERROR] - wrong password");
    // The right password logs in.
    c.send("login alice s3cret-pass");
    c.expect_line("[SYSTEM INFO] - [alice] login to chat.");
    c.send("whoami");
    c.expect_line("[INFO] - alice");
    c.send("login alice s3cret-pass");
    c.expect_line("[ERROR] - Already login!");

    // An account online elsewhere cannot log in twice.
    reg.send("login alice s3cret-pass");
    reg.expect_line("[ERROR] - Username already taken!");

    // A guest may register the name it is using; another connection may not.
    let mut bob = server.login("bob");
    c.expect_line("[SYSTEM INFO] - [bob] login to chat.");
    bob.send("register bob bobs-pass");
    bob.expect_line("[INFO] - [bob] registered.");
    bob.send("whoami");
    bob.expect_line("[INFO] - bob");
    reg.send("register bob x");
    reg.expect_line("[ERROR] - Username already taken!");
    let mut carol = server.login("carol");
    c.expect_line("[SYSTEM INFO] - [carol] login to chat.");
    bob.expect_line("[SYSTEM INFO] - [carol] login to chat.");
    reg.send("register CAROL x");
    reg.expect_line("[ERROR] - Username already taken!");

    // The account outlives the guest session: after bob leaves, bob needs the password.
    bob.send("logout");
    bob.expect_line("[SYSTEM INFO] - [bob] logout from chat.");
    bob.expect_closed();
    c.expect_line("[SYSTEM INFO] - [bob] logout from chat.");
    carol.expect_line("[SYSTEM INFO] - [bob] logout from chat.");
    reg.send("login bob");
    reg.expect_line("[ERROR] - password required");
    // Commands sent right behind a password login wait for it and are answered in order.
    reg.send_raw(b"login bob bobs-pass\r\nmsgall back\r\nwhoami\r\n");
    reg.expect_line("[SYSTEM INFO] - [bob] login to chat.");
    reg.expect_chat("[bob]: back");
    reg.expect_line("[INFO] - bob");
    c.expect_line("[SYSTEM INFO] - [bob] login to chat.");
    c.expect_chat("[bob]: back");
}

fn five_failures_lock_the_name(server_name: &str) {
    let server = Server::chat(server_name, &[]);
    let mut reg = server.client();
    reg.send("register dave right-pass");
    reg.expect_line("[INFO] - [dave] registered.");
    reg.send("register erin erins-pass");
    reg.expect_line("[INFO] - [erin] registered.");

    let mut c = server.client();
    // The name is counted case-insensitively.
    for (i, name) in ["dave", "DAVE", "Dave", "dave", "dAVE"].iter().enumerate() {
        c.send(&format!("login {name} wrong-{i}"));
        c.expect_line("[ERROR] - wrong password");
    }
    // Now even the right password is refused, from any connection of that address.
    c.send("login dave right-pass");
    c.expect_line("[ERROR] - wrong password");
    let mut other = server.client();
    other.send("login dave right-pass");
    other.expect_line("[ERROR] - wrong password");
    // The limit is per name, and four failures do not lock: erin still gets in from the
    // same address.
    for i in 0..4 {
        other.send(&format!("login erin wrong-{i}"));
        other.expect_line("[ERROR] - wrong password");
    }
    other.send("login erin erins-pass");
    other.expect_line("[SYSTEM INFO] - [erin] login to chat.");
    // Online, the name is taken whatever the password.
    c.send("login erin erins-pass");
    c.expect_line("[ERROR] - Username already taken!");
}

per_runtime!(accounts, five_failures_lock_the_name);
