#!/usr/bin/env bash
# Regenerates the README's pictures of the servers and the web page in readme_img/:
#   telnet.png          two netcat sessions (alice, bob) on tokio_chat, in colour, side by side:
#                       errors, login, msg, msgall, whoami, userlist, rooms, logout (the README's
#                       telnet walk-through)
#   console.png         the `bind all` server console after that and the web conversation (in
#                       colour: the server runs in a terminal)
#   web-page.png        the web page (tokio_ws_chat) mid-conversation, 1280x800, headless Chromium
#   web-page-phone.png  the same page at phone width, 390x844
#
# It builds the release binary (unless ASYNC_CHAT_BIN names one), starts `bind all` with the
# memory store on a free base port (8000 when free, so the pictures show the default ports) inside
# tmux, drives two `nc` sessions in tmux terminals with send-keys, renders terminal captures to
# HTML with aha and screenshots them with headless Chromium, then drives the web page through
# chromedriver with scripts/readme_web.py (Python 3, standard library only) while three raw TCP
# users (on tokio_chat, async_std_chat, smol_chat) talk to it. Every step waits for what it
# expects to appear (with a deadline), never for a fixed time.
#
# Needs: tmux, aha, nc (netcat-openbsd), chromium, chromedriver (chromium-driver), python3;
# ImageMagick's `convert` (optional) trims the terminal pictures. On Debian/Ubuntu:
#     apt-get install tmux aha netcat-openbsd chromium chromium-driver python3 imagemagick
# Usage: scripts/readme-images.sh
#        ASYNC_CHAT_BIN=path/to/async-chat scripts/readme-images.sh
set -euo pipefail

cd "$(dirname "$0")/.."
out=readme_img

missing=()
for tool in tmux aha nc chromium chromedriver python3; do
    command -v "$tool" >/dev/null || missing+=("$tool")
done
if ((${#missing[@]})); then
    echo "readme-images: missing ${missing[*]}; install with:" >&2
    echo "    apt-get install tmux aha netcat-openbsd chromium chromium-driver python3" >&2
    exit 1
fi

bin=${ASYNC_CHAT_BIN:-}
if [[ -z $bin ]]; then
    cargo build --release --quiet --bin async-chat
    bin=target/release/async-chat
fi
bin=$(realpath "$bin")

work=$(mktemp -d)
tmux_cmd=(tmux -S "$work/tmux.sock" -f /dev/null)
cleanup() {
    local status=$?
    # Stops the server (Ctrl-C in its pane) and the nc sessions, then tmux itself.
    "${tmux_cmd[@]}" send-keys -t console C-c 2>/dev/null || true
    "${tmux_cmd[@]}" kill-server 2>/dev/null || true
    [[ -n ${KEEP_WORK:-} ]] || rm -rf "$work"
    exit "$status"
}
trap cleanup EXIT

# Waits (up to 20 s) until the command "$@" succeeds.
wait_until() {
    local end=$((SECONDS + 20))
    until "$@"; do
        if ((SECONDS >= end)); then
            echo "readme-images: timed out waiting for: $*; the server console:" >&2
            "${tmux_cmd[@]}" capture-pane -p -J -S - -t console >&2 || true
            exit 1
        fi
        sleep 0.1
    done
}
# Whether the tmux session $1 shows the text $2 (fixed string).
screen_has() { "${tmux_cmd[@]}" capture-pane -p -J -S - -t "$1" | grep -qF -- "$2"; }
# Whether the tmux session $1 shows $3 lines containing $2.
screen_count() { (($("${tmux_cmd[@]}" capture-pane -p -J -S - -t "$1" | grep -cF -- "$2") >= $3)); }
# Types the line $2 into the tmux session $1 and presses Enter.
type_line() {
    "${tmux_cmd[@]}" send-keys -t "$1" -l -- "$2"
    "${tmux_cmd[@]}" send-keys -t "$1" Enter
}
# Whether something accepts connections on 127.0.0.1:$1.
port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# A base port whose six server ports are all free: 8000 (the defaults) if possible.
base=
for candidate in 8000 18000 28000 38000 48000; do
    free=1
    for offset in 0 1 2 80 81 82; do
        if port_busy $((candidate + offset)); then
            free=
            break
        fi
    done
    if [[ -n $free ]]; then
        base=$candidate
        break
    fi
done
if [[ -z $base ]]; then
    echo "readme-images: no free base port found (tried 8000, 18000, ... 48000)" >&2
    exit 1
fi
echo "readme-images: bind all on base port $base"

# The server, in a terminal so its console is in colour.
"${tmux_cmd[@]}" new-session -d -s console -x 100 -y 50 \
    "env -u NO_COLOR TERM=xterm-256color '$bin' bind all --base-port $base --store memory; sleep 1"
"${tmux_cmd[@]}" set-option -g status off >/dev/null
wait_until screen_count console "server started on" 6

# Two netcat sessions, each in its own terminal 76 columns wide.
for user in alice bob; do
    "${tmux_cmd[@]}" new-session -d -s "$user" -x 76 -y 24 \
        "printf '\\033[1;32m\$\\033[0m nc 127.0.0.1 $base\\n'; nc 127.0.0.1 $base; printf '\\033[1;32m\$\\033[0m '; exec cat >/dev/null"
done
wait_until screen_has alice "Welcome to tokio_chat!"
wait_until screen_has bob "Welcome to tokio_chat!"

# The README's telnet walk-through.
type_line alice "whoami"
wait_until screen_has alice "First login!"
type_line alice "login"
wait_until screen_has alice "require username"
type_line alice "login alice"
wait_until screen_has alice "[alice] login to chat."
type_line bob "login Alice"
wait_until screen_has bob "Username already taken!"
type_line bob "login bob"
wait_until screen_has alice "[bob] login to chat."
type_line alice "msg bob hi bob!"
wait_until screen_has bob "[alice][->][bob]: hi bob!"
type_line bob "msgall hello everyone"
wait_until screen_has alice "[bob]: hello everyone"
type_line alice "userlist"
wait_until screen_has alice "[INFO] - [alice, bob]"
type_line alice "/JOIN #rust"
wait_until screen_has alice "[alice] joined #rust."
type_line bob "join #rust"
wait_until screen_has alice "[bob] joined #rust."
type_line alice "msg #rust anyone here?"
wait_until screen_has bob "[#rust][alice]: anyone here?"
type_line bob "whoami"
wait_until screen_has bob "[INFO] - bob"
type_line alice "rooms"
wait_until screen_has alice "[INFO] - [#rust (2)]"
type_line alice "logout"
wait_until screen_has bob "[alice] logout from chat."
wait_until screen_count alice "nc 127.0.0.1" 1
wait_until screen_has console "[alice] logout from chat."

# ANSI -> HTML (aha's class names) coloured by our own palette (a dark terminal theme).
style='
body { margin: 0; color: #d8dee4; background-color: #15171a; font: 14px sans-serif; }
pre { margin: 0; padding: 10px 12px; color: #d8dee4; background-color: #1d1f21;
      font: 15px/18px "DejaVu Sans Mono", "Liberation Mono", monospace; }
.reset { color: #d8dee4; } .bg-reset { background-color: #1d1f21; }
.inverted { color: #1d1f21; } .bg-inverted { background-color: #d8dee4; }
.highlighted { filter: none; } .bold { font-weight: bold; } .underline { text-decoration: underline; }
.dimgray { color: #7a7f85; } .white { color: #d8dee4; } .highlighted.white { color: #ffffff; }
.red { color: #e06c75; } .highlighted.red { color: #ff8a94; }
.green { color: #98c379; } .highlighted.green { color: #b8e994; }
.yellow { color: #e5c07b; } .highlighted.yellow { color: #ffd98a; }
.blue { color: #61afef; } .highlighted.blue { color: #8cc8ff; }
.purple { color: #c678dd; } .highlighted.purple { color: #dc9cf0; }
.cyan { color: #56b6c2; } .highlighted.cyan { color: #7fd8e3; }
.bg-black { background-color: #1d1f21; } .highlighted.bg-black { background-color: #3a3f45; }
.terms { display: flex; gap: 14px; padding: 14px; align-items: flex-start; }
.term { border: 1px solid #3a3f45; border-radius: 8px; overflow: hidden; background: #1d1f21; }
.title { padding: 5px 12px; background: #2b2f34; color: #a8b0b8; border-bottom: 1px solid #3a3f45; }
'
# Prints the terminal text of tmux session $1 (colours kept, trailing blank lines dropped) as the
# inner HTML of aha's <pre>.
pane_html() {
    "${tmux_cmd[@]}" capture-pane -e -p -t "$1" |
        sed -e :a -e '/^\n*$/{$d;N;ba' -e '}' |
        aha --no-header --stylesheet
}
# Writes an HTML page with one terminal window per "title|session" argument, side by side.
terminals_page() {
    local file=$1
    shift
    {
        printf '<!DOCTYPE html><html><head><meta charset="utf-8"><style>%s</style></head><body><div class="terms">\n' "$style"
        local spec
        for spec in "$@"; do
            printf '<div class="term"><div class="title">%s</div><pre>' "${spec%%|*}"
            pane_html "${spec#*|}"
            printf '</pre></div>\n'
        done
        printf '</div></body></html>\n'
    } >"$file"
}
# Screenshots the HTML file $1 into the PNG $2, trimmed to the content when ImageMagick is there.
shoot() {
    chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --force-device-scale-factor=1 \
        --user-data-dir="$work/chromium" --window-size="$3" --screenshot="$work/shot.png" \
        "file://$1" >/dev/null 2>&1
    if ! { convert -version 2>/dev/null | grep -q ImageMagick &&
        convert "$work/shot.png" -bordercolor '#15171a' -border 1 -fuzz 2% -trim +repage \
            -bordercolor '#15171a' -border 14 "$2"; }; then
        echo "readme-images: ImageMagick not usable; $2 is not trimmed" >&2
        cp "$work/shot.png" "$2"
    fi
    echo "readme-images: wrote $2"
}

mkdir -p "$out"
terminals_page "$work/telnet.html" "alice — nc 127.0.0.1 $base|alice" "bob — nc 127.0.0.1 $base|bob"
shoot "$work/telnet.html" "$out/telnet.png" 1600,900

# bob leaves too (the web conversation has its own bob), then the web page, with three more users
# on raw TCP.
type_line bob "logout"
wait_until screen_has console "[bob] logout from chat."
python3 scripts/readme_web.py --base-port "$base" --out-dir "$out"

# The console after both conversations: wait until the web conversation's users have left.
for user in alice bob carol dave; do
    wait_until screen_has console "[$user] disconnected"
done
server_args="bind all --store memory"
[[ $base == 8000 ]] || server_args="bind all --base-port $base --store memory"
terminals_page "$work/console.html" "async-chat $server_args|console"
shoot "$work/console.html" "$out/console.png" 1000,900
