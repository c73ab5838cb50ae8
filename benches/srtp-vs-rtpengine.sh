#!/usr/bin/env bash
# srtp-vs-rtpengine.sh -- CPU per relayed stream for SDES-SRTP <-> RTP bridging:
# trunkgate (SRTP PBX leg, plain carrier leg) next to trunkgate's plain relay
# and next to Kamailio + rtpengine doing the same bridging (rtpengine_offer
# with RTP/AVP: the caller's RTP/SAVP becomes RTP/AVP toward the callee), all
# in the same run on the same machine (loopback).
#
#   1. builds target/release/trunkgate and the load client
#      (examples/srtp_load.rs, without fat LTO);
#   2. for each of: trunkgate RTP<->RTP, trunkgate SRTP<->RTP,
#      rtpengine RTP<->RTP, rtpengine SRTP<->RTP: starts the target fresh,
#      places --calls calls with 50 pkt/s PCMU each way (the PBX side
#      encrypts/decrypts with the crate's own SRTP contexts) and reads the
#      relay's CPU from /proc over --window seconds (after 2 s of warm-up);
#      for rtpengine only rtpengine's CPU is counted (Kamailio carries
#      signaling only), for trunkgate the whole process;
#   3. stops each target by PID and prints the results and the ratios.
#
# "stream" = one direction of one call (50 pkt/s into the relay and 50 out),
# two per call, for every target alike. Figures are noisy on a shared 2-core
# box: compare the ratios of one run, never absolutes across runs.
#
# usage: benches/srtp-vs-rtpengine.sh [--calls N] [--window S] [--out DIR]
#   --calls N    simultaneous calls (default 200)
#   --window S   measured seconds per target (default 20)
# env: TRUNKGATE_BENCH_DIR (default <repo>/../shared/bench: rtpengine/Kamailio
#      start/stop helpers and kamailio-rtpengine.cfg), TG_BIN (benches/lib.sh:
#      the load client is still built), STAGE_TIMEOUT_S (2400),
#      TG_SIP (127.0.0.1:5080), TG_HTTP (127.0.0.1:8089), LOAD_UAS (127.0.0.1:5091)
set -uo pipefail
case "${1:-}" in -h|--help) awk 'NR > 1 && /^#/ { print; next } NR > 1 { exit }' "$0"; exit 0 ;; esac

# shellcheck source=benches/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
[ -f "$BENCH/lib/anchor.sh" ] || bench_die "no lib/anchor.sh in the benchmark harness at $BENCH"
# shellcheck source=/dev/null
. "$BENCH/lib/anchor.sh"

CALLS=200
WINDOW=20
OUT=""
while [ $# -gt 0 ]; do
	case "$1" in
	--calls) CALLS=$2; shift 2 ;;
	--window) WINDOW=$2; shift 2 ;;
	--out) OUT=$2; shift 2 ;;
	*) bench_die "unknown option $1 (see --help)" ;;
	esac
done
case "$CALLS$WINDOW" in *[!0-9]*|'') bench_die "--calls and --window take numbers" ;; esac
STAGE_TIMEOUT_S=${STAGE_TIMEOUT_S:-2400}
# where benches/lib.sh's tg_start_gateway expects the gateway (this config's addresses)
GW_SIP=${TG_SIP:-127.0.0.1:5080}
GW_HTTP=${TG_HTTP:-127.0.0.1:8089}
LOAD_UAS=${LOAD_UAS:-127.0.0.1:5091}
for a in "$GW_SIP" "$GW_HTTP" "$LOAD_UAS"; do bench_is_loopback "${a%:*}" || bench_die "$a is not loopback"; done
bench_require kamailio:kamailio rtpengine:rtpengine-daemon curl:curl ss:iproute2 awk:mawk
bench_install_traps
tg_out_dir srtp-vs-rtpengine
T0=$(date +%s)
# one load step: calls, window and a 5 s set-up bound per call
LOAD_TIMEOUT=$((CALLS * 5 + WINDOW + 30))

# Two invocations: built together, the binary would get the examples'
# dev-dependency features (tokio test-util). The load client skips fat LTO
# (its own speed is not measured; it only must keep up).
tg_release_binary
bench_log "building the load client"
(cd "$REPO" && timeout -k 30 "$STAGE_TIMEOUT_S" cargo build --release --example srtp_load \
	--config 'profile.release.lto=false' --config 'profile.release.codegen-units=16' \
	--config 'profile.release.debug=0') ||
	bench_die "cargo build --example srtp_load failed"
LOAD=${CARGO_TARGET_DIR:-$REPO/target}/release/examples/srtp_load
[ -x "$LOAD" ] || bench_die "no load client at $LOAD"

run_load() { # run_load LABEL [srtp_load args...]
	local label=$1
	shift
	timeout -k 10 "$LOAD_TIMEOUT" "$LOAD" --uas "$LOAD_UAS" --calls "$CALLS" --window "$WINDOW" \
		--label "$label" "$@" >>"$OUT/results.txt" 2>"$OUT/$label.err" ||
		bench_log "$label: load client failed: $(tail -3 "$OUT/$label.err")"
}

# --- trunkgate ----------------------------------------------------------------
tg_config() { # tg_config DIR
	cat >"$1/trunkgate.toml" <<EOF
[sip]
listen = [ { transport = "udp", address = "$GW_SIP" } ]

[http]
listen = "$GW_HTTP"

[store]
data_dir = "$1/data"

[media]
bind_ipv4 = "127.0.0.1"
port_min = 20000
port_max = 29999

[[carriers]]
name = "load"
address = "$LOAD_UAS"
transport = "udp"
priority = 10
health_interval_s = 0
srtp = "off"

[[trunks]]
trunk_id = "6f1c2b1e-8a51-4d2b-9c3e-1a2b3c4d5e6f"
status = "active"
direction = "outbound"
description = "srtp bench"
media_encryption = "optional"

[trunks.outbound]
authentication = [ { source = "other", value = "127.0.0.0/8" } ]
fax_support = "disabled"
EOF
}
tg_run() { # tg_run LABEL [srtp_load args...]
	local label=$1
	shift
	bench_mktemp "tg-$label"
	tg_config "$BENCH_TMP"
	"$BIN" check-config "$BENCH_TMP/trunkgate.toml" >"$OUT/$label-config.log" 2>&1 ||
		bench_die "bench config invalid: $(cat "$OUT/$label-config.log")"
	TG_RUN_DIR=$BENCH_TMP
	tg_start_gateway "$OUT/$label-trunkgate.log" "$BENCH_TMP/trunkgate.toml"
	bench_log "$label: trunkgate pid $GW_PID"
	run_load "$label" --target "$GW_SIP" --watch-pid "$GW_PID" "$@"
	curl -fsS -m 5 "http://$GW_HTTP/metrics" >"$OUT/$label-metrics.txt" 2>/dev/null || true
	bench_stop_pid "$GW_PID" 15
	sleep 2
}

# --- Kamailio + rtpengine -----------------------------------------------------
# kamailio-rtpengine.cfg with its own offer flags: RTP/AVP turns the caller's
# RTP/SAVP offer into RTP/AVP toward the callee (rtpengine then decrypts one
# leg and encrypts the other); answers keep RTPE_FLAGS.
KAM_CFG=$OUT/kamailio-srtp.cfg
sed -e 's/rtpengine_offer(RTPE_FLAGS)/rtpengine_offer(RTPE_OFFER_FLAGS)/g' \
	-e 's/^#!ifndef RTPE_FLAGS$/#!ifndef RTPE_OFFER_FLAGS\n#!define RTPE_OFFER_FLAGS "replace-origin replace-session-connection ICE=remove"\n#!endif\n#!ifndef RTPE_FLAGS/' \
	"$BENCH/kamailio/kamailio-rtpengine.cfg" >"$KAM_CFG"
KAM_UAS="sip:$LOAD_UAS"
rtpe_run() { # rtpe_run LABEL OFFER_FLAGS [srtp_load args...]
	local label=$1 flags=$2
	shift 2
	bench_mktemp "rtpe-$label"
	start_rtpengine "$BENCH_TMP"
	start_kamailio "$KAM_CFG" "$BENCH_TMP" "RTPENGINE_SOCK=\"udp:$RTPE_NG\"" "RTPE_OFFER_FLAGS=\"$flags\""
	run_load "$label" --target "$(kam_target)" --watch-pid "$RTPE_PID" "$@"
	stop_kamailio
	stop_rtpengine
	sleep 2
}

BASE_FLAGS="replace-origin replace-session-connection ICE=remove"
tg_run trunkgate-rtp
tg_run trunkgate-srtp --srtp
rtpe_run rtpengine-rtp "$BASE_FLAGS"
rtpe_run rtpengine-srtp "$BASE_FLAGS RTP/AVP" --srtp

# --- report -------------------------------------------------------------------
per() { sed -n "s/^label=$1 .* cpu_pct_per_stream=\([0-9.]*\).*/\1/p" "$OUT/results.txt" | tail -1; }
TR=$(per trunkgate-rtp) TS=$(per trunkgate-srtp) RR=$(per rtpengine-rtp) RS=$(per rtpengine-srtp)
{
	echo "== SRTP<->RTP bridging vs plain relay, trunkgate vs rtpengine ($(nproc) cores, $CALLS calls, ${WINDOW} s windows, $(($(date +%s) - T0)) s, results in $OUT)"
	cat "$OUT/results.txt"
	echo "trunkgate SRTP/RTP cost ratio = $(tg_ratio "$TS" "$TR")"
	echo "rtpengine SRTP/RTP cost ratio = $(tg_ratio "$RS" "$RR")"
	echo "CPU per SRTP<->RTP stream trunkgate/rtpengine = $(tg_ratio "$TS" "$RS")"
	echo "CPU per RTP stream trunkgate/rtpengine = $(tg_ratio "$TR" "$RR")"
} | tee "$OUT/summary.txt"
