# Sourced by scripts/run.sh and scripts/test.sh: makes sure the system packages the
# build needs are present, installing the missing ones when it can.
#
# samael (SAML) binds libxml2 and xmlsec1 through bindgen, which needs libclang;
# openssl-sys needs the OpenSSL headers; pkg-config finds them all.

usher_require_packages() {
    local wanted=(pkg-config libssl-dev libclang-dev libxml2-dev libxmlsec1-dev "$@")
    local missing=()
    local pkg
    for pkg in "${wanted[@]}"; do
        if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed'; then
            missing+=("$pkg")
        fi
    done
    [ ${#missing[@]} -eq 0 ] && return 0

    if ! command -v apt-get >/dev/null 2>&1; then
        echo "usher needs these system packages: ${missing[*]}" >&2
        echo "this is not a Debian/Ubuntu system: install their equivalents with your package manager, then run this again" >&2
        return 1
    fi
    local sudo=()
    if [ "$(id -u)" -ne 0 ]; then
        if command -v sudo >/dev/null 2>&1; then
            sudo=(sudo)
        else
            echo "usher needs these system packages: ${missing[*]}" >&2
            echo "run as root: apt-get update && apt-get install -y ${missing[*]}" >&2
            return 1
        fi
    fi
    echo "installing system packages: ${missing[*]}" >&2
    "${sudo[@]}" apt-get update -qq >&2 \
        && DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq "${missing[@]}" >&2 \
        || {
            echo "installing failed; run: sudo apt-get update && sudo apt-get install -y ${missing[*]}" >&2
            return 1
        }
}

usher_require_cargo() {
    if ! command -v cargo >/dev/null 2>&1; then
        echo "cargo was not found: install a Rust toolchain (https://rustup.rs), then run this again" >&2
        return 1
    fi
}
