#!/usr/bin/env bash
# relay-split.sh -- where a relayed packet's CPU goes, trunkgate next to
# rtpengine, same run, same load: user vs kernel time, and the kernel's own
# UDP work (udp_sendmsg, which on loopback includes delivering the packet to
# its receiver, and udp_recvmsg) apart from what the relay's way of calling
# the kernel costs (syscall entries, descriptor lookups, epoll). It is the
# figure behind issue 13's relay row: the kernel's UDP work is the same for
# both relays, so it bounds how far below rtpengine a user-space relay gets.
#
#   1. builds target/release/trunkgate (cargo build --release);
#   2. ../shared/bench/anchor-kamailio-rtpengine.sh --reps 1 --no-cps
#      --concurrent N (rtpengine in userspace mode relaying N calls of
#      50 pkt/s both ways); once its calls are up, 10 s of rtpengine's
#      utime/stime and a `perf record -e cpu-clock -g` of it;
#   3. the same for `trunkgate run` (embedded default config) under
#      ../shared/bench/media-load.sh --calls N;
#   4. prints, per relay, % of one core: user, kernel, the kernel's UDP
#      work, the rest of the kernel; and the floor: trunkgate's UDP work
#      over rtpengine's total (what no user-space relay gets under).
# perf adds a little to both (it samples at ~4 kHz); the ratios of
# media-vs-rtpengine.sh are measured without it.
#
# usage: benches/relay-split.sh [--calls N] [--out DIR]
# needs: perf (Debian linux-perf); env as media-vs-rtpengine.sh
set -uo pipefail
case "${1:-}" in -h|--help) awk 'NR > 1 && /^#/ { print; next } NR > 1 { exit }' "$0"; exit 0 ;; esac

# shellcheck source=benches/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
[ -f "$BENCH/media-load.sh" ] || bench_die "no media-load.sh in the benchmark harness at $BENCH"

CALLS=500
OUT=""
while [ $# -gt 0 ]; do
	case "$1" in
	--calls) CALLS=$2; shift 2 ;;
	--out) OUT=$2; shift 2 ;;
	*) bench_die "unknown option $1 (see --help)" ;;
	esac
done
bench_require perf:linux-perf sipp:sip-tester ss:iproute2 awk:mawk
bench_install_traps
tg_out_dir relay-split
STAGE_TIMEOUT_S=${STAGE_TIMEOUT_S:-900}
tg_release_binary

# media-load.sh sets calls up at 50/s, lets them settle 3 s and measures for
# 20 s: the 10 s sampled here start once every call is up.
SETTLE_S=$((CALLS / 50 + 5))

# sample NAME PID: 10 s of PID's user/kernel clock ticks and a perf profile.
sample() {
	local name=$1 pid=$2 u0 s0 u1 s1
	read -r u0 s0 < <(awk '{ print $14, $15 }' "/proc/$pid/stat")
	perf record -q -e cpu-clock -g -o "$OUT/$name.perf" -p "$pid" -- sleep 10 >/dev/null 2>&1
	read -r u1 s1 < <(awk '{ print $14, $15 }' "/proc/$pid/stat")
	local hz
	hz=$(getconf CLK_TCK)
	awk -v a="$u0" -v b="$u1" -v c="$s0" -v d="$s1" -v hz="$hz" \
		'BEGIN { printf "%.2f %.2f\n", (b - a) * 100 / hz / 10, (d - c) * 100 / hz / 10 }' >"$OUT/$name.cpu"
}

# report NAME: user %, kernel %, and the kernel's UDP work from the profile.
report() {
	local name=$1 user sys
	read -r user sys <"$OUT/$name.cpu"
	perf report -i "$OUT/$name.perf" --children --sort sym --stdio -g none 2>/dev/null >"$OUT/$name.report"
	awk -v user="$user" -v sys="$sys" -v name="$name" '
		/\[k\] udp_sendmsg$/ { send = $1 + 0 }
		/\[k\] udp_recvmsg$/ { recv = $1 + 0 }
		END {
			total = user + sys
			udp = (send + recv) / 100 * total
			printf "%s: cpu=%.2f user=%.2f kernel=%.2f kernel_udp=%.2f (udp_sendmsg %.1f %%, udp_recvmsg %.1f %% of samples) kernel_rest=%.2f\n",
				name, total, user, sys, udp, send, recv, sys - udp
		}' "$OUT/$name.report"
}

# --- rtpengine ---------------------------------------------------------------
bench_log "rtpengine (Kamailio + rtpengine anchor, --no-cps, $CALLS calls)"
"$BENCH/anchor-kamailio-rtpengine.sh" --reps 1 --no-cps --concurrent "$CALLS" --out "$OUT/anchor" >"$OUT/anchor.log" 2>&1 &
ANCHOR=$!
bench_track "$ANCHOR"
RTPE=""
for ((i = 0; i < 600; i++)); do
	RTPE=$(grep -o 'rtpengine pid [0-9]*' "$OUT/anchor.log" 2>/dev/null | tail -1 | awk '{ print $3 }')
	[ -n "$RTPE" ] && grep -q "media load" "$OUT/anchor.log" && break
	kill -0 "$ANCHOR" 2>/dev/null || break
	sleep 0.5
done
[ -n "$RTPE" ] || bench_die "the anchor did not start rtpengine (see $OUT/anchor.log)"
sleep "$SETTLE_S"
sample rtpengine "$RTPE"
wait "$ANCHOR"
bench_untrack "$ANCHOR"
sleep 2

# --- trunkgate ---------------------------------------------------------------
bench_log "trunkgate ($CALLS calls)"
bench_mktemp tg-split
TG_RUN_DIR=$BENCH_TMP
tg_start_gateway "$OUT/trunkgate.log"
"$BENCH/media-load.sh" --target "$GW_SIP" --calls "$CALLS" --watch-pid "$GW_PID" --out "$OUT/trunkgate-media" >"$OUT/trunkgate-media.log" 2>&1 &
LOAD=$!
bench_track "$LOAD"
sleep "$SETTLE_S"
sample trunkgate "$GW_PID"
wait "$LOAD"
bench_untrack "$LOAD"
bench_stop_pid "$GW_PID" 15

# --- report ------------------------------------------------------------------
{
	echo "== relay CPU split, $CALLS calls of 50 pkt/s both ways ($(nproc) cores, % of one core over 10 s, perf attached; results in $OUT)"
	grep -E '^media calls=' "$OUT/anchor.log" | tail -1 | sed 's/^/rtpengine load: /'
	grep '^calls=' "$OUT/trunkgate-media.log" | tail -1 | sed 's/^/trunkgate load: /'
	R=$(report rtpengine)
	T=$(report trunkgate)
	echo "$R"
	echo "$T"
	rt=$(printf '%s\n' "$R" | sed -n 's/.* cpu=\([0-9.]*\).*/\1/p')
	tt=$(printf '%s\n' "$T" | sed -n 's/.* cpu=\([0-9.]*\).*/\1/p')
	tu=$(printf '%s\n' "$T" | sed -n 's/.* kernel_udp=\([0-9.]*\).*/\1/p')
	echo "ratio trunkgate/rtpengine = $(tg_ratio "$tt" "$rt"); floor (trunkgate's kernel UDP work / rtpengine's total) = $(tg_ratio "$tu" "$rt")"
} | tee "$OUT/summary.txt"
