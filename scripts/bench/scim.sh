#!/usr/bin/env bash
# SCIM provisioning throughput: `POST /scim/v2/Users` creating a new user each time
# (uniqueness check, the user, an audit record and an outbox event in one
# transaction) with usher on PostgreSQL. The bench creates a scratch database
# usher_bench_<pid> on the server of USHER_BENCH_POSTGRES_URL (default
# postgres://postgres@127.0.0.1:5432/postgres) and drops it afterwards. usher runs
# pinned to CPU 0 with one worker; the load generator runs pinned to CPU 1 (the
# PostgreSQL server is not pinned). Prints throughput per server core,
# the server's CPU time and requests per CPU-second, median and p99.
# Usage: scripts/bench/scim.sh [--seconds N] [--concurrency N]
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo build --release --locked -p usher -p usher-bench >&2
target="${CARGO_TARGET_DIR:-target}/release"
pin=()
command -v taskset >/dev/null && pin=(taskset -c 1)
"${pin[@]}" "$target/usher-bench" --usher "$target/usher" scim-create "$@"
