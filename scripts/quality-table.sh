#!/usr/bin/env bash
# The quality table of docs/quality.md: `colorize eval` of the given models (comma-separated
# embedded names or .onnx paths) beside the grey baseline, on the four evaluation sets, as
# Markdown. Every set is whole: MiniPlaces val (1,200), Sun-Hays-80 at short side 256,
# Kodak24, intel-scenes test without its 112 exactly grey originals (2,046 photos listed in
# tests/data/intel-test-colour.txt: HSL saturation not zero everywhere, found with ImageMagick;
# grey originals would score the grey baseline at the 100 dB ceiling).
#
#   scripts/quality-table.sh default,landscape-pmse [COLORIZE_BINARY]
#   COLORIZE_VIVIDNESS=0,1,3 scripts/quality-table.sh vivid,general   # rows per vividness
#                                      # of classification models (0 = each model's default)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
models=${1:?usage: scripts/quality-table.sh MODELS [COLORIZE_BINARY]}
bin=${2:-$root/target/release/colorize}
data=${COLORIZE_DATA:-$root/../shared/data}
vividness=(--vividness "${COLORIZE_VIVIDNESS:-0}")
echo "CPU: $(lscpu | sed -n 's/^Model name: *//p'), $(date -u +%F)"
"$bin" eval --quiet --markdown --model "$models" "${vividness[@]}" "$data/miniplaces-128/val"
"$bin" eval --quiet --markdown --model "$models" "${vividness[@]}" "$data/eval/sun-hays-80" --size 256 | tail -n +3
"$bin" eval --quiet --markdown --model "$models" "${vividness[@]}" "$data/eval/kodak24" | tail -n +3
"$bin" eval --quiet --markdown --model "$models" "${vividness[@]}" "$data/intel-scenes/test" \
  --files-from "$root/tests/data/intel-test-colour.txt" | tail -n +3
