#!/usr/bin/env bash
# Instructions two server builds execute for the same load, counted by valgrind's callgrind.
#
#   scripts/bench-callgrind.sh OLD_BINARY NEW_BINARY SERVER [bench options...]
#   e.g. scripts/bench-callgrind.sh /tmp/async-chat-before target/release/async-chat tokio_ws_chat
#
# Timed runs on this machine swing by 10-30% between minutes (see scripts/bench-ab.sh); the
# instructions a server executes for a fixed load move by about 1% between runs. This runs each
# build's SERVER under callgrind (about 50 times slower, so the default load is small: 100
# clients all sending 30 messages, window 1, 300,000 deliveries; options given replace it),
# drives it with NEW_BINARY's `bench` (or BENCH_BINARY's), and prints the instructions each
# server executed in all (start-up and logins included) and per delivery. A count says nothing
# about cache misses, lock waits or system calls: a change that moves memory around needs the
# timed runs of bench-ab.sh as well. Needs valgrind (`apt-get install valgrind`).
set -euo pipefail
if [ $# -lt 3 ]; then
    sed -n '2,14p' "$0" >&2
    exit 2
fi
old=$1 new=$2 server=$3
shift 3
bench=${BENCH_BINARY:-$new}
load=("$@")
[ ${#load[@]} -eq 0 ] && load=(--clients 100 --senders 100 --messages 30 --window 1)
case $server in *ws*) scheme=ws:// ;; *) scheme= ;; esac
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for which in old new; do
    bin=$old
    [ "$which" = new ] && bin=$new
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    valgrind --tool=callgrind --callgrind-out-file="$work/$which.out" \
        "$bin" "$server" --port "$port" --store memory --no-flood-limit \
        >/dev/null 2>"$work/$which.log" &
    pid=$!
    for _ in $(seq 300); do
        (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
        sleep 0.1
    done
    deliveries=$("$bench" bench --target "${scheme}127.0.0.1:$port" --timeout 300 --json \
        "${load[@]}" | python3 -c 'import json, sys; print(json.loads(sys.stdin.readline())["deliveries_received"])')
    kill -INT "$pid"
    wait "$pid" || true
    instructions=$(sed -n 's/.*Collected : \([0-9]*\).*/\1/p' "$work/$which.log")
    python3 -c 'import sys; w, i, d = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]); print(f"{w}: {i:,} instructions, {d:,} deliveries, {i / max(d, 1):.0f} per delivery")' \
        "$which" "$instructions" "$deliveries"
done
