#!/usr/bin/env bash
# A/B comparison of two builds of the server with the project's load generator.
#
#   scripts/bench-ab.sh OLD_BINARY NEW_BINARY RUNS SERVER [bench options...]
#   e.g. scripts/bench-ab.sh /tmp/async-chat-before target/release/async-chat 5 tokio_ws_chat \
#          --clients 100 --messages 100
#
# Runs on this machine differ by 10-30% minutes apart, so one run of each proves little. This
# alternates the two binaries RUNS times each (a fresh server per run, on a free port, with
# `--store memory --no-flood-limit` as `bench suite` does), drives each with NEW_BINARY's
# `bench` (or BENCH_BINARY's, when set: for a change that would also change the load
# generator, such as the allocator; OLD_BENCH_BINARY, when set, drives the old side instead:
# for a change to the load generator alone, run with the same server binary twice), and
# prints per run and then the medians of: server CPU per delivery (ns), its user and system
# parts, p99 latency, deliveries lost, deliveries/s and the bench's own CPU per delivery. With
# `--idle N` among the options it reports the server's memory per idle connection instead.
# SERVER `floor` runs each binary's `bench floor` (the minimal reference server) instead;
# SERVER `OLD_SERVER,NEW_SERVER` runs a different server for each side (e.g. `floor,tokio_chat`
# with the same binary twice: a server against the floor, in alternating runs). SERVER
# `inspircd` runs InspIRCd 3 (Debian's `inspircd` package) with crates/chat-bench/inspircd-bench.conf,
# loaded over IRC (`--protocol irc`): `inspircd,tokio_chat` compares it with ours, run by run.
# Each run prints: server ns per delivery, user ns, system ns, p99 ms, lost, deliveries/s (M),
# bench ns per delivery.
set -euo pipefail
if [ $# -lt 4 ]; then
    sed -n '2,20p' "$0" >&2
    exit 2
fi
old=$1 new=$2 runs=$3
old_server=${4%%,*} new_server=${4##*,}
shift 4
bench_new=${BENCH_BINARY:-$new}
bench_old=${OLD_BENCH_BINARY:-$bench_new}
ulimit -n "$(ulimit -Hn)"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
results=$(mktemp)
trap 'rm -f "$results"' EXIT
for _ in $(seq "$runs"); do
    for which in old new; do
        bin=$old server=$old_server bench=$bench_old
        [ "$which" = new ] && bin=$new server=$new_server bench=$bench_new
        case $server in *ws*) scheme=ws:// ;; *) scheme= ;; esac
        protocol=()
        if [ "$server" = floor ]; then
            "$bin" bench floor --port "$port" >/dev/null 2>&1 &
        elif [ "$server" = inspircd ]; then
            ircd_dir=$(mktemp -d)
            sed -e "s/@PORT@/$port/" -e "s#@DIR@#$ircd_dir#" \
                "$(dirname "$0")/../crates/chat-bench/inspircd-bench.conf" >"$ircd_dir/inspircd.conf"
            as_root=()
            [ "$(id -u)" = 0 ] && as_root=(--runasroot)
            inspircd --nofork "${as_root[@]}" --config="$ircd_dir/inspircd.conf" >/dev/null 2>&1 &
            protocol=(--protocol irc)
        else
            "$bin" "$server" --port "$port" --store memory --no-flood-limit \
                --max-connections 20000 >/dev/null 2>&1 &
        fi
        pid=$!
        for _ in $(seq 100); do
            (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
            sleep 0.1
        done
        "$bench" bench --target "${scheme}127.0.0.1:$port" --server-pid "$pid" --json \
            "${protocol[@]}" "$@" |
            python3 -c '
import json, sys
d = json.loads(sys.stdin.readline())
if "rss_per_connection_bytes" in d:
    print(sys.argv[1], round(d["rss_per_connection_bytes"] / 1024, 2))
else:
    s, n = d["server"], max(d["deliveries_received"], 1)
    print(sys.argv[1], round(s["cpu_ns_per_delivery"]), round(s["user_ms"] * 1e6 / n),
          round(s["system_ms"] * 1e6 / n), round(d["latency"]["p99_us"] / 1000, 1),
          d["deliveries_lost"], round(d["deliveries_per_s"] / 1e6, 2),
          round(d["bench_cpu_ms"] * 1e6 / n))
' "$which" | tee -a "$results"
        # InspIRCd stops on TERM; ours and the floor on INT (a graceful shutdown).
        if [ "$server" = inspircd ]; then kill -TERM "$pid"; else kill -INT "$pid"; fi
        wait "$pid" || true
        if [ "$server" = inspircd ]; then rm -rf "$ircd_dir"; fi
    done
done
python3 - "$results" <<'PY'
import statistics, sys
rows = {}
for line in open(sys.argv[1]):
    which, *values = line.split()
    rows.setdefault(which, []).append([float(v) for v in values])
for which in ("old", "new"):
    cols = list(zip(*rows.get(which, [])))
    if not cols:
        continue
    med = [statistics.median(c) for c in cols]
    if len(cols) == 1:
        print(f"{which}: median {med[0]:.2f} KiB per idle connection")
    else:
        print(f"{which}: median {med[0]:.0f} ns per delivery (user {med[1]:.0f}, system "
              f"{med[2]:.0f}), p99 {med[3]:.1f} ms, lost {sum(cols[4]):.0f}, "
              f"{med[5]:.2f} M deliveries/s, bench {med[6]:.0f} ns per delivery")
PY
