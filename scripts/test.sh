#!/usr/bin/env bash
# The whole test suite, set-up included, on a fresh clone (what `.ci/run` calls):
#   1. set-up: a C compiler and Python if missing, libtorch for the trainer
#      (scripts/setup-torch.sh: a venv with torch from PyPI), the tools the tests use
#      (scripts/setup-test-tools.sh: ImageMagick, exiftool, the metrics cross-check's Python);
#   2. one build of everything (scripts/cargo-suite.sh: --release --features train,bench,
#      the same for every cargo call below, so the dependency graph compiles once) and
#      `cargo test`;
#   3. every tests/ci.d/NN-*.sh in order (the installed C library, GIMP 2.10 and 3 headless,
#      the Debian packages, Slurm and parallel, fuzzing, valgrind, benchmark guard); each
#      installs the system it needs itself.
#      The fuzz targets' ASan build starts beside step 2, at a lower priority, and so does
#      15-cinstall.sh (cargo-c's install of the C library), collected before
#      52-debian-packages.sh, which packages its build.
# Prints a table of the steps and their times at the end; exits non-zero if any step
# failed, after running them all.
#   COLORIZE_SUITE_SKIP="55-scale-out 50-gimp": leave out these tests/ci.d steps (by name,
#   without .sh); they show as "skipped" in the table. CI sets nothing and runs them all.
#   COLORIZE_REQUIRE_ALL (default 1 here, as in CI): every test must run. A Rust test that
#   cannot run here (a tool, a privilege or ../shared missing) fails instead of passing
#   with "skipped:" (tests/common: `skip`), and a step that exits 77 ("skipped", with its
#   reason) fails. Set it to 0 to let them skip; the table then shows each skipped step.
set -uo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR=never

skipped() { case " ${COLORIZE_SUITE_SKIP:-} " in *" $1 "*) return 0 ;; esac; return 1; }
export COLORIZE_REQUIRE_ALL=${COLORIZE_REQUIRE_ALL:-1}

names=()
times=()
results=()
failed=()
suite_start=$SECONDS
# A step's exit status 77 means "skipped": the last line of its output (through `logged`)
# that says "skipped" gives the reason.
step_log=$(mktemp)
logged() {
  "$@" 2>&1 | tee "$step_log"
  return "${PIPESTATUS[0]}"
}
step() {
  local name=$1; shift
  echo "=== $name"
  local start=$SECONDS result=ok status=0
  : >"$step_log"
  "$@" || status=$?
  if [ $status = 77 ]; then
    local reason
    reason=$(grep -i "skipped" "$step_log" | tail -n 1 | sed 's/.*[Ss][Kk][Ii][Pp][Pp][Ee][Dd]:* *//' | cut -c1-80)
    if [ "$COLORIZE_REQUIRE_ALL" = 1 ]; then
      result="FAILED (skipped, but every step is required: ${reason:-no reason given})"
    else
      result="skipped: ${reason:-no reason given}"
    fi
  elif [ $status != 0 ]; then
    result=FAILED
  fi
  echo "=== $name: $result ($((SECONDS - start)) s)"
  names+=("$name")
  times+=("$((SECONDS - start))")
  results+=("$result")
  case $result in ok | skipped*) ;; *) failed+=("$name") ;; esac
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
test_tools() {
  local tools_env
  tools_env=$(scripts/setup-test-tools.sh) && eval "$tools_env"
}
step "set-up: test tools (scripts/setup-test-tools.sh)" test_tools
if [ -z "${LIBTORCH:-}" ]; then
  echo "no libtorch: every build below needs it (feature train); stopping"
else
  # The fuzz build (cargo-fuzz, ASan, its own target folder fuzz/target) shares nothing with
  # the main build: it runs beside it at a lower priority, on the CPU the main build leaves
  # idle on its serial chain of tract crates, and 60-fuzz.sh finds it done.
  fuzz_log=$(mktemp)
  fuzz_build_start=$SECONDS
  fuzz_build_pid=
  if [ -x tests/ci.d/60-fuzz.sh ] && ! skipped 60-fuzz; then
    echo "=== fuzz build: started beside the steps below (log shown before the fuzz step)"
    (nice -n 10 tests/ci.d/60-fuzz.sh --build-only >"$fuzz_log" 2>&1
     status=$?
     echo "=== fuzz build ended $((SECONDS - fuzz_build_start)) s after it began" >>"$fuzz_log"
     exit $status) &
    fuzz_build_pid=$!
  fi
  fuzz_build_wait() {
    local status=0 result=ok
    wait "$fuzz_build_pid" || status=$?
    fuzz_build_pid=
    cat "$fuzz_log"
    [ $status = 0 ] || result=FAILED
    names+=("  fuzz build itself (in the background)")
    times+=("$(sed -n 's/^=== fuzz build ended \([0-9]*\) s.*/\1/p' "$fuzz_log")")
    results+=("$result (in the background, beside the steps above)")
    return $status
  }

  # The C library install (15-cinstall.sh: cargo-c from crates.io and a build of the library
  # alone in cargo-c's own target folder) shares no build with the steps below either: it
  # runs beside them at the lowest priority and is collected after the last step.
  cinstall_log=$(mktemp)
  cinstall_start=$SECONDS
  cinstall_pid=
  if [ -x tests/ci.d/15-cinstall.sh ] && ! skipped 15-cinstall; then
    echo "=== C library install test: started beside the steps below (log shown at the end)"
    (nice -n 19 tests/ci.d/15-cinstall.sh >"$cinstall_log" 2>&1
     status=$?
     echo "=== C library install test ended $((SECONDS - cinstall_start)) s after it began" >>"$cinstall_log"
     exit $status) &
    cinstall_pid=$!
  fi
  cinstall_wait() {
    local status=0
    wait "$cinstall_pid" || status=$?
    cinstall_pid=
    cat "$cinstall_log"
    return $status
  }

  step "cargo build --all-targets" scripts/cargo-suite.sh build --all-targets
  step "cargo test" scripts/cargo-suite.sh test --no-fail-fast
  for script in tests/ci.d/*.sh; do
    [ -x "$script" ] || continue
    if skipped "$(basename "$script" .sh)"; then
      echo "=== $script: skipped (COLORIZE_SUITE_SKIP)"
      names+=("$script"); times+=(0); results+=("skipped (COLORIZE_SUITE_SKIP)")
      continue
    fi
    # Started in the background above; collected after the last step.
    [ "$script" = tests/ci.d/15-cinstall.sh ] && [ -n "$cinstall_pid" ] && continue
    # The Debian packages hold cargo-c's build of the library: 15-cinstall.sh first.
    if [ "$script" = tests/ci.d/52-debian-packages.sh ] && [ -n "$cinstall_pid" ]; then
      step "tests/ci.d/15-cinstall.sh (waited for; in the background)" cinstall_wait
    fi
    if [ "$script" = tests/ci.d/60-fuzz.sh ] && [ -n "$fuzz_build_pid" ]; then
      step "waiting for the fuzz build" fuzz_build_wait
    fi
    step "$script" logged "$script"
  done
  [ -z "$fuzz_build_pid" ] || step "waiting for the fuzz build" fuzz_build_wait
  [ -z "$cinstall_pid" ] || step "tests/ci.d/15-cinstall.sh (waited for; in the background)" cinstall_wait
  rm -f "$fuzz_log" "$cinstall_log"
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
