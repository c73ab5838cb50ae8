#!/usr/bin/env bash
# instructions.sh -- instructions per call of trunkgate under valgrind's
# callgrind: the noise-free figure to compare commits with (wall-clock CPS on
# this shared 2-core machine moves by +-10 % between runs; instruction counts
# move by well under 1 %).
#
# For each mode (anchored = the embedded default config; signaling = the same
# with [media] enabled = false) the release binary runs under
#   valgrind --tool=callgrind --collect-atstart=yes
# twice: once carrying --base calls, once carrying --base + --calls calls, at
# --rate calls/s from a sipp UAC (scenarios/uac.xml of the shared harness,
# 100 ms hold) to a sipp UAS on 127.0.0.1:5090 (the demo carrier). The gateway
# is stopped with SIGTERM after each run; instructions per call =
# (Ir(long run) - Ir(short run)) / --calls, which cancels start-up, the idle
# timers and shutdown. Every process started here is stopped by PID.
#
# usage: benches/instructions.sh [--calls N] [--base N] [--rate R] [--out DIR] [--modes "anchored signaling"] [--media-ports MIN:MAX] [--port-offset K]
#   --calls N   calls measured (default 500)
#   --media-ports MIN:MAX  narrow [media] port_min/port_max (e.g. 20000:20399,
#               200 pairs: the FIFO line wraps every 100 calls, so the run
#               shows the steady state of a busy gateway, where pairs come
#               back bound and are reused, not the first pass over the range)
#   --base N    calls of the short run (default 50)
#   --rate R    calls/s (default 10: the gateway runs ~50x slower under valgrind)
#   --port-offset K  add K to every port (SIP 5060, carrier 5090, HTTP 8080,
#               sipp's 5061/36000/38000, the media range): two runs side by
#               side on one machine (callgrind counts do not mind the load)
# env: TRUNKGATE_BENCH_DIR (default <repo>/../shared/bench)
set -uo pipefail
case "${1:-}" in -h|--help) awk 'NR > 1 && /^#/ { print; next } NR > 1 { exit }' "$0"; exit 0 ;; esac

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH=${TRUNKGATE_BENCH_DIR:-$REPO/../shared/bench}
[ -f "$BENCH/scenarios/uac.xml" ] || { echo "no benchmark harness at $BENCH (set TRUNKGATE_BENCH_DIR)" >&2; exit 2; }
BENCH=$(cd "$BENCH" && pwd)
# shellcheck source=/dev/null
. "$BENCH/lib/common.sh"

CALLS=500
BASE=50
RATE=10
OUT=""
MODES="anchored signaling"
MEDIA_PORTS=""
OFF=0
while [ $# -gt 0 ]; do
	case "$1" in
	--calls) CALLS=$2; shift 2 ;;
	--base) BASE=$2; shift 2 ;;
	--rate) RATE=$2; shift 2 ;;
	--out) OUT=$2; shift 2 ;;
	--modes) MODES=$2; shift 2 ;;
	--media-ports) MEDIA_PORTS=$2; shift 2 ;;
	--port-offset) OFF=$2; shift 2 ;;
	*) echo "unknown option $1 (see --help)" >&2; exit 2 ;;
	esac
done
for tool in valgrind sipp callgrind_annotate; do
	command -v "$tool" >/dev/null || { echo "needs $tool (apt-get install valgrind sip-tester)" >&2; exit 2; }
done
[ -n "$OUT" ] || OUT=$REPO/target/bench/instructions-$(date +%Y%m%d-%H%M%S)
mkdir -p "$OUT" && OUT=$(cd "$OUT" && pwd)

PIDS=()
cleanup() {
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
}
trap cleanup EXIT INT TERM

log() { printf '%s instructions: %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

log "building the release binary"
(cd "$REPO" && cargo build --release --bin trunkgate) || { echo "cargo build failed" >&2; exit 1; }
BIN=${CARGO_TARGET_DIR:-$REPO/target}/release/trunkgate

# The embedded default config, media on or off, with the data in $OUT.
config_for() { # mode dir
	# config/trunkgate.toml is the embedded default (include_str!).
	cp "$REPO/config/trunkgate.toml" "$2/trunkgate.toml"
	sed -i "s|^data_dir = .*|data_dir = \"$2/data\"|" "$2/trunkgate.toml"
	if [ -n "$MEDIA_PORTS" ]; then
		sed -i "s/^port_min = [0-9]*/port_min = ${MEDIA_PORTS%%:*}/; s/^port_max = [0-9]*/port_max = ${MEDIA_PORTS##*:}/" "$2/trunkgate.toml"
	fi
	if [ "$OFF" != 0 ]; then
		local pmin pmax
		pmin=$(awk -F'[= ]+' '/^port_min/ { print $2; exit }' "$2/trunkgate.toml")
		pmax=$(awk -F'[= ]+' '/^port_max/ { print $2; exit }' "$2/trunkgate.toml")
		sed -i "s/127.0.0.1:5060/127.0.0.1:$((5060 + OFF))/g; s/127.0.0.1:5090/127.0.0.1:$((5090 + OFF))/g; s/127.0.0.1:8080/127.0.0.1:$((8080 + OFF))/g; s/^port_min = [0-9]*/port_min = $((pmin + OFF))/; s/^port_max = [0-9]*/port_max = $((pmax + OFF))/" "$2/trunkgate.toml"
	fi
	if [ "$1" = signaling ]; then
		sed -i 's/^enabled = true/enabled = false/' "$2/trunkgate.toml"
	fi
	"$BIN" check-config "$2/trunkgate.toml" >/dev/null || { echo "bad config $2/trunkgate.toml" >&2; exit 1; }
}

# One run: prints total Ir of the gateway process for $3 calls.
run_once() { # mode ncalls dir
	local mode=$1 n=$2 d=$3
	mkdir -p "$d"
	config_for "$mode" "$d"
	(cd "$d" && exec sipp -sf "$BENCH/scenarios/uas.xml" -i 127.0.0.1 -p $((5090 + OFF)) -mp $((36000 + OFF)) -bg \
		-nostdin -trace_err -error_file uas_err.log >/dev/null 2>&1) &
	sleep 0.5
	local uas
	uas=$(pgrep -n -f "sipp -sf $BENCH/scenarios/uas.xml -i 127.0.0.1 -p $((5090 + OFF)) ") && PIDS+=("$uas")
	RUST_LOG=warn valgrind --tool=callgrind --callgrind-out-file="$d/callgrind.out" \
		"$BIN" run --config "$d/trunkgate.toml" >"$d/gateway.log" 2>&1 &
	local gw=$!
	PIDS+=("$gw")
	# Wait for the SIP port (valgrind start-up takes seconds).
	local i
	for i in $(seq 1 120); do
		ss -uln 2>/dev/null | grep -q "127.0.0.1:$((5060 + OFF)) " && break
		sleep 0.5
	done
	(cd "$d" && timeout -k 10 $((n / RATE + 120)) sipp 127.0.0.1:$((5060 + OFF)) -sf "$BENCH/scenarios/uac.xml" \
		-i 127.0.0.1 -p $((5061 + OFF)) -mp $((38000 + OFF)) -nostdin -s +14155550100 -r "$RATE" -m "$n" -d 100 \
		-timeout $((n / RATE + 100)) -trace_stat -stf uac_stat.csv >/dev/null 2>&1)
	local ok
	ok=$(sipp_stat_col "$d/uac_stat.csv" SuccessfulCall\(C\))
	kill -TERM "$gw" 2>/dev/null
	kill -TERM "$gw" 2>/dev/null
	wait "$gw" 2>/dev/null
	kill "$uas" 2>/dev/null
	wait "$uas" 2>/dev/null
	local ir
	ir=$(callgrind_annotate "$d/callgrind.out" 2>/dev/null | awk '/PROGRAM TOTALS/ { gsub(",", "", $1); print $1; exit }')
	echo "$ir ${ok:-?}"
}

for mode in $MODES; do
	log "$mode: $BASE calls"
	read -r ir1 ok1 < <(run_once "$mode" "$BASE" "$OUT/$mode-short")
	log "$mode: $((BASE + CALLS)) calls"
	read -r ir2 ok2 < <(run_once "$mode" "$((BASE + CALLS))" "$OUT/$mode-long")
	if [ -n "$ir1" ] && [ -n "$ir2" ]; then
		per=$(( (ir2 - ir1) / CALLS ))
		echo "mode=$mode calls=$CALLS instructions_per_call=$per ir_short=$ir1 ir_long=$ir2 uac_successful=$ok1/$ok2" | tee -a "$OUT/summary.txt"
	else
		echo "mode=$mode no result (see $OUT/$mode-*)" | tee -a "$OUT/summary.txt"
	fi
done
