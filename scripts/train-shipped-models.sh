#!/usr/bin/env bash
# Reproduces the shipped general model (`general`, the default) and the group models from
# scratch on the 2-core CPU machine: one command, resumable (run it again after an
# interruption: each training step resumes from its checkpoint, finished steps are kept).
#
#   scripts/train-shipped-models.sh            # wall time: see docs/training.md
#
# Writes runs/ (checkpoints, logs, sample grids) and the exported models:
#   src/models/general.onnx (embedded), models/{outdoor-man-made,outdoor-natural}.onnx
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
eval "$(scripts/setup-torch.sh)"
scripts/cargo-suite.sh build --bin colorize-train >&2
train=target/release/colorize-train
data=${COLORIZE_DATA:-../shared/data}
scripts/training-sets.sh runs/sets >/dev/null
network=(--pretrained "$data/../pretrained/eccv16_conv1_3.safetensors" --encoder eccv16
  --widths 128,64 --output-stride 2 --global-context --loss 'pmse+0.1*l2'
  --batch-size 16 --seed 1 --bf16 --threads 2 --device cpu --lr-schedule cosine)
# Exported as trained (chroma gain 1): every measured gain or chroma curve bought
# colourfulness with more PSNR than it gave (docs/quality.md, "Levers"), and on very
# colourful photos a wrong vivid colour is worse than a muted one.
vividness=(--chroma-gain 1)

# The general model: 100 MiniPlaces scene classes + the 6 Intel outdoor classes.
$train train --data runs/sets/general --val "$data/miniplaces-128/val" --val-limit 300 \
  --out runs/general-pmse --epochs 4 --lr 1e-3 "${network[@]}"
$train export --run runs/general-pmse -o src/models/general.onnx --name general --category general \
  --val "$data/miniplaces-128/val" --val-limit 300 "${vividness[@]}"

# Group models: the general model fine-tuned for one epoch on one group's classes.
for group in indoor outdoor-man-made outdoor-natural; do
  $train train --data "runs/sets/group/$group/train" --val "runs/sets/group/$group/val" \
    --val-limit 200 --out "runs/group-$group" --init-from runs/general-pmse \
    --epochs 1 --lr 3e-4 "${network[@]}"
  $train export --run "runs/group-$group" -o "runs/$group.onnx" --name "$group" \
    --category "$group" --val "runs/sets/group/$group/val" --val-limit 200 "${vividness[@]}"
done
# Shipped where they beat the general model on their group's val photos (docs/quality.md).
cp runs/outdoor-man-made.onnx runs/outdoor-natural.onnx models/
