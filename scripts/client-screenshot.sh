#!/usr/bin/env bash
# Makes readme_img/client.png: the real `async-chat client` in a real terminal (tmux), talking to
# a real `tokio_chat` server, with two more users (bob, carol) on raw TCP connections.
#
# Needs: tmux, aha (ANSI -> HTML) and chromium (headless screenshot); ImageMagick's `convert` is
# used to trim the margins when present. On Debian/Ubuntu:
#     apt-get install tmux aha chromium imagemagick
# Usage: scripts/client-screenshot.sh            (builds target/debug/async-chat)
#        ASYNC_CHAT_BIN=path/to/async-chat scripts/client-screenshot.sh
set -euo pipefail

cd "$(dirname "$0")/.."
out=readme_img/client.png

missing=()
for tool in tmux aha chromium; do
    command -v "$tool" >/dev/null || missing+=("$tool")
done
if ((${#missing[@]})); then
    echo "client-screenshot: missing ${missing[*]}; install with: apt-get install tmux aha chromium" >&2
    exit 1
fi

bin=${ASYNC_CHAT_BIN:-}
if [[ -z $bin ]]; then
    cargo build --quiet --bin async-chat
    bin=target/debug/async-chat
fi
bin=$(realpath "$bin")

work=$(mktemp -d)
tmux_cmd=(tmux -S "$work/tmux.sock" -f /dev/null)
server_pid=
cleanup() {
    local status=$?
    "${tmux_cmd[@]}" kill-server 2>/dev/null || true
    exec 3>&- 4>&-
    if [[ -n $server_pid ]]; then
        kill "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
    [[ -n ${KEEP_WORK:-} ]] || rm -rf "$work"
    exit "$status"
}
trap cleanup EXIT

# Waits (up to 20 s) until the command "$@" succeeds.
wait_until() {
    local end=$((SECONDS + 20))
    until "$@"; do
        if ((SECONDS >= end)); then
            echo "client-screenshot: timed out waiting for: $*" >&2
            exit 1
        fi
        sleep 0.1
    done
}
screen_has() { "${tmux_cmd[@]}" capture-pane -p -t chat | grep -qF -- "$1"; }
server_up() { grep -qs 'server started on' "$work/server.log"; }
type_line() {
    "${tmux_cmd[@]}" send-keys -t chat -l -- "$1"
    "${tmux_cmd[@]}" send-keys -t chat Enter
}

# The server, on a free port.
"$bin" tokio_chat --port 0 --store memory --no-color >"$work/server.log" 2>&1 &
server_pid=$!
wait_until server_up
port=$(sed -n 's/.*server started on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$work/server.log" | head -n1)
echo "client-screenshot: server on port $port"

# bob and carol on raw TCP (bash's /dev/tcp); what the server sends them is not read.
exec 3<>"/dev/tcp/127.0.0.1/$port" 4<>"/dev/tcp/127.0.0.1/$port"
printf 'login bob\njoin #rust\n' >&3
printf 'login carol\n' >&4

# alice: the TUI client, in a 116x26 terminal.
"${tmux_cmd[@]}" new-session -d -s chat -x 116 -y 26 \
    "TERM=xterm-256color '$bin' client 127.0.0.1:$port --name alice --join '#rust'"
"${tmux_cmd[@]}" set-option -t chat status off >/dev/null
wait_until screen_has "[alice] joined #rust."

printf 'msgall hi everyone, the tokio server is up\n' >&3
wait_until screen_has "the tokio server is up"
type_line "hello bob! how is the port going?"
wait_until screen_has "[alice]: hello bob!"
printf 'msg #rust tokio, async-std and smol pass the same tests\n' >&3
wait_until screen_has "pass the same tests"
printf 'msg alice psst: Tab picks who plain text goes to\n' >&4
wait_until screen_has "psst: Tab picks"
type_line "/rooms"
wait_until screen_has "#rust (2)"
type_line "/msg carol thanks, trying it"
wait_until screen_has "thanks, trying it"
"${tmux_cmd[@]}" send-keys -t chat Tab
wait_until screen_has "to: #rust"
"${tmux_cmd[@]}" send-keys -t chat -l "great news, shipping it"
wait_until screen_has "[#rust]> great news, shipping it"

"${tmux_cmd[@]}" capture-pane -e -p -t chat >"$work/pane.ans"

# ANSI -> HTML with aha's class names, coloured by our own palette (a dark terminal theme).
style='
body, pre { margin: 0; color: #d8dee4; background-color: #1d1f21; }
pre { padding: 12px; font: 15px/17px "DejaVu Sans Mono", "Liberation Mono", monospace; }
.reset { color: #d8dee4; } .bg-reset { background-color: #1d1f21; }
.inverted { color: #1d1f21; } .bg-inverted { background-color: #d8dee4; }
.highlighted { filter: none; }
.dimgray { color: #7a7f85; } .white { color: #d8dee4; } .highlighted.white { color: #ffffff; }
.red { color: #e06c75; } .highlighted.red { color: #ff8a94; }
.green { color: #98c379; } .highlighted.green { color: #b8e994; }
.yellow { color: #e5c07b; } .highlighted.yellow { color: #ffd98a; }
.blue { color: #61afef; } .highlighted.blue { color: #8cc8ff; }
.purple { color: #c678dd; } .highlighted.purple { color: #dc9cf0; }
.cyan { color: #56b6c2; } .highlighted.cyan { color: #7fd8e3; }
.bg-black { background-color: #1d1f21; } .highlighted.bg-black { background-color: #3a3f45; }
.bg-cyan { background-color: #56b6c2; }
'
aha --black --stylesheet --title "async-chat client" <"$work/pane.ans" |
    awk -v style="$style" '/<\/head>/ { print "<style type=\"text/css\">" style "</style>" } { print }' \
        >"$work/pane.html"

mkdir -p readme_img
chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --force-device-scale-factor=1 \
    --window-size=1150,700 --screenshot="$work/shot.png" "file://$work/pane.html" >/dev/null 2>&1
# Trim the unused part of the window (optional: needs ImageMagick).
if ! { convert -version 2>/dev/null | grep -q ImageMagick &&
    convert "$work/shot.png" -bordercolor '#1d1f21' -border 1 -fuzz 2% -trim +repage \
        -bordercolor '#1d1f21' -border 12 "$out"; }; then
    echo "client-screenshot: ImageMagick not usable; the image is not trimmed" >&2
    cp "$work/shot.png" "$out"
fi
echo "client-screenshot: wrote $out"
