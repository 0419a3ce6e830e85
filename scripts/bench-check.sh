#!/usr/bin/env bash
# How fast `hookplan check` is (issue 2, "Speed") — a benchmark, not a timed test.
#
# Generates a 500-step (~50 KB) and a 10,000-step (~1 MB) plan (examples/gen_plan.rs), then
# measures in release, with hyperfine:
#   - `hookplan check` of each plan;
#   - the kdl crate alone parsing the same text (examples/kdl_parse.rs), interleaved with the
#     checks round by round so that both see the same machine load; medians compared;
#   - `hookplan --version`.
# Targets: 500-step check ≤ 120 ms; 10k-step check ≤ 1.3 × kdl's parse; --version ≤ 10 ms.
#
# Usage: scripts/bench-check.sh            (ROUNDS=15 by default; STRICT=1 exits 1 on a miss)
set -euo pipefail
cd "$(dirname "$0")/.."

rounds=${ROUNDS:-15}
command -v hyperfine > /dev/null || { echo "hyperfine is needed (apt-get install hyperfine)" >&2; exit 2; }

cargo build --release --quiet --bin hookplan --example kdl_parse --example gen_plan
bin=$PWD/target/release/hookplan
kdl=$PWD/target/release/examples/kdl_parse
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"

"$OLDPWD/target/release/examples/gen_plan" 500 > plan-500.kdl
"$OLDPWD/target/release/examples/gen_plan" 10000 > plan-10000.kdl
"$bin" check plan-500.kdl plan-10000.kdl > /dev/null   # both must be valid plans

# One run of every command per round: the commands take turns, so that load from others on the
# machine falls on all of them alike.
commands=("$bin check plan-500.kdl" "$kdl plan-500.kdl" "$bin check plan-10000.kdl" "$kdl plan-10000.kdl")
for round in $(seq "$rounds"); do
    hyperfine -N --style none --runs 1 --export-csv "round-$round.csv" "${commands[@]}" > /dev/null
done
hyperfine -N --style none --warmup 20 --runs 200 --export-csv version.csv "$bin --version" > /dev/null 2>&1

# The median of one command's times over all rounds, in seconds.
median() {
    awk -F, -v cmd="$1" '$1 == cmd { print $2 }' round-*.csv | sort -g |
        awk '{ t[NR] = $1 } END { print (NR % 2) ? t[(NR + 1) / 2] : (t[NR / 2] + t[NR / 2 + 1]) / 2 }'
}
check_500=$(median "${commands[0]}")
kdl_500=$(median "${commands[1]}")
check_10k=$(median "${commands[2]}")
kdl_10k=$(median "${commands[3]}")
version=$(awk -F, 'NR == 2 { print $4 }' version.csv)   # hyperfine's median column

size() { awk -v b="$(wc -c < "$1")" 'BEGIN { printf (b < 1048576) ? "%.0f KB" : "%.2f MB", (b < 1048576) ? b / 1024 : b / 1048576 }'; }
missed=0
verdict() { if awk -v v="$1" -v t="$2" 'BEGIN { exit !(v <= t) }'; then echo "ok"; else echo "MISSED"; missed=1; fi; }
ms() { awk -v s="$1" 'BEGIN { printf "%.1f ms", s * 1000 }'; }

ratio=$(awk -v a="$check_10k" -v b="$kdl_10k" 'BEGIN { printf "%.2f", a / b }')
v500=$(verdict "$check_500" 0.120)
vratio=$(verdict "$ratio" 1.3)
vversion=$(verdict "$version" 0.010)
echo
echo "hookplan check speed — medians of $rounds interleaved rounds ($(nproc) CPUs, load $(cut -d' ' -f1 /proc/loadavg))"
printf '%-44s %12s   %-12s %s\n' "measure" "median" "target" ""
printf '%-44s %12s   %-12s %s\n' "check, 500 steps ($(size plan-500.kdl))" "$(ms "$check_500")" "≤ 120 ms" "$v500"
printf '%-44s %12s\n' "kdl parse alone, 500 steps" "$(ms "$kdl_500")"
printf '%-44s %12s\n' "check, 10,000 steps ($(size plan-10000.kdl))" "$(ms "$check_10k")"
printf '%-44s %12s\n' "kdl parse alone, 10,000 steps" "$(ms "$kdl_10k")"
printf '%-44s %12s   %-12s %s\n' "check ÷ kdl parse, 10,000 steps" "${ratio}×" "≤ 1.3×" "$vratio"
printf '%-44s %12s   %-12s %s\n' "hookplan --version" "$(ms "$version")" "≤ 10 ms" "$vversion"
if [[ "${STRICT:-0}" == 1 && $missed == 1 ]]; then
    exit 1
fi
