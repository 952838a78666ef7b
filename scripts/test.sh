#!/usr/bin/env bash
# The whole test suite, set-up included, on a fresh clone (what `.ci/run` calls):
#   1. libtorch for the trainer (scripts/setup-torch.sh: a venv with torch from PyPI),
#   2. build everything and run `cargo test` with the trainer feature,
#   3. run every tests/ci.d/NN-*.sh in order (examples, eval cross-check, GIMP 2.10 and 3
#      headless, fuzzing, valgrind, benchmark guard); each installs what it needs itself.
# Exits non-zero if any step failed, after running them all.
set -uo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR=never

if ! command -v cc >/dev/null || ! command -v python3 >/dev/null; then
  apt-get update -qq && apt-get install -y -qq build-essential python3 python3-venv >/dev/null
fi
eval "$(scripts/setup-torch.sh)" || { echo "FAILED: torch set-up"; exit 1; }

failed=()
step() {
  local name=$1; shift
  echo "=== $name"
  local start=$SECONDS
  if "$@"; then
    echo "=== $name: ok ($((SECONDS - start)) s)"
  else
    echo "=== $name: FAILED ($((SECONDS - start)) s)"
    failed+=("$name")
  fi
}

step "cargo build" cargo build --release --features train --all-targets
step "cargo test" cargo test --release --features train
for script in tests/ci.d/*.sh; do
  [ -x "$script" ] && step "$script" "$script"
done

if [ ${#failed[@]} -gt 0 ]; then
  echo "FAILED: ${failed[*]}"
  exit 1
fi
echo "all tests passed"
