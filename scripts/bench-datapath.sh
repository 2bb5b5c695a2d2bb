#!/usr/bin/env bash
# bench-datapath.sh: the datapath through vnetlab's engine and through the
# kernel, measured in one run with the same traffic.
#
#   vnetlab: `vnetlab up -t benches/scenarios/datapath.toml`: the app
#            namespace's TUN -> the engine (NSG, flow table, NAT gateway SNAT)
#            -> the internet world's TUN, with TUN offloads (checksum, TSO:
#            TCP crosses the engine in segments of up to 64 KiB), as `up`
#            runs by default;
#   plain:   the same with `--no-offload`: every packet at most 1500 bytes,
#            one read and one write each;
#   kernel:  app namespace --veth-- router namespace (ip_forward, nftables
#            with the scenario's allow/deny rules and SNAT to the NAT
#            gateway's address) --veth-- internet namespace.
#
# Both at MTU 1500. Measured: iperf3 TCP with 1 and 4 streams, iperf3 UDP
# with 64-byte datagrams (datagrams received per second), loadgen rr (TCP
# request/response transactions per second on one connection), loadgen crr
# (new connections per second: every one is a new flow through the slow
# path and a NAT port) and a bulk transfer of 4 streams whose content is
# hashed at both ends.
#
# Checks (exit status 1 if any fails): every run succeeded; the bulk streams
# arrived intact; the engine's counters balance (each packet read was
# delivered, answered or dropped); no SNAT exhaustion, full table or
# malformed drops; the flow log's per-flow totals equal the counters.
#
# The last line is: tcp1 vnetlab_gbps=X kernel_gbps=Y ratio=R
#
# Needs root. Environment: BENCH_SECS (seconds per measurement, default 5),
# BENCH_REPEAT (runs of each measurement, the median is reported; default 3),
# BENCH_OUT (directory for the raw outputs, default a new temporary one).
# Everything it creates carries a claimed run prefix and is removed on exit,
# on Ctrl-C, and (by the next vnetlab run or `vnetlab down`) after a crash.

set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/lib-bench.sh
. scripts/lib-bench.sh

SECS=${BENCH_SECS:-5}
REPEAT=${BENCH_REPEAT:-3}
OUT=${BENCH_OUT:-$(mktemp -d /tmp/vnetlab-bench.XXXXXX)}
mkdir -p "$OUT"
rm -f "$OUT"/flows-*.jsonl "$OUT"/stats-*.json  # the engine appends to its flow log
DST=198.51.100.20   # a host of the internet world
NAT_IP=198.18.0.50  # the scenario's NAT gateway address
SCENARIO=benches/scenarios/datapath.toml

[ "$(id -u)" -eq 0 ] || die "needs root (network namespaces, TUN devices, nftables)"
check_secs_repeat
bash scripts/install-deps.sh >/dev/null
for tool in ip nft iperf3 python3 ss; do
  command -v "$tool" >/dev/null || die "$tool not found"
done

echo "building (release)..." >&2
cargo build --release --locked -q --bin vnetlab
cargo build --release --locked -q -p vnetlab-testbed --example loadgen
VNETLAB=$PWD/target/release/vnetlab
LOADGEN=$PWD/target/release/examples/loadgen

# --- clean-up: only what this run created, processes by PID ---------------
PIDS=()
declare -A UP_PID  # side -> pid of its `vnetlab up`
K=
cleanup() {
  set +e
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
  for p in "${UP_PID[@]}"; do
    kill -0 "$p" 2>/dev/null || continue
    kill -INT "$p"
    for _ in $(seq 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
  done
  if [ -n "$K" ]; then
    for r in kapp krtr kinet; do ip netns del "$K-$r" 2>/dev/null; done
    rm -f "/run/vnetlab/$K.pid"
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- the kernel topology -----------------------------------------------------
# Claim a prefix the way vnetlab does (a state file with our pid and start
# time), so a crashed run's namespaces are recognised and removed later.
mkdir -p /run/vnetlab
start_ticks=$(sed 's/.*) //' "/proc/$$/stat" | cut -d' ' -f20)
for _ in $(seq 64); do
  cand="vl$(od -An -N3 -tx1 /dev/urandom | tr -d ' \n')"
  if ! ip netns list | grep -q "^$cand-" && (set -o noclobber; printf 'pid=%s\nstart=%s\n' $$ "$start_ticks" > "/run/vnetlab/$cand.pid") 2>/dev/null; then
    K=$cand
    break
  fi
done
[ -n "$K" ] || die "no free run prefix"
KAPP=$K-kapp KRTR=$K-krtr KINET=$K-kinet
for ns in $KAPP $KRTR $KINET; do ip netns add "$ns"; ip -n "$ns" link set lo up; done
# Created directly inside the namespaces: the root namespace is never touched.
ip link add a0 netns "$KAPP" type veth peer name r0 netns "$KRTR"
ip link add r1 netns "$KRTR" type veth peer name i0 netns "$KINET"
ip -n "$KAPP" addr add 10.0.2.4/24 dev a0
ip -n "$KAPP" link set a0 up
ip -n "$KAPP" route add default via 10.0.2.1
ip -n "$KRTR" addr add 10.0.2.1/24 dev r0
ip -n "$KRTR" addr add $NAT_IP/32 dev r1
ip -n "$KRTR" link set r0 up
ip -n "$KRTR" link set r1 up
ip -n "$KRTR" route add 198.51.100.0/24 dev r1
ip -n "$KINET" addr add $DST/32 dev i0
ip -n "$KINET" link set i0 up
ip -n "$KINET" route add $NAT_IP/32 dev i0
ip netns exec "$KRTR" sysctl -qw net.ipv4.ip_forward=1
# The scenario's NSG (TCP 5201-5202 and UDP 5201 to the internet, the rest
# denied; return traffic by connection state) and NAT gateway SNAT.
ip netns exec "$KRTR" nft -f - <<EOF
table ip vnetlab_bench {
  chain forward {
    type filter hook forward priority 0; policy drop;
    ct state established,related accept
    iifname "r0" ip daddr != { 10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16 } tcp dport { 5201, 5202 } accept
    iifname "r0" ip daddr != { 10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16 } udp dport 5201 accept
  }
  chain postrouting {
    type nat hook postrouting priority 100;
    oifname "r1" snat to $NAT_IP
  }
}
EOF

# --- the vnetlab topologies ------------------------------------------------------
declare -A APP_NS SERVER_NS
APP_NS[kernel]=$KAPP SERVER_NS[kernel]=$KINET
start_up() { # SIDE FLAGS...
  local side=$1; shift
  echo "starting vnetlab up $* ($side)..." >&2
  "$VNETLAB" up -t "$SCENARIO" "$@" --flow-log "$OUT/flows-$side.jsonl" --stats "$OUT/stats-$side.json" \
    > "$OUT/up-$side.log" 2>&1 &
  UP_PID[$side]=$!
  local p=
  for _ in $(seq 300); do
    p=$(awk '/^testbed .* is up$/ {print $2}' "$OUT/up-$side.log")
    [ -n "$p" ] && break
    kill -0 "${UP_PID[$side]}" 2>/dev/null || { cat "$OUT/up-$side.log" >&2; die "vnetlab up exited"; }
    sleep 0.1
  done
  [ -n "$p" ] || die "vnetlab up did not come up within 30 s"
  APP_NS[$side]=$p-app SERVER_NS[$side]=$p-inet
  # World namespaces accept any address (AnyIP) but own none, so a UDP
  # server that answers from whatever source routing picks (iperf3 connects
  # its UDP socket) needs one: give the host its address, as the kernel
  # topology does.
  ip -n "$p-inet" addr add $DST/32 dev lo
}
start_up vnetlab
start_up plain --no-offload
SIDES="kernel vnetlab plain"

# --- servers -------------------------------------------------------------------
wait_listen() { # NS PROTO PORT
  for _ in $(seq 100); do
    ip netns exec "$1" ss -Hln"${2:0:1}" "sport = :$3" | grep -q . && return 0
    sleep 0.1
  done
  die "nothing listens on $2 $3 in $1"
}
for side in $SIDES; do
  ns=${SERVER_NS[$side]}
  ip netns exec "$ns" timeout 900 iperf3 -s -p 5201 > "$OUT/iperf3-s-$ns.log" 2>&1 &
  PIDS+=($!)
  ip netns exec "$ns" "$LOADGEN" serve 0.0.0.0:5202 --max-secs 600 > "$OUT/loadgen-s-$ns.log" 2>&1 &
  PIDS+=($!)
  wait_listen "$ns" tcp 5201
  wait_listen "$ns" tcp 5202
done

# --- measurements --------------------------------------------------------------
# This is a shared 2-core VM: one run of a measurement can differ from the
# next by 50%. Each one is repeated REPEAT times, kernel and vnetlab taking
# turns, and the median is reported (every value is in $OUT/values).
FAIL=0
declare -A V

run() { # NAME SIDE NS COMMAND... ; output in $OUT/NAME-SIDE-REP.out
  local name=$1 side=$2 ns=$3; shift 3
  local f="$OUT/$name-$side-$rep.out"
  echo "  [$rep/$REPEAT] $name via $side" >&2
  if ! ip netns exec "$ns" timeout $((SECS * 4 + 30)) "$@" > "$f" 2> "$f.err"; then
    echo "FAILED: $name via $side (see $f.err)" >&2
    FAIL=1
    return 1
  fi
}

echo "measuring: ${SECS} s each, median of $REPEAT..." >&2
: > "$OUT/values"
for rep in $(seq "$REPEAT"); do
  for side in $SIDES; do
    ns=${APP_NS[$side]}
    f="$OUT/%s-$side-$rep.out"
    run tcp1 $side "$ns" iperf3 -c $DST -p 5201 -t "$SECS" -J &&
      record tcp1 $side "$(json "$(printf "$f" tcp1)" "round(d['end']['sum_received']['bits_per_second']/1e9, 2)")"
    run tcp4 $side "$ns" iperf3 -c $DST -p 5201 -t "$SECS" -P 4 -J &&
      record tcp4 $side "$(json "$(printf "$f" tcp4)" "round(d['end']['sum_received']['bits_per_second']/1e9, 2)")"
    run udp64 $side "$ns" iperf3 -c $DST -p 5201 -t "$SECS" -u -l 64 -b 0 -J &&
      record udp64 $side "$(json "$(printf "$f" udp64)" "round(d['end']['sum_received']['bytes']/64/d['end']['sum_received']['seconds']/1e3, 1)")"
    run rr $side "$ns" "$LOADGEN" rr $DST:5202 --secs "$SECS" --size 64 &&
      record rr $side "$(kv "$(printf "$f" rr)" per_sec)"
    # Every connection takes a NAT port to the one destination for the 65 s
    # FIN cooldown; 15,000 per run keeps all runs well inside 64,512 ports.
    run crr $side "$ns" "$LOADGEN" crr $DST:5202 --secs "$SECS" --max 15000 &&
      record crr $side "$(kv "$(printf "$f" crr)" per_sec)"
    if [ "$rep" -eq 1 ]; then
      run bulk $side "$ns" "$LOADGEN" bulk $DST:5202 --streams 4 --bytes $((256 << 20)) &&
        record bulk $side "$(kv "$(printf "$f" bulk)" gbps)"
    fi
  done
done
declare -A R
for k in "${!V[@]}"; do R[$k]=$(median "${V[$k]}"); done

# --- stop the engines, then check what they counted ------------------------------
for side in vnetlab plain; do
  pid=${UP_PID[$side]}
  kill -INT "$pid"
  for _ in $(seq 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$pid" 2>/dev/null; then die "vnetlab up ($side) did not stop within 30 s"; fi
  wait "$pid" || { cat "$OUT/up-$side.log" >&2; die "vnetlab up ($side) failed"; }
  echo "checking counters and flow log ($side)..." >&2
  python3 - "$OUT/stats-$side.json" "$OUT/flows-$side.jsonl" <<'EOF' || FAIL=1
import json, sys
c = json.load(open(sys.argv[1]))
ends = [r for r in map(json.loads, open(sys.argv[2])) if r["state"] == "end"]
allowed = [r for r in ends if r["decision"] == "allow"]
checks = [
    ("every packet read was delivered, answered or dropped (unaccounted)", c["unaccounted"], 0),
    ("snat_exhausted drops", c["drops"]["snat_exhausted"], 0),
    ("table_full drops", c["drops"]["table_full"], 0),
    ("malformed drops", c["drops"]["malformed"], 0),
    ("denied flows (the bench sends only allowed traffic)", c["flows_denied"], 0),
    ("flows ended = flows created", c["flows_ended"], c["flows_created"] + c["flows_denied"]),
    ("end records = flows created", len(ends), c["flows_created"] + c["flows_denied"]),
    ("flow log packets out = counters to_world", sum(r["packets_out"] for r in allowed), c["to_world"]["packets"]),
    ("flow log bytes out = counters to_world", sum(r["bytes_out"] for r in allowed), c["to_world"]["bytes"]),
    ("flow log packets in = counters to_app", sum(r["packets_in"] for r in allowed),
     c["to_app"]["packets"] - c["rejects"] - c["dns_responses"]),
]
ok = True
for what, got, want in checks:
    good = got == want
    ok &= good
    print(f"  {'ok  ' if good else 'FAIL'} {what}: {got}" + ("" if good else f", expected {want}"), file=sys.stderr)
print(f"  engine: {c['flows_created']} flows, {c['to_world']['packets']} packets out, "
      f"{c['to_app']['packets']} in, {sum(c['drops'].values())} dropped "
      f"({', '.join(f'{k} {v}' for k, v in c['drops'].items() if v) or 'none'}), "
      f"{c['write_errors']} write errors (full device queues)", file=sys.stderr)
sys.exit(0 if ok else 1)
EOF
done
UP_PID=()
for side in $SIDES; do
  grep -q "verified=4 corrupted=0 failed=0" "$OUT/bulk-$side-1.out" 2>/dev/null || { echo "FAIL: bulk via $side not verified" >&2; FAIL=1; }
done

# --- report ---------------------------------------------------------------------
ratio() { python3 -c "import sys; a,b=sys.argv[1:]; print(f'{float(a)/float(b):.3f}' if a and b and float(b) else 'n/a')" "${1:-}" "${2:-}"; }
echo
echo "machine: $(nproc) cores, $(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1), kernel $(uname -r)"
echo "date: $(date -u +%Y-%m-%dT%H:%MZ); MTU 1500; median of $REPEAT runs of ${SECS} s (bulk: 1 run); raw output in $OUT"
printf '%-36s %9s %9s %9s %8s %8s\n' measurement vnetlab plain kernel ratio plain/k
for t in "tcp1:TCP 1 stream (Gbit/s)" "tcp4:TCP 4 streams (Gbit/s)" "udp64:UDP 64 B received (kpps)" \
         "rr:TCP request/response (/s)" "crr:TCP connections (/s)" "bulk:verified bulk, 4 streams (Gbit/s)"; do
  k=${t%%:*}
  printf '%-36s %9s %9s %9s %8s %8s\n' "${t#*:}" "${R[$k-vnetlab]:-failed}" "${R[$k-plain]:-failed}" "${R[$k-kernel]:-failed}" \
    "$(ratio "${R[$k-vnetlab]:-}" "${R[$k-kernel]:-}")" "$(ratio "${R[$k-plain]:-}" "${R[$k-kernel]:-}")"
done
echo "(vnetlab: as \`vnetlab up\` runs, TUN offloads on; plain: --no-offload, one packet of at most 1500 bytes per read)"
[ "$FAIL" -eq 0 ] || echo "SOME CHECKS FAILED (see above)"
echo "tcp1 vnetlab_gbps=${R[tcp1-vnetlab]:-0} kernel_gbps=${R[tcp1-kernel]:-0} ratio=$(ratio "${R[tcp1-vnetlab]:-}" "${R[tcp1-kernel]:-}")"
exit "$FAIL"
