#!/usr/bin/env bash
# Builds usher and runs it with the development example config
# (deploy/dev/usher.toml: SQLite under ./data, in-memory sessions, port 8080).
# Extra arguments go to `usher serve`, e.g. `scripts/run.sh --log-format json`.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/deps.sh
usher_require_cargo
usher_require_packages
exec cargo run --release --locked -p usher -- --config deploy/dev/usher.toml serve "$@"
