#!/bin/sh
# colorize eval / metrics: the grayscale baseline against an independent computation.
#   1. A virtual environment with numpy, Pillow and scikit-image (target/eval-crosscheck-venv).
#   2. The two shared-data tests of tests/eval_cli.rs with that Python, made mandatory
#      (COLORIZE_REQUIRE_CROSSCHECK=1): without it `cargo test` skips the cross-check with a note.
#      The suite's one build (scripts/cargo-suite.sh), so nothing is rebuilt.
# Idempotent; runs as root; bounded (the tests take seconds, the pip install a minute or two).
set -eu
cd "$(dirname "$0")/../.."
ROOT=$(pwd)
say() { echo "40-eval: $*"; }

if [ ! -d "$ROOT/../shared/data" ]; then
    say "../shared/data is absent: nothing to cross-check"
    exit 0
fi

VENV=$ROOT/target/eval-crosscheck-venv
if ! "$VENV/bin/python" -c 'import numpy, PIL, skimage' 2>/dev/null; then
    say "creating $VENV (numpy, Pillow, scikit-image for tests/metrics_crosscheck.py)"
    python3 -m venv "$VENV" 2>/dev/null || { apt-get update -q && apt-get install -y -q python3-venv && python3 -m venv "$VENV"; }
    timeout 900 "$VENV/bin/pip" install -q --disable-pip-version-check numpy pillow scikit-image
fi

say "baseline vs scikit-image on shared images, and vs the reference numbers of ../shared/data/DATA.md"
COLORIZE_CROSSCHECK_PYTHON=$VENV/bin/python COLORIZE_REQUIRE_CROSSCHECK=1 \
    timeout 1800 scripts/cargo-suite.sh test --test eval_cli baseline_ -- --nocapture
say "ok"
