#!/bin/sh
# cargo with the test suite's one feature set and profile, in the one target folder:
#
#   scripts/cargo-suite.sh build --all-targets
#   scripts/cargo-suite.sh test --test examples -- --nocapture
#
# runs `cargo build --release --features train,bench --all-targets` and so on. Every cargo
# call of scripts/test.sh and tests/ci.d/*.sh goes through here, so that the dependency
# graph compiles once: a call with other features changes the features of shared
# dependencies (libc, cc, ...) and recompiles tract and image. The library and the
# `colorize` CLI do not link libtorch with `train` on (the trainer lives in its binary;
# tests/ci.d/50-gimp.sh checks this), so the GIMP plug-ins and valgrind use this build too.
# The torch environment (scripts/setup-torch.sh) is set here when the caller has not.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
if [ -z "${LIBTORCH:-}" ]; then
  torch_env=$("$root/scripts/setup-torch.sh")
  eval "$torch_env"
fi
[ $# -ge 1 ] || { echo "usage: $0 CARGO_COMMAND [ARGS...]" >&2; exit 2; }
command=$1
shift
cd "$root"
exec cargo "$command" --release --features train,bench "$@"
