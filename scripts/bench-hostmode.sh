#!/usr/bin/env bash
# bench-hostmode.sh: `vnetlab run`'s TCP path to a service on this machine's
# loopback, against the two tools developers use for the same job, measured
# in one run with the same client and server.
#
#   hostmode: `vnetlab run -t benches/scenarios/datapath.toml --map
#             198.51.100.20:PORT=127.0.0.1:PORT -- CLIENT`: the app's TUN ->
#             the engine (NSG, flow table, NAT gateway SNAT; TUN offloads, so
#             TCP crosses it in segments of up to 64 KiB) -> the host world's
#             kernel, which terminates the connection -> vnetlab's relay ->
#             a host socket to 127.0.0.1 (every flow is mapped: nothing leaves
#             the machine);
#   slirp:    slirp4netns --configure --mtu=65520 on a user+network namespace
#             (`unshare`); 10.0.2.2 is the host's loopback (host loopback is
#             left enabled, the default);
#   pasta:    pasta --config-net -a 198.18.3.2 -n 24 -g 198.18.3.1 -- CLIENT
#             (Debian package passt, MTU 65520 by default); the gateway
#             198.18.3.1 is the host's loopback (pasta maps it unless
#             --no-map-gw), so the machine's own network is never named.
#
# One server of each kind on 127.0.0.1, started here: `iperf3 -s` on 5201 and
# `loadgen serve` on 5202. Measured per side: iperf3 TCP one stream upload
# (client -> server) and download (-R), and loadgen crr (new connections per
# second: connect, request, response, close; every one a new flow through
# the engine's slow path, a NAT port and a host connect). A peer that cannot
# reach the server gets NA, and the reason is printed; no number is made up.
#
# Checks (exit status 1 if any fails): every hostmode run succeeded; a bulk
# transfer through `vnetlab run` (4 streams, hashed at both ends) arrived
# intact; no connection failed; the flow log of every hostmode run holds only
# allowed flows, each ended; the iperf3 server saw each run (it listens on
# 127.0.0.1 only, so a run that reached it stayed on this machine).
#
# The last line is:
#   hostmode up_gbps=X down_gbps=Y slirp_up_gbps=A slirp_down_gbps=B pasta_up_gbps=C pasta_down_gbps=D
#
# Root or not: vnetlab run is rootless where user namespaces and
# /dev/net/tun allow. Environment: BENCH_SECS (seconds per measurement,
# default 5), BENCH_REPEAT (runs of each measurement, the median is reported;
# default 3), BENCH_OUT (directory for the raw outputs, default a new
# temporary one). Nothing named is created (vnetlab run's namespaces are
# anonymous, slirp's is held by a process): every process started here is
# stopped by its PID on exit and on Ctrl-C.

set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/lib-bench.sh
. scripts/lib-bench.sh

SECS=${BENCH_SECS:-5}
REPEAT=${BENCH_REPEAT:-3}
OUT=${BENCH_OUT:-$(mktemp -d /tmp/vnetlab-bench-host.XXXXXX)}
mkdir -p "$OUT"
rm -f "$OUT"/flows-*.jsonl  # the engine appends to its flow log
DST=198.51.100.20   # what the app connects to: allowed on 5201-5202 by the scenario, always mapped
SCENARIO=benches/scenarios/datapath.toml
CRR_MAX=15000       # connections per crr run (a fresh engine each run: well inside the NAT's ports)

check_secs_repeat
bash scripts/install-deps.sh ip iperf3 slirp4netns pasta >/dev/null
for tool in iperf3 python3 ss unshare nsenter; do
  command -v "$tool" >/dev/null || die "$tool not found"
done

echo "building (release)..." >&2
cargo build --release --locked -q --bin vnetlab
cargo build --release --locked -q -p vnetlab-testbed --example loadgen
BIN=${CARGO_TARGET_DIR:-$PWD/target}/release
VNETLAB=$BIN/vnetlab
LOADGEN=$BIN/examples/loadgen

# --- clean-up: processes by PID ------------------------------------------------
PIDS=()  # long-lived: servers, slirp's namespace holder and slirp4netns
CUR=     # the measurement running now
cleanup() {
  set +e
  [ -n "$CUR" ] && kill "$CUR" 2>/dev/null
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
  for p in "${PIDS[@]}" $CUR; do
    for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
  done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- servers on loopback ---------------------------------------------------------
wait_listen() { # PORT
  for _ in $(seq 100); do
    ss -Hltn "sport = :$1" | grep -q "127.0.0.1:$1" && return 0
    sleep 0.1
  done
  die "nothing listens on 127.0.0.1:$1"
}
ss -Hltn "sport = :5201 or sport = :5202" | grep -q . && die "port 5201 or 5202 is already in use on this machine"
timeout 3600 iperf3 -s -B 127.0.0.1 -p 5201 --forceflush > "$OUT/iperf3-s.log" 2>&1 &
PIDS+=($!)
timeout 700 "$LOADGEN" serve 127.0.0.1:5202 --max-secs 600 > "$OUT/loadgen-s.log" 2>&1 &
PIDS+=($!)
wait_listen 5201
wait_listen 5202

# --- the peers ----------------------------------------------------------------------
declare -A NA  # side -> why it has no numbers
SIDES="hostmode slirp pasta"

# slirp4netns: one namespace for the whole run, held by a sleeping process.
SLIRP_NS=
if command -v slirp4netns >/dev/null; then
  unshare --user --map-root-user --net timeout 3600 sleep 3600 &
  SLIRP_NS=$!
  PIDS+=("$SLIRP_NS")
  sleep 0.2
  slirp4netns --configure --mtu=65520 "$SLIRP_NS" tap0 > "$OUT/slirp4netns.log" 2>&1 &
  PIDS+=($!)
  for _ in $(seq 100); do
    nsenter -t "$SLIRP_NS" -U -n --preserve-credentials ip -4 -br addr show tap0 2>/dev/null | grep -q 10.0.2.100 && break
    sleep 0.1
  done
  nsenter -t "$SLIRP_NS" -U -n --preserve-credentials ip -4 -br addr show tap0 2>/dev/null | grep -q 10.0.2.100 ||
    NA[slirp]="slirp4netns did not configure tap0 (see $OUT/slirp4netns.log)"
else
  NA[slirp]="slirp4netns not installed"
fi

# pasta: a new namespace per measurement, with its own address and a
# gateway from 198.18.0.0/15 (never the machine's own network): pasta maps
# connections to the gateway address to the host's loopback. As root it must
# be told to stay root (it would switch to nobody, who cannot open
# /dev/net/tun here).
PASTA_GW=198.18.3.1
PASTA=(pasta -q -f --config-net -a 198.18.3.2 -n 24 -g "$PASTA_GW")
[ "$(id -u)" -eq 0 ] && PASTA+=(--runas 0)
if ! command -v pasta >/dev/null; then
  NA[pasta]="pasta (package passt) not installed"
fi

# The client command of SIDE (a kind of measurement: up, down, crr, bulk).
declare -A ADDR=([hostmode]=$DST [slirp]=10.0.2.2 [pasta]=$PASTA_GW)
via() { # SIDE NAME COMMAND...
  local side=$1 name=$2; shift 2
  case $side in
    hostmode) echo "$VNETLAB" run --quiet -t "$SCENARIO" --dns-upstream 127.0.0.1:9 --flow-log "$OUT/flows-$name-$rep.jsonl" \
                --map "$DST:5201=127.0.0.1:5201" --map "$DST:5202=127.0.0.1:5202" -- "$@";;
    slirp) echo nsenter -t "$SLIRP_NS" -U -n --preserve-credentials "$@";;
    pasta) echo "${PASTA[@]}" -- "$@";;
  esac
}
client() { # SIDE KIND
  local a=${ADDR[$1]}
  case $2 in
    up) via "$1" "$2" iperf3 -c "$a" -p 5201 -t "$SECS" -J;;
    down) via "$1" "$2" iperf3 -c "$a" -p 5201 -t "$SECS" -J -R;;
    crr) via "$1" "$2" "$LOADGEN" crr "$a:5202" --secs "$SECS" --max "$CRR_MAX";;
    bulk) via "$1" "$2" "$LOADGEN" bulk "$a:5202" --streams 4 --bytes $((128 << 20));;
  esac
}

# --- measurements ------------------------------------------------------------------
# On a shared 2-core VM one run can differ from the next by 50%: each
# measurement is repeated REPEAT times, the sides taking turns, and the
# median is reported (every value is in $OUT/values).
FAIL=0
declare -A V
accepted() { grep -c "Accepted connection" "$OUT/iperf3-s.log" || true; }

run() { # KIND SIDE ; output in $OUT/KIND-SIDE-REP.out
  local kind=$1 side=$2
  local f="$OUT/$kind-$side-$rep.out"
  echo "  [$rep/$REPEAT] $kind via $side" >&2
  # In the background and waited for, so Ctrl-C reaches the trap at once.
  # shellcheck disable=SC2046  # via/client print a command line of plain words
  timeout $((SECS * 4 + 30)) $(client "$side" "$kind") > "$f" 2> "$f.err" < /dev/null &
  CUR=$!
  local st=0
  wait "$CUR" || st=$?
  CUR=
  if [ "$st" -ne 0 ]; then
    echo "FAILED: $kind via $side, status $st (see $f.err)" >&2
    if [ "$side" = hostmode ]; then FAIL=1; fi
    return 1
  fi
}
gbps() { json "$1" "round(d['end']['sum_received']['bits_per_second']/1e9, 2)"; }

echo "measuring: ${SECS} s each, median of $REPEAT..." >&2
: > "$OUT/values"
for rep in $(seq "$REPEAT"); do
  for side in $SIDES; do
    [ -n "${NA[$side]:-}" ] && continue
    for kind in up down; do
      before=$(accepted)
      if run $kind $side; then
        if [ "$(accepted)" -gt "$before" ]; then
          record $kind $side "$(gbps "$OUT/$kind-$side-$rep.out")"
        else
          echo "FAIL: $kind via $side finished but the server on 127.0.0.1 saw no connection" >&2
          FAIL=1
        fi
      fi
    done
    f="$OUT/crr-$side-$rep.out"
    if run crr $side; then
      record crr $side "$(kv "$f" per_sec)"
      [ "$(kv "$f" failed)" = 0 ] && [ "$(kv "$f" mismatched)" = 0 ] ||
        { echo "FAIL: crr via $side: $(cat "$f")" >&2; [ $side = hostmode ] && FAIL=1; }
    fi
  done
  if [ "$rep" -eq 1 ] && run bulk hostmode; then
    grep -q "verified=4 corrupted=0 failed=0" "$OUT/bulk-hostmode-1.out" ||
      { echo "FAIL: bulk via hostmode: $(cat "$OUT/bulk-hostmode-1.out")" >&2; FAIL=1; }
  fi
done
# A peer with no successful run at all could not reach the server.
for side in slirp pasta; do
  [ -z "${NA[$side]:-}" ] && [ -z "${V[up-$side]:-}${V[down-$side]:-}" ] &&
    NA[$side]="no run reached the server (see $OUT/*-$side-*.out.err)"
done
declare -A R
for k in "${!V[@]}"; do R[$k]=$(median "${V[$k]}"); done

echo "checking the flow logs (hostmode)..." >&2
python3 - "$OUT"/flows-*.jsonl <<'EOF' || FAIL=1
import json, sys
ok = True
for path in sys.argv[1:]:
    recs = [json.loads(line) for line in open(path)]
    denied = [r for r in recs if r["decision"] != "allow"]
    ends = [r for r in recs if r["state"] == "end"]
    starts = [r for r in recs if r["state"] == "begin"]
    if denied or not ends or (starts and len(ends) != len(starts)):
        ok = False
        print(f"  FAIL {path}: {len(denied)} denied, {len(starts)} started, {len(ends)} ended", file=sys.stderr)
print(f"  {'ok  ' if ok else 'FAIL'} {len(sys.argv) - 1} flow logs: only allowed flows, every one ended", file=sys.stderr)
sys.exit(0 if ok else 1)
EOF

# --- report ----------------------------------------------------------------------------
ratio() { python3 -c "import sys; a,b=sys.argv[1:]; print(f'{float(a)/float(b):.2f}' if a and b and float(b) else 'n/a')" "${1:-}" "${2:-}"; }
val() { # KIND SIDE
  if [ -n "${NA[$2]:-}" ]; then echo NA; else echo "${R[$1-$2]:-NA}"; fi
}
echo
echo "machine: $(nproc) cores, $(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1), kernel $(uname -r)"
echo "load: $(uptime | sed 's/.*load average/load average/')"
echo "date: $(date -u +%Y-%m-%dT%H:%MZ); median of $REPEAT runs of ${SECS} s; raw output in $OUT"
echo "versions: $("$VNETLAB" --version 2>/dev/null | head -1), $(slirp4netns --version 2>/dev/null | head -1), libslirp $(slirp4netns --version 2>/dev/null | sed -n 's/^libslirp: //p'), passt $(dpkg-query -W -f='${Version}' passt 2>/dev/null || echo '?'), iperf3 $(iperf3 --version | head -1 | cut -d' ' -f2)"
printf '%-34s %9s %9s %9s %12s\n' measurement hostmode slirp pasta hostmode/slirp
for t in "up:iperf3 upload (Gbit/s)" "down:iperf3 download (Gbit/s)" "crr:TCP connections (/s)"; do
  k=${t%%:*}
  printf '%-34s %9s %9s %9s %12s\n' "${t#*:}" "$(val "$k" hostmode)" "$(val "$k" slirp)" "$(val "$k" pasta)" \
    "$(ratio "${R[$k-hostmode]:-}" "$([ -z "${NA[slirp]:-}" ] && echo "${R[$k-slirp]:-}")")"
done
for side in slirp pasta; do
  [ -n "${NA[$side]:-}" ] && echo "$side: NA: ${NA[$side]}"
done
echo "values (in run order):"
for k in up-hostmode down-hostmode crr-hostmode up-slirp down-slirp crr-slirp up-pasta down-pasta crr-pasta; do
  [ -n "${V[$k]:-}" ] && echo "  $k:${V[$k]}"
done
[ "$FAIL" -eq 0 ] || echo "SOME CHECKS FAILED (see above)"
echo "hostmode connections_per_sec=$(val crr hostmode) slirp_connections_per_sec=$(val crr slirp) pasta_connections_per_sec=$(val crr pasta)"
echo "hostmode up_gbps=$(val up hostmode) down_gbps=$(val down hostmode) slirp_up_gbps=$(val up slirp) slirp_down_gbps=$(val down slirp) pasta_up_gbps=$(val up pasta) pasta_down_gbps=$(val down pasta)"
exit "$FAIL"
