#!/usr/bin/env bash
# Runs the whole test suite. The PostgreSQL and Redis suites run when
# USHER_TEST_POSTGRES_URL / USHER_TEST_REDIS_URL are set; when they are not, this
# script looks for servers on 127.0.0.1 (5432 and 6379) and uses them if they answer.
# The interop tests need Node.js 20+ and npm for their third-party peers.
# Set USHER_TEST_REQUIRE_SERVICES=1 to fail instead of skipping those suites.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/deps.sh
usher_require_cargo
usher_require_packages

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

if [ -z "${USHER_TEST_POSTGRES_URL:-}" ] && port_open 5432; then
    export USHER_TEST_POSTGRES_URL="postgres://postgres@127.0.0.1:5432/postgres"
fi
if [ -z "${USHER_TEST_REDIS_URL:-}" ] && port_open 6379; then
    export USHER_TEST_REDIS_URL="redis://127.0.0.1:6379/0"
fi
echo "PostgreSQL suite: ${USHER_TEST_POSTGRES_URL:-SKIPPED (set USHER_TEST_POSTGRES_URL)}"
echo "Redis suite:      ${USHER_TEST_REDIS_URL:-SKIPPED (set USHER_TEST_REDIS_URL)}"

# Third-party protocol peers (openid-client, ...) for the interop tests, pinned, in
# the git-ignored target-peers/.
if command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1; then
    scripts/peers.sh
else
    echo "Interop peers:    SKIPPED (install Node.js 20 or newer with npm, and Python 3 with venv, then run again)"
fi

cargo test --locked --workspace "$@"
