# Recipes for developers (https://just.systems; `pip install rust-just`).

# Every benchmark.
bench: bench-sandbox

# The sandbox against a bare hyper server and a Python sandbox (wrk, release build).
bench-sandbox:
    scripts/bench-sandbox.sh
