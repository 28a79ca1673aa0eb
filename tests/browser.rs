//! The real web page in headless Chromium, driven through chromedriver (WebDriver, `fantoccini`).
//!
//! One `bind all` process (memory store, no colour); page A on `tokio_ws_chat`, page B on
//! `smol_ws_chat` (two browser sessions, each its own Chromium with a fresh profile) and one raw
//! TCP client on `async_std_chat`. The scenario: everyone logs in, both pages list all three
//! users, a msgall from page A reaches page B and the TCP client, a private message from the TCP
//! client reaches page B and not page A, page B sends a private message by clicking a user in
//! its list, an error typed into page A's command line is shown as an error line, and user text
//! is escaped (`<b>x</b>` shows as text, no `<b>` element appears), a room only page A is in
//! shows in page B's list, and `rooms` typed into a command line is shown in its log.
//!
//! A second test restarts a WebSocket server under a page whose guest registered its own name
//! from the command line: the page logs back in with that password (a guest login is refused
//! for a registered name), and the room it joins again does not show its replayed line twice.
//!
//! A third test checks what the next user at a page inherits after a Logout: not the last
//! user's target (a room joined with the form), their name in the login form, or a password
//! typed into the command line.
//!
//! Needs `chromium` and `chromedriver` on the PATH (Debian: `apt-get install chromium
//! chromium-driver`; `.ci/run` installs them). Without them the test fails when `CI=true` and
//! otherwise skips with a loud message. Every wait polls the DOM with a deadline.

#[allow(unused_macros, unused_imports)] // per_runtime! is not used here.
mod common;
mod common_store;

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use common::{Client, DEADLINE, Read1, Server, is_chat};
use common_store::{TempDir, sqlite};
use fantoccini::{ClientBuilder, Locator, key::Key};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{Value, json};

/// How long one awaited browser event may take. Chromium on a small, busy machine is slow to
/// start; this costs nothing when things work.
const BROWSER_DEADLINE: Duration = Duration::from_secs(30);

/// How often the DOM is polled while waiting for a condition.
const POLL: Duration = Duration::from_millis(50);

/// Finds `name` in the directories of `PATH`.
fn on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}

/// Whether this run is CI (`CI` set to anything but empty, `0` or `false`).
fn in_ci() -> bool {
    std::env::var("CI")
        .map(|v| !v.is_empty() && v != "0" && !v.eq_ignore_ascii_case("false"))
        .unwrap_or(false)
}

/// The browser and its driver, or `None` (after a loud message) when the test must skip.
/// Panics when they are missing in CI.
fn browser_tools() -> Option<(PathBuf, PathBuf)> {
    let chromium = ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .find_map(|name| on_path(name));
    let driver = on_path("chromedriver");
    match (chromium, driver) {
        (Some(chromium), Some(driver)) => Some((chromium, driver)),
        (chromium, driver) => {
            let missing = [
                chromium.is_none().then_some("chromium"),
                driver.is_none().then_some("chromedriver"),
            ]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" and ");
            assert!(
                !in_ci(),
                "browser test: {missing} not found on PATH, and CI=true: install them \
                 (apt-get install chromium chromium-driver)"
            );
            // Straight to the process's stderr: the test harness captures `eprintln!`, and this
            // must be seen.
            let _ = writeln!(
                std::io::stderr(),
                "\n\n!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n\
                 !!! browser test SKIPPED: {missing} not found on PATH.\n\
                 !!! Install with: apt-get install chromium chromium-driver\n\
                 !!! (with CI=true this is a failure, not a skip)\n\
                 !!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n"
            );
            None
        }
    }
}

/// A chromedriver process on a port of its own choosing, in its own process group so that the
/// Chromium processes it starts can be killed with it; the group is killed and the browser
/// profiles are removed on drop.
struct Chromedriver {
    child: Child,
    port: u16,
    chromium: PathBuf,
    profiles: Vec<PathBuf>,
}

impl Chromedriver {
    /// Starts `driver --port=0` and reads the port it reports (with a deadline).
    fn start(driver: &Path, chromium: PathBuf) -> Chromedriver {
        use std::os::unix::process::CommandExt;
        let mut child = Command::new(driver)
            .arg("--port=0")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .expect("start chromedriver");
        let stdout = child.stdout.take().expect("chromedriver stdout is piped");
        let (lines_tx, lines_rx) = mpsc::channel();
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if lines_tx.send(line).is_err() {
                    // Nobody listens any more; keep draining so chromedriver never blocks.
                    continue;
                }
            }
        });
        let mut driver = Chromedriver {
            child,
            port: 0,
            chromium,
            profiles: Vec::new(),
        };
        let deadline = Instant::now() + BROWSER_DEADLINE;
        let mut seen = Vec::new();
        while driver.port == 0 {
            let left = deadline.saturating_duration_since(Instant::now());
            match lines_rx.recv_timeout(left) {
                Ok(line) => {
                    if let Some(rest) = line.split("started successfully on port ").nth(1) {
                        driver.port = rest
                            .trim_end_matches('.')
                            .trim()
                            .parse()
                            .expect("chromedriver printed a port number");
                    }
                    seen.push(line);
                }
                Err(_) => panic!("chromedriver did not report its port in time; said {seen:#?}"),
            }
        }
        driver
    }

    /// A new browser session: its own Chromium with a fresh profile directory.
    async fn session(&mut self, label: &str) -> fantoccini::Client {
        let profile = std::env::temp_dir().join(format!(
            "async-chat-browser-{}-{label}-{}",
            std::process::id(),
            self.profiles.len()
        ));
        let _ = std::fs::remove_dir_all(&profile);
        std::fs::create_dir_all(&profile).expect("create a browser profile directory");
        self.profiles.push(profile.clone());
        let mut capabilities = serde_json::Map::new();
        capabilities.insert(
            "goog:chromeOptions".to_owned(),
            json!({
                "binary": self.chromium,
                "args": [
                    "--headless",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-dev-shm-usage",
                    "--disable-quic",
                    "--no-first-run",
                    "--disable-background-networking",
                    "--disable-component-update",
                    "--disable-sync",
                    "--window-size=1280,900",
                    format!("--user-data-dir={}", profile.display()),
                ],
            }),
        );
        let url = format!("http://127.0.0.1:{}", self.port);
        let started = Instant::now();
        let client = tokio::time::timeout(
            BROWSER_DEADLINE,
            ClientBuilder::new(HttpConnector::new())
                .capabilities(capabilities)
                .connect(&url),
        )
        .await
        .unwrap_or_else(|_| {
            panic!("browser session {label}: not started within {BROWSER_DEADLINE:?}")
        })
        .unwrap_or_else(|e| panic!("browser session {label}: {e}"));
        eprintln!("browser session {label} started in {:?}", started.elapsed());
        client
    }
}

impl Drop for Chromedriver {
    fn drop(&mut self) {
        // The whole process group: chromedriver and the browsers it started.
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.child.id())])
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
        for profile in &self.profiles {
            let _ = std::fs::remove_dir_all(profile);
        }
    }
}

/// One page in one browser session.
struct Page {
    name: &'static str,
    browser: fantoccini::Client,
}

impl Page {
    /// Runs `script` (a function body; `arguments` holds `args`) in the page.
    async fn js(&self, script: &str, args: Vec<Value>) -> Value {
        tokio::time::timeout(BROWSER_DEADLINE, self.browser.execute(script, args))
            .await
            .unwrap_or_else(|_| panic!("page {}: script did not return in time", self.name))
            .unwrap_or_else(|e| panic!("page {}: script failed: {e}\n{script}", self.name))
    }

    /// Polls `script` until it returns something other than `null`/`false`; returns that.
    /// Fails, showing the page's state and log, when the deadline passes.
    async fn wait_js(&self, what: &str, script: &str, args: Vec<Value>) -> Value {
        let deadline = Instant::now() + BROWSER_DEADLINE;
        loop {
            let value = self.js(script, args.clone()).await;
            if !matches!(value, Value::Null | Value::Bool(false)) {
                return value;
            }
            if Instant::now() >= deadline {
                panic!(
                    "page {}: timed out after {BROWSER_DEADLINE:?} waiting for {what}\n{}",
                    self.name,
                    self.describe().await
                );
            }
            // Polling the DOM: WebDriver has no way to block until an arbitrary condition holds.
            tokio::time::sleep(POLL).await;
        }
    }

    /// The page's state attributes, user list and log lines, for failure messages.
    async fn describe(&self) -> String {
        let state = self
            .js(
                "const b = document.body;
                 return {
                   dataset: Object.assign({}, b.dataset),
                   status: document.getElementById('status').textContent,
                   users: [...document.querySelectorAll('#users li')].map(li => li.textContent),
                   log: [...document.querySelectorAll('#log .line')]
                          .map(l => l.dataset.kind + ' | ' + l.textContent),
                 };",
                vec![],
            )
            .await;
        serde_json::to_string_pretty(&state).unwrap_or_default()
    }

    /// Waits until one element matches the CSS `selector`.
    async fn wait_selector(&self, selector: &str) {
        self.wait_js(
            &format!("an element matching {selector}"),
            "return document.querySelector(arguments[0]) !== null;",
            vec![json!(selector)],
        )
        .await;
    }

    /// Waits until a log line of `kind` has a text for which `ends_with` holds; returns the text.
    async fn wait_log_line(&self, kind: &str, ends_with: &str) -> String {
        let found = self
            .wait_js(
                &format!("a {kind} log line ending with {ends_with:?}"),
                "const [kind, tail] = arguments;
                 const line = [...document.querySelectorAll('#log .line')]
                   .find(l => l.dataset.kind === kind && l.classList.contains(kind)
                              && l.textContent.endsWith(tail));
                 return line ? line.textContent : null;",
                vec![json!(kind), json!(ends_with)],
            )
            .await;
        found.as_str().unwrap_or_default().to_owned()
    }

    /// How many log lines contain `needle`.
    async fn log_lines_containing(&self, needle: &str) -> u64 {
        self.js(
            "return [...document.querySelectorAll('#log .line')]
               .filter(l => l.textContent.includes(arguments[0])).length;",
            vec![json!(needle)],
        )
        .await
        .as_u64()
        .unwrap_or(0)
    }

    /// Finds the element with id `id`.
    async fn element(&self, id: &str) -> fantoccini::elements::Element {
        self.browser
            .find(Locator::Id(id))
            .await
            .unwrap_or_else(|e| panic!("page {}: no #{id}: {e}", self.name))
    }

    /// Types `text` into the input `#id`.
    async fn type_into(&self, id: &str, text: &str) {
        self.element(id)
            .await
            .send_keys(text)
            .await
            .unwrap_or_else(|e| panic!("page {}: typing into #{id}: {e}", self.name));
    }

    /// Clicks the element `#id` once it is enabled.
    async fn click(&self, id: &str) {
        self.wait_selector(&format!("#{id}:not([disabled]):not([hidden])"))
            .await;
        self.element(id)
            .await
            .click()
            .await
            .unwrap_or_else(|e| panic!("page {}: clicking #{id}: {e}", self.name));
    }

    /// Opens the page of the WebSocket server `server` on `port` and waits until it is connected and the
    /// server confirmed `format json`.
    async fn open(
        name: &'static str,
        browser: fantoccini::Client,
        server: &str,
        port: u16,
    ) -> Page {
        let page = Page { name, browser };
        let url = format!("http://127.0.0.1:{port}/");
        tokio::time::timeout(BROWSER_DEADLINE, page.browser.goto(&url))
            .await
            .unwrap_or_else(|_| panic!("page {name}: {url} did not load in time"))
            .unwrap_or_else(|e| panic!("page {name}: loading {url}: {e}"));
        page.wait_selector(&format!(
            "body[data-server=\"{server}\"][data-state=\"connected\"][data-format=\"json\"]"
        ))
        .await;
        page
    }

    /// Logs in as `user` with the name field and the Login button.
    async fn login(&self, user: &str) {
        self.type_into("name", user).await;
        self.click("login").await;
        self.wait_selector(&format!("body[data-user=\"{user}\"]"))
            .await;
        self.wait_log_line(
            "system",
            &format!("[SYSTEM INFO] - [{user}] login to chat."),
        )
        .await;
    }

    /// Waits until the user list shows exactly `users` (any order besides "All").
    async fn wait_users(&self, users: &[&str]) {
        let mut expected: Vec<&str> = users.to_vec();
        expected.sort_unstable();
        self.wait_js(
            &format!("the user list {expected:?}"),
            "const names = [...document.querySelectorAll('#users li[data-user]')]
               .map(li => li.dataset.user).sort();
             return JSON.stringify(names) === JSON.stringify(arguments[0]);",
            vec![json!(expected)],
        )
        .await;
    }

    /// Sends `text` to the current target with the message input and the Send button.
    async fn send_message(&self, text: &str) {
        self.type_into("message", text).await;
        self.click("send").await;
        self.wait_js(
            "the message input to be cleared after sending",
            "return document.getElementById('message').value === '';",
            vec![],
        )
        .await;
    }

    /// Sends `command` as typed with the command line.
    async fn run_command(&self, command: &str) {
        self.type_into("command", command).await;
        self.click("command-send").await;
        self.wait_js(
            "the command line to be cleared after sending",
            "return document.getElementById('command').value === '';",
            vec![],
        )
        .await;
    }

    /// Ends the browser session (Chromium exits).
    async fn close(self) {
        let _ = tokio::time::timeout(BROWSER_DEADLINE, self.browser.close()).await;
    }
}

/// Reads lines from `client` until one satisfies `pred` (with the browser deadline); returns
/// every line read, the matching one last.
fn read_until(client: &mut Client, what: &str, pred: impl Fn(&str) -> bool) -> Vec<String> {
    let deadline = Instant::now() + BROWSER_DEADLINE;
    let mut lines = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match client.read_within(left) {
            Read1::Line(line) => {
                let done = pred(&line);
                lines.push(line);
                if done {
                    return lines;
                }
            }
            other => panic!("TCP client: waiting for {what}, got {other:?}; lines: {lines:#?}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_pages_and_a_tcp_client_chat_under_bind_all() {
    let Some((chromium, driver)) = browser_tools() else {
        return;
    };
    let server = Server::start(
        &[
            "bind",
            "all",
            "--base-port",
            "0",
            "--store",
            "memory",
            "--no-color",
        ],
        6,
    );
    let port_a = server.addr_of("tokio_ws_chat").port();
    let port_b = server.addr_of("smol_ws_chat").port();

    let mut chromedriver = Chromedriver::start(&driver, chromium);
    let browser_a = chromedriver.session("a").await;
    let browser_b = chromedriver.session("b").await;
    let a = Page::open("A (tokio_ws_chat)", browser_a, "tokio_ws_chat", port_a).await;
    let b = Page::open("B (smol_ws_chat)", browser_b, "smol_ws_chat", port_b).await;

    // Log in: alice on page A, bob on page B, carol over raw TCP on async_std_chat.
    a.login("alice").await;
    b.login("bob").await;
    let mut carol = server.login_on("async_std_chat", "carol");
    for page in [&a, &b] {
        page.wait_users(&["alice", "bob", "carol"]).await;
        page.wait_log_line("system", "[SYSTEM INFO] - [carol] login to chat.")
            .await;
    }
    // The page marks its own user.
    a.wait_selector("#users li.me[data-user=\"alice\"]").await;
    b.wait_selector("#users li.me[data-user=\"bob\"]").await;

    // A msgall from page A reaches page B and the TCP client.
    a.send_message("hello from the tokio page").await;
    a.wait_log_line("all", "[alice]: hello from the tokio page")
        .await;
    let line = b
        .wait_log_line("all", "[alice]: hello from the tokio page")
        .await;
    assert!(
        is_chat(&line, "[alice]: hello from the tokio page"),
        "page B shows {line:?}"
    );
    read_until(&mut carol, "alice's msgall", |l| {
        is_chat(l, "[alice]: hello from the tokio page")
    });

    // A private message from the TCP client reaches page B, and not page A.
    carol.send("msg bob psst bob, carol here");
    read_until(&mut carol, "carol's own copy of the private message", |l| {
        is_chat(l, "[carol][->][bob]: psst bob, carol here")
    });
    b.wait_log_line("private", "[carol][->][bob]: psst bob, carol here")
        .await;
    // Page A receives carol's later msgall only after anything sent to it before.
    carol.send("msgall marker one");
    a.wait_log_line("all", "[carol]: marker one").await;
    assert_eq!(
        a.log_lines_containing("psst bob").await,
        0,
        "page A shows a private message between carol and bob\n{}",
        a.describe().await
    );

    // Page B: pick alice in the user list, type, send: a private message.
    b.browser
        .find(Locator::Css("#users li[data-user=\"alice\"]"))
        .await
        .expect("alice in page B's user list")
        .click()
        .await
        .expect("click alice in page B's user list");
    b.wait_js(
        "alice to be the message target",
        "return document.getElementById('target').value === 'alice'
           && document.querySelector('#users li[data-user=\"alice\"]').classList.contains('selected');",
        vec![],
    )
    .await;
    b.send_message("hi alice, from the smol page").await;
    a.wait_log_line("private", "[bob][->][alice]: hi alice, from the smol page")
        .await;
    b.wait_log_line("private", "[bob][->][alice]: hi alice, from the smol page")
        .await;
    // carol (not involved) sees bob's next msgall but never the private message.
    b.element("user-all")
        .await
        .click()
        .await
        .expect("click All");
    b.wait_js(
        "everyone to be the message target",
        "return document.getElementById('target').value === '';",
        vec![],
    )
    .await;
    b.send_message("marker two").await;
    let lines = read_until(&mut carol, "bob's msgall", |l| {
        is_chat(l, "[bob]: marker two")
    });
    assert!(
        !lines.iter().any(|l| l.contains("from the smol page")),
        "carol got a private message between bob and alice: {lines:#?}"
    );

    // An error typed into page A's command line is shown as an error line.
    a.run_command("msg nobody hi").await;
    a.wait_log_line("error", "[ERROR] - [nobody] not found!")
        .await;

    // User text is escaped: it shows as typed, and no element is made from it.
    a.send_message("<b>x</b> & <img src=x>").await;
    for page in [&a, &b] {
        page.wait_log_line("all", "[alice]: <b>x</b> & <img src=x>")
            .await;
        let elements = page
            .js(
                "return document.querySelectorAll('#log b, #log img').length;",
                vec![],
            )
            .await;
        assert_eq!(
            elements,
            json!(0),
            "page {} made elements out of user text\n{}",
            page.name,
            page.describe().await
        );
    }
    read_until(&mut carol, "alice's markup message", |l| {
        is_chat(l, "[alice]: <b>x</b> & <img src=x>")
    });

    // A room only page A is in shows in page B's list (nobody tells B: the page asks every few
    // seconds), and `rooms` typed into A's command line is shown in A's log.
    a.run_command("/join #only-a").await;
    b.wait_selector("#rooms li[data-room=\"#only-a\"]").await;
    a.run_command("rooms").await;
    a.wait_log_line("info", "[INFO] - [#only-a (1)]").await;

    a.close().await;
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_guest_that_registers_its_name_logs_back_in_after_a_restart() {
    let Some((chromium, driver)) = browser_tools() else {
        return;
    };
    let dir = TempDir::new("browser-register");
    let store = sqlite(&dir.join("chat.db"));
    let start = |port: &str| {
        Server::start(
            &[
                "tokio_ws_chat",
                "--port",
                port,
                "--store",
                &store,
                "--no-color",
            ],
            1,
        )
    };
    let mut server = start("0");
    let port = server.addr().port();

    let mut chromedriver = Chromedriver::start(&driver, chromium);
    let page = Page::open(
        "guest",
        chromedriver.session("guest").await,
        "tokio_ws_chat",
        port,
    )
    .await;
    page.login("gg").await;
    page.run_command("/register gg pw-of-gg").await;
    page.wait_log_line("info", "[INFO] - [gg] registered.")
        .await;
    // A room with a line of history, which the store keeps over the restart.
    page.run_command("join #keep").await;
    page.wait_log_line("system", "[SYSTEM INFO] - [gg] joined #keep.")
        .await;
    page.run_command("msg #keep a kept line").await;
    page.wait_log_line("room", "[gg]: a kept line").await;

    server.sigterm();
    assert!(server.wait_exit(DEADLINE).success(), "the server's exit");
    page.wait_js(
        "the page to notice the server went away",
        "return document.body.dataset.user === undefined
           && document.body.dataset.state !== 'connected';",
        vec![],
    )
    .await;
    let _server = start(&port.to_string());
    page.wait_selector("body[data-user=\"gg\"][data-state=\"connected\"]")
        .await;
    assert_eq!(
        page.log_lines_containing("could not log in again").await,
        0,
        "{}",
        page.describe().await
    );
    // The page joins #keep again; the line it replays is in the log already and is not shown
    // twice.
    page.wait_js(
        "#keep joined again and its replay ended",
        "const lines = [...document.querySelectorAll('#log .line')].map(l => l.textContent);
         const rejoin = lines.lastIndexOf('[SYSTEM INFO] - [gg] joined #keep.');
         return rejoin > lines.indexOf('[SYSTEM INFO] - [gg] joined #keep.')
           && lines.slice(rejoin).includes('[INFO] - end of history');",
        vec![],
    )
    .await;
    assert_eq!(
        page.log_lines_containing("a kept line").await,
        1,
        "{}",
        page.describe().await
    );
    page.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_next_user_after_a_logout_inherits_no_target_name_or_password() {
    let Some((chromium, driver)) = browser_tools() else {
        return;
    };
    let server = Server::start(
        &[
            "bind",
            "tokio",
            "--base-port",
            "0",
            "--store",
            "memory",
            "--no-color",
        ],
        2,
    );
    let mut watcher = server.login_on("tokio_chat", "watcher");
    let mut chromedriver = Chromedriver::start(&driver, chromium);
    let page = Page::open(
        "shared",
        chromedriver.session("shared").await,
        "tokio_ws_chat",
        server.addr_of("tokio_ws_chat").port(),
    )
    .await;

    // ann joins a room with the form, which makes it her target, and registers from the command
    // line.
    page.login("ann").await;
    page.run_command("whoami").await;
    page.type_into("room-name", "#annex").await;
    page.click("join").await;
    page.wait_js(
        "#annex to be the target",
        "return document.getElementById('target').value === '#annex';",
        vec![],
    )
    .await;
    page.run_command("register ann secret-of-ann").await;
    page.wait_log_line("info", "[INFO] - [ann] registered.")
        .await;

    // Logout: the server closes the connection and the page opens a new one. Each connection
    // confirms `format json` once, which tells the new one from the old.
    let connections = page.log_lines_containing("[INFO] - format json").await;
    page.click("logout").await;
    page.wait_js(
        "a new anonymous connection after the logout",
        "return document.body.dataset.user === undefined
           && document.body.dataset.state === 'connected'
           && document.body.dataset.format === 'json'
           && [...document.querySelectorAll('#log .line')]
                .filter(l => l.textContent.includes('[INFO] - format json')).length > arguments[0];",
        vec![json!(connections)],
    )
    .await;

    let name = page
        .js("return document.getElementById('name').value;", vec![])
        .await;
    assert_eq!(name, json!(""), "the name field after the logout");

    // ben writes to everyone, not to ann's room: the watcher gets his message.
    page.login("ben").await;
    let target = page
        .js("return document.getElementById('target').value;", vec![])
        .await;
    assert_eq!(target, json!(""), "{}", page.describe().await);
    page.send_message("hello from ben").await;
    read_until(&mut watcher, "ben's message to everyone", |line| {
        line.ends_with("[ben]: hello from ben")
    });
    assert_eq!(
        page.log_lines_containing("not in #annex").await,
        0,
        "{}",
        page.describe().await
    );

    // Up in the command line walks back to `whoami`, past ann's register line.
    let command = page.element("command").await;
    command
        .send_keys(&Key::Up.to_string())
        .await
        .expect("press Up in the command line");
    let recalled = page
        .js("return document.getElementById('command').value;", vec![])
        .await;
    assert_eq!(recalled, json!("whoami"), "{}", page.describe().await);
    page.close().await;
}
