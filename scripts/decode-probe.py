#!/usr/bin/env python3
"""Scores decodings of a classification model's logits on colour photos, without retraining.

    python3 scripts/decode-probe.py src/models/vivid.onnx ../shared/data/miniplaces-128/val \
        --step 4 --cache /tmp/vivid-val4

Cuts the exported graph at the class logits (the input of the division by `temperature`),
runs it once per photo with ONNX Runtime, caches the logits, then decodes them several ways
and prints the gain over grey and the colourfulness ratio (output / truth) of each, with
the same PSNR and Hasler-Susstrunk colourfulness as `colorize eval`. The a*b* map is
upsampled bilinearly, not through the library's guided filter, so absolute gains are
0.2-0.5 dB below `colorize eval`'s; the decodings are compared with each other, in the same
run (docs/quality.md, "Decoding where the model is sure").

Needs numpy, Pillow, scikit-image, onnx and onnxruntime.
"""
import argparse
import glob
import os
import warnings

import numpy as np
import onnx
import onnxruntime as ort
from onnx import helper, numpy_helper
from PIL import Image
from skimage.color import lab2rgb, rgb2lab

warnings.filterwarnings("ignore")  # lab2rgb's notes on clipped out-of-gamut values


def class_head(model):
    """The logits tensor's name, the prior correction (K) and the bin centres (2 x K)."""
    inits = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    nodes = model.graph.node
    div = next(n for n in nodes if n.op_type == "Div" and n.input[1] == "temperature")
    add = next(n for n in nodes if n.op_type == "Add" and div.output[0] in n.input)
    bias = next(inits[i] for i in add.input if i in inits).reshape(-1)
    centres = next(inits[n.input[1]] for n in nodes if n.op_type == "Conv"
                   and n.input[1] in inits and inits[n.input[1]].shape[:2] == (2, bias.size))
    return div.input[0], bias.astype(np.float64), centres[:, :, 0, 0].astype(np.float64)


def colourfulness(rgb):
    r, g, b = (rgb[..., i].astype(np.float64) for i in range(3))
    rg, yb = r - g, 0.5 * (r + g) - b
    return np.sqrt(rg.var() + yb.var()) + 0.3 * np.hypot(rg.mean(), yb.mean())


def softmax(x):
    e = np.exp(x - x.max(0, keepdims=True))
    return e / e.sum(0, keepdims=True)


class Decoder:
    def __init__(self, bias, centres):
        self.bias, self.centres = bias, centres
        self.radius = np.linalg.norm(centres, axis=0)

    def distribution(self, z, vividness=1.0):
        """p ∝ q^v / w^γ, as the exported graph computes it, and its mean."""
        p = softmax(z * vividness + self.bias[:, None, None])
        return p, np.einsum("ck,khw->chw", self.centres, p)

    def hue_agreement(self, z):
        """|E[ab]| / E[|ab|] under the calibrated distribution: 1 where every likely bin
        has the same hue, near 0 where likely bins disagree."""
        p, mean = self.distribution(z)
        expected_chroma = np.einsum("k,khw->hw", self.radius, p)
        return mean, expected_chroma, np.linalg.norm(mean, axis=0) / np.maximum(expected_chroma, 1e-6)

    def annealed(self, v):
        return lambda z: self.distribution(z, v)[1]

    def chroma_where_sure(self, alpha, beta):
        """The mean's hue, its chroma moved towards E[|ab|] by alpha * agreement^beta."""
        def decode(z):
            mean, expected, agreement = self.hue_agreement(z)
            chroma = np.linalg.norm(mean, axis=0)
            target = chroma + alpha * (expected - chroma) * agreement ** beta
            return mean * (target / np.maximum(chroma, 1e-6))[None]
        return decode

    def blend(self, v, beta):
        """The mean, moved towards the annealed mean at v by agreement^beta."""
        def decode(z):
            mean, _, agreement = self.hue_agreement(z)
            return mean + (agreement ** beta)[None] * (self.distribution(z, v)[1] - mean)
        return decode

    def offset(self, v, d, beta):
        """The annealed mean at v, its chroma raised by d * agreement^beta."""
        def decode(z):
            _, _, agreement = self.hue_agreement(z)
            mean = self.distribution(z, v)[1]
            chroma = np.linalg.norm(mean, axis=0)
            return mean * ((chroma + d * agreement ** beta) / np.maximum(chroma, 1e-6))[None]
        return decode


def logits_of(model, logits_name, photos, cache):
    if cache and os.path.exists(cache + ".z.npy"):
        return np.load(cache + ".z.npy", mmap_mode="r"), np.load(cache + ".t.npy")
    model.graph.output.clear()
    model.graph.output.append(helper.make_tensor_value_info(logits_name, onnx.TensorProto.FLOAT, None))
    options = ort.SessionOptions()
    options.intra_op_num_threads = 2
    session = ort.InferenceSession(model.SerializeToString(), options)
    logits, truths = [], []
    for path in photos:
        rgb = np.asarray(Image.open(path).convert("RGB"))
        l = rgb2lab(rgb)[..., 0].astype(np.float32)
        z = session.run(None, {"L": l[None, None], "temperature": np.ones(1, np.float32)})[0][0]
        logits.append(z.astype(np.float16))
        truths.append(rgb)
    logits, truths = np.stack(logits), np.stack(truths)
    if cache:
        np.save(cache + ".z.npy", logits)
        np.save(cache + ".t.npy", truths)
    return logits, truths


def score(decode, logits, truths):
    psnr, out_colour, truth_colour = [], [], []
    for z, rgb in zip(logits, truths):
        ab = decode(z.astype(np.float64))
        h, w = rgb.shape[:2]
        lab = rgb2lab(rgb)
        lab[..., 1:] = np.stack([np.asarray(Image.fromarray(ab[i].astype(np.float32), "F")
                                            .resize((w, h), Image.BILINEAR)) for i in range(2)], -1)
        out = np.round(np.clip(lab2rgb(lab), 0, 1) * 255).astype(np.uint8)
        mse = ((out.astype(np.float64) - rgb) ** 2).mean()
        psnr.append(10 * np.log10(255 ** 2 / mse))
        out_colour.append(colourfulness(out))
        truth_colour.append(colourfulness(rgb))
    return np.mean(psnr), np.sum(out_colour) / np.sum(truth_colour)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model")
    parser.add_argument("photos", help="a folder of colour photos (searched recursively)")
    parser.add_argument("--step", type=int, default=1, help="every STEP-th photo in path order")
    parser.add_argument("--cache", help="keep the logits in CACHE.z.npy / CACHE.t.npy")
    args = parser.parse_args()
    photos = sorted(p for p in glob.glob(os.path.join(args.photos, "**", "*"), recursive=True)
                    if p.lower().endswith((".jpg", ".jpeg", ".png")))[::args.step]
    model = onnx.load(args.model)
    logits_name, bias, centres = class_head(model)
    logits, truths = logits_of(model, logits_name, photos, args.cache)
    d = Decoder(bias, centres)
    variants = [("grey", lambda z: np.zeros((2,) + z.shape[1:]))]
    variants += [(f"annealed mean, v = {v}", d.annealed(v)) for v in (1, 1.5, 1.75, 2, 2.5)]
    variants += [(f"chroma where sure, a = {a}, b = {b}", d.chroma_where_sure(a, b))
                 for a, b in ((1, 0), (1, 1), (1, 2), (2, 2), (2, 4))]
    variants += [(f"blend to v = {v}, b = {b}", d.blend(v, b)) for v, b in ((2.5, 1), (3, 2), (4, 2))]
    variants += [(f"offset v = {v}, d = {o}, b = {b}", d.offset(v, o, b))
                 for v, o, b in ((1, 5, 0), (1, 5, 1), (1, 10, 2), (1.5, 4, 1))]
    print(f"{len(truths)} photos of {args.photos}, model {args.model}")
    print("| decoding | PSNR | gain over grey | colourfulness ratio |\n|---|---|---|---|")
    grey = None
    for name, decode in variants:
        psnr, ratio = score(decode, logits, truths)
        grey = psnr if grey is None else grey
        print(f"| {name} | {psnr:.2f} | {psnr - grey:+.2f} | {ratio:.3f} |", flush=True)


if __name__ == "__main__":
    main()
