#!/usr/bin/env bash
# overload.sh -- what a target does when offered twice its maximum call rate,
# and whether it is healthy again right after: trunkgate and the Kamailio
# anchor in the same run, on loopback, with the shared sipp harness.
#
# For each target (Kamailio first, then trunkgate):
#   1. its max rate M: given (--kam-max / --tg-max) or measured here with
#      cps.sh (ramp + bisection, --fail-cooldown 40);
#   2. OVERLOAD: one cps.sh step at 2 x M for --duration s (10);
#   3. a pause of --pause s (5) after that step's UAC has finished;
#   4. RECOVERY: one cps.sh step at M / 2 for --duration s.
# It prints, per target: offered calls, completed calls (goodput) and their
# share of M x duration (issue 13's goal: >= 90 %), refused calls (failed at
# the UAC: 503 from trunkgate's overload control, whatever Kamailio answers),
# SIP retransmissions (UAC + UAS), the latency probe's p99 INVITE->200 of the
# calls that were admitted (goal <= 50 ms), and the recovery step's verdict
# (goal: PASS = zero failed calls and zero unexpected messages). For trunkgate
# also its own counters: INVITEs shed (trunkgate_rejections_total{reason=
# "overload_*"}) and SIP messages it dropped (trunkgate_sip_dropped_total).
#
# Modes: anchored (default) = Kamailio + rtpengine vs trunkgate on its
# embedded default config (media anchored, [overload] max_lag_ms = 50 as
# shipped); signaling = Kamailio alone vs trunkgate with [media] enabled =
# false. 2 x the signaling max of trunkgate is beyond what sipp can offer on
# 2 cores (the harness tops out near 8500 CPS), so anchored is the mode that
# overloads the gateway rather than the harness.
#
# usage: benches/overload.sh [--mode anchored|signaling] [--tg-max N] [--kam-max N]
#                            [--duration S] [--pause S] [--skip-kamailio] [--out DIR]
# env: TRUNKGATE_BENCH_DIR (default <repo>/../shared/bench), RUST_LOG (warn),
#      TG_BIN (benches/lib.sh), TG_CONFIG (a config to use instead of the
#      embedded default),
#      BENCH_NICE (harness README), STAGE_TIMEOUT_S (2400)
# Needs a quiet machine; every process started here is stopped by PID on exit.
set -uo pipefail
case "${1:-}" in -h|--help) awk 'NR > 1 && /^#/ { print; next } NR > 1 { exit }' "$0"; exit 0 ;; esac

# shellcheck source=benches/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=/dev/null
. "$BENCH/lib/anchor.sh"

MODE=anchored
TG_MAX=""
KAM_MAX=""
DURATION=10
PAUSE=5
SKIP_KAM=0
OUT=""
while [ $# -gt 0 ]; do
	case "$1" in
	--mode) MODE=$2; shift 2 ;;
	--tg-max) TG_MAX=$2; shift 2 ;;
	--kam-max) KAM_MAX=$2; shift 2 ;;
	--duration) DURATION=$2; shift 2 ;;
	--pause) PAUSE=$2; shift 2 ;;
	--skip-kamailio) SKIP_KAM=1; shift ;;
	--out) OUT=$2; shift 2 ;;
	*) bench_die "unknown option $1 (see --help)" ;;
	esac
done
case "$MODE" in anchored | signaling) ;; *) bench_die "--mode is anchored or signaling" ;; esac
for v in "$TG_MAX" "$KAM_MAX" "$DURATION" "$PAUSE"; do
	case "$v" in *[!0-9]*) bench_die "rates and times are whole numbers" ;; esac
done

STAGE_TIMEOUT_S=${STAGE_TIMEOUT_S:-2400}
CPS=("$BENCH/cps.sh" --fail-cooldown 40)

bench_require sipp:sip-tester curl:curl ss:iproute2 awk:mawk python3:python3
bench_install_traps
tg_out_dir overload
T0=$(date +%s)

# col TSV NAME: the value of column NAME in the last row of a steps.tsv
col() {
	awk -F'\t' -v name="$1" 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == name) c = i; next } { v = $c } END { print (v == "" ? "nan" : v) }' "$2"
}

# max_of TARGET DIR PIDS... : cps.sh search, prints the max rate
max_of() {
	local target=$1 dir=$2
	shift 2
	local w=() p
	for p in "$@"; do w+=(--watch-pid "$p"); done
	bench_run_logged "$dir/max.log" timeout -k 60 "$STAGE_TIMEOUT_S" \
		"${CPS[@]}" --target "$target" "${w[@]}" --out "$dir/max" --max-rate 12000 >/dev/null
	sed -n 's/^max_cps=\([0-9]*\).*/\1/p' "$dir/max.log" | tail -1
}

# one_step TARGET DIR RATE PIDS... : one fixed-rate cps.sh step into DIR
one_step() {
	local target=$1 dir=$2 rate=$3
	shift 3
	local w=() p
	for p in "$@"; do w+=(--watch-pid "$p"); done
	bench_run_logged "$dir.log" timeout -k 60 "$STAGE_TIMEOUT_S" \
		"${CPS[@]}" --target "$target" "${w[@]}" --out "$dir" \
		--start-rate "$rate" --max-rate "$rate" --max-steps 1 --duration "$DURATION" \
		--noise-retries 0 >/dev/null
}

# metric NAME_REGEX FILE: sum of the matching series
metric() {
	awk -v re="$1" '$0 !~ /^#/ && $1 ~ re { s += $NF } END { printf "%d", s }' "$2" 2>/dev/null
}

# gateway_p99 HISTOGRAM BEFORE AFTER: the p99 of a gateway histogram (all
# trunks) between two scrapes, as the upper bound of the bucket holding it.
# trunkgate_time_to_answer_seconds (INVITE read -> 200 OK relayed) is the
# setup as the gateway sees it, without sipp's and the kernel's queues;
# trunkgate_post_dial_delay_seconds (INVITE sent -> the callee's first
# ringing) is the callee's share of it.
gateway_p99() {
	awk -F'[{}]' -v h="$1_bucket" -v after="$3" '
		$1 == h {
			match($2, /le="[^"]*"/); le = substr($2, RSTART + 4, RLENGTH - 5)
			n = split($3, v, " "); c[le] += (FILENAME == after ? 1 : -1) * v[n]
			if (!(le in seen)) { seen[le] = 1; order[++k] = le }
		}
		END {
			total = c["+Inf"]; if (total <= 0) { print "n/a"; exit }
			for (i = 1; i <= k; i++) if (c[order[i]] >= 0.99 * total) { if (order[i] == "+Inf") print ">max"; else printf "<=%g", order[i] * 1000; exit }
		}' "$2" "$3"
}

# report NAME MAX DIR [metrics-before metrics-after [metrics-mid]]
report() {
	local name=$1 max=$2 dir=$3 before=${4:-} after=${5:-} mid=${6:-}
	local o=$dir/overload/steps.tsv r=$dir/recovery/steps.tsv
	[ -f "$o" ] && [ -f "$r" ] || { echo "$name: no result (see $dir)"; return; }
	local offered ok failed retrans p99 share rok rfail runexp rres rp99
	offered=$(($(col calls "$o") + $(col probe_rate "$o") * DURATION))
	ok=$(($(col uac_ok "$o") + $(col probe_ok "$o")))
	failed=$(($(col uac_failed "$o") + $(col probe_failed "$o")))
	retrans=$(($(col uac_retrans "$o") + $(col uas_retrans "$o")))
	p99=$(col p99_setup_ms "$o")
	share=$(awk -v a="$ok" -v m="$max" -v d="$DURATION" 'BEGIN { printf "%.1f", 100 * a / (m * d) }')
	rres=$(col result "$r")
	rok=$(($(col uac_ok "$r") + $(col probe_ok "$r")))
	rfail=$(($(col uac_failed "$r") + $(col uas_failed "$r") + $(col probe_failed "$r")))
	runexp=$(($(col uac_unexpected "$r") + $(col uas_unexpected "$r")))
	rp99=$(col p99_setup_ms "$r")
	printf '%s: max=%s overload: offered=%s cps x %ss = %s calls, completed=%s (%s%% of max x %ss) refused=%s retrans=%s p99_setup_ms=%s cpu_target=%s | recovery at %s cps after %ss: %s ok=%s failed=%s unexpected=%s p99_setup_ms=%s\n' \
		"$name" "$max" "$((2 * max))" "$DURATION" "$offered" "$ok" "$share" "$DURATION" "$failed" "$retrans" "$p99" \
		"$(col cpu_target "$o")" "$((max / 2))" "$PAUSE" "$rres" "$rok" "$rfail" "$runexp" "$rp99"
	if [ -n "$before" ] && [ -n "$after" ]; then
		local shed drop
		shed=$(($(metric '^trunkgate_rejections_total.*reason="overload_' "$after") - $(metric '^trunkgate_rejections_total.*reason="overload_' "$before")))
		drop=$(($(metric '^trunkgate_sip_dropped_total' "$after") - $(metric '^trunkgate_sip_dropped_total' "$before")))
		printf '%s: gateway counters over both steps: INVITEs shed with 503=%s SIP messages dropped=%s\n' "$name" "$shed" "$drop"
		[ -n "$mid" ] && printf '%s: overload step as the gateway saw it (p99, histogram bucket bounds): INVITE read -> 200 OK relayed %s ms, of which INVITE sent -> callee ringing %s ms\n' \
			"$name" "$(gateway_p99 trunkgate_time_to_answer_seconds "$before" "$mid")" "$(gateway_p99 trunkgate_post_dial_delay_seconds "$before" "$mid")"
	fi
}

# overload_then_recover TARGET DIR MAX PIDS...
overload_then_recover() {
	local target=$1 dir=$2 max=$3
	shift 3
	bench_log "$(basename "$dir"): overload step at $((2 * max)) cps for ${DURATION}s"
	one_step "$target" "$dir/overload" "$((2 * max))" "$@"
	# trunkgate: its own view of the overload step (see gateway_p99)
	[ -n "${MID_METRICS:-}" ] && curl -fsS -m 5 "http://$GW_HTTP/metrics" >"$MID_METRICS" 2>/dev/null
	sleep "$PAUSE"
	bench_log "$(basename "$dir"): recovery step at $((max / 2)) cps"
	one_step "$target" "$dir/recovery" "$((max / 2))" "$@"
}

# --- 1. build ---------------------------------------------------------------
tg_release_binary
bench_mktemp tg-overload
RUN=$BENCH_TMP

LINES=()
# --- 2. Kamailio (+ rtpengine) ----------------------------------------------
if [ "$SKIP_KAM" = 0 ]; then
	bench_require kamailio:kamailio
	d=$OUT/kamailio
	mkdir -p "$d"
	if [ "$MODE" = anchored ]; then
		bench_require rtpengine:rtpengine
		start_rtpengine "$RUN/rtpengine"
		start_kamailio "$BENCH/kamailio/kamailio-rtpengine.cfg" "$RUN/kam" "RTPENGINE_SOCK=\"udp:$RTPE_NG\""
		pids=("$KAM_PID" "$RTPE_PID")
	else
		start_kamailio "$BENCH/kamailio/kamailio.cfg" "$RUN/kam"
		pids=("$KAM_PID")
	fi
	if [ -z "$KAM_MAX" ]; then
		bench_log "kamailio: measuring its max rate"
		KAM_MAX=$(max_of "$(kam_target)" "$d" "${pids[@]}")
		sleep 40
	fi
	if [ -n "$KAM_MAX" ] && [ "$KAM_MAX" -gt 0 ]; then
		overload_then_recover "$(kam_target)" "$d" "$KAM_MAX" "${pids[@]}"
		LINES+=("$(report kamailio "$KAM_MAX" "$d")")
	else
		LINES+=("kamailio: no max rate (see $d/max.log)")
	fi
	stop_kamailio
	[ "$MODE" = anchored ] && stop_rtpengine
	sleep 2
fi

# --- 3. trunkgate -----------------------------------------------------------
tg_ports_free
CONF=$RUN/trunkgate.toml
if [ -n "${TG_CONFIG:-}" ]; then
	cp "$TG_CONFIG" "$CONF"
elif [ "$MODE" = signaling ]; then
	# the embedded default with media anchoring off
	awk '/^\[media\]/ { print; print "enabled = false"; skip = 1; next } skip && /^enabled *=/ { next } { print }' \
		"$REPO/config/trunkgate.toml" >"$CONF"
else
	cp "$REPO/config/trunkgate.toml" "$CONF"
fi
"$BIN" check-config "$CONF" >/dev/null || bench_die "config $CONF is invalid"
start_gateway() { tg_start_gateway "$OUT/trunkgate.log" "$CONF"; }
d=$OUT/trunkgate
mkdir -p "$d"
start_gateway
if [ -z "$TG_MAX" ]; then
	bench_log "trunkgate: measuring its max rate"
	TG_MAX=$(max_of "$GW_SIP" "$d" "$GW_PID")
	# a fresh gateway for the overload run (nothing left of the search)
	bench_stop_pid "$GW_PID" 15
	sleep 2
	start_gateway
fi
if [ -n "$TG_MAX" ] && [ "$TG_MAX" -gt 0 ]; then
	curl -fsS -m 5 "http://$GW_HTTP/metrics" >"$d/metrics-before.txt" 2>/dev/null
	MID_METRICS=$d/metrics-mid.txt overload_then_recover "$GW_SIP" "$d" "$TG_MAX" "$GW_PID"
	curl -fsS -m 5 "http://$GW_HTTP/metrics" >"$d/metrics-after.txt" 2>/dev/null
	LINES+=("$(report trunkgate "$TG_MAX" "$d" "$d/metrics-before.txt" "$d/metrics-after.txt" "$d/metrics-mid.txt")")
else
	LINES+=("trunkgate: no max rate (see $d/max.log)")
fi
kill -0 "$GW_PID" 2>/dev/null || LINES+=("trunkgate died during the run (see $OUT/trunkgate.log)")
bench_stop_pid "$GW_PID" 15

# --- 4. report --------------------------------------------------------------
{
	echo "== overload: 2 x max for ${DURATION}s, then max/2 ${PAUSE}s later ($MODE, $(nproc) cores, $(($(date +%s) - T0)) s, results in $OUT)"
	printf '%s\n' "${LINES[@]}"
} | tee "$OUT/summary.txt"
