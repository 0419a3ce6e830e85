# hookplan tasks. `just --list` shows them.

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

# Every benchmark: executor overhead, retry layer, plan checking, sandbox throughput.
bench:
    cargo bench --bench executor
    cargo bench --bench retry_policy
