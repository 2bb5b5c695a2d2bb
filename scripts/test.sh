#!/usr/bin/env bash
# The test command (README, .ci/run): installs what the tests need when it is
# missing, checks formatting and lints, then runs every test. Root-only tests
# (network namespaces, TUN) are #[ignore]d: as root they are included
# (--include-ignored); otherwise cargo reports them as ignored and this
# script says how many were left out.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh

if [ ! -d ../shared/conformance/cases ]; then
  echo "error: ../shared (the fact sheet, conformance cases and real-world templates) must sit beside this repository" >&2
  exit 2
fi

echo "== cargo fmt --check"
cargo fmt --all --check

echo "== cargo clippy (warnings are errors)"
cargo clippy --workspace --all-targets --locked -- -D warnings

echo "== cargo test (workspace)"
if [ "$(id -u)" -eq 0 ]; then
  cargo test --workspace --locked -- --include-ignored 2>&1
else
  cargo test --workspace --locked 2>&1
  root_only=$(grep -rhoE '#\[ignore = "needs root' --include='*.rs' core engine testbed tests src | wc -l)
  echo "skipped: $root_only root-only tests (network namespaces, TUN devices): run as root to include them"
fi

echo "== static conformance on ../shared/conformance/cases"
cargo run --quiet --locked -- conformance ../shared/conformance/cases

if [ "$(id -u)" -eq 0 ]; then
  echo "== live conformance (real packets through the TUN engine and testbed namespaces)"
  cargo run --quiet --locked -- conformance --live ../shared/conformance/cases
else
  echo "skipped: live conformance needs root (network namespaces, TUN devices)"
fi

# lint exits 0 (clean) or 1 (findings) on what it loads; 2 is a load error.
lint_loads() {
  set +e
  cargo run --quiet --locked -- lint "$@" >/dev/null
  rc=$?
  set -e
  if [ "$rc" -ge 2 ]; then
    echo "error: lint could not load: $*" >&2
    exit 1
  fi
}

echo "== lint of the real-world templates (must load: exit 0 or 1)"
for t in ../shared/real-world/arm/*.json; do
  case "$t" in *.parameters.json) continue ;; esac
  lint_loads -t "$t"
done

# core/tests/data/real-world (SOURCES.md): each quickstart with its
# parameters file when it has one, and the Azure Verified Modules as the
# app stack their shared parameters file describes. app-function-private-
# endpoint-storage is left out: Azure refuses it too (a test checks the error).
R=core/tests/data/real-world
for t in function-premium-vnet-integration function-app-private-endpoints-storage-private-endpoints \
  avm-ptn-network-private-link-private-dns-zones private-webapp-with-app-gateway-and-apim; do
  if [ -f "$R/$t.parameters.json" ]; then
    lint_loads -t "$R/$t.json" --parameters "$R/$t.parameters.json"
  else
    lint_loads -t "$R/$t.json"
  fi
done
stack=()
while read -r m; do
  [ -n "$m" ] && stack+=(-t "$R/$m")
done < "$R/avm-app-stack.list"
lint_loads "${stack[@]}" --parameters "$R/avm-app-stack.parameters.json"
echo "all test stages finished"
