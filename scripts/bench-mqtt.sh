#!/usr/bin/env bash
# MQTT's cost: a plan of 1,000 `call` steps into a plan sandbox at --time-scale 0, publishing
# every attempt and result to a live mosquitto (QoS 1), against the same plan without `mqtt`.
# Median of 5 interleaved runs of each, wall-clock time of the whole process (so the drain at
# the end counts). Target: ≤ 10% added real time. Needs mosquitto (apt-get install -y
# mosquitto mosquitto-clients).
set -euo pipefail
cd "$(dirname "$0")/.."

runs="${RUNS:-5}"
steps="${STEPS:-1000}"
cargo build --release --quiet
bin="${CARGO_TARGET_DIR:-$PWD/target}/release/hookplan"
mosquitto="$(command -v mosquitto || echo /usr/sbin/mosquitto)"
work="$(mktemp -d)"
broker_pid=""
cleanup() {
    if [ -n "$broker_pid" ]; then kill "$broker_pid" 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT

port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
printf 'listener %s 127.0.0.1\nallow_anonymous true\npersistence false\nuser root\n' "$port" > "$work/mosquitto.conf"
"$mosquitto" -c "$work/mosquitto.conf" > /dev/null 2>&1 &
broker_pid=$!
for _ in $(seq 100); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then break; fi
    sleep 0.05
done

cat > "$work/hooks.sql" <<'SQL'
CREATE TABLE webhooks (code TEXT PRIMARY KEY, direction TEXT, url TEXT, method TEXT, auth TEXT, user TEXT, key TEXT, password TEXT, signing_secret TEXT, enabled TEXT);
INSERT INTO webhooks (code, direction, url, method, auth, key, enabled)
VALUES ('BENCH_HOOK', 'OUT', 'https://api.example.com/webhook/bench', 'POST', 'bearer', 'sk_test_bench_0123456789', '1');
SQL

python3 - "$work" "$steps" "$port" <<'PY'
import sys
work, steps, port = sys.argv[1], int(sys.argv[2]), sys.argv[3]
head = '''plan "bench-mqtt" {
    seed 1
}
sandbox "hooks" {
    port 0
    endpoint "/webhook/bench" method="POST" status=200
}
database "registry" url="sqlite::memory:" {
    seed-sql "hooks.sql"
}
'''
body = "".join(
    f'step "deliver-{i:04}" {{\n    call "BENCH_HOOK" event="E{i}" {{\n        url "${{sandbox.hooks.url}}/webhook/bench"\n    }}\n}}\n'
    for i in range(steps)
)
mqtt = f'mqtt "events" url="mqtt://127.0.0.1:{port}" {{\n    qos 1\n}}\n'
open(f"{work}/without.kdl", "w").write(head + body)
open(f"{work}/with.kdl", "w").write(head + mqtt + body)
PY

elapsed_ms() {
    local start end
    start="$(date +%s%N)"
    (cd "$work" && "$bin" run "$1" --time-scale 0 --no-progress -q --report-dir "$2" > /dev/null 2>&1)
    end="$(date +%s%N)"
    echo $(( (end - start) / 1000000 ))
}
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

# One warm-up of each (page cache, the sandbox's first bind).
elapsed_ms without.kdl warm-without > /dev/null
elapsed_ms with.kdl warm-with > /dev/null

without=()
with=()
for i in $(seq "$runs"); do
    without+=("$(elapsed_ms without.kdl "without-$i")")
    with+=("$(elapsed_ms with.kdl "with-$i")")
done
published="$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['mqtt']['events'])" "$work/with-1/report.json")"
base="$(median "${without[@]}")"
mqtt="$(median "${with[@]}")"
echo "${steps} call steps at --time-scale 0, median of ${runs} interleaved runs (wall clock):"
echo "  without mqtt: ${base} ms   (runs: ${without[*]})"
echo "  with mqtt:    ${mqtt} ms   (runs: ${with[*]})"
echo "  messages of one run: ${published}"
python3 -c "b,m=$base,$mqtt; print(f'  added: {100*(m-b)/b:+.1f}% (target: at most +10%)')"
