#!/usr/bin/env bash
# Runs every cargo-fuzz target for SECONDS each (default 60, the CI budget) and
# fails on any crash. The corpus of each target (fuzz/corpus/<target>, not in git)
# is seeded from the RFC 4475 / RFC 5118 / PROTOS messages, the SDP bodies in them,
# fuzz/seeds/<target> and fuzz/regressions/<target>. A crash leaves its input in
# fuzz/artifacts/<target>/: copy it to fuzz/regressions/<target>/ so that
# tests/fuzz_corpus.rs replays it in every `cargo test`.
#
#   fuzz/run.sh            # 60 s per target
#   fuzz/run.sh 3600 sdp   # one hour of the sdp target
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${1:-60}"
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(parse sdp framing transaction trunk_body rtp)
command -v cargo-fuzz >/dev/null || { echo "cargo-fuzz missing: cargo install cargo-fuzz" >&2; exit 2; }
# libFuzzer needs -Z flags: nightly, or the stable toolchain with RUSTC_BOOTSTRAP.
export RUSTC_BOOTSTRAP=1

testdata=../shared/testdata
[ -d "$testdata/rfc4475" ] || testdata=tests/data
protos="$testdata/protos-c07-sip/cases"
tmp=""
if [ ! -d "$protos" ]; then
  tmp=$(mktemp -d)
  tar -xJf tests/data/protos-c07-sip.tar.xz -C "$tmp"
  protos="$tmp/protos-c07-sip/cases"
fi
trap '[ -n "$tmp" ] && rm -rf "$tmp"' EXIT

seed() { # seed TARGET FILES...
  local dir="fuzz/corpus/$1"; shift
  mkdir -p "$dir"
  for f in "$@"; do
    if [ -f "$f" ]; then cp -n "$f" "$dir/$(basename "$(dirname "$f")")-$(basename "$f")"; fi
  done
}
for t in "${targets[@]}"; do
  case "$t" in
    parse|framing)
      seed "$t" "$testdata"/rfc4475/*.dat "$testdata"/rfc5118/*.dat
      find "$protos" -type f -print0 | xargs -0 -n 500 cp -n -t "fuzz/corpus/$t" ;;
    sdp)
      mkdir -p fuzz/corpus/sdp
      for f in "$testdata"/rfc4475/*.dat "$testdata"/rfc5118/*.dat; do
        body=$(awk 'f{print} /^\r?$/{f=1}' "$f")
        case "$body" in v=0*) printf '%s' "$body" > "fuzz/corpus/sdp/$(basename "$f").sdp" ;; esac
      done ;;
  esac
  seed "$t" fuzz/seeds/"$t"/* fuzz/regressions/"$t"/*
done

failed=0
for t in "${targets[@]}"; do
  echo "== $t: ${secs} s"
  if ! cargo fuzz run --fuzz-dir fuzz "$t" "fuzz/corpus/$t" -- -max_total_time="$secs" -max_len=70000; then
    echo "!! $t crashed: see fuzz/artifacts/$t/" >&2
    failed=1
  fi
done
exit $failed
