#!/usr/bin/env bash
# Single sign-on throughput: client_credentials grants (RS256, ES256, EdDSA),
# full password logins (authorize -> login POST -> code -> token, argon2id at the
# default cost) and SAML SSO responses for a signed-in browser. usher runs pinned
# to CPU 0 with one worker; the load generator runs pinned to CPU 1. Prints
# throughput per server core, the server's CPU time and requests per CPU-second,
# median and p99; a SAML iteration counts only when its Response is a Success.
# Usage: scripts/bench/sso.sh [--seconds N]
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo build --release --locked -p usher -p usher-bench >&2
target="${CARGO_TARGET_DIR:-target}/release"
pin=()
command -v taskset >/dev/null && pin=(taskset -c 1)
for alg in ES256 EdDSA RS256; do
    "${pin[@]}" "$target/usher-bench" --usher "$target/usher" client-credentials "$alg" "$@"
done
"${pin[@]}" "$target/usher-bench" --usher "$target/usher" password-login "$@"
"${pin[@]}" "$target/usher-bench" --usher "$target/usher" saml-sso "$@"
