#!/usr/bin/env bash
# Benchmarks the policy hot path (NSG classification, route LPM, and the full
# decision once it exists) against the linear reference evaluators, and
# prints ns per lookup. Last line, for machines to read:
#   classify rules=1000 routes=400 compiled_ns=X linear_ns=Y speedup=Z
# Usage: scripts/bench-classify.sh [--quick]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

# Keys per measured iteration in benches/classify.rs (criterion reports per iteration).
BATCH=1024
CRITERION_ARGS=()
for arg in "$@"; do
    case "$arg" in
        --quick) CRITERION_ARGS+=(--warm-up-time 1 --measurement-time 2) ;;
        -h|--help) sed -n '2,6p' "$0"; exit 0 ;;
        *) echo "bench-classify: unknown argument '$arg' (expected --quick)" >&2; exit 2 ;;
    esac
done

cargo bench --bench classify -- "${CRITERION_ARGS[@]}" >&2

CRIT_DIR="${CARGO_TARGET_DIR:-target}/criterion"
python3 - "$CRIT_DIR" "$BATCH" <<'PY'
import json, os, sys
crit, batch = sys.argv[1], int(sys.argv[2])

def ns(group, fn, param):
    path = os.path.join(crit, group, fn, str(param), "new", "estimates.json")
    try:
        with open(path) as f:
            return json.load(f)["mean"]["point_estimate"] / batch
    except (OSError, KeyError, ValueError):
        return None

rows = [(g, p) for g in ("nsg", "decide") for p in (10, 100, 1000)] + [("lpm", 400)]
print(f"{'group':<8} {'size':>6} {'compiled ns':>12} {'linear ns':>12} {'speedup':>8}")
for g, p in rows:
    c, l = ns(g, "compiled", p), ns(g, "linear", p)
    if c is None and l is None:
        continue
    fmt = lambda x: f"{x:12.1f}" if x is not None else f"{'-':>12}"
    sp = f"{l / c:8.1f}" if c and l else f"{'-':>8}"
    print(f"{g:<8} {p:>6} {fmt(c)} {fmt(l)} {sp}")

c, l = ns("decide", "compiled", 1000), ns("decide", "linear", 1000)
if c is None or l is None:
    nc, nl = ns("nsg", "compiled", 1000), ns("nsg", "linear", 1000)
    lc, ll = ns("lpm", "compiled", 400), ns("lpm", "linear", 400)
    if None in (nc, nl, lc, ll):
        sys.exit("bench-classify: criterion estimates missing under " + crit)
    print("note: no decide benchmark results; X and Y below are nsg/1000 + lpm/400 lookups, not a full decision")
    c, l = nc + lc, nl + ll
print(f"classify rules=1000 routes=400 compiled_ns={c:.1f} linear_ns={l:.1f} speedup={l / c:.1f}")
PY
