#!/usr/bin/env bash
# The compare grid of README.md and docs/quality.md (docs/compare-vivid.jpg): grey input |
# `general` | `vivid` at its default vividness and at 3 | original, on the first photo of
# fourteen MiniPlaces val classes (rooms, shops, people's places, gardens, streets, water)
# and four Sun-Hays-80 photos. The photos are chosen by class, not by result.
#
#   scripts/compare-grid.sh [OUTPUT] [COLORIZE_BINARY]
# (the committed grid is re-encoded with `convert -quality 80` to keep the repository small)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$root/docs/compare-vivid.jpg}
bin=${2:-$root/target/release/colorize}
data=${COLORIZE_DATA:-$root/../shared/data}
# vivid's default vividness, as `colorize eval` labels a classification model run at its default.
vivid_default=$("$bin" eval --quiet --json --model vivid --limit 1 "$data/eval/kodak24" |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["results"][1]["model"].split("@")[1])')
photos=()
for class in kitchen living_room restaurant bakery market classroom beauty_salon stage \
    botanical_garden yard courtyard highway coast swimming_pool; do
  photos+=("$(find "$data/miniplaces-128/val/$class" -type f | sort | head -n 1)")
done
for name in barn_sun baseball_field_sun coast_sun field_wild_sun; do
  photos+=("$(find "$data/eval/sun-hays-80" -name "$name*" | sort | head -n 1)")
done
"$bin" compare --models "general,vivid@$vivid_default,vivid@3" --cell 192 -o "$out" "${photos[@]}"
echo "compare-grid: wrote $out (vivid at $vivid_default and 3)"
