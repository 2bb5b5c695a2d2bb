# lib-bench.sh: the helpers the benchmark harnesses (bench-datapath.sh,
# bench-hostmode.sh) share. Sourced, never run: after `cd` to the
# repository root, `. scripts/lib-bench.sh`.
#
# The sourcing script keeps its own settings (set -euo pipefail) and globals:
# SECS and REPEAT (from BENCH_SECS and BENCH_REPEAT) for check_secs_repeat;
# OUT (the raw output directory) and V (declare -A: measurement -> values)
# for record.

# Fails the run with a message naming the harness.
die() { echo "$(basename "$0" .sh): $*" >&2; exit 1; }

# SECS and REPEAT are whole numbers in range (BENCH_SECS 1-60, BENCH_REPEAT 1-9).
check_secs_repeat() {
  case "$SECS" in ''|*[!0-9]*) die "BENCH_SECS=$SECS: expected whole seconds";; esac
  [ "$SECS" -ge 1 ] && [ "$SECS" -le 60 ] || die "BENCH_SECS=$SECS: expected 1 to 60"
  case "$REPEAT" in [1-9]) ;; *) die "BENCH_REPEAT=$REPEAT: expected 1 to 9";; esac
}

# json FILE EXPR: EXPR (Python, over the JSON in FILE as d) printed.
json() { python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print($2)" "$1"; }

# kv FILE KEY: the value of KEY=VALUE in loadgen's output FILE.
kv() { sed -n "s/.*\b$2=\([^ ]*\).*/\1/p" "$1"; }

# record NAME SIDE VALUE: one value of a measurement, kept in V and $OUT/values.
record() {
  V[$1-$2]="${V[$1-$2]:-} $3"
  echo "$1 $2 $3" >> "$OUT/values"
}

# median "VALUES": the median of space-separated numbers, empty for none.
median() { python3 -c "import statistics,sys; v=[float(x) for x in sys.argv[1:]]; print(f'{statistics.median(v):g}' if v else '')" $1; }
