#!/bin/sh
# Shell pipelines with ImageMagick and the colorize CLI.
#
#   examples/pipeline.sh PHOTO.jpg OUT.jpg [MODEL]     one photo through a pipe
#   examples/pipeline.sh --batch IN_DIR OUT_DIR [MODEL] a folder, 2 photos at a time (xargs -P)
#
# COLORIZE may name the binary (default: target/release/colorize next to examples/).
# MODEL is an embedded model name or an ONNX file (default: the embedded default model).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
colorize=${COLORIZE:-$here/../target/release/colorize}
# ImageMagick 7 calls it `magick`, 6 `convert`.
if command -v magick >/dev/null 2>&1; then im=magick; else im=convert; fi

if [ "${1:-}" = "--batch" ]; then
  in_dir=$2 out_dir=$3 model=${4:-default}
  mkdir -p "$out_dir"
  # Each photo: decode with ImageMagick to PGM, colorize through stdin/stdout, encode JPEG.
  # -print0/-0 keep odd file names intact; -P 2 runs two at a time.
  find "$in_dir" -type f \( -iname '*.jpg' -o -iname '*.jpeg' -o -iname '*.png' -o -iname '*.tif' \) -print0 |
    xargs -0 -P 2 -I{} sh -c '
      name=$(basename "$1"); stem=${name%.*}
      tmp="$3/.$stem.jpg.part"
      "$0" "$1" -colorspace Gray pgm:- | "$2" --quiet --model "$4" - -o - | "$0" png:- -quality 90 "jpg:$tmp" &&
        mv "$tmp" "$3/$stem.jpg" || { rm -f "$tmp"; echo "failed: $1" >&2; exit 1; }
    ' "$im" {} "$colorize" "$out_dir" "$model"
else
  photo=$1 out=$2 model=${3:-default}
  "$im" "$photo" -colorspace Gray pgm:- | "$colorize" --quiet --model "$model" - -o - | "$im" png:- "$out"
fi
