#!/usr/bin/env bash
# Reproduces the shipped models from scratch on the 2-core CPU machine: one command,
# resumable (run it again after an interruption: each training step resumes from its
# checkpoint, finished steps are kept).
#
#   scripts/train-shipped-models.sh [STEP...]     # steps: general groups vivid (default: all)
#
# Writes runs/ (checkpoints, logs, sample grids) and the exported models:
#   general: src/models/general.onnx (the regression model)
#   groups:  models/{outdoor-man-made,outdoor-natural}.onnx (general fine-tuned per group)
#   vivid:   src/models/vivid.onnx (classification head grown from
#            src/models/general.onnx, annealed-mean decoding)
# Wall times on the 2-core machine: docs/training.md.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
steps=("$@")
[ ${#steps[@]} -gt 0 ] || steps=(general groups vivid)
wants() { [[ " ${steps[*]} " == *" $1 "* ]]; }
eval "$(scripts/setup-torch.sh)"
scripts/cargo-suite.sh build --bin colorize-train >&2
mkdir -p runs
# A copy runs, so that rebuilding the workspace meanwhile never replaces a running binary.
cp target/release/colorize-train runs/colorize-train
train=runs/colorize-train
data=${COLORIZE_DATA:-../shared/data}
scripts/training-sets.sh runs/sets >/dev/null
network=(--pretrained "$data/../pretrained/eccv16_conv1_3.safetensors" --encoder eccv16
  --widths 128,64 --output-stride 2 --global-context --loss 'pmse+0.1*l2'
  --batch-size 16 --seed 1 --bf16 --threads 2 --device cpu --lr-schedule cosine)
# Regression models are exported as trained (chroma gain 1): every measured gain or chroma
# curve bought colourfulness with more PSNR than it gave (docs/quality.md, "Levers").
vividness=(--chroma-gain 1)

if wants general; then
  # The general model: the 100 MiniPlaces scene classes (and Intel's 6 outdoor classes
  # where shared/ still holds them).
  $train train --data runs/sets/general --val "$data/miniplaces-128/val" --val-limit 300 \
    --out runs/general-pmse --epochs 4 --lr 1e-3 "${network[@]}"
  $train export --run runs/general-pmse -o src/models/general.onnx --name general \
    --category general --val "$data/miniplaces-128/val" --val-limit 300 "${vividness[@]}"
fi

if wants groups; then
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
fi

if wants vivid; then
  # The vivid model: general's encoder normalisation and decoder, plus a classification
  # head over the a*b* bins at stride 2 (the decoder's last features), trained with
  # rebalanced soft-encoded cross-entropy (the regression head keeps its loss as a small
  # second term) on the 31,000 MiniPlaces photos. Decoding and default vividness chosen on
  # MiniPlaces val (docs/quality.md, "The vivid model"). The head at stride 4 (3 epochs) was
  # 0.08-0.3 dB less accurate at equal colourfulness; 2 more epochs of it (a second cosine
  # cycle from 3e-4, started from its exported file with `--init-from-model
  # src/models/general.onnx --init-from-model VIVID.onnx`) moved it by at most 0.05 dB.
  vivid_head=(--classes --class-stride 2 --class-rebalance 0.5 --class-weight 1)
  $train train --data "$data/miniplaces-128/train" --val "$data/miniplaces-128/val" \
    --val-limit 300 --out runs/vivid --epochs 2 --lr 5e-4 "${network[@]}" "${vivid_head[@]}" \
    --init-from-model src/models/general.onnx
  $train export --run runs/vivid -o src/models/vivid.onnx --name vivid --category general \
    --val "$data/miniplaces-128/val" --val-limit 300 --prior-correction 1 --vividness 1.5
fi
