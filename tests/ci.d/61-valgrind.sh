#!/bin/sh
# valgrind memcheck on the C example (examples/colorize_pgm.c) linked against
# target/release/libcolorize.so: a real colorization and three failure paths (missing input,
# corrupt model, no default model), then tests/c/settings_test.c (settings, progress, cancel,
# threads, model list). Each run must report 0 errors and 0 bytes definitely lost
# (--errors-for-leak-kinds=definite makes a definite leak an error; --error-exitcode fails).
set -eu
cd "$(dirname "$0")/../.."
if ! command -v valgrind >/dev/null 2>&1; then
  echo "61-valgrind: installing valgrind"
  apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq valgrind >/dev/null
fi
echo "61-valgrind: building libcolorize (the suite's one build: scripts/cargo-suite.sh)"
scripts/cargo-suite.sh build --lib
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cc -std=c11 -O1 -g -Wall -Wextra -Werror examples/colorize_pgm.c -Iinclude \
  -Ltarget/release -lcolorize "-Wl,-rpath,$PWD/target/release" -lpthread -lm -o "$work/colorize_pgm"
# A 160x120 8-bit PGM with a gradient and a few shapes; the model is the small committed
# contract-conforming test model (fuzz/seeds/model_load/spatial.onnx).
python3 - "$work/in.pgm" <<'EOF'
import sys
w, h = 160, 120
px = bytearray()
for y in range(h):
    for x in range(w):
        v = (x * 255 // w + y) % 256
        if (x - 50) ** 2 + (y - 60) ** 2 < 400: v = 230
        if 100 < x < 140 and 20 < y < 50: v = 30
        px.append(v)
open(sys.argv[1], "wb").write(b"P5\n%d %d\n255\n" % (w, h) + bytes(px))
EOF
model=fuzz/seeds/model_load/spatial.onnx
printf 'not a model' >"$work/corrupt.onnx"

failed=0
memcheck() { # NAME EXPECTED_EXIT ARGS... (of the example)
  name=$1 expected=$2
  shift 2
  memcheck_program "$name" "$expected" "$work/colorize_pgm" "$@"
}
memcheck_program() { # NAME EXPECTED_EXIT PROGRAM ARGS...
  name=$1 expected=$2
  shift 2
  log="$work/$name.log"
  set +e
  valgrind --tool=memcheck --error-exitcode=99 --leak-check=full \
    --errors-for-leak-kinds=definite --show-leak-kinds=definite \
    --track-origins=yes --log-file="$log" "$@" >/dev/null 2>&1
  code=$?
  set -e
  errors=$(sed -n 's/.*ERROR SUMMARY: \([0-9]*\) errors.*/\1/p' "$log" | tail -1)
  definite=$(sed -n 's/.*definitely lost: \([0-9,]*\) bytes.*/\1/p' "$log" | tail -1)
  echo "61-valgrind: $name: exit $code (expected $expected), ${errors:-?} errors, ${definite:-0} bytes definitely lost"
  if [ "$code" -ne "$expected" ] || [ "${errors:-1}" != 0 ] || [ "${definite:-0}" != 0 ]; then
    cat "$log"
    failed=1
  fi
}
memcheck colorize 0 "$work/in.pgm" "$work/out.ppm" "$model"
head -c 2 "$work/out.ppm" | grep -q P6 || { echo "61-valgrind: no PPM written" >&2; failed=1; }
memcheck missing-input 1 "$work/nope.pgm" "$work/x.ppm" "$model"
memcheck corrupt-model 1 "$work/in.pgm" "$work/x.ppm" "$work/corrupt.onnx"
# Without a model file the embedded default is used: exit 0 if this build embeds one, else
# 1 with COLORIZE_ERROR_NO_MODEL.
default_expected=1
if [ -f src/models/DEFAULT ] && [ -f "src/models/$(head -n1 src/models/DEFAULT | tr -d '[:space:]').onnx" ]; then
  default_expected=0
fi
memcheck default-model "$default_expected" "$work/in.pgm" "$work/d.ppm"

# The settings part of the API (tests/c/settings_test.c on a 160x120 image): every setter and
# its errors, progress and a cancel at every report on all formats, a 2-thread pool, the
# model list and colorize_model_load by name and path.
cc -std=c11 -O1 -g -Wall -Wextra -Werror -DTEST_WIDTH=160 -DTEST_HEIGHT=120 tests/c/settings_test.c \
  -Iinclude -Ltarget/release -lcolorize "-Wl,-rpath,$PWD/target/release" -lpthread -lm -o "$work/settings_test"
mkdir "$work/models"
cp fuzz/seeds/model_load/linear.onnx "$work/models/test-installed.onnx"
has_default=$([ "$default_expected" = 0 ] && echo 1 || echo 0)
COLORIZE_MODEL_PATH="$work/models" memcheck_program settings 0 "$work/settings_test" \
  fuzz/seeds/model_load/linear.onnx "$has_default" test-installed
exit $failed
