#!/usr/bin/env bash
# Installs the third-party protocol peers the interop tests drive, pinned, into the
# git-ignored folder target-peers/ (never into the repository). Idempotent: a peer
# already installed at its pinned version is skipped, so CI can call this every run.
#
#   scripts/peers.sh          install what is missing
#   scripts/peers.sh --check  exit 1 when something is missing, install nothing
#
# Peers:
#   openid-client (npm, certified OpenID relying party) with its two dependencies
#   pinned too, so a new release upstream cannot change what CI runs.
set -euo pipefail
cd "$(dirname "$0")/.."

PEERS_DIR="${USHER_PEERS_DIR:-target-peers}"
NODE_DIR="$PEERS_DIR/node"
NODE_PACKAGES=(openid-client@6.8.9 oauth4webapi@3.8.8 jose@6.2.17)

check_only=0
[ "${1:-}" = "--check" ] && check_only=1

installed_version() { # name -> version installed under $NODE_DIR, or nothing
    local manifest="$NODE_DIR/node_modules/$1/package.json"
    [ -f "$manifest" ] && node -p "require('./$manifest').version" 2>/dev/null || true
}

node_peers() {
    if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
        echo "peers: node and npm are needed for the OIDC interop test (Node 20 or newer)" >&2
        return 1
    fi
    local missing=() spec name version
    for spec in "${NODE_PACKAGES[@]}"; do
        name="${spec%@*}"
        version="${spec##*@}"
        if [ "$(installed_version "$name")" != "$version" ]; then
            missing+=("$spec")
        fi
    done
    if [ ${#missing[@]} -eq 0 ]; then
        echo "peers: ${NODE_PACKAGES[*]} already installed in $NODE_DIR"
        return 0
    fi
    if [ "$check_only" -eq 1 ]; then
        echo "peers: missing ${missing[*]} (run scripts/peers.sh)" >&2
        return 1
    fi
    mkdir -p "$NODE_DIR"
    # A package.json of our own keeps npm from walking up into the repository.
    [ -f "$NODE_DIR/package.json" ] || echo '{"name":"usher-peers","private":true}' >"$NODE_DIR/package.json"
    echo "peers: installing ${NODE_PACKAGES[*]} into $NODE_DIR"
    npm install --prefix "$NODE_DIR" --save-exact --no-audit --no-fund --loglevel=error \
        "${NODE_PACKAGES[@]}"
}

node_peers
