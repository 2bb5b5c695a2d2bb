#!/usr/bin/env bash
# Installs the Debian packages vnetlab's live tests and benches need, only
# when one of their commands is missing. Never fails the caller when not
# root: it prints what is missing and exits 0.
#   usage: scripts/install-deps.sh [command...]   (default: all below)
set -u

# command -> package
declare -A PKG=( [ip]=iproute2 [iperf3]=iperf3 [nft]=nftables [sysctl]=procps )
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
[ ${#wanted[@]} -eq 0 ] && wanted=(ip iperf3 nft sysctl)

missing_pkgs=()
for cmd in "${wanted[@]}"; do
    pkg=${PKG[$cmd]:-}
    if [ -z "$pkg" ]; then
        echo "install-deps: unknown command '$cmd' (known: ${!PKG[*]})" >&2
        continue
    fi
    command -v "$cmd" >/dev/null 2>&1 || missing_pkgs+=("$pkg")
done

if [ ${#missing_pkgs[@]} -eq 0 ]; then
    exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
    echo "install-deps: missing packages (run as root to install): ${missing_pkgs[*]}" >&2
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "install-deps: no apt-get; install these yourself: ${missing_pkgs[*]}" >&2
    exit 0
fi

echo "install-deps: installing ${missing_pkgs[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
if ! apt-get update -qq >/dev/null; then
    echo "install-deps: apt-get update failed; still missing: ${missing_pkgs[*]}" >&2
    exit 0
fi
if ! apt-get install -y -qq --no-install-recommends "${missing_pkgs[@]}" >/dev/null; then
    echo "install-deps: apt-get install failed; still missing: ${missing_pkgs[*]}" >&2
fi
exit 0
