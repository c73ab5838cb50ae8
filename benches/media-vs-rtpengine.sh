#!/usr/bin/env bash
# media-vs-rtpengine.sh -- trunkgate's media relay next to the Kamailio +
# rtpengine anchor, measured in the same run on the same machine (loopback).
#
#   1. builds target/release/trunkgate (cargo build --release);
#   2. anchor: ../shared/bench/anchor-kamailio-rtpengine.sh --reps 1
#      --concurrent "$CALLS" [--no-cps]: rtpengine (userspace) relaying N calls
#      of 50 pkt/s RTP both ways, and (with --cps) the CPS of Kamailio+rtpengine;
#   3. `trunkgate run` on its embedded default config (media anchored on
#      ports 20000-29999) under ../shared/bench/media-load.sh --calls N, and
#      (with --cps) ../shared/bench/cps.sh;
#   4. stops the gateway by PID and prints both results and the ratios.
#
# usage: benches/media-vs-rtpengine.sh [--calls N] [--cps] [--out DIR] [-- cps.sh options...]
#   --calls N   simultaneous calls with RTP (default 500)
#   --cps       also measure max CPS with media anchored (both targets; ~10 min more)
# env: TRUNKGATE_BENCH_DIR (default <repo>/../shared/bench), TG_BIN (benches/lib.sh), STAGE_TIMEOUT_S (2400)
set -uo pipefail
case "${1:-}" in -h|--help) awk 'NR > 1 && /^#/ { print; next } NR > 1 { exit }' "$0"; exit 0 ;; esac

# shellcheck source=benches/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
[ -f "$BENCH/media-load.sh" ] || bench_die "no media-load.sh in the benchmark harness at $BENCH"

CALLS=500
CPS=0
OUT=""
# A B2BUA's lawful ACK-timeout BYEs after a failed step otherwise land on the
# next step's fresh sipp (../shared/bench/README.md); a later --fail-cooldown wins.
CPS_ARGS=(--fail-cooldown 40)
while [ $# -gt 0 ]; do
	case "$1" in
	--calls) CALLS=$2; shift 2 ;;
	--cps) CPS=1; shift ;;
	--out) OUT=$2; shift 2 ;;
	--) shift; CPS_ARGS+=("$@"); break ;;
	*) bench_die "unknown option $1 (see --help)" ;;
	esac
done
STAGE_TIMEOUT_S=${STAGE_TIMEOUT_S:-2400}
bench_require sipp:sip-tester curl:curl ss:iproute2 awk:mawk
bench_install_traps
tg_out_dir media-vs-rtpengine
T0=$(date +%s)

tg_release_binary

# --- anchor -----------------------------------------------------------------
ANCHOR_ARGS=(--reps 1 --concurrent "$CALLS" --out "$OUT/anchor")
[ "$CPS" = 1 ] || ANCHOR_ARGS+=(--no-cps)
bench_log "Kamailio + rtpengine anchor"
bench_run_logged "$OUT/anchor.log" timeout -k 60 "$STAGE_TIMEOUT_S" \
	"$BENCH/anchor-kamailio-rtpengine.sh" "${ANCHOR_ARGS[@]}" -- "${CPS_ARGS[@]}" ||
	bench_log "anchor script exited with an error (see $OUT/anchor.log)"
sleep 2

# --- trunkgate --------------------------------------------------------------
start_gw() { # start_gw STEP: a fresh run directory for each start
	bench_mktemp tg-media
	TG_RUN_DIR=$BENCH_TMP
	tg_start_gateway "$OUT/trunkgate-$1.log"
}
start_gw media
bench_run_logged "$OUT/trunkgate-media.log" timeout -k 60 "$STAGE_TIMEOUT_S" \
	"$BENCH/media-load.sh" --target "$GW_SIP" --calls "$CALLS" --watch-pid "$GW_PID" --out "$OUT/trunkgate-media" ||
	bench_log "media-load.sh exited with an error"
curl -fsS -m 5 "http://$GW_HTTP/metrics" >"$OUT/trunkgate-media-metrics.txt" 2>/dev/null || true
bench_stop_pid "$GW_PID" 15
if [ "$CPS" = 1 ]; then
	sleep 2
	start_gw cps
	bench_run_logged "$OUT/trunkgate-cps.log" timeout -k 60 "$STAGE_TIMEOUT_S" \
		"$BENCH/cps.sh" --target "$GW_SIP" --watch-pid "$GW_PID" --out "$OUT/trunkgate-cps" "${CPS_ARGS[@]}" ||
		bench_log "cps.sh exited with an error"
	bench_stop_pid "$GW_PID" 15
fi

# --- report -----------------------------------------------------------------
A_MEDIA=$(grep -E '^(media|calls=)' "$OUT/anchor.log" | tail -1)
T_MEDIA=$(grep '^calls=' "$OUT/trunkgate-media.log" | tail -1)
a=$(printf '%s\n' "$A_MEDIA" | sed -n 's/.* cpu_pct_per_stream=\([0-9.]*\).*/\1/p')
t=$(printf '%s\n' "$T_MEDIA" | sed -n 's/.* cpu_pct_per_stream=\([0-9.]*\).*/\1/p')
ratio=$(tg_ratio "$t" "$a")
{
	echo "== trunkgate vs rtpengine, media relay on loopback ($(nproc) cores, $(($(date +%s) - T0)) s, results in $OUT)"
	echo "rtpengine: $A_MEDIA"
	echo "trunkgate: $T_MEDIA"
	echo "ratio CPU per stream trunkgate/rtpengine = $ratio (goal <= 0.5)"
	if [ "$CPS" = 1 ]; then
		echo "kamailio+rtpengine: $(grep '^anchor=kamailio-rtpengine' "$OUT/anchor.log" | tail -1)"
		echo "trunkgate (media anchored): $(grep '^max_cps=' "$OUT/trunkgate-cps.log" | tail -1)"
	fi
} | tee "$OUT/summary.txt"
