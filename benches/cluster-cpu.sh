#!/usr/bin/env bash
# CPU per call and max CPS of the cluster setup (PostgreSQL store + Redis
# call limits) vs the embedded default (SQLite + limits counted in the
# process), same binary, same fixed call rate, one run.
#
#   benches/cluster-cpu.sh [--bin target/release/trunkgate] [--rate 100] [--calls 3000]
#                          [--max-calls 0] [--modes "local redis pg"]
#
# Starts (and stops, by PID) a redis-server, a PostgreSQL (initdb in the
# output dir; as user nobody when run as root; stopped with pg_ctl), a sipp
# UAS (the carrier) and the gateway once per mode:
#   local  no [cluster], SQLite store (the default)
#   redis  [cluster] redis_url, the trunk limited to 100000 calls (so every
#          call takes and releases a lease), SQLite store
#   pg     the same with [store] url = the PostgreSQL (the full cluster setup)
# A sipp UAC places --calls calls at --rate calls/s each time. Prints, per
# run, the gateway's, Redis's and PostgreSQL's CPU time per call (from
# /proc/<pid>/stat; PostgreSQL: the postmaster, its live children and its
# reaped ones) and Redis round trips per call
# (trunkgate_cluster_redis_round_trips_total). With --max-calls N, each mode
# then places N more calls as fast as sipp can keep 200 in flight and prints
# the completed calls per second (max CPS; sipp shares the 2 cores).
# Everything is on 127.0.0.1, ports 64510-64519 and media 64600-64999.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

BIN=target/release/trunkgate
RATE=100
CALLS=3000
MAX_CALLS=0
MODES="local redis pg"
while (($#)); do
    case $1 in
        --bin) BIN=$2; shift 2 ;;
        --rate) RATE=$2; shift 2 ;;
        --calls) CALLS=$2; shift 2 ;;
        --max-calls) MAX_CALLS=$2; shift 2 ;;
        --modes) MODES=$2; shift 2 ;;
        *) echo "unknown option $1" >&2; exit 2 ;;
    esac
done
SCEN=${TRUNKGATE_BENCH_DIR:-../shared/bench}/scenarios
GW=64510 UAS=64511 UAC=64512 HTTP=64513 REDIS=64514 PG=64515
OUT=target/bench/cluster-cpu-$(date +%s)
mkdir -p "$OUT"
pids=()
PGDIR=$(realpath "$OUT")/pg
pg_as() { if [[ $(id -u) -eq 0 ]]; then runuser -u nobody -- "$@"; else "$@"; fi; }
pgbin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
pg_stop() { [[ -f $PGDIR/data/postmaster.pid ]] && pg_as "$pgbin/pg_ctl" -D "$PGDIR/data" -m fast -w stop >/dev/null 2>&1 || true; }
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; pg_stop; wait 2>/dev/null || true; }
trap cleanup EXIT INT TERM

ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
# The postmaster with its reaped children, plus its live children (backends).
pg_ticks() {
    local p t c
    p=$(head -1 "$PGDIR/data/postmaster.pid")
    t=$(awk '{print $14 + $15 + $16 + $17}' "/proc/$p/stat")
    for c in $(pgrep -P "$p"); do t=$((t + $(awk '{print $14 + $15}' "/proc/$c/stat" 2>/dev/null || echo 0))); done
    echo "$t"
}
hz=$(getconf CLK_TCK)

redis-server --port $REDIS --bind 127.0.0.1 --save "" --appendonly no --dir "$OUT" >/dev/null &
rpid=$!; pids+=("$rpid")
if [[ " $MODES " == *" pg "* ]]; then
    mkdir -p "$PGDIR"
    [[ $(id -u) -eq 0 ]] && chown nobody "$PGDIR"
    pg_as "$pgbin/initdb" -D "$PGDIR/data" -U postgres --auth=trust -E UTF8 --no-sync >"$OUT/initdb.log"
    pg_as "$pgbin/pg_ctl" -D "$PGDIR/data" -l "$PGDIR/postgres.log" -w \
        -o "-k $PGDIR -h 127.0.0.1 -p $PG -c max_connections=50" start >/dev/null
fi
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
$4
[media]
port_min = 64600
port_max = 64999
$3
EOF
}

run() {
    local name=$1 file=$OUT/$1.toml
    config "$2" "$name" "$3" "${4:-}" >"$file"
    RUST_LOG=warn "$BIN" run --config "$file" 2>"$OUT/$name.log" &
    local gpid=$!; pids+=("$gpid")
    for _ in $(seq 50); do curl -sf "http://127.0.0.1:$HTTP/health/ready" >/dev/null && break; sleep 0.2; done
    local g0 r0 g1 r1 p0=0 p1=0
    g0=$(ticks "$gpid"); r0=$(ticks "$rpid")
    [[ -n ${4:-} ]] && p0=$(pg_ticks)
    sipp 127.0.0.1:$GW -sf "$SCEN/uac.xml" -i 127.0.0.1 -p $UAC -r "$RATE" -m "$CALLS" -d 0 \
        -timeout 600 -nostdin -s +14155550100 >"$OUT/$name.sipp" 2>&1 || true
    sleep 1
    g1=$(ticks "$gpid"); r1=$(ticks "$rpid")
    [[ -n ${4:-} ]] && p1=$(pg_ticks)
    curl -sf "http://127.0.0.1:$HTTP/metrics" >"$OUT/$name.metrics" || true
    local cps="-"
    if ((MAX_CALLS > 0)); then
        local done0 done1 t0 t1
        done0=$(curl -sf "http://127.0.0.1:$HTTP/metrics" | awk '/^trunkgate_calls_total.*status="completed"/ {s += $2} END {print s + 0}')
        t0=$(date +%s.%N)
        sipp 127.0.0.1:$GW -sf "$SCEN/uac.xml" -i 127.0.0.1 -p $UAC -r 5000 -l 200 -m "$MAX_CALLS" -d 0 \
            -timeout 600 -nostdin -s +14155550100 >"$OUT/$name-max.sipp" 2>&1 || true
        t1=$(date +%s.%N)
        sleep 1
        done1=$(curl -sf "http://127.0.0.1:$HTTP/metrics" | awk '/^trunkgate_calls_total.*status="completed"/ {s += $2} END {print s + 0}')
        cps=$(awk -v d=$((done1 - done0)) -v a="$t0" -v b="$t1" 'BEGIN { printf "%.0f (%d completed)", d / (b - a), d }')
    fi
    kill "$gpid"; wait "$gpid" 2>/dev/null || true
    local ok trips
    ok=$(awk '/^trunkgate_calls_total/ {s += $2} END {print s + 0}' "$OUT/$name.metrics")
    trips=$(awk '/^trunkgate_cluster_redis_round_trips_total\{op="(acquire|release)"\}/ {s += $2} END {print s + 0}' "$OUT/$name.metrics")
    awk -v n="$name" -v g=$((g1 - g0)) -v r=$((r1 - r0)) -v p=$((p1 - p0)) -v hz="$hz" -v c="$CALLS" -v ok="$ok" -v t="$trips" -v cps="$cps" \
        'BEGIN { printf "%-8s calls=%d ended=%s gateway_cpu_ms_per_call=%.3f redis_cpu_ms_per_call=%.3f postgres_cpu_ms_per_call=%.3f total_cpu_ms_per_call=%.3f redis_round_trips_per_call=%.2f max_cps=%s\n",
                 n, c, ok, g * 1000 / hz / c, r * 1000 / hz / c, p * 1000 / hz / c, (g + r + p) * 1000 / hz / c, t / c, cps }' | tee -a "$OUT/summary.txt"
}

CLUSTER="[cluster]
node_id = \"bench\"
redis_url = \"redis://127.0.0.1:$REDIS/0\""
for m in $MODES; do
    case $m in
        local) run local "" "" ;;
        redis) run redis "simultaneous_call_limit = 100000" "$CLUSTER" ;;
        pg) run pg "simultaneous_call_limit = 100000" "$CLUSTER" "url = \"postgres://postgres@127.0.0.1:$PG/postgres\"" ;;
        *) echo "unknown mode $m" >&2; exit 2 ;;
    esac
done
echo "results in $OUT"
