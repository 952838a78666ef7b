#!/usr/bin/env bash
# The whole test suite, set-up included, on a fresh clone (what `.ci/run` calls):
#   1. set-up: a C compiler and Python if missing, libtorch for the trainer
#      (scripts/setup-torch.sh: a venv with torch from PyPI);
#   2. one build of everything (scripts/cargo-suite.sh: --release --features train,bench,
#      the same for every cargo call below, so the dependency graph compiles once) and
#      `cargo test`;
#   3. every tests/ci.d/NN-*.sh in order (examples, eval cross-check, GIMP 2.10 and 3
#      headless, fuzzing, valgrind, benchmark guard); each installs what it needs itself.
# Prints a table of the steps and their times at the end; exits non-zero if any step
# failed, after running them all.
set -uo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR=never

names=()
times=()
results=()
failed=()
suite_start=$SECONDS
step() {
  local name=$1; shift
  echo "=== $name"
  local start=$SECONDS result=ok
  "$@" || result=FAILED
  echo "=== $name: $result ($((SECONDS - start)) s)"
  names+=("$name")
  times+=("$((SECONDS - start))")
  results+=("$result")
  [ "$result" = ok ] || failed+=("$name")
}

build_tools() {
  command -v cc >/dev/null && command -v python3 >/dev/null && return 0
  apt-get update -qq && apt-get install -y -qq build-essential python3 python3-venv >/dev/null
}
torch() {
  local torch_env
  torch_env=$(scripts/setup-torch.sh) && eval "$torch_env"
}

step "set-up: C compiler, Python" build_tools
step "set-up: torch (scripts/setup-torch.sh)" torch
if [ -z "${LIBTORCH:-}" ]; then
  echo "no libtorch: every build below needs it (feature train); stopping"
else
  step "cargo build --all-targets" scripts/cargo-suite.sh build --all-targets
  step "cargo test" scripts/cargo-suite.sh test
  for script in tests/ci.d/*.sh; do
    [ -x "$script" ] && step "$script" "$script"
  done
fi

echo
echo "=== step times ($(nproc) CPUs: $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1))"
for i in "${!names[@]}"; do
  printf '%-44s %7d s  %s\n' "${names[$i]}" "${times[$i]}" "${results[$i]}"
done
printf '%-44s %7d s  (%d min %d s)\n' "total" "$((SECONDS - suite_start))" \
  "$(((SECONDS - suite_start) / 60))" "$(((SECONDS - suite_start) % 60))"

if [ ${#failed[@]} -gt 0 ]; then
  echo "FAILED: ${failed[*]}"
  exit 1
fi
echo "all tests passed"
