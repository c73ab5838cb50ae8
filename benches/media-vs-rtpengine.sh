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
# env: TRUNKGATE_BENCH_DIR (default <repo>/../shared/bench), STAGE_TIMEOUT_S (2400)
set -uo pipefail
case "${1:-}" in -h|--help) awk 'NR > 1 && /^#/ { print; next } NR > 1 { exit }' "$0"; exit 0 ;; esac

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH=${TRUNKGATE_BENCH_DIR:-$REPO/../shared/bench}
[ -f "$BENCH/media-load.sh" ] || { echo "no benchmark harness at $BENCH (set TRUNKGATE_BENCH_DIR)" >&2; exit 2; }
BENCH=$(cd "$BENCH" && pwd)
# shellcheck source=/dev/null
. "$BENCH/lib/common.sh"

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
GW_SIP=127.0.0.1:5060
GW_HTTP=127.0.0.1:8080
export RUST_LOG=${RUST_LOG:-warn}
bench_require sipp:sip-tester curl:curl ss:iproute2 awk:mawk
bench_install_traps
[ -n "$OUT" ] || OUT=$REPO/target/bench/media-vs-rtpengine-$(date +%Y%m%d-%H%M%S)
mkdir -p "$OUT" || bench_die "cannot create $OUT"
OUT=$(cd "$OUT" && pwd)
T0=$(date +%s)

bench_log "building the release binary"
(cd "$REPO" && timeout -k 30 "$STAGE_TIMEOUT_S" cargo build --release --bin trunkgate) ||
	bench_die "cargo build --release failed"
BIN=${CARGO_TARGET_DIR:-$REPO/target}/release/trunkgate
[ -x "$BIN" ] || bench_die "no binary at $BIN"

# --- anchor -----------------------------------------------------------------
ANCHOR_ARGS=(--reps 1 --concurrent "$CALLS" --out "$OUT/anchor")
[ "$CPS" = 1 ] || ANCHOR_ARGS+=(--no-cps)
bench_log "Kamailio + rtpengine anchor"
bench_run_logged "$OUT/anchor.log" timeout -k 60 "$STAGE_TIMEOUT_S" \
	"$BENCH/anchor-kamailio-rtpengine.sh" "${ANCHOR_ARGS[@]}" -- "${CPS_ARGS[@]}" ||
	bench_log "anchor script exited with an error (see $OUT/anchor.log)"
sleep 2

# --- trunkgate --------------------------------------------------------------
for p in udp:5060 tcp:5060 tcp:8080; do
	proto=${p%%:*} port=${p##*:}
	[ -z "$(ss -Hln --"$proto" "sport = :$port" 2>/dev/null)" ] ||
		bench_die "$proto port $port is already in use (another gateway running?)"
done
start_gw() {
	bench_mktemp tg-media
	(cd "$BENCH_TMP" && exec "$BIN" run) 2>"$OUT/trunkgate-$1.log" &
	GW_PID=$!
	bench_track "$GW_PID"
	for ((i = 0; i < 100; i++)); do
		kill -0 "$GW_PID" 2>/dev/null || break
		curl -fsS -m 1 "http://$GW_HTTP/metrics" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	bench_die "trunkgate did not come up"
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
ratio=$(awk -v a="$t" -v b="$a" 'BEGIN { if (a == "" || b == "" || b + 0 == 0) print "n/a"; else printf "%.2f", a / b }')
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
