#!/bin/sh
# Performance regression guard: the network's time in our engine divided by
# ONNX Runtime's (f32) and by OpenVINO's (at the precision ours ran) on the same ONNX bytes,
# same threads, same input (measured interleaved by `colorize-bench --only network`), must
# not be more than 1.5x worse than the committed baseline in bench/baseline.json. A ratio,
# not a time: the runtimes share the machine's load, so the guard holds on a busy CI
# machine where absolute times do not.
#   1. a virtual environment with onnxruntime, openvino and numpy (target/bench-venv); if
#      openvino cannot be installed, the ORT ratios are still held and the step then exits
#      77 ("skipped: OpenVINO ...", with the reason);
#   2. colorize-bench and the colorize CLI from the suite's one build (scripts/cargo-suite.sh:
#      --release --features train,bench);
#   3. the ratios at 256x256 and 512x512 on the embedded default model's file, for our f32
#      and our bf16 (each against ORT f32, and against OpenVINO f32, or OpenVINO bf16 where
#      the CPU has AMX-BF16; where it has not, our bf16 would run in f32, so only f32 is
#      measured); a ratio with no baseline yet (OpenVINO bf16 on AMX) is printed, not held;
#      a size over the limit is measured once more before failing (noise).
# Idempotent; runs as root; bounded (a minute of measurement after the build).
set -eu
cd "$(dirname "$0")/../.."
ROOT=$(pwd)
say() { echo "70-bench-guard: $*"; }

DEFAULT_NAME=$(head -n1 src/models/DEFAULT 2>/dev/null | tr -d '[:space:]' || true)
# COLORIZE_BENCH_MODEL overrides the model (to try the guard before models are shipped).
MODEL=${COLORIZE_BENCH_MODEL:-src/models/$DEFAULT_NAME.onnx}
if [ ! -f "$MODEL" ]; then
    say "skipped: no default model in src/models (src/models/DEFAULT names '$DEFAULT_NAME'); nothing to measure"
    exit 77
fi

VENV=$ROOT/target/bench-venv
if ! "$VENV/bin/python" -c 'import onnxruntime, numpy' 2>/dev/null; then
    say "creating $VENV (onnxruntime, numpy)"
    python3 -m venv "$VENV" 2>/dev/null || { apt-get update -q && apt-get install -y -q python3-venv && python3 -m venv "$VENV"; }
    timeout 900 "$VENV/bin/pip" install -q --disable-pip-version-check onnxruntime numpy
fi
OV_SKIPPED=
if ! "$VENV/bin/python" -c 'import openvino' 2>/dev/null; then
    say "installing openvino in $VENV"
    if ! timeout 900 "$VENV/bin/pip" install -q --disable-pip-version-check openvino >target/bench-openvino-pip.log 2>&1 \
        || ! "$VENV/bin/python" -c 'import openvino' 2>>target/bench-openvino-pip.log; then
        OV_SKIPPED="openvino did not install ($(tail -n 1 target/bench-openvino-pip.log | cut -c1-60))"
        say "$OV_SKIPPED; holding the ONNX Runtime ratios only"
    fi
fi

say "building colorize-bench"
timeout 1800 scripts/cargo-suite.sh build --bin colorize-bench --bin colorize

# Without AMX-BF16 our bf16 runs as f32: its rows would repeat the f32 ones, so they are left
# out there (keeps the guard's time about what it was before OpenVINO joined).
PRECISIONS=f32,bf16
grep -qw amx_bf16 /proc/cpuinfo || PRECISIONS=f32
measure() {
    timeout 600 target/release/colorize-bench --model "$MODEL" --only network --sizes 256,512 \
        --precisions $PRECISIONS --threads 2 --python "$VENV/bin/python" --json "$1" \
        ${OV_SKIPPED:+--no-openvino}
}
# The ratios held; then OpenVINO's absence, if so, shows as the step's skip.
done_ok() {
    if [ -z "$OV_SKIPPED" ] && grep -q '"openvino_skipped": "' "$1"; then
        OV_SKIPPED="the OpenVINO runner did not start (colorize-bench's output above says why)"
    fi
    if [ -n "$OV_SKIPPED" ]; then
        say "skipped: OpenVINO ratio not held: $OV_SKIPPED"
        exit 77
    fi
    exit 0
}

check() {
    "$VENV/bin/python" - "$1" bench/baseline.json <<'EOF'
import json, sys
report = json.load(open(sys.argv[1]))
runs = report["network"]
committed = json.load(open(sys.argv[2]))
baseline, ov_baseline = committed["ratios"], committed["openvino_ratios"]
bad = []


def hold(row, what, ratio, baseline_label, base):
    """One ratio against 1.5x its committed baseline: prints the verdict, notes a regression."""
    limit = 1.5 * base
    verdict = "ok" if ratio <= limit else "REGRESSION"
    print(f"70-bench-guard: {row}: {what} {ratio:.2f}, {baseline_label} {base:.2f}, "
          f"limit {limit:.2f}: {verdict}")
    if ratio > limit:
        bad.append((row, what))


if report.get("openvino_skipped"):
    print(f"70-bench-guard: OpenVINO not measured: {report['openvino_skipped']}")
for r in sorted(runs, key=lambda r: (r["precision"], r["size"])):
    precision, size = r["precision"], str(r["size"])
    row = f"{size}x{size} {precision}"
    # A CPU without AMX-BF16 runs bf16 as f32: hold it to the f32 baseline.
    held_to = precision if r["precision_native"] else "f32"
    hold(row, "ours/ORT f32", r["ratio"], f"baseline ({held_to})", baseline[held_to][size])
    ov_ratio, ov_precision = r.get("ratio_openvino"), r.get("openvino_precision")
    if ov_ratio is None:
        continue
    ov_base = ov_baseline.get(ov_precision, {}).get(size)
    if ov_base is None:
        print(f"70-bench-guard: {row}: ours/OpenVINO {ov_precision} "
              f"{ov_ratio:.2f}, no baseline for OpenVINO {ov_precision} yet: recorded, not held")
        continue
    hold(row, f"ours/OpenVINO {ov_precision}", ov_ratio, "baseline", ov_base)
sys.exit(1 if bad else 0)
EOF
}

mkdir -p target/bench
say "measuring ours vs ONNX Runtime ($MODEL)"
measure target/bench/guard.json
if check target/bench/guard.json; then
    say "ok"
    done_ok target/bench/guard.json
fi
say "over the limit; measuring once more (the machine is shared)"
measure target/bench/guard-retry.json
check target/bench/guard-retry.json
say "ok on the second measurement"
done_ok target/bench/guard-retry.json
