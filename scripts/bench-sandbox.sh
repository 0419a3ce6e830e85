#!/usr/bin/env bash
# Sandbox throughput benchmark (not a test): wrk POSTs ~1 KB of JSON over 32 connections on
# 127.0.0.1 to
#   (b) a minimal hyper server that records nothing (examples/bare_hyper.rs),
#   (q) the sandbox with --quiet, recording every request (written to the OS before each answer),
#   (c) the sandbox printing its console (stdout redirected to a file),
# in that order in every round, and prints each one's median req/s and p99, the ratios
#   sandbox --quiet / bare hyper     (target >= 0.6x)
#   console on / sandbox --quiet     (target >= 0.85x)
# and how many requests the console said it did not show.
#
# Environment: DURATION (10s), CONNECTIONS (32), THREADS (wrk threads, 2), WARMUP (2s), ROUNDS (3),
# PYTHON=1 to also measure a Python ThreadingHTTPServer appending JSON lines (scripts/py_sandbox.py).
# Builds with `cargo build --release` into CARGO_TARGET_DIR (default: target).
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-10s}
CONNECTIONS=${CONNECTIONS:-32}
THREADS=${THREADS:-2}
WARMUP=${WARMUP:-2s}
ROUNDS=${ROUNDS:-3}
TARGET_DIR=${CARGO_TARGET_DIR:-target}

command -v wrk >/dev/null || { echo "error: wrk is not installed (apt-get install -y wrk)" >&2; exit 2; }
command -v python3 >/dev/null || { echo "error: python3 is not installed" >&2; exit 2; }

echo "building release binaries…" >&2
cargo build --release --quiet --bin hookplan --example bare_hyper
HOOKPLAN=$TARGET_DIR/release/hookplan
BARE=$TARGET_DIR/release/examples/bare_hyper

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
echo "body: $(wc -c < "$work/body.json") bytes; wrk -t$THREADS -c$CONNECTIONS -d$DURATION, $ROUNDS rounds" >&2

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

# Stops the last server started (SIGTERM: the sandbox prints its last lines and exits).
stop_last() {
    local pid=${pids[-1]}
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    unset 'pids[-1]'
}

# The machine is shared: the servers alternate within every round and each reports its
# median, so that a burst of someone else's work does not land on one side only.
median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
: > "$work/bare.txt"; : > "$work/quiet.txt"; : > "$work/console.txt"; : > "$work/not-shown.txt"
for round in $(seq 1 "$ROUNDS"); do
    echo "round $round/$ROUNDS: (b) bare hyper…" >&2
    start "$work/bare.log" "$BARE" 0
    measure "$PORT" >> "$work/bare.txt"
    stop_last
    echo "round $round/$ROUNDS: (q) sandbox --quiet…" >&2
    start "$work/quiet.log" "$HOOKPLAN" sandbox start --port 0 --quiet --name "quiet$round" --state-dir "$work/state"
    measure "$PORT" >> "$work/quiet.txt"
    stop_last
    echo "round $round/$ROUNDS: (c) sandbox with its console on (to a file)…" >&2
    start "$work/console$round.log" "$HOOKPLAN" sandbox start --port 0 --name "console$round" --state-dir "$work/state"
    measure "$PORT" >> "$work/console.txt"
    stop_last
    # The console's last words: "Not shown on the console: N requests; …" (none if it showed all).
    not_shown=$(grep -oE '^Not shown on the console: [0-9]+' "$work/console$round.log" | grep -oE '[0-9]+$' || echo 0)
    shown=$(grep -c '^Response: ' "$work/console$round.log" || true)
    recorded=$(cat "$work"/state/sandbox/console"$round"/requests-*.jsonl | wc -l)
    echo "$not_shown $shown $recorded" >> "$work/not-shown.txt"
done

col() { cut -d' ' -f"$2" "$work/$1.txt" | median; }
bare_rps=$(col bare 1); bare_p99=$(col bare 2)
quiet_rps=$(col quiet 1); quiet_p99=$(col quiet 2)
console_rps=$(col console 1); console_p99=$(col console 2)
not_shown=$(col not-shown 1); shown=$(col not-shown 2); console_recorded=$(col not-shown 3)
recorded=$(cat "$work"/state/sandbox/quiet*/requests-*.jsonl | wc -l)

if [ "${PYTHON:-0}" = 1 ]; then
    echo "(p) python ThreadingHTTPServer…" >&2
    start "$work/py.log" python3 scripts/py_sandbox.py 0 "$work/py.jsonl"
    read -r py_rps py_p99 < <(measure "$PORT")
    stop_last
fi

echo "rounds (req/s p99): bare: $(tr '\n' ';' < "$work/bare.txt") quiet: $(tr '\n' ';' < "$work/quiet.txt") console: $(tr '\n' ';' < "$work/console.txt")" >&2
echo "rounds (console not shown, shown, recorded): $(tr '\n' ';' < "$work/not-shown.txt")" >&2
echo
printf '%-48s %10s %10s\n' "server (median of $ROUNDS rounds)" "req/s" "p99 (ms)"
printf '%-48s %10s %10s\n' "(b) bare hyper (records nothing)" "$bare_rps" "$bare_p99"
printf '%-48s %10s %10s\n' "(q) hookplan sandbox --quiet (records every one)" "$quiet_rps" "$quiet_p99"
printf '%-48s %10s %10s\n' "(c) hookplan sandbox, console on (to a file)" "$console_rps" "$console_p99"
if [ "${PYTHON:-0}" = 1 ]; then
    printf '%-48s %10s %10s\n' "(p) python ThreadingHTTPServer + JSON lines" "$py_rps" "$py_p99"
fi
echo
awk -v b="$bare_rps" -v q="$quiet_rps" -v c="$console_rps" 'BEGIN {
    printf "sandbox --quiet / bare hyper    = %.2fx (target >= 0.6x)\n", q / b
    printf "console on / sandbox --quiet    = %.2fx (target >= 0.85x)\n", c / q
}'
echo "console: $shown blocks shown, $not_shown requests reported not shown, of $console_recorded recorded (medians; warm-up included)"
echo "sandbox --quiet recorded $recorded requests in all (warm-ups included), every one before its answer"
