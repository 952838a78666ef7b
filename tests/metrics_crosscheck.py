#!/usr/bin/env python3
"""Independent computation of the grayscale-baseline metrics (PSNR, AuC, colourfulness;
defined in docs/quality.md).

Shares no code with colorize::metrics: Pillow decodes (libjpeg-turbo, not zune-jpeg),
scikit-image converts sRGB <-> CIE Lab (D65), numpy does the rest, and the AuC is the
curve integrated the slow way (np.trapezoid over the 151 thresholds) rather than the
closed form per pixel that the Rust code uses.

Usage: metrics_crosscheck.py [--size SHORT] IMAGE...
Prints one JSON object: {"images": [{"path", "psnr_db", "ab_auc", "colourfulness_truth",
"colourfulness_output"}...]}, PSNR infinite (null) when the baseline equals the truth.
"""
import argparse
import json
import math

import numpy as np
from PIL import Image
from skimage.color import rgb2lab


def load(path, short_side):
    image = Image.open(path).convert("RGB")
    if short_side:
        w, h = image.size
        scale = short_side / min(w, h)
        size = (max(1, round(w * scale)), max(1, round(h * scale)))
        if size != image.size:
            image = image.resize(size, Image.BICUBIC)
    return np.asarray(image)


def colourfulness(rgb):
    x = rgb.astype(np.float64)
    rg = x[..., 0] - x[..., 1]
    yb = 0.5 * (x[..., 0] + x[..., 1]) - x[..., 2]
    return math.hypot(rg.std(), yb.std()) + 0.3 * math.hypot(rg.mean(), yb.mean())


def auc(errors):
    thresholds = np.arange(151)
    ordered = np.sort(errors.ravel())
    within = np.searchsorted(ordered, thresholds, side="right") / ordered.size
    return float(np.trapezoid(within, thresholds) / 150.0)


def grey_of_lightness(lightness):
    """8-bit sRGB grey level of CIE L* with a* = b* = 0, by the CIE and sRGB formulas.

    With a* = b* = 0, X/Xn = Y/Yn = Z/Zn, so linear R = G = B = Y for a D65 white: no
    matrix is involved (scikit-image's lab2rgb leaves ~0.1 colourfulness of round-off).
    """
    fy = (lightness + 16.0) / 116.0
    y = np.where(fy**3 > 216.0 / 24389.0, fy**3, lightness / (24389.0 / 27.0))
    y = np.clip(y, 0.0, 1.0)
    encoded = np.where(y <= 0.0031308, 12.92 * y, 1.055 * y ** (1.0 / 2.4) - 0.055)
    return np.round(encoded * 255.0).astype(np.uint8)


def baseline_scores(truth):
    lab = rgb2lab(truth)
    output = np.repeat(grey_of_lightness(lab[..., 0])[..., None], 3, axis=2)
    mse = np.mean((truth.astype(np.float64) - output.astype(np.float64)) ** 2)
    psnr = None if mse == 0 else 10.0 * math.log10(255.0**2 / mse)
    out_lab = rgb2lab(output)
    errors = np.hypot(lab[..., 1] - out_lab[..., 1], lab[..., 2] - out_lab[..., 2])
    return {
        "psnr_db": psnr,
        "ab_auc": auc(errors),
        "colourfulness_truth": colourfulness(truth),
        "colourfulness_output": colourfulness(output),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=None)
    parser.add_argument("images", nargs="+")
    args = parser.parse_args()
    results = []
    for path in args.images:
        scores = baseline_scores(load(path, args.size))
        scores["path"] = path
        results.append(scores)
    print(json.dumps({"images": results}))


if __name__ == "__main__":
    main()
