#!/usr/bin/env bash
# memory.sh -- the gateway's memory under call load (issue 13: <= 256 MiB RSS
# at a steady 3000 calls/s; bytes per live and per ended call), on the
# embedded default config (media anchored), with the shared sipp harness.
#
#   1. idle RSS of a fresh `trunkgate run`;
#   2. LIVE: --live-calls calls at 200/s, each held 30 s (cps.sh, one step):
#      at the peak every call is up, none has ended, so
#      bytes per live call = (peak RSS - idle RSS) / calls up (calls_active);
#   3. STEADY: a fresh gateway carrying --rate calls/s (1 s hold) for
#      --duration s: ended calls accumulate for 64*T1 = 32 s (their
#      tombstones answer retransmissions) and then expire as fast as new ones
#      come, so after ~33 s RSS is at its steady level. Reported: RSS at the
#      end of the step and its peak, calls up and ended calls held
#      (trunkgate_calls_lingering) at that moment, and an upper bound of
#      bytes per ended call = (RSS - idle - live calls x bytes per live call)
#      / ended calls held.
# RSS is read from /proc/<pid>/status every 0.5 s. --config FILE runs the
# gateway on FILE instead (its SIP and HTTP listeners must be the default
# config's); with `[media] enabled = false` the live step gives the
# signaling state alone per live call (issue 13: under 16 KiB).
#
# usage: benches/memory.sh [--rate 3000] [--duration 45] [--live-calls 2000] [--config FILE] [--out DIR]
# env: TRUNKGATE_BENCH_DIR (default <repo>/../shared/bench), TG_BIN (benches/lib.sh), RUST_LOG (warn)
# Needs a quiet machine; every process started here is stopped by PID on exit.
set -uo pipefail
case "${1:-}" in -h|--help) awk 'NR > 1 && /^#/ { print; next } NR > 1 { exit }' "$0"; exit 0 ;; esac

# shellcheck source=benches/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

RATE=3000
DURATION=45
LIVE=2000
CONFIG=""
OUT=""
while [ $# -gt 0 ]; do
	case "$1" in
	--rate) RATE=$2; shift 2 ;;
	--duration) DURATION=$2; shift 2 ;;
	--live-calls) LIVE=$2; shift 2 ;;
	--config) CONFIG=$(realpath "$2") || bench_die "no config file $2"; shift 2 ;;
	--out) OUT=$2; shift 2 ;;
	*) bench_die "unknown option $1 (see --help)" ;;
	esac
done
for v in "$RATE" "$DURATION" "$LIVE"; do
	case "$v" in '' | *[!0-9]*) bench_die "numbers only" ;; esac
done

bench_require sipp:sip-tester curl:curl ss:iproute2 awk:mawk python3:python3
bench_install_traps
tg_out_dir memory

tg_release_binary

start_gateway() { tg_start_gateway "$OUT/trunkgate.log" "$CONFIG"; }
rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0; }
gauge() { # gauge NAME: the value of an unlabelled (node_id only) gauge
	curl -fsS -m 2 "http://$GW_HTTP/metrics" 2>/dev/null | awk -v n="$1" 'index($1, n "{") == 1 || $1 == n { print int($2); exit }'
}
# sample PID FILE: "t rss_kb calls_active calls_lingering" every 0.5 s until stopped
sample() {
	local pid=$1 f=$2 t0
	t0=$(date +%s.%N)
	while kill -0 "$pid" 2>/dev/null; do
		printf '%s %s %s %s\n' "$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')" \
			"$(rss_kb "$pid")" "$(gauge trunkgate_calls_active)" "$(gauge trunkgate_calls_lingering)" >>"$f"
		sleep 0.5
	done
}
one_step() { # one_step DIR RATE DURATION HOLD_MS
	bench_run_logged "$1.log" "$BENCH/cps.sh" --target "$GW_SIP" --watch-pid "$GW_PID" --out "$1" \
		--start-rate "$2" --max-rate "$2" --max-steps 1 --duration "$3" --calls-hold-ms "$4" \
		--noise-retries 0 --fail-cooldown 40 >/dev/null
}

# --- live calls -------------------------------------------------------------
start_gateway
sleep 2
IDLE=$(rss_kb "$GW_PID")
bench_log "idle RSS ${IDLE} kB; $LIVE live calls (30 s hold)"
sample "$GW_PID" "$OUT/live.samples" &
SAMPLER=$!
bench_track "$SAMPLER"
one_step "$OUT/live" 200 $((LIVE / 200)) 30000
bench_stop_pid "$GW_PID" 15
wait "$SAMPLER" 2>/dev/null
read -r LIVE_RSS LIVE_UP < <(sort -k3,3n "$OUT/live.samples" | tail -1 | awk '{ print $2, $3 }')
PER_LIVE=$(awk -v r="$LIVE_RSS" -v i="$IDLE" -v n="$LIVE_UP" 'BEGIN { if (n > 0) printf "%d", (r - i) * 1024 / n; else print "nan" }')

# --- steady rate ------------------------------------------------------------
sleep 2
start_gateway
sleep 2
IDLE2=$(rss_kb "$GW_PID")
bench_log "steady $RATE calls/s for ${DURATION}s (1 s hold)"
sample "$GW_PID" "$OUT/steady.samples" &
SAMPLER=$!
bench_track "$SAMPLER"
one_step "$OUT/steady" "$RATE" "$DURATION" 1000
# the last sample while calls were still being started (before the tail of the step)
END_ROW=$(awk -v d="$DURATION" '$1 <= d + 1' "$OUT/steady.samples" | tail -1)
PEAK=$(sort -k2,2n "$OUT/steady.samples" | tail -1 | awk '{ print $2 }')
bench_stop_pid "$GW_PID" 15
wait "$SAMPLER" 2>/dev/null
read -r _ END_RSS END_UP END_HELD <<<"$END_ROW"
PER_ENDED=$(awk -v r="$END_RSS" -v i="$IDLE2" -v u="$END_UP" -v l="$PER_LIVE" -v h="$END_HELD" \
	'BEGIN { if (h > 0 && l != "nan") printf "%d", ((r - i) * 1024 - u * l) / h; else print "nan" }')
{
	echo "== memory ($(nproc) cores, ${CONFIG:-default config}, results in $OUT)"
	echo "idle RSS: ${IDLE} kB"
	echo "live: $LIVE_UP calls up at the peak, RSS ${LIVE_RSS} kB -> $PER_LIVE bytes per live call"
	echo "steady $RATE calls/s after ${DURATION}s: RSS ${END_RSS} kB ($((END_RSS / 1024)) MiB; peak $((PEAK / 1024)) MiB), calls up $END_UP, ended calls held $END_HELD -> <= $PER_ENDED bytes per ended call"
	echo "steady step: $(grep -h '^step' "$OUT/steady.log" | sed 's/  */ /g' | cut -c1-220)"
} | tee "$OUT/summary.txt"
