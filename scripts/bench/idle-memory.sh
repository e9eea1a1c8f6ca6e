#!/usr/bin/env bash
# Idle resident memory of `usher serve`: starts the release build with no
# configuration (SQLite, memory sessions) in a scratch directory, waits until it is
# ready, sends a few requests, lets it settle, and prints VmRSS and VmHWM.
# Usage: scripts/bench/idle-memory.sh [extra usher env assignments...]
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo build --release --locked -p usher >&2
bin="${CARGO_TARGET_DIR:-target}/release/usher"
scratch=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
trap 'kill $pid 2>/dev/null || true; rm -rf "$scratch"' EXIT
(cd "$scratch" && exec env "$@" USHER_SERVER__BIND="127.0.0.1:$port" "$bin" serve 2>"$scratch/log") &
pid=$!
for _ in $(seq 1 300); do
    curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break
    sleep 0.1
done
curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null
for _ in $(seq 1 100); do curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null; done
curl -fsS "http://127.0.0.1:$port/metrics" >/dev/null
sleep 5
rss=$(awk '/VmRSS/ {print $2}' "/proc/$pid/status")
hwm=$(awk '/VmHWM/ {print $2}' "/proc/$pid/status")
threads=$(awk '/Threads/ {print $2}' "/proc/$pid/status")
echo "idle RSS: $((rss / 1024)) MiB ($rss kB); peak RSS: $((hwm / 1024)) MiB; threads: $threads; cores: $(nproc)"
