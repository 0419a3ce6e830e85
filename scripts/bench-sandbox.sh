#!/usr/bin/env bash
# Sandbox throughput benchmark (not a test): wrk POSTs ~1 KB of JSON over 32 connections on
# 127.0.0.1 to
#   (a) the sandbox, recording every request (written to the OS before each answer),
#   (b) a minimal hyper server that records nothing (examples/bare_hyper.rs),
#   (c) a Python ThreadingHTTPServer appending JSON lines (scripts/py_sandbox.py),
# and prints req/s, p99 latency and the sandbox/bare-hyper ratio.
# Target: sandbox >= 0.6x bare hyper, p99 <= 10 ms.
#
# Environment: DURATION (10s), CONNECTIONS (32), THREADS (wrk threads, 2), WARMUP (2s), ROUNDS (3),
# CONSOLE=1 to also measure the sandbox printing every request (to a file).
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-10s}
CONNECTIONS=${CONNECTIONS:-32}
THREADS=${THREADS:-2}
WARMUP=${WARMUP:-2s}
ROUNDS=${ROUNDS:-3}

command -v wrk >/dev/null || { echo "error: wrk is not installed" >&2; exit 2; }
command -v python3 >/dev/null || { echo "error: python3 is not installed" >&2; exit 2; }

echo "building release binaries…" >&2
cargo build --release --quiet --bin hookplan --example bare_hyper

work=$(mktemp -d)
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

# ~1 KB of JSON, the kind of body a payment webhook carries.
python3 - "$work/body.json" <<'EOF'
import json, sys
event = {"id": "evt_1NG8Du2eZvKYlo2CUI79vXWy", "type": "payment_intent.succeeded", "created": 1707389523,
         "data": {"object": {"id": "pi_3NG8Du2eZvKYlo2C1pQ7xYzA", "amount": 1000, "currency": "usd",
                             "customer": "cus_NffrFeUfNV2Hib", "description": "Order #1234",
                             "metadata": {"order_id": "1234", "note": "x" * 600}, "status": "succeeded"}}}
open(sys.argv[1], "w").write(json.dumps(event))
EOF
cat > "$work/post.lua" <<EOF
local f = io.open("$work/body.json", "rb")
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer sk_test_bench_0123456789abcdef"
EOF
echo "body: $(wc -c < "$work/body.json") bytes; wrk -t$THREADS -c$CONNECTIONS -d$DURATION" >&2

# Starts a server in the background; sets PORT from its first output line.
start() {
    local log=$1; shift
    "$@" > "$log" 2>&1 &
    pids+=($!)
    PORT=
    for _ in $(seq 1 100); do
        PORT=$(grep -m1 -oE '(localhost|127\.0\.0\.1):[0-9]+' "$log" 2>/dev/null | head -1 | cut -d: -f2 || true)
        if [ -n "$PORT" ]; then return 0; fi
        sleep 0.05
    done
    echo "error: $* did not start:" >&2; cat "$log" >&2; exit 1
}

# Runs wrk against a port; prints "REQ_PER_SEC P99_MS".
measure() {
    local port=$1 out
    wrk -t"$THREADS" -c"$CONNECTIONS" -d"$WARMUP" -s "$work/post.lua" "http://127.0.0.1:$port/webhook/payment" > /dev/null
    out=$(wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency -s "$work/post.lua" "http://127.0.0.1:$port/webhook/payment")
    echo "$out" | awk '
        /Requests\/sec:/ { rps = $2 }
        /^ +99%/ {
            v = $2
            if (v ~ /us$/) { sub(/us$/, "", v); p99 = v / 1000 }
            else if (v ~ /ms$/) { sub(/ms$/, "", v); p99 = v }
            else if (v ~ /s$/) { sub(/s$/, "", v); p99 = v * 1000 }
        }
        /Non-2xx|Socket errors/ { errors = errors " " $0 }
        END { printf "%.0f %.2f\n", rps, p99; if (errors != "") print "  note:" errors > "/dev/stderr" }'
}

stop_last() {
    local pid=${pids[-1]}
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    unset 'pids[-1]'
}

# The machine is shared: (a) and (b) alternate for ROUNDS rounds and each reports its median,
# so that a burst of someone else's work does not land on one side only.
median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
: > "$work/a.txt"; : > "$work/b.txt"
for round in $(seq 1 "$ROUNDS"); do
    echo "round $round/$ROUNDS: (a) sandbox…" >&2
    start "$work/sandbox.log" target/release/hookplan sandbox start --port 0 --quiet --name "bench$round" --state-dir "$work/state"
    measure "$PORT" >> "$work/a.txt"
    stop_last
    echo "round $round/$ROUNDS: (b) bare hyper…" >&2
    start "$work/bare.log" target/release/examples/bare_hyper 0
    measure "$PORT" >> "$work/b.txt"
    stop_last
done
sandbox_rps=$(cut -d' ' -f1 "$work/a.txt" | median); sandbox_p99=$(cut -d' ' -f2 "$work/a.txt" | median)
bare_rps=$(cut -d' ' -f1 "$work/b.txt" | median); bare_p99=$(cut -d' ' -f2 "$work/b.txt" | median)
recorded=$(cat "$work"/state/sandbox/bench*/requests-*.jsonl | wc -l)

if [ "${CONSOLE:-0}" = 1 ]; then
    echo "(a') sandbox printing every request…" >&2
    # The console goes to a file: formatting and writing every request block is measured.
    start "$work/sandbox-console.log" target/release/hookplan sandbox start --port 0 --name console --state-dir "$work/state"
    read -r console_rps console_p99 < <(measure "$PORT")
    stop_last
fi

echo "(c) python ThreadingHTTPServer…" >&2
start "$work/py.log" python3 scripts/py_sandbox.py 0 "$work/py.jsonl"
read -r py_rps py_p99 < <(measure "$PORT")
stop_last

echo "rounds (req/s p99): sandbox: $(tr '\n' ';' < "$work/a.txt") bare: $(tr '\n' ';' < "$work/b.txt")" >&2
echo
printf '%-44s %10s %10s\n' "server (median of $ROUNDS rounds for a, b)" "req/s" "p99 (ms)"
printf '%-44s %10s %10s\n' "(a) hookplan sandbox (recording every request)" "$sandbox_rps" "$sandbox_p99"
if [ "${CONSOLE:-0}" = 1 ]; then
    printf '%-44s %10s %10s\n' "(a') sandbox printing every request" "$console_rps" "$console_p99"
fi
printf '%-44s %10s %10s\n' "(b) bare hyper (records nothing)" "$bare_rps" "$bare_p99"
printf '%-44s %10s %10s\n' "(c) python ThreadingHTTPServer + JSON lines" "$py_rps" "$py_p99"
echo
awk -v s="$sandbox_rps" -v b="$bare_rps" -v p="$py_rps" -v p99="$sandbox_p99" -v n="$recorded" 'BEGIN {
    printf "sandbox / bare hyper = %.2fx (target >= 0.6x)\n", s / b
    printf "sandbox / python     = %.0fx\n", s / p
    printf "sandbox p99 = %s ms (target <= 10 ms)\n", p99
    printf "sandbox recorded %d requests (warm-ups included), every one before its answer\n", n
}'
