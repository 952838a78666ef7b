#!/bin/sh
# What the tests need beside the build, installed once (idempotent; needs root for apt):
#   - ImageMagick and exiftool: tests/metadata.rs makes its inputs with them, and
#     tests/examples.rs runs the ImageMagick pipeline example;
#   - a Python with numpy, Pillow and scikit-image (target/eval-crosscheck-venv) for the
#     independent cross-check of the metrics (tests/metrics_crosscheck.py).
# Prints the variable the cross-check reads, for `eval "$(scripts/setup-test-tools.sh)"`;
# everything else goes to stderr.
set -eu
cd "$(dirname "$0")/.."
ROOT=$(pwd)
say() { echo "setup-test-tools: $*" >&2; }

if ! /usr/bin/convert -version 2>/dev/null | grep -q ImageMagick || ! command -v exiftool >/dev/null; then
    say "installing ImageMagick and exiftool (apt)"
    apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq imagemagick libimage-exiftool-perl >&2
fi

VENV=$ROOT/target/eval-crosscheck-venv
if ! "$VENV/bin/python" -c 'import numpy, PIL, skimage' 2>/dev/null; then
    say "creating $VENV (numpy, Pillow, scikit-image for tests/metrics_crosscheck.py)"
    python3 -m venv "$VENV" >&2 2>/dev/null || {
        apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >&2 &&
            python3 -m venv "$VENV" >&2; }
    timeout 900 "$VENV/bin/pip" install -q --disable-pip-version-check numpy pillow scikit-image >&2
fi
echo "export COLORIZE_CROSSCHECK_PYTHON='$VENV/bin/python'"
