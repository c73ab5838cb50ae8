# benches/lib.sh -- what trunkgate's bench scripts share (sourced, not run):
# finding the sipp harness, building (or taking) the release binary, and
# starting a gateway and waiting for its metrics endpoint.
#
#   . "$(dirname "${BASH_SOURCE[0]}")/lib.sh"   # sets REPO and BENCH, sources the harness's lib/common.sh
#   tg_release_binary                           # sets BIN: $TG_BIN, or cargo build --release
#   tg_ports_free                               # dies if GW_SIP's port (udp+tcp) or GW_HTTP's (tcp) is taken
#   tg_start_gateway LOG [CONFIG]               # sets GW_PID; dies unless GW_HTTP's /metrics answers within 10 s
#   tg_out_dir NAME                             # OUT (default target/bench/NAME-<timestamp>) made and absolute
#   tg_ratio A B                                # prints A/B to two places, or n/a
#
# GW_SIP (127.0.0.1:5060) and GW_HTTP (127.0.0.1:8080) are where the gateway
# listens (the embedded default config's addresses); a script whose config
# says otherwise sets them after sourcing. TG_RUN_DIR: the (empty) directory
# the gateway runs in; one temporary directory for all starts unless set.
#
# env: TRUNKGATE_BENCH_DIR (default <repo>/../shared/bench), TG_BIN (a binary
#      to use instead of building one, e.g. to compare commits in one run),
#      STAGE_TIMEOUT_S (2400: bound on the build)

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH=${TRUNKGATE_BENCH_DIR:-$REPO/../shared/bench}
[ -f "$BENCH/cps.sh" ] || { echo "no benchmark harness at $BENCH (set TRUNKGATE_BENCH_DIR)" >&2; exit 2; }
BENCH=$(cd "$BENCH" && pwd)
# shellcheck source=/dev/null
. "$BENCH/lib/common.sh"

GW_SIP=127.0.0.1:5060
GW_HTTP=127.0.0.1:8080
export RUST_LOG=${RUST_LOG:-warn}

tg_release_binary() {
	if [ -n "${TG_BIN:-}" ]; then
		BIN=$TG_BIN
	else
		bench_log "building the release binary"
		(cd "$REPO" && timeout -k 30 "${STAGE_TIMEOUT_S:-2400}" cargo build --release --bin trunkgate) ||
			bench_die "cargo build --release failed"
		BIN=${CARGO_TARGET_DIR:-$REPO/target}/release/trunkgate
	fi
	[ -x "$BIN" ] || bench_die "no binary at $BIN"
}

tg_ports_free() {
	local p proto addr host port
	for p in "udp:$GW_SIP" "tcp:$GW_SIP" "tcp:$GW_HTTP"; do
		proto=${p%%:*} addr=${p#*:}
		host=${addr%:*} port=${addr##*:}
		# the gateway binds $host: only that address or a wildcard conflicts
		if ss -Hln --"$proto" "sport = :$port" 2>/dev/null | awk '{ print $4 }' |
			grep -Fxq -e "$host:$port" -e "0.0.0.0:$port" -e "*:$port" -e "[::]:$port"; then
			bench_die "$proto port $port is already in use (another gateway running?)"
		fi
	done
}

# tg_start_gateway LOG [CONFIG]: runs from an empty directory, so a local
# config/trunkgate.toml is not picked up instead of the embedded default.
tg_start_gateway() {
	local log=$1 config=${2:-} i
	local args=(run)
	[ -n "$config" ] && args+=(--config "$config")
	tg_ports_free
	[ -n "${TG_RUN_DIR:-}" ] || { bench_mktemp tg-run; TG_RUN_DIR=$BENCH_TMP; }
	(cd "$TG_RUN_DIR" && exec "$BIN" "${args[@]}") 2>>"$log" &
	GW_PID=$!
	bench_track "$GW_PID"
	for ((i = 0; i < 100; i++)); do
		kill -0 "$GW_PID" 2>/dev/null || break
		curl -fsS -m 1 "http://$GW_HTTP/metrics" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	tail -20 "$log" >&2
	bench_die "trunkgate did not come up on $GW_HTTP within 10 s"
}

# tg_out_dir NAME: the results directory, $OUT if the caller set it.
tg_out_dir() {
	[ -n "${OUT:-}" ] || OUT=$REPO/target/bench/$1-$(date +%Y%m%d-%H%M%S)
	mkdir -p "$OUT" || bench_die "cannot create $OUT"
	OUT=$(cd "$OUT" && pwd)
}

# tg_ratio A B: A/B with two decimals, or n/a when either is missing or B is 0.
tg_ratio() {
	awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "" || b + 0 == 0) print "n/a"; else printf "%.2f", a / b }'
}
