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
#   oidc-provider (npm, certified OpenID Provider) as the upstream IdP of the
#   federation interop test, with its direct dependencies (koa, debug; jose is
#   shared with openid-client) pinned.
#   samlify (npm, SAML IdP/SP library; the upstream IdP in usher-saml's
#   service-provider interop test) with its schema validator and every
#   dependency of both pinned (the full tree npm resolves for them).
#   python3-saml (PyPI, OneLogin's SAML service provider) in a venv at
#   $PEERS_DIR/python, with every transitive dependency pinned. lxml and xmlsec come
#   as prebuilt wheels (--only-binary) and must be linked against the same libxml2:
#   the pins below are a pair that is (checked after install).
#   scim2-tester with scim2-cli (PyPI, the independent SCIM 2.0 compliance checker,
#   run as `scim2 --url BASE test`) in its own venv at $PEERS_DIR/scim, every
#   transitive dependency pinned.
#   scim2-server (PyPI, an in-memory SCIM 2.0 service provider; the downstream app
#   of the SCIM connector's tests) in its own venv at $PEERS_DIR/scim-server, every
#   transitive dependency pinned (its pydantic differs from scim2-cli's).
set -euo pipefail
cd "$(dirname "$0")/.."

PEERS_DIR="${USHER_PEERS_DIR:-target-peers}"
NODE_DIR="$PEERS_DIR/node"
NODE_PACKAGES=(
    openid-client@6.8.9 oauth4webapi@3.8.8 jose@6.2.17
    oidc-provider@9.13.3 koa@3.3.0 debug@4.4.3
    samlify@2.13.1 @authenio/samlify-node-xmllint@2.0.0 node-xmllint@1.0.0
    xml-crypto@6.3.2 @xmldom/xmldom@0.8.15 @xmldom/is-dom-node@1.0.1 @authenio/xml-encryption@2.0.2
    xpath@0.0.34 node-rsa@1.1.1 asn1@0.2.6 safer-buffer@2.1.2 xml@1.0.1 xml-escape@1.1.0
    escape-html@1.0.3
)
PYTHON_DIR="$PEERS_DIR/python"
PYTHON_PACKAGES=(
    python3-saml==1.16.0 xmlsec==1.3.17 lxml==6.1.3 isodate==0.7.2
    requests==2.34.2 urllib3==2.8.0 idna==3.20 charset-normalizer==3.5.2 certifi==2026.10.18
)

SCIM_DIR="$PEERS_DIR/scim"
SCIM_PACKAGES=(
    scim2-cli==0.6.0 scim2-tester==0.5.2 scim2-client==0.13.2 scim2-models==0.12.3
    httpx2==2.16.2 httpcore2==2.16.2 h11==0.16.0 anyio==4.16.0 idna==3.20 truststore==0.10.5
    pydantic==2.14.3 pydantic_core==2.50.4 annotated-types==0.8.0 typing_extensions==4.16.0
    typing-inspection==0.4.5 email-validator==2.4.0 dnspython==2.9.2 lark==1.3.1
    click==8.5.1 pydanclick==0.5.1 colorama==0.4.6 docutils==0.23 Pygments==2.21.0
    sphinx-click-rst-to-ansi-formatter==0.2.0
)

SCIM_SERVER_DIR="$PEERS_DIR/scim-server"
SCIM_SERVER_PACKAGES=(
    scim2-server==0.8.3 scim2-models==0.12.3 pydantic==2.14.4 pydantic_core==2.50.5
    annotated-types==0.8.0 typing_extensions==4.16.0 typing-inspection==0.4.5
    email-validator==2.4.0 dnspython==2.9.2 idna==3.20 lark==1.3.1
)

check_only=0
[ "${1:-}" = "--check" ] && check_only=1

installed_version() { # name -> version installed under $NODE_DIR, or nothing
    local manifest="$NODE_DIR/node_modules/$1/package.json"
    [ -f "$manifest" ] && node -p "require('./$manifest').version" 2>/dev/null || true
}

node_peers() {
    if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
        echo "peers: node and npm are needed for the OIDC and SAML interop tests (Node 20 or newer)" >&2
        return 1
    fi
    local missing=() spec name version
    for spec in "${NODE_PACKAGES[@]}"; do
        name="${spec%@*}" # scoped names keep their leading @
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

# Prints the pins of PYTHON_PACKAGES not installed at their version in the venv.
python_missing() {
    "$PYTHON_DIR/bin/python" - "${PYTHON_PACKAGES[@]}" <<'PY' 2>/dev/null || echo "${PYTHON_PACKAGES[*]}"
import sys
from importlib.metadata import PackageNotFoundError, version
for spec in sys.argv[1:]:
    name, want = spec.split("==")
    try:
        have = version(name)
    except PackageNotFoundError:
        have = None
    if have != want:
        print(spec)
PY
}

# lxml and xmlsec must share one libxml2, or signature checks misbehave (xmlsec
# refuses to import on a mismatch); python3-saml must import.
python_smoke() {
    "$PYTHON_DIR/bin/python" -c '
import lxml.etree, xmlsec
from onelogin.saml2.auth import OneLogin_Saml2_Auth
assert lxml.etree.LIBXML_VERSION == xmlsec.get_libxml_version(), (lxml.etree.LIBXML_VERSION, xmlsec.get_libxml_version())
'
}

python_peers() {
    if ! command -v python3 >/dev/null 2>&1; then
        echo "peers: python3 (3.9 or newer, with venv) is needed for the SAML interop test" >&2
        return 1
    fi
    local missing=()
    if [ -x "$PYTHON_DIR/bin/python" ]; then
        mapfile -t missing < <(python_missing)
    else
        missing=("${PYTHON_PACKAGES[@]}")
    fi
    if [ ${#missing[@]} -eq 0 ] && python_smoke; then
        echo "peers: ${PYTHON_PACKAGES[0]} and its pinned dependencies already installed in $PYTHON_DIR"
        return 0
    fi
    if [ "$check_only" -eq 1 ]; then
        echo "peers: missing or broken in $PYTHON_DIR: ${missing[*]:-import check failed} (run scripts/peers.sh)" >&2
        return 1
    fi
    if [ ! -x "$PYTHON_DIR/bin/python" ]; then
        echo "peers: creating the venv $PYTHON_DIR"
        rm -rf "$PYTHON_DIR"
        python3 -m venv "$PYTHON_DIR" || return 1
    fi
    echo "peers: installing ${PYTHON_PACKAGES[*]} into $PYTHON_DIR"
    "$PYTHON_DIR/bin/python" -m pip install --quiet --disable-pip-version-check \
        --only-binary=:all: "${PYTHON_PACKAGES[@]}" || return 1
    python_smoke
}

# Prints the pins (NAME==VERSION, after the venv) not installed at their version
# in the venv.
venv_missing() {
    local dir="$1"
    shift
    "$dir/bin/python" - "$@" <<'PY' 2>/dev/null || echo "$*"
import sys
from importlib.metadata import PackageNotFoundError, version
for spec in sys.argv[1:]:
    name, want = spec.split("==")
    try:
        have = version(name)
    except PackageNotFoundError:
        have = None
    if have != want:
        print(spec)
PY
}

# A venv at DIR holding exactly the pinned PACKAGES, whose COMMAND runs; PURPOSE
# says which tests need it. Used by each Python peer that needs its own
# dependency set (scim2-cli and scim2-server pin different pydantic versions).
pinned_venv() {
    local dir="$1" command="$2" purpose="$3"
    shift 3
    if ! command -v python3 >/dev/null 2>&1; then
        echo "peers: python3 (3.10 or newer, with venv) is needed for $purpose" >&2
        return 1
    fi
    local missing=()
    if [ -x "$dir/bin/python" ]; then
        mapfile -t missing < <(venv_missing "$dir" "$@")
    else
        missing=("$@")
    fi
    if [ ${#missing[@]} -eq 0 ] && "$dir/bin/$command" --help >/dev/null 2>&1; then
        echo "peers: $1 and its pinned dependencies already installed in $dir"
        return 0
    fi
    if [ "$check_only" -eq 1 ]; then
        echo "peers: missing or broken in $dir: ${missing[*]:-$command does not run} (run scripts/peers.sh)" >&2
        return 1
    fi
    if [ ! -x "$dir/bin/python" ]; then
        echo "peers: creating the venv $dir"
        rm -rf "$dir"
        python3 -m venv "$dir" || return 1
    fi
    echo "peers: installing $* into $dir"
    # --no-deps: the list is the whole closure, so nothing unpinned slips in.
    "$dir/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps "$@" || return 1
    "$dir/bin/$command" --help >/dev/null
}

status=0
node_peers || status=1
python_peers || status=1
pinned_venv "$SCIM_DIR" scim2 "the SCIM compliance test" "${SCIM_PACKAGES[@]}" || status=1
pinned_venv "$SCIM_SERVER_DIR" scim2-server "the SCIM connector tests" "${SCIM_SERVER_PACKAGES[@]}" || status=1
exit "$status"
