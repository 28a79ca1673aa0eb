#!/usr/bin/env python3
"""Screenshots of the web page mid-conversation, for readme_img/ (called by readme-images.sh).

Standard library only. Starts chromedriver (on a port it picks), opens the page of a running
`tokio_ws_chat` in headless Chromium through plain WebDriver HTTP/JSON, logs in as alice there,
runs a short conversation with three more users on raw TCP connections (bob on tokio_chat, dave on
async_std_chat, carol on smol_chat), and saves a laptop-size and a phone-size screenshot. Every step waits for what it
expects on the page (polling with a deadline), never for a fixed time.

Usage: readme_web.py --base-port B --out-dir readme_img [--chromium PATH] [--chromedriver PATH]
"""

import argparse
import base64
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

DEADLINE = 30.0  # seconds any awaited event may take
ELEMENT = "element-6066-11e4-a52e-4f735466cecf"  # W3C WebDriver element reference key


def fail(message):
    print(f"readme_web: {message}", file=sys.stderr)
    sys.exit(1)


class Driver:
    """chromedriver on a free port, with one browser session."""

    def __init__(self, chromedriver, chromium, width, height):
        self.profile = tempfile.mkdtemp(prefix="async-chat-readme-")
        self.proc = subprocess.Popen(
            [chromedriver, "--port=0"],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            start_new_session=True,  # its own process group: the browser dies with it
        )
        self.port = None
        found = threading.Event()

        def read():
            for line in self.proc.stdout:
                m = re.search(r"started successfully on port (\d+)", line)
                if m and self.port is None:
                    self.port = int(m.group(1))
                    found.set()

        threading.Thread(target=read, daemon=True).start()
        if not found.wait(DEADLINE):
            self.close()
            fail("chromedriver did not report its port")
        caps = {
            "capabilities": {
                "alwaysMatch": {
                    "goog:chromeOptions": {
                        "binary": chromium,
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
                            "--hide-scrollbars",
                            "--force-device-scale-factor=1",
                            "--force-color-profile=srgb",
                            f"--window-size={width},{height}",
                            f"--user-data-dir={self.profile}",
                        ],
                    }
                }
            }
        }
        self.session = self.request("POST", "/session", caps)["sessionId"]

    def request(self, method, path, body=None):
        url = f"http://127.0.0.1:{self.port}{path}"
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(url, data=data, method=method)
        req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, timeout=DEADLINE) as resp:
                return json.load(resp)["value"]
        except urllib.error.HTTPError as e:
            fail(f"WebDriver {method} {path}: {e.code} {e.read().decode(errors='replace')[:500]}")

    def cmd(self, method, path, body=None):
        return self.request(method, f"/session/{self.session}{path}", body)

    def js(self, script, *args):
        return self.cmd("POST", "/execute/sync", {"script": script, "args": list(args)})

    def wait(self, what, script, *args):
        """Polls `script` until it returns something truthy; returns it."""
        end = time.monotonic() + DEADLINE
        while True:
            value = self.js(script, *args)
            if value:
                return value
            if time.monotonic() >= end:
                log = self.js(
                    "return [...document.querySelectorAll('#log .line')].map(l => l.textContent);"
                )
                fail(f"timed out waiting for {what}; page log: {json.dumps(log, indent=1)}")
            time.sleep(0.05)  # polling the DOM: WebDriver cannot block on a condition

    def wait_css(self, selector):
        self.wait(selector, "return document.querySelector(arguments[0]) !== null;", selector)

    def element(self, selector):
        found = self.cmd("POST", "/element", {"using": "css selector", "value": selector})
        return found[ELEMENT]

    def type(self, selector, text):
        self.cmd("POST", f"/element/{self.element(selector)}/value", {"text": text})

    def click(self, selector):
        self.wait_css(f"{selector}:not([disabled])")
        self.cmd("POST", f"/element/{self.element(selector)}/click", {})

    def log_has(self, kind, tail):
        self.wait(
            f"a {kind} line ending with {tail!r}",
            "return [...document.querySelectorAll('#log .line')]"
            ".some(l => l.dataset.kind === arguments[0] && l.textContent.endsWith(arguments[1]));",
            kind,
            tail,
        )

    def set_viewport(self, width, height):
        """Resizes the window so that the page itself gets width x height pixels."""
        extra = self.js("return [window.outerWidth - window.innerWidth, "
                        "window.outerHeight - window.innerHeight];")
        self.cmd("POST", "/window/rect", {"width": width + extra[0], "height": height + extra[1]})
        self.wait(f"a {width}x{height} viewport",
                  "return window.innerWidth === arguments[0] && window.innerHeight === arguments[1];",
                  width, height)

    def screenshot(self, path):
        png = base64.b64decode(self.cmd("GET", "/screenshot"))
        with open(path, "wb") as f:
            f.write(png)
        print(f"readme_web: wrote {path}")

    def close(self):
        try:
            if getattr(self, "session", None):
                self.cmd("DELETE", "")
        finally:
            try:
                os.killpg(self.proc.pid, 9)
            except ProcessLookupError:
                pass
            self.proc.wait()
            shutil.rmtree(self.profile, ignore_errors=True)


class Telnet:
    """A raw TCP chat user; what the server sends is read and dropped in a thread."""

    def __init__(self, port, name):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=DEADLINE)
        threading.Thread(target=self.drain, daemon=True).start()
        self.send(f"login {name}")

    def drain(self):
        try:
            while self.sock.recv(65536):
                pass
        except OSError:
            pass

    def send(self, line):
        self.sock.sendall(line.encode() + b"\n")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base-port", type=int, required=True)
    parser.add_argument("--out-dir", required=True)
    parser.add_argument("--chromium", default=shutil.which("chromium") or "chromium")
    parser.add_argument("--chromedriver", default=shutil.which("chromedriver") or "chromedriver")
    args = parser.parse_args()
    base = args.base_port
    ws_port = base + 80  # tokio_ws_chat

    page = Driver(args.chromedriver, args.chromium, 1280, 800)
    try:
        bob = Telnet(base, "bob")  # tokio_chat
        carol = Telnet(base + 2, "carol")  # smol_chat
        bob.send("join #rust")
        carol.send("join #rust")

        page.set_viewport(1280, 800)
        page.cmd("POST", "/url", {"url": f"http://127.0.0.1:{ws_port}/"})
        page.wait_css('body[data-state="connected"][data-format="json"]')
        page.type("#name", "alice")
        page.click("#login")
        page.wait_css('body[data-user="alice"]')
        page.wait(
            "three users in the list",
            "return document.querySelectorAll('#users li[data-user]').length === 3;",
        )
        page.wait_css('#rooms li[data-room="#rust"]')

        bob.send("msgall hi all! tokio, async-std and smol, one chat")
        page.log_has("all", "[bob]: hi all! tokio, async-std and smol, one chat")
        page.type("#message", "hello! writing from the browser, on tokio_ws_chat")
        page.click("#send")
        page.log_has("all", "[alice]: hello! writing from the browser, on tokio_ws_chat")

        carol.send("msg alice psst: click a name on the left to write privately")
        page.log_has("private", "[carol][->][alice]: psst: click a name on the left to write privately")
        page.click('#users li[data-user="carol"]')
        page.wait("carol as the target", "return document.getElementById('target').value === 'carol';")
        page.type("#message", "thanks carol, <b>works</b> here")
        page.click("#send")
        page.log_has("private", "[alice][->][carol]: thanks carol, <b>works</b> here")

        page.click('#rooms li[data-room="#rust"]')
        page.log_has("system", "[SYSTEM INFO] - [alice] joined #rust.")
        page.wait_css('#rooms li.joined[data-room="#rust"][data-members="3"]')
        bob.send("msg #rust tokio, async-std and smol pass the same tests")
        page.log_has("room", "[#rust][bob]: tokio, async-std and smol pass the same tests")

        page.type("#command", "msg dave hi")
        page.click("#command-send")
        page.log_has("error", "[ERROR] - [dave] not found!")
        dave = Telnet(base + 1, "dave")  # async_std_chat
        page.log_has("system", "[SYSTEM INFO] - [dave] login to chat.")
        dave.send("msgall sorry I'm late, async-std here")
        page.log_has("all", "[dave]: sorry I'm late, async-std here")
        page.type("#command", "whoami")
        page.click("#command-send")
        page.log_has("info", "[INFO] - alice")
        carol.send("msg #rust great news, let's ship it")
        page.log_has("room", "[#rust][carol]: great news, let's ship it")

        bob.send("msgall see you all in #rust")
        page.log_has("all", "[bob]: see you all in #rust")
        page.click('#users li[data-user="carol"]')
        page.wait("carol as the target", "return document.getElementById('target').value === 'carol';")
        page.type("#message", "shipping it tonight?")
        page.wait("the log scrolled to the end",
                  "const l = document.getElementById('log');"
                  "return l.scrollHeight - l.scrollTop - l.clientHeight < 2;")

        os.makedirs(args.out_dir, exist_ok=True)
        page.screenshot(os.path.join(args.out_dir, "web-page.png"))

        page.set_viewport(390, 844)
        page.js("document.getElementById('log').scrollTop = 1e9;")
        page.wait("the log scrolled to the end",
                  "const l = document.getElementById('log');"
                  "return l.scrollHeight - l.scrollTop - l.clientHeight < 2;")
        page.screenshot(os.path.join(args.out_dir, "web-page-phone.png"))
    finally:
        page.close()


if __name__ == "__main__":
    main()
