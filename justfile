# hookplan tasks (https://just.systems; `pip install rust-just`). `just --list` shows them.

# Run every test (what CI runs).
test:
    cargo test

# Formatting and lints, as CI expects them.
lint:
    cargo fmt --all -- --check
    cargo clippy --all-targets -- -D warnings

# The quickstart plan on embedded defaults.
demo:
    cargo run --release -- run plans/quickstart.kdl --report-dir target/demo-report

# Every benchmark.
bench: bench-engine bench-call bench-check bench-sandbox bench-time-scale bench-alerts bench-mqtt bench-store bench-migrate

# Executor overhead per step, the retry layer, an http step against a bare reqwest call.
bench-engine:
    cargo bench --bench executor 2>/dev/null
    cargo bench --bench retry_policy
    cargo bench --bench http_overhead

# A `call` step (SQLite registry lookup, credentials, JSON log lines) against a bare reqwest POST, both to a sandbox.
bench-call:
    cargo bench --bench call_overhead

# `hookplan check` of generated 500- and 10,000-step plans against kdl's own parse time (hyperfine).
bench-check:
    scripts/bench-check.sh

# The sandbox against a bare hyper server and a Python sandbox (wrk, release build).
bench-sandbox:
    scripts/bench-sandbox.sh

# 60 s of scheduled waits at --time-scale 0 and 1: real time taken and the same digest.
bench-time-scale:
    scripts/bench-time-scale.sh

# Alert evaluation over 1,000,000 deliveries: time per delivery, p95 accuracy, peak heap at 1M against 100k.
bench-alerts:
    cargo bench --bench alerting

# 1,000 `call` steps publishing to a live mosquitto against the same plan without `mqtt` (median of 5 interleaved runs).
bench-mqtt:
    scripts/bench-mqtt.sh

# 10,000 secrets through the Infisical client into the sandbox's emulation: time, exactly once through faults, peak memory.
bench-store:
    cargo bench --bench store_writes

# 10,000 webhooks migrated and verified by the release binary against the emulation as its own process; peak memory at 100,000 against 10,000.
bench-migrate:
    cargo bench --bench migrate

# 100 migrations killed with SIGKILL at seeded instants, each resumed or rolled back: nothing lost, nothing written twice (CRASH_SEED to reproduce).
crash-test:
    CRASH_TRIALS=100 cargo test --release --test crash -- --nocapture
