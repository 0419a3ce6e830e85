#!/usr/bin/env bash
# Scenario time: a plan with 60 s of scheduled waits, run at --time-scale 0 (many times) and at
# --time-scale 1 (once). Reports the run's own measured duration (report.json's
# timing.real_duration_ms) and checks that both scales give the same digest.
# Target: ≤ 0.06 s at scale 0.
set -euo pipefail
cd "$(dirname "$0")/.."

runs="${RUNS:-15}"
cargo build --release --quiet
bin="$PWD/target/release/hookplan"
plan="$PWD/benches/plans/wait-60s.kdl"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

field() { python3 -c "import json,sys; r=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))" "$@"; }

durations=()
for i in $(seq "$runs"); do
    (cd "$work" && "$bin" run "$plan" --time-scale 0 --no-progress -q --report-dir "zero-$i" > /dev/null 2>&1)
    durations+=("$(field "$work/zero-$i/report.json" 'r["timing"]["real_duration_ms"]')")
done
zero_digest="$(field "$work/zero-1/report.json" 'r["digest"]')"
zero_virtual="$(field "$work/zero-1/report.json" 'r["timing"]["virtual_duration_ms"]')"
median="$(printf '%s\n' "${durations[@]}" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')"

echo "time scale 0: median ${median} ms of real time over ${runs} runs (${zero_virtual} ms of scenario time)"
if [ "${SKIP_SCALE_ONE:-}" = "" ]; then
    (cd "$work" && "$bin" run "$plan" --time-scale 1 --no-progress -q --report-dir one > /dev/null 2>&1)
    one_real="$(field "$work/one/report.json" 'r["timing"]["real_duration_ms"]')"
    one_digest="$(field "$work/one/report.json" 'r["digest"]')"
    echo "time scale 1: ${one_real} ms of real time"
    if [ "$one_digest" = "$zero_digest" ]; then
        echo "digests match: $zero_digest"
    else
        echo "DIGESTS DIFFER: scale 0 $zero_digest, scale 1 $one_digest" >&2
        exit 1
    fi
fi
