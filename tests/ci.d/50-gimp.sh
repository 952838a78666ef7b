#!/bin/sh
# GIMP plug-ins, tested in the real GIMPs, headless:
#   1. GIMP 2.10 (this machine's Debian 12 packages): build plugins/gimp-2.10, install it into a
#      throwaway GIMP profile, run tests/gimp/run_gimp_tests.py --gimp 2.
#   2. GIMP 3 (Debian 13 packages in a chroot made by debootstrap, cached under
#      target/gimp3-trixie): build plugins/gimp-3 inside it against the library built here,
#      install, run the same tests with --gimp 3.
# Idempotent; runs as root; installs what it needs. Bounded: every GIMP run is under
# `timeout`. Set COLORIZE_SKIP_GIMP3=1 to run only the GIMP 2.10 half.
set -eu
cd "$(dirname "$0")/../.."
ROOT=$(pwd)
say() { echo "50-gimp: $*"; }
export DEBIAN_FRONTEND=noninteractive

# ---- what the host needs ----------------------------------------------------------------
HOST_PACKAGES="gimp libgimp2.0-dev debootstrap make gcc pkg-config xvfb xdotool x11-apps dbus"
if ! dpkg -s $HOST_PACKAGES >/dev/null 2>&1; then
    say "installing $HOST_PACKAGES (apt; the last four only to open the dialogs under Xvfb)"
    apt-get update -q
    apt-get install -y -q $HOST_PACKAGES
fi

VENV=$ROOT/target/gimp-test-venv
if ! "$VENV/bin/python" -c 'import onnx, png, numpy' 2>/dev/null; then
    say "creating $VENV (onnx to write test models, pypng to read 16-bit PNGs, numpy)"
    python3 -m venv "$VENV" 2>/dev/null || { apt-get install -y -q python3-venv && python3 -m venv "$VENV"; }
    "$VENV/bin/pip" install -q onnx pypng numpy
fi
PYTHON=$VENV/bin/python

# ---- the library and the CLI, from the suite's one build (scripts/cargo-suite.sh) ------
say "libcolorize.so and the colorize CLI (scripts/cargo-suite.sh build)"
scripts/cargo-suite.sh build --lib --bin colorize
# That build has the trainer feature on; the plug-ins must still not need libtorch (the
# GIMP 3 chroot has none): neither the library nor the CLI may link it.
for f in target/release/libcolorize.so target/release/colorize; do
    if readelf -d "$f" | grep NEEDED | grep -Ei 'torch|c10'; then
        say "$f links libtorch"; exit 1
    fi
done
# The committed header; COLORIZE_INCLUDE may point elsewhere (e.g. cbindgen's OUT_DIR copy).
COLORIZE_INCLUDE=${COLORIZE_INCLUDE:-$ROOT/include}
export COLORIZE_INCLUDE
for f in "$COLORIZE_INCLUDE/colorize.h" target/release/libcolorize.so target/release/colorize; do
    test -f "$f" || { say "missing $f"; exit 1; }
done

status=0

# ---- GIMP 2.10 ---------------------------------------------------------------------------
say "GIMP $(gimp --version | sed 's/.*version //'): building plugins/gimp-2.10"
make -s -C plugins/gimp-2.10
WORK2=/tmp/colorize-gimp2-test
PROFILE2=$("$PYTHON" tests/gimp/run_gimp_tests.py --gimp 2 --work "$WORK2" --prepare-only)
make -s -C plugins/gimp-2.10 install GIMP2_DIRECTORY="$PROFILE2"
"$PYTHON" tests/gimp/run_gimp_tests.py --gimp 2 --work "$WORK2" --run-only || status=1
# The interactive path: the dialog must open (GIMP's GUI on Xvfb); the window is grabbed.
if GIMP2_DIRECTORY="$PROFILE2" "$PYTHON" tests/gimp/screenshot_dialog.py /tmp/colorize-gimp2-dialog.png \
        --image "$WORK2/rgb8.png"; then
    say "PASS  GIMP 2.10 dialog opens under Xvfb"
else
    say "FAIL  GIMP 2.10 dialog did not open"; status=1
fi

# ---- GIMP 3 in a Debian 13 chroot --------------------------------------------------------
if [ "${COLORIZE_SKIP_GIMP3:-0}" = 1 ]; then
    say "skipped: GIMP 3 (COLORIZE_SKIP_GIMP3=1)"
    [ $status = 0 ] && exit 77
    exit $status
fi
CHROOT_SH=tests/gimp/gimp3-chroot.sh
"$CHROOT_SH" setup
CHROOT=$("$CHROOT_SH" path)
# The chroot sees only its own tree: copy in what the build needs (the header, the library
# built on Debian 12 — it runs on Debian 13 — and the plug-in sources).
BUILD3=$CHROOT/tmp/colorize-src
rm -rf "$BUILD3"
mkdir -p "$BUILD3/include" "$BUILD3/target/release" "$BUILD3/plugins"
cp "$COLORIZE_INCLUDE/colorize.h" "$BUILD3/include/"
cp target/release/libcolorize.so "$BUILD3/target/release/"
cp -r plugins/common plugins/gimp-3 "$BUILD3/plugins/"
rm -rf "$BUILD3/plugins/gimp-3/build"
say "GIMP $("$CHROOT_SH" run gimp-console-3.0 --version | sed 's/.*version //') (chroot): building plugins/gimp-3"
"$CHROOT_SH" run make -s -C /tmp/colorize-src/plugins/gimp-3 COLORIZE_INCLUDE=/tmp/colorize-src/include
WORK3=$CHROOT/tmp/colorize-gimp3-test
"$PYTHON" tests/gimp/run_gimp_tests.py --gimp 3 --chroot "$CHROOT" --work "$WORK3" --prepare-only >/dev/null
"$CHROOT_SH" run make -s -C /tmp/colorize-src/plugins/gimp-3 install GIMP3_DIRECTORY=/tmp/colorize-gimp3-test/gimp
"$PYTHON" tests/gimp/run_gimp_tests.py --gimp 3 --chroot "$CHROOT" --work "$WORK3" --run-only || status=1
if GIMP3_DIRECTORY="$WORK3/gimp" "$PYTHON" tests/gimp/screenshot_dialog.py /tmp/colorize-gimp3-dialog.png \
        --gimp 3 --chroot "$CHROOT" --image /tmp/colorize-gimp3-test/rgb8.png; then
    say "PASS  GIMP 3 dialog opens under Xvfb"
else
    say "FAIL  GIMP 3 dialog did not open"; status=1
fi

if [ $status = 0 ]; then say "all GIMP checks passed"; else say "GIMP checks FAILED"; fi
exit $status
