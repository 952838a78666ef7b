#!/bin/sh
# Fuzzes the C ABI, model loading (raw bytes, and models built from metadata and graph
# shapes), the CLI's image decode path, its metadata read-and-write path and its output
# encoders (fuzz/, cargo-fuzz + libFuzzer + AddressSanitizer) for a bounded time each,
# starting from the committed seeds (fuzz/seeds/<target>), the committed minimised corpus
# of the long runs (fuzz/corpus-min/<target>, docs/status.md) and the kept crash cases
# (tests/fuzz-cases/<target>).
# A crash fails CI; its input is copied to tests/fuzz-cases/<target>/ to become a regression
# test (tests/fuzz_regressions.rs).
#
#   FUZZ_SECONDS=60 (the mean per target of the first four; 3 x FUZZ_SECONDS in all, shared
#   as below)   FUZZ_RUNS (optional cap on executions per target)
#   --build-only: install cargo-fuzz if missing and build the targets, run nothing
#   (scripts/test.sh does this beside the main build, which leaves CPU idle on its
#   serial chain of tract crates).
#
# cargo-fuzz needs nightly flags (-Zsanitizer); RUSTC_BOOTSTRAP=1 lets the stable toolchain
# accept them. The fuzz build has its own workspace and target folder (fuzz/target), so the
# main build is unaffected; building tract with ASan takes about 10 minutes the first time.
set -eu
cd "$(dirname "$0")/../.."
seconds=${FUZZ_SECONDS:-60}
export RUSTC_BOOTSTRAP=1
export PATH="$HOME/.cargo/bin:$PATH"

build_only=0
[ "${1:-}" = --build-only ] && build_only=1

if ! command -v c++ >/dev/null 2>&1; then
  apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq g++ >/dev/null
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "60-fuzz: installing cargo-fuzz (once; it stays in ~/.cargo/bin)"
  cargo install cargo-fuzz --locked
fi

echo "60-fuzz: building the fuzz targets (release, ASan; colorize with default features)"
(cd fuzz && cargo fuzz build -O)
[ "$build_only" = 1 ] && exit 0

status=0
for target in capi model_load model_shape decode metadata encoders; do
  # Six targets in the time the first four had (3 x FUZZ_SECONDS, so CI's fuzz time stayed
  # flat), in sixths of FUZZ_SECONDS: the two new ones (metadata, encoders) 4 each, capi and
  # decode 3, the two model targets 2 each (at 60: 40, 40, 30, 30, 20, 20 s).
  case $target in
    metadata | encoders) weight=4 ;;
    capi | decode) weight=3 ;;
    *) weight=2 ;;
  esac
  target_seconds=$(( (seconds * weight + 5) / 6 ))
  corpus="fuzz/corpus/$target"
  mkdir -p "$corpus" "fuzz/artifacts/$target"
  runs=""
  [ -n "${FUZZ_RUNS:-}" ] && runs="-runs=$FUZZ_RUNS"
  echo "60-fuzz: $target for ${target_seconds} s (seeds: fuzz/seeds/$target, corpus: fuzz/corpus-min/$target, crash cases: tests/fuzz-cases/$target)"
  log="fuzz/artifacts/$target.log"
  set -- "$corpus" "fuzz/seeds/$target"
  [ -d "fuzz/corpus-min/$target" ] && set -- "$@" "fuzz/corpus-min/$target"
  [ -d "tests/fuzz-cases/$target" ] && set -- "$@" "tests/fuzz-cases/$target"
  # -rss_limit_mb: a single input may not use more than 2 GiB (a decompression bomb would).
  # libFuzzer looks at -max_total_time only once it has replayed the corpus, which for the
  # metadata and encoders corpora takes longer than their share: a SIGINT at the share plus
  # 20 s ends the run there, with libFuzzer's interrupt status (72), which is not a crash.
  # The binary runs directly (what `cargo fuzz run` runs) so that the signal reaches it.
  fuzz_status=0
  (cd fuzz && timeout --preserve-status -s INT $((target_seconds + 20)) \
        "target/$(rustc -vV | sed -n 's/^host: //p')/release/$target" \
        -max_total_time="$target_seconds" $runs -rss_limit_mb=2048 -timeout=25 \
        -print_final_stats=1 \
        -artifact_prefix="artifacts/$target/" \
        $(for d in "$@"; do printf '../%s ' "$d"; done)) >"$log" 2>&1 || fuzz_status=$?
  if [ "$fuzz_status" = 72 ]; then
    echo "60-fuzz: $target: stopped at $((target_seconds + 20)) s, part way through replaying its corpus"
  fi
  if [ "$fuzz_status" = 0 ] || [ "$fuzz_status" = 72 ]; then
    grep -E "^stat::number_of_executed_units|^stat::peak_rss_mb|Done [0-9]+ runs" "$log" || true
    echo "60-fuzz: $target: no crash"
  else
    status=1
    tail -60 "$log"
    mkdir -p "tests/fuzz-cases/$target"
    for crash in fuzz/artifacts/"$target"/*; do
      [ -f "$crash" ] || continue
      cp "$crash" "tests/fuzz-cases/$target/"
      echo "60-fuzz: $target CRASHED; input kept as tests/fuzz-cases/$target/$(basename "$crash")" >&2
    done
  fi
done
exit $status
