#!/usr/bin/env bash
# Manual run of the python3-saml service provider (sp.py) against a running usher.
#
#   run.sh BASE_URL [USERNAME [PASSWORD]] [sp.py flags: --want-signed X --binding X --signed|--unsigned]
#   run.sh --self-test     sp.py against fake_idp.py (no usher needed): checks the script itself
#
# Environment (all optional):
#   SP_ENTITY_ID  default https://sp.interop.test/metadata
#   ACS_URL       default http://127.0.0.1:9/acs  (never served: sp.py reads usher's form)
#   SLO_URL       default http://127.0.0.1:9/slo
#   SP_KEYS_DIR   default target-peers/saml-sp: sp.key/sp.crt are generated there on first
#                 use (openssl, RSA-2048, 2 days) and kept, so usher's config can register
#                 sp.crt; never committed (target-peers/ is git-ignored)
#   FLOWS         JSON list of flows, default: redirect unsigned, then post signed
#   SP_CONFIG_EXTRA  JSON object merged into the config (e.g. '{"slo_binding":"post"}')
# The SP must be registered in usher with that entity id, ACS URL (HTTP-POST), SLO URL
# and, for signed requests, sp.crt. Prints sp.py's RESULT line; exits with its status.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../../../.." && pwd)"
peers="${USHER_PEERS_DIR:-target-peers}"
case "$peers" in /*) ;; *) peers="$root/$peers" ;; esac
py="$peers/python/bin/python"
if [ ! -x "$py" ]; then
    echo "run.sh: $py is missing: run scripts/peers.sh first" >&2
    exit 2
fi

keys_dir="${SP_KEYS_DIR:-$peers/saml-sp}"
make_keys() { # dir cn
    mkdir -p "$1"
    if [ ! -s "$1/sp.key" ] || [ ! -s "$1/sp.crt" ]; then
        openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=$2" \
            -keyout "$1/sp.key" -out "$1/sp.crt" 2>/dev/null
        chmod 600 "$1/sp.key"
    fi
}

if [ "${1:-}" = "--self-test" ]; then
    tmp="$(mktemp -d)"
    pid=""
    cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$tmp"; }
    trap cleanup EXIT
    make_keys "$tmp" sp.test
    openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=idp.test \
        -keyout "$tmp/idp.key" -out "$tmp/idp.crt" 2>/dev/null
    port="$("$py" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
    config() { # slo_binding
        printf '{"base":"http://127.0.0.1:%s","sp_entity_id":"https://sp.test/meta","acs_url":"http://127.0.0.1:9/acs","sp_cert":"%s","sp_key":"%s","username":"alice","password":"pw","slo_binding":"%s","flows":[{"binding":"redirect","signed":false,"expect_login":true},{"binding":"post","signed":true,"expect_login":false},{"binding":"redirect","signed":true,"expect_login":false},{"binding":"post","signed":false,"expect_login":false}]}' \
            "$port" "$tmp/sp.crt" "$tmp/sp.key" "$1"
    }
    start() { # cert key mode
        "$py" "$here/fake_idp.py" "$port" "$1" "$2" "$3" & pid=$!
        for _ in $(seq 50); do
            curl -fs "http://127.0.0.1:$port/saml/metadata" >/dev/null 2>&1 && return 0
            sleep 0.1
        done
        echo "run.sh: fake_idp.py did not start" >&2
        return 1
    }
    stop() { kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; pid=""; }
    passed=0 failed=0
    check() { # name expected(ok|fail) sp.py args...
        local name="$1" expect="$2" got
        shift 2
        if "$py" "$here/sp.py" "$@" >"$tmp/out" 2>"$tmp/err"; then got=ok; else got=fail; fi
        if [ "$got" = "$expect" ]; then
            passed=$((passed + 1)); echo "ok   $name"
        else
            failed=$((failed + 1)); echo "FAIL $name (expected $expect, got $got)"
            cat "$tmp/err" "$tmp/out" >&2
        fi
    }
    for mode in assertion both; do
        start "$tmp/idp.crt" "$tmp/idp.key" "$mode"
        for slo in redirect post; do
            check "idp signs $mode, sp wants assertion, slo $slo" ok "$(config "$slo")" --want-signed assertion
        done
        if [ "$mode" = both ]; then
            check "idp signs both, sp wants both" ok "$(config redirect)" --want-signed both
        else
            check "idp signs assertion only, sp wants response: refused" fail "$(config redirect)" --want-signed response
        fi
        stop
    done
    # Signed with a key that is not the metadata's certificate's: refused.
    start "$tmp/sp.crt" "$tmp/idp.key" assertion
    check "signature by another key: refused" fail "$(config redirect)"
    stop
    echo "$passed passed, $failed failed"
    [ "$failed" -eq 0 ]
    exit
fi

base="${1:?usage: run.sh BASE_URL [USERNAME [PASSWORD]] [sp.py flags] | --self-test}"
shift
user="${1:-alice}"; [ $# -gt 0 ] && shift
pass="${1:-correct horse battery staple}"; [ $# -gt 0 ] && shift
make_keys "$keys_dir" sp.interop.test
echo "run.sh: SP certificate to register in usher: $keys_dir/sp.crt" >&2
config="$(BASE="$base" USER_="$user" PASS_="$pass" KEYS="$keys_dir" "$py" -c '
import json, os
cfg = {
    "base": os.environ["BASE"],
    "sp_entity_id": os.environ.get("SP_ENTITY_ID", "https://sp.interop.test/metadata"),
    "acs_url": os.environ.get("ACS_URL", "http://127.0.0.1:9/acs"),
    "slo_url": os.environ.get("SLO_URL", "http://127.0.0.1:9/slo"),
    "sp_cert": os.path.join(os.environ["KEYS"], "sp.crt"),
    "sp_key": os.path.join(os.environ["KEYS"], "sp.key"),
    "username": os.environ["USER_"], "password": os.environ["PASS_"],
    "flows": json.loads(os.environ.get("FLOWS") or
        "[{\"binding\":\"redirect\",\"signed\":false},{\"binding\":\"post\",\"signed\":true,\"expect_login\":false}]"),
}
cfg.update(json.loads(os.environ.get("SP_CONFIG_EXTRA") or "{}"))
print(json.dumps(cfg))')"
exec "$py" "$here/sp.py" "$config" "$@"
