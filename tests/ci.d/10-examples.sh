#!/bin/sh
# Installs ImageMagick (for the shell pipeline example) and runs the examples test again,
# so that the pipeline and its parallel xargs batch are really exercised in CI. The build is
# the suite's one build (scripts/cargo-suite.sh), so nothing is recompiled.
set -eu
cd "$(dirname "$0")/../.."
if ! /usr/bin/convert -version 2>/dev/null | grep -q ImageMagick; then
  echo "10-examples: installing ImageMagick"
  apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq imagemagick >/dev/null
fi
export PATH="/usr/bin:$PATH"   # Debian's convert before any stand-in in /usr/local/bin
echo "10-examples: C, C++, Python ctypes and ImageMagick pipeline examples"
log=$(mktemp)
status=0
scripts/cargo-suite.sh test --test examples -- --nocapture >"$log" 2>&1 || status=$?
cat "$log"
[ "$status" -eq 0 ] || exit "$status"
if grep -q "skipped: ImageMagick" "$log"; then
  echo "10-examples: the shell pipeline was skipped although ImageMagick was installed" >&2
  exit 1
fi
