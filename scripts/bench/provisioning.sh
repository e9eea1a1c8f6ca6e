#!/usr/bin/env bash
# Outbound provisioning into SCIM apps (issue 11, "Benchmark"):
#   provision-push: 10,000 users assigned at once to one app (the bench's own SCIM
#     sink, served from the bench process) without rate limits, then 1,000 (the default for that target) to the
#     reference scim2-server (Python: it is the bottleneck there). Users are created
#     in group bench-users through usher's SCIM API with the app assigned to nobody;
#     usher is restarted with the app assigned to the group, and the window runs
#     from that restart to the target holding every account. Prints creates per
#     second, usher's CPU milliseconds per user, its peak RSS (VmHWM) and the
#     duplicate creates the target saw (must be 0).
#   leaver: 200 users in three apps; 50 of them deactivated one at a time through
#     usher's inbound SCIM (an Entra ID-shaped PATCH); prints p50, p95 and max from
#     the PATCH's 2xx to the last app receiving the deactivation, and usher's CPU.
# usher runs on a scratch PostgreSQL database usher_bench_<pid> on the server of
# USHER_BENCH_POSTGRES_URL (default postgres://postgres@127.0.0.1:5432/postgres,
# dropped afterwards), then again on SQLite; pinned to CPU 0 with one worker, the
# bench (and the sink, and scim2-server) pinned to CPU 1.
# Usage: scripts/bench/provisioning.sh [--users N] [--app-concurrency N] [--timeout S]
# (extra arguments go to every run; scim2-server comes from scripts/peers.sh).
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo build --release --locked -p usher -p usher-bench >&2
target="${CARGO_TARGET_DIR:-target}/release"
pin=()
command -v taskset >/dev/null && pin=(taskset -c 1)
bench=("${pin[@]}" "$target/usher-bench" --usher "$target/usher")
"${bench[@]}" provision-push "$@"
"${bench[@]}" provision-push --sqlite "$@"
peer="${USHER_PEERS_DIR:-target-peers}/scim-server/bin/scim2-server"
if [ -x "$peer" ]; then
    "${bench[@]}" provision-push --target scim2-server --scim2-server "$peer" "$@"
else
    echo "SKIPPED: provision-push against scim2-server ($peer missing: run scripts/peers.sh)" >&2
fi
"${bench[@]}" leaver "$@"
"${bench[@]}" leaver --sqlite "$@"
