#!/usr/bin/env bash
# Installs the Debian packages vnetlab's live tests and benches need, only
# when one of their commands is missing, then (for the default set, or when
# `example` is named) the example's own software into a git-ignored folder:
# Azurite from npm and a Python venv with azure-functions and
# azure-storage-blob from PyPI (see install_example_deps below). Never fails
# the caller: it prints what is missing and exits 0; the example's test
# fails, quoting the reason this script recorded, when its software is absent.
#   usage: scripts/install-deps.sh [command...|example]   (default: all below)
set -u
cd "$(dirname "$0")/.."

# command -> package (python3-venv stands for `python3 -m venv` with ensurepip,
# which Debian splits out of python3)
declare -A PKG=( [ip]=iproute2 [iperf3]=iperf3 [nft]=nftables [sysctl]=procps
                 [node]=nodejs [npm]=npm [openssl]=openssl [python3]=python3 [python3-venv]=python3-venv
                 [curl]=curl [dig]=dnsutils )

# The example (examples/functions-blob) and its test (tests/example_functions_blob.rs).
# The versions are pinned: Azurite 3.35.0 is the newest that runs on Node 20
# (newer releases want Node 22); it also runs on Debian 12's Node 18.20.4.
EXAMPLE_DEPS=${VNETLAB_EXAMPLE_DEPS:-target/example-deps}
AZURITE_VERSION=3.35.0
# The Python packages: the example's requirements.txt (pinned versions).
REQUIREMENTS=examples/functions-blob/requirements.txt
mapfile -t PY_PACKAGES < <(grep -v '^[[:space:]]*\(#\|$\)' "$REQUIREMENTS" 2>/dev/null)
EXAMPLE_STAMP="azurite@$AZURITE_VERSION ${PY_PACKAGES[*]}"

# Installs Azurite and the venv unless the stamp says this exact set is there.
# Any failure is written to $EXAMPLE_DEPS/install-error.txt (the test quotes it).
install_example_deps() {
    local stamp="$EXAMPLE_DEPS/installed.txt" err="$EXAMPLE_DEPS/install-error.txt"
    if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$EXAMPLE_STAMP" ] \
        && [ -x "$EXAMPLE_DEPS/node_modules/.bin/azurite" ] && [ -x "$EXAMPLE_DEPS/venv/bin/python" ]; then
        return 0
    fi
    mkdir -p "$EXAMPLE_DEPS" || return 0
    rm -f "$stamp" "$err"
    local fail=""
    for cmd in node npm python3 openssl; do
        command -v "$cmd" >/dev/null 2>&1 || fail="$fail $cmd"
    done
    if [ -n "$fail" ]; then
        echo "missing commands:$fail (run scripts/install-deps.sh as root on Debian)" >"$err"
    else
        echo "install-deps: installing azurite@$AZURITE_VERSION and ${PY_PACKAGES[*]} into $EXAMPLE_DEPS" >&2
        local log="$EXAMPLE_DEPS/install.log"
        if ! npm install --prefix "$EXAMPLE_DEPS" --no-audit --no-fund --no-save --loglevel=error \
                "azurite@$AZURITE_VERSION" >"$log" 2>&1; then
            echo "npm install azurite@$AZURITE_VERSION failed (see $log)" >"$err"
        elif ! { [ -x "$EXAMPLE_DEPS/venv/bin/python" ] || python3 -m venv "$EXAMPLE_DEPS/venv"; } >>"$log" 2>&1; then
            echo "python3 -m venv failed (Debian: apt-get install python3-venv; see $log)" >"$err"
        elif ! "$EXAMPLE_DEPS/venv/bin/python" -m pip install -q --disable-pip-version-check \
                "${PY_PACKAGES[@]}" >>"$log" 2>&1; then
            echo "pip install ${PY_PACKAGES[*]} failed (see $log)" >"$err"
        else
            echo "$EXAMPLE_STAMP" >"$stamp"
            return 0
        fi
    fi
    echo "install-deps: example software not installed: $(cat "$err")" >&2
}
# Peers of scripts/bench-hostmode.sh (asked for by name, not in the default set).
PKG[slirp4netns]=slirp4netns
PKG[pasta]=passt

# The test command checks formatting and lints: add the toolchain's
# components when this toolchain lacks them (rustup fetches them from the
# same place as the toolchain).
if command -v rustup >/dev/null 2>&1; then
    for comp in rustfmt clippy; do
        rustup component list --installed 2>/dev/null | grep -q "^$comp" || rustup component add "$comp" >&2 || true
    done
fi

wanted=("$@")
[ ${#wanted[@]} -eq 0 ] && wanted=(ip iperf3 nft sysctl curl dig example)

# `example` stands for the commands its software needs, and for that software.
example=0
expanded=()
for cmd in "${wanted[@]}"; do
    if [ "$cmd" = example ]; then
        example=1
        expanded+=(node npm openssl python3 python3-venv)
    else
        expanded+=("$cmd")
    fi
done

missing_pkgs=()
for cmd in "${expanded[@]}"; do
    pkg=${PKG[$cmd]:-}
    if [ -z "$pkg" ]; then
        echo "install-deps: unknown command '$cmd' (known: ${!PKG[*]})" >&2
        continue
    fi
    if [ "$cmd" = python3-venv ]; then
        # Debian's python3 lacks ensurepip (so `-m venv` fails) without python3-venv.
        command -v python3 >/dev/null 2>&1 && python3 -c 'import ensurepip' >/dev/null 2>&1 && continue
        missing_pkgs+=("$pkg")
        continue
    fi
    command -v "$cmd" >/dev/null 2>&1 || missing_pkgs+=("$pkg")
done

# Debian packages first (when root), then the example's npm and PyPI software.
finish() {
    [ "$example" -eq 1 ] && install_example_deps
    exit 0
}

if [ ${#missing_pkgs[@]} -eq 0 ]; then
    finish
fi

if [ "$(id -u)" -ne 0 ]; then
    echo "install-deps: missing packages (run as root to install): ${missing_pkgs[*]}" >&2
    finish
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "install-deps: no apt-get; install these yourself: ${missing_pkgs[*]}" >&2
    finish
fi

echo "install-deps: installing ${missing_pkgs[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
if ! apt-get update -qq >/dev/null; then
    echo "install-deps: apt-get update failed; still missing: ${missing_pkgs[*]}" >&2
    finish
fi
if ! apt-get install -y -qq --no-install-recommends "${missing_pkgs[@]}" >/dev/null; then
    echo "install-deps: apt-get install failed; still missing: ${missing_pkgs[*]}" >&2
fi
finish
