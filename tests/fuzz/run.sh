#!/usr/bin/env bash
# Builds the `fuzz` preset, writes the seed corpora and runs each libFuzzer target in turn (one
# after another: the machine's cores are shared) for SECONDS each (default 60).
#
#   tests/fuzz/run.sh [SECONDS]
#
# Corpora grow across runs in build/fuzz/fuzz/corpus/<target>; crash/leak/timeout inputs land in
# build/fuzz/fuzz/artifacts/<target>/, logs in build/fuzz/fuzz/logs/. Exits non-zero if any fuzzer
# found something.
set -uo pipefail

seconds=${1:-60}
if ! [[ $seconds =~ ^[0-9]+$ ]] || (( seconds < 1 )); then
  echo "usage: $0 [SECONDS]" >&2
  exit 2
fi

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$root"
targets=(fuzz_router fuzz_config fuzz_zip fuzz_s3_wire)

cmake --preset fuzz || exit 1
cmake --build --preset fuzz -j2 --target "${targets[@]}" || exit 1

work=$root/build/fuzz/fuzz
bin=$root/build/fuzz/bin
tests/fuzz/make_seeds.sh "$work/seeds" || exit 1
mkdir -p "$work/logs"
# fuzz_zip extracts under $TMPDIR; a crash skips its clean-up, so keep that inside the build tree.
export TMPDIR=$work/tmp
rm -rf "$TMPDIR" && mkdir -p "$TMPDIR"

failed=()
for target in "${targets[@]}"; do
  short=${target#fuzz_}
  corpus=$work/corpus/$short
  artifacts=$work/artifacts/$short
  log=$work/logs/$short.log
  mkdir -p "$corpus" "$artifacts"
  before=$(find "$artifacts" -type f | wc -l)
  echo "=== $target: ${seconds}s, corpus $corpus"
  # The first directory is the corpus libFuzzer adds to; the seeds are only read.
  "$bin/$target" \
    -max_total_time="$seconds" \
    -rss_limit_mb=2048 \
    -timeout=30 \
    -print_final_stats=1 \
    -dict="$root/tests/fuzz/$short.dict" \
    -artifact_prefix="$artifacts/" \
    "$corpus" "$work/seeds/$short" >"$log" 2>&1
  rc=$?
  grep -E '^#[0-9]+[[:space:]]+DONE|^stat::|^(==[0-9]+==)?ERROR|^SUMMARY|invariant failed|deadly signal|Test unit written' "$log"
  echo "corpus files: $(find "$corpus" -type f | wc -l); exit status $rc; log $log"
  after=$(find "$artifacts" -type f | wc -l)
  if (( rc != 0 || after > before )); then
    failed+=("$target")
  fi
done

if (( ${#failed[@]} )); then
  echo "FAILED: ${failed[*]} (inputs in $work/artifacts/)" >&2
  exit 1
fi
echo "all fuzzers ran ${seconds}s each without findings"
