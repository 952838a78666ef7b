#!/usr/bin/env bash
# Builds the training sets of the shipped general and group models as folders of symbolic
# links into ../shared/data (nothing is copied), so `colorize-train --data` can take them:
#
#   scripts/training-sets.sh [OUT]        # default OUT: runs/sets
#
#   OUT/general/           miniplaces-128/train (100 classes) [+ intel-scenes/train (6 classes)
#                          where shared/ still has it]
#   OUT/group/GROUP/train/ miniplaces-128/train classes of GROUP (indoor, outdoor-man-made,
#   OUT/group/GROUP/val/   outdoor-natural) and their val photos, as listed in index.csv
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
data=${COLORIZE_DATA:-$root/../shared/data}
data=$(cd "$data" && pwd)
out=${1:-$root/runs/sets}
mini=$data/miniplaces-128
[ -f "$mini/index.csv" ] || { echo "training-sets: $mini/index.csv not found" >&2; exit 1; }

rm -rf "$out.tmp"
mkdir -p "$out.tmp/general"
for class in "$mini"/train/*/; do
  class=$(basename "$class")
  ln -s "$mini/train/$class" "$out.tmp/general/places-$class"
done
# The Intel train split the first general model also saw was removed from shared/ on
# 2026-12-07 (DATA.md); where it is still present it is linked in as before.
if [ -d "$data/intel-scenes/train" ]; then
  for class in "$data"/intel-scenes/train/*/; do
    class=$(basename "$class")
    ln -s "$data/intel-scenes/train/$class" "$out.tmp/general/intel-$class"
  done
fi
# index.csv: split,class,group,file — one class always belongs to one group.
tail -n +2 "$mini/index.csv" | cut -d, -f1-3 | sort -u | while IFS=, read -r split class group; do
  mkdir -p "$out.tmp/group/$group/$split"
  ln -s "$mini/$split/$class" "$out.tmp/group/$group/$split/$class"
done
rm -rf "$out"
mv "$out.tmp" "$out"
echo "$out"
