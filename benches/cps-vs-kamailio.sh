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
# env: TRUNKGATE_BENCH_DIR (default <repo>/../shared/bench), TG_BIN (benches/lib.sh), RUST_LOG (default warn:
#      Kamailio logs only errors too), BENCH_NICE (see the harness README), STAGE_TIMEOUT_S (2400)
#
# Needs root for the harness's apt-get installs (kamailio, sip-tester, python3)
# when they are missing. Every process started here is stopped by PID on exit.
set -uo pipefail
case "${1:-}" in -h|--help) awk 'NR > 1 && /^#/ { print; next } NR > 1 { exit }' "$0"; exit 0 ;; esac

# shellcheck source=benches/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

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

bench_require sipp:sip-tester curl:curl ss:iproute2 awk:mawk
bench_install_traps
tg_out_dir cps-vs-kamailio
T0=$(date +%s)

# --- 1. build ---------------------------------------------------------------
tg_release_binary
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
bench_log "starting trunkgate (${CONFIG:-embedded default config}), RUST_LOG=$RUST_LOG"
tg_start_gateway "$OUT/trunkgate.log" "$CONFIG"
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
ratio=$(tg_ratio "$tg" "$kam")
{
	echo "== trunkgate vs Kamailio, CPS on loopback ($(nproc) cores, $(($(date +%s) - T0)) s, results in $OUT)"
	echo "kamailio:  $KAM_LINE"
	echo "trunkgate: $TG_LINE"
	echo "ratio trunkgate/kamailio max_cps = $ratio"
} | tee "$OUT/summary.txt"
