#!/usr/bin/env bash
# cps-vs-kamailio.sh -- highest sustained calls/s of trunkgate next to the
# Kamailio anchor, measured in the same run on the same machine (loopback).
#
#   1. builds target/release/trunkgate (cargo build --release);
#   2. runs the Kamailio anchor once: ../shared/bench/anchor-kamailio.sh --reps 1
#      (stateful record-routing proxy on 127.0.0.1:5070 -> sipp UAS on 5090);
#   3. starts `trunkgate run` on its embedded default config (SIP on
#      127.0.0.1:5060 UDP+TCP, metrics on 127.0.0.1:8080, demo carrier =
#      127.0.0.1:5090 = the harness's sipp UAS) and runs
#      ../shared/bench/cps.sh --target 127.0.0.1:5060 --watch-pid <gateway pid>;
#   4. stops the gateway by PID and prints both max_cps lines and the ratio.
#
# usage: benches/cps-vs-kamailio.sh [--out DIR] [--config FILE] [--skip-kamailio] [-- cps.sh options...]
#   --out DIR         results (default target/bench/cps-vs-kamailio-<timestamp>)
#   --config FILE     run the gateway on FILE instead of the embedded default
#                     (it must still listen on 127.0.0.1:5060/udp and send to 127.0.0.1:5090)
#   --skip-kamailio   measure trunkgate only
#   -- ...            passed to cps.sh for both targets (e.g. -- --duration 5 --max-rate 8000)
# env: TRUNKGATE_BENCH_DIR (default <repo>/../shared/bench), RUST_LOG (default warn:
#      Kamailio logs only errors too), BENCH_NICE (see the harness README), STAGE_TIMEOUT_S (2400)
#
# Needs root for the harness's apt-get installs (kamailio, sip-tester, python3)
# when they are missing. Every process started here is stopped by PID on exit.
set -uo pipefail
case "${1:-}" in -h|--help) awk 'NR > 1 && /^#/ { print; next } NR > 1 { exit }' "$0"; exit 0 ;; esac

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH=${TRUNKGATE_BENCH_DIR:-$REPO/../shared/bench}
[ -f "$BENCH/cps.sh" ] || { echo "no benchmark harness at $BENCH (set TRUNKGATE_BENCH_DIR)" >&2; exit 2; }
BENCH=$(cd "$BENCH" && pwd)
# shellcheck source=/dev/null
. "$BENCH/lib/common.sh"

OUT=""
CONFIG=""
SKIP_KAM=0
# A B2BUA's lawful ACK-timeout BYEs after a failed step otherwise land on the
# next step's fresh sipp (../shared/bench/README.md); a later --fail-cooldown wins.
CPS_ARGS=(--fail-cooldown 40)
while [ $# -gt 0 ]; do
	case "$1" in
	--out) OUT=$2; shift 2 ;;
	--config) CONFIG=$(realpath "$2") || bench_die "no config file $2"; shift 2 ;;
	--skip-kamailio) SKIP_KAM=1; shift ;;
	--) shift; CPS_ARGS+=("$@"); break ;;
	-h|--help) awk 'NR > 1 && /^#/ { print; next } NR > 1 { exit }' "$0"; exit 0 ;;
	*) bench_die "unknown option $1 (see --help)" ;;
	esac
done

STAGE_TIMEOUT_S=${STAGE_TIMEOUT_S:-2400}
GW_SIP=127.0.0.1:5060
GW_HTTP=127.0.0.1:8080
export RUST_LOG=${RUST_LOG:-warn}

bench_require sipp:sip-tester curl:curl ss:iproute2 awk:mawk
bench_install_traps
[ -n "$OUT" ] || OUT=$REPO/target/bench/cps-vs-kamailio-$(date +%Y%m%d-%H%M%S)
mkdir -p "$OUT" || bench_die "cannot create $OUT"
OUT=$(cd "$OUT" && pwd)
T0=$(date +%s)

# --- 1. build ---------------------------------------------------------------
bench_log "building the release binary"
(cd "$REPO" && timeout -k 30 "$STAGE_TIMEOUT_S" cargo build --release --bin trunkgate) ||
	bench_die "cargo build --release failed"
BIN=${CARGO_TARGET_DIR:-$REPO/target}/release/trunkgate
[ -x "$BIN" ] || bench_die "no binary at $BIN"
if [ -n "$CONFIG" ]; then
	"$BIN" check-config "$CONFIG" || bench_die "invalid config $CONFIG"
fi

# --- 2. Kamailio anchor -----------------------------------------------------
KAM_LINE="anchor=kamailio skipped"
if [ "$SKIP_KAM" = 0 ]; then
	bench_log "Kamailio anchor (1 repetition)"
	bench_run_logged "$OUT/kamailio.log" timeout -k 60 "$STAGE_TIMEOUT_S" \
		"$BENCH/anchor-kamailio.sh" --reps 1 --out "$OUT/kamailio" -- "${CPS_ARGS[@]}" ||
		bench_log "anchor-kamailio.sh exited with an error (see $OUT/kamailio.log)"
	KAM_LINE=$(grep '^anchor=kamailio ' "$OUT/kamailio.log" | tail -1)
	[ -n "$KAM_LINE" ] || KAM_LINE="anchor=kamailio max_cps=? (no result: see $OUT/kamailio.log)"
	sleep 2
fi

# --- 3. trunkgate -----------------------------------------------------------
for p in udp:5060 tcp:5060 tcp:8080; do
	proto=${p%%:*} port=${p##*:}
	if [ -n "$(ss -Hln --"$proto" "sport = :$port" 2>/dev/null)" ]; then
		bench_die "$proto port $port is already in use (another gateway running?)"
	fi
done
bench_log "starting trunkgate (${CONFIG:-embedded default config}), RUST_LOG=$RUST_LOG"
GW_ARGS=(run)
[ -n "$CONFIG" ] && GW_ARGS+=(--config "$CONFIG")
# Run from an empty directory so a local config/trunkgate.toml is not picked up
# instead of the embedded default.
bench_mktemp tg-bench
(cd "$BENCH_TMP" && exec "$BIN" "${GW_ARGS[@]}") 2>"$OUT/trunkgate.log" &
GW_PID=$!
bench_track "$GW_PID"
ready=0
for ((i = 0; i < 100; i++)); do
	kill -0 "$GW_PID" 2>/dev/null || break
	if curl -fsS -m 1 "http://$GW_HTTP/metrics" >/dev/null 2>&1; then
		ready=1
		break
	fi
	sleep 0.1
done
[ "$ready" = 1 ] || { tail -20 "$OUT/trunkgate.log" >&2; bench_die "trunkgate did not come up on $GW_HTTP within 10 s"; }
bench_log "trunkgate pid $GW_PID ready (SIP $GW_SIP, metrics http://$GW_HTTP/metrics)"

bench_run_logged "$OUT/trunkgate-cps.log" timeout -k 60 "$STAGE_TIMEOUT_S" \
	"$BENCH/cps.sh" --target "$GW_SIP" --watch-pid "$GW_PID" --out "$OUT/trunkgate" "${CPS_ARGS[@]}" ||
	bench_log "cps.sh exited with an error (see $OUT/trunkgate-cps.log)"
curl -fsS -m 5 "http://$GW_HTTP/metrics" >"$OUT/trunkgate-metrics.txt" 2>/dev/null ||
	bench_log "could not fetch the final metrics"
kill -0 "$GW_PID" 2>/dev/null || bench_log "trunkgate died during the run (see $OUT/trunkgate.log)"
bench_stop_pid "$GW_PID" 15
TG_LINE=$(grep '^max_cps=' "$OUT/trunkgate-cps.log" | tail -1)
[ -n "$TG_LINE" ] || TG_LINE="max_cps=? (no result: see $OUT/trunkgate-cps.log)"

# --- 4. report --------------------------------------------------------------
kam=$(printf '%s\n' "$KAM_LINE" | sed -n 's/.*max_cps=\([0-9.]*\).*/\1/p')
tg=$(printf '%s\n' "$TG_LINE" | sed -n 's/^max_cps=\([0-9.]*\).*/\1/p')
ratio=$(awk -v a="$tg" -v b="$kam" 'BEGIN { if (a == "" || b == "" || b + 0 == 0) print "n/a"; else printf "%.2f", a / b }')
{
	echo "== trunkgate vs Kamailio, CPS on loopback ($(nproc) cores, $(($(date +%s) - T0)) s, results in $OUT)"
	echo "kamailio:  $KAM_LINE"
	echo "trunkgate: $TG_LINE"
	echo "ratio trunkgate/kamailio max_cps = $ratio"
} | tee "$OUT/summary.txt"
