#!/usr/bin/env bash
# CPU per call with cluster-wide call limits in Redis vs the embedded default
# (limits counted in the process), same binary, same fixed call rate, one run.
#
#   benches/cluster-cpu.sh [--bin target/release/trunkgate] [--rate 100] [--calls 3000]
#
# Starts (and stops, by PID) a redis-server, a sipp UAS (the carrier) and the
# gateway twice: once without [cluster], once with redis_url and the trunk
# limited to 100000 calls (so every call takes and releases a lease). A sipp
# UAC places --calls calls at --rate calls/s each time. Prints, per run, the
# gateway's and Redis's CPU time per call (from /proc/<pid>/stat) and Redis
# round trips per call (trunkgate_cluster_redis_round_trips_total).
# Everything is on 127.0.0.1, ports 64510-64519 and media 64600-64999.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

BIN=target/release/trunkgate
RATE=100
CALLS=3000
while (($#)); do
    case $1 in
        --bin) BIN=$2; shift 2 ;;
        --rate) RATE=$2; shift 2 ;;
        --calls) CALLS=$2; shift 2 ;;
        *) echo "unknown option $1" >&2; exit 2 ;;
    esac
done
SCEN=${TRUNKGATE_BENCH_DIR:-../shared/bench}/scenarios
GW=64510 UAS=64511 UAC=64512 HTTP=64513 REDIS=64514
OUT=target/bench/cluster-cpu-$(date +%s)
mkdir -p "$OUT"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT INT TERM

ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
hz=$(getconf CLK_TCK)

redis-server --port $REDIS --bind 127.0.0.1 --save "" --appendonly no --dir "$OUT" >/dev/null &
rpid=$!; pids+=("$rpid")
sipp -sf "$SCEN/uas.xml" -i 127.0.0.1 -p $UAS -nostdin >/dev/null 2>&1 &
pids+=("$!")
sleep 1

config() {
    cat <<EOF
[sip]
listen = [ { transport = "udp", address = "127.0.0.1:$GW" } ]
[http]
listen = "127.0.0.1:$HTTP"
[[carriers]]
name = "bench"
address = "127.0.0.1:$UAS"
transport = "udp"
priority = 10
health_interval_s = 0
[[trunks]]
trunk_id = "6f1c2b1e-8a51-4d2b-9c3e-1a2b3c4d5e6f"
status = "active"
direction = "outbound"
$1
[trunks.outbound]
authentication = [ { source = "other", value = "127.0.0.1/32" } ]
fax_support = "disabled"
[store]
data_dir = "$OUT/data-$2"
[media]
port_min = 64600
port_max = 64999
$3
EOF
}

run() {
    local name=$1 file=$OUT/$1.toml
    config "$2" "$name" "$3" >"$file"
    RUST_LOG=warn "$BIN" run --config "$file" 2>"$OUT/$name.log" &
    local gpid=$!; pids+=("$gpid")
    for _ in $(seq 50); do curl -sf "http://127.0.0.1:$HTTP/health/ready" >/dev/null && break; sleep 0.2; done
    local g0 r0 g1 r1
    g0=$(ticks "$gpid"); r0=$(ticks "$rpid")
    sipp 127.0.0.1:$GW -sf "$SCEN/uac.xml" -i 127.0.0.1 -p $UAC -r "$RATE" -m "$CALLS" -d 0 \
        -timeout 600 -nostdin -s +14155550100 >"$OUT/$name.sipp" 2>&1 || true
    sleep 1
    g1=$(ticks "$gpid"); r1=$(ticks "$rpid")
    curl -sf "http://127.0.0.1:$HTTP/metrics" >"$OUT/$name.metrics" || true
    kill "$gpid"; wait "$gpid" 2>/dev/null || true
    local ok trips
    ok=$(awk '/^trunkgate_calls_total/ {s += $2} END {print s + 0}' "$OUT/$name.metrics")
    trips=$(awk '/^trunkgate_cluster_redis_round_trips_total\{op="(acquire|release)"\}/ {s += $2} END {print s + 0}' "$OUT/$name.metrics")
    awk -v n="$name" -v g=$((g1 - g0)) -v r=$((r1 - r0)) -v hz="$hz" -v c="$CALLS" -v ok="$ok" -v t="$trips" \
        'BEGIN { printf "%-8s calls=%d ended=%s gateway_cpu_ms_per_call=%.3f redis_cpu_ms_per_call=%.3f redis_round_trips_per_call=%.2f\n",
                 n, c, ok, g * 1000 / hz / c, r * 1000 / hz / c, t / c }' | tee -a "$OUT/summary.txt"
}

run local "" ""
run redis "simultaneous_call_limit = 100000" "[cluster]
node_id = \"bench\"
redis_url = \"redis://127.0.0.1:$REDIS/0\""
echo "results in $OUT"
