#!/usr/bin/env python3
"""Runs plug-in-colorize inside a real, headless GIMP and checks what comes out.

    run_gimp_tests.py --gimp 2 [--work DIR]                 GIMP 2.10 on this machine
    run_gimp_tests.py --gimp 3 --chroot DIR [--work DIR]    GIMP 3 inside a Debian 13 chroot
                                                            (tests/gimp/gimp3-chroot.sh)

The plug-in must already be installed into <work>/gimp/plug-ins/colorize/ — this script
makes the GIMP profile folder itself (GIMP2_DIRECTORY / GIMP3_DIRECTORY, XDG_* all point
into <work>), so tests/ci.d/50-gimp.sh builds and installs between the two steps; see
--prepare-only. Inputs are generated, never read from the repository's data.

What is checked, case by case (a table is printed; the exit status is 1 if any fails):
  * the plug-in's result equals the command-line tool's result on the same file and model
    (`colorize IN -o OUT --model M`) within rounding: GRAY, RGB, RGBA, 16-bit and INDEXED
    images, and images converted to 32-bit float linear and 16-bit half perceptual;
  * alpha comes back unchanged;
  * a feathered selection: outside unchanged, deep inside equal to the CLI, the feather
    band a blend of the two;
  * white points: with a model that predicts a* = b* = 0, every (grey) pixel comes back
    exactly as it went in, at 8 and 16 bits; saturation 0 gives R = G = B;
  * errors: an unknown model name, a missing and a corrupt model file and a layer mask
    instead of a layer give GIMP's error with the plug-in's message, and no output file
    (GIMP exits 0 even then, so we look); a model that fails only at inference leaves the image untouched
    (still GRAY, same pixels);
  * the default model (""), if one is embedded, otherwise its clear error; an embedded
    model by name, if there is one;
  * GIMP 3: two selected layers are both colorized by one call;
  * the precision argument (GIMP 2.10: plug-in-colorize2): precision "bf16" runs, gives
    the image's size back (as 8-bit RGB), and equals the CLI's `--precision bf16` result
    (the other cases leave the argument out, as older callers do); GIMP 2.10: an unknown
    precision is an error with the plug-in's message;
  * with the embedded classification model `vivid`: the vividness argument at 3 (GIMP 2.10:
    plug-in-colorize3) gives the CLI's `--vividness 3` result, which differs from vivid's
    default vividness;
  * cancel: with COLORIZE_GIMP_TEST_CANCEL_AT set, the plug-in cancels its own run from
    the main thread (as its Cancel button does) once the library has reported some
    progress on a larger layer; the library must return CANCELLED at its next report,
    within a second, and the image must come back exactly as it went in;
  * cancel at a large working size: the same with the default model at working size 1500
    on a 2001x1501 layer (GIMP 2.10: plug-in-colorize3), cancelled while the network
    runs: CANCELLED within a second, and the library never went a second without a
    progress report (the bar moves);
  * help: the plug-in registered its help domain with GIMP (pluginrc), and the folder
    holds the page its dialog's help ID maps to.

GIMP exits 0 whatever happens in a batch command, so success is judged only by the
output files and the log; GIMP always runs under `timeout`.
"""
import argparse
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import png

import test_models

ROOT = Path(__file__).resolve().parents[2]
CLI = ROOT / "target" / "release" / "colorize"
GIMP_TIMEOUT_S = 300
CLI_TIMEOUT_S = 120

# Image sizes: small (fast) but not square and not a multiple of anything.
WIDTH, HEIGHT = 123, 77
# The cancel case needs a layer on which the library works long enough for the main
# thread to see its progress and cancel mid-way.
CANCEL_WIDTH, CANCEL_HEIGHT = 2001, 1501
CANCEL_AT = 0.2   # library fraction at which the plug-in cancels itself
CANCEL_LIMIT_S = 1.0
# The large cancel: working size 1500 with the default model; the library's network spans
# its fractions 0.3 to 0.55, so 0.36 is inside the network, past the plan's preparation.
LARGE_WORKING_SIZE = 1500
LARGE_CANCEL_AT = 0.36
REPORT_GAP_LIMIT_S = 1.0

# ---- inputs ------------------------------------------------------------------------


def synthetic_photo(width: int, height: int, levels: int) -> np.ndarray:
    """A grey 'photo' covering black to white: smooth shading, a disc, stripes and fine
    deterministic noise, as integers 0..levels-1."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    v = 0.15 + 0.7 * (x / (width - 1)) * (0.6 + 0.4 * y / (height - 1))
    v += 0.25 * (((x - 0.6 * width) ** 2 + (y - 0.4 * height) ** 2) < (0.2 * height) ** 2)
    v -= 0.12 * ((x // 9) % 2 == 0) * (y > 0.7 * height)
    v += 0.03 * np.sin(x * 1.7 + y * 0.9) * np.cos(y * 2.3)
    v = np.clip(v, 0.0, 1.0)
    v[0, :5] = 0.0  # true black and white are in every image
    v[-1, -5:] = 1.0
    return np.rint(v * (levels - 1)).astype(np.int64)


def write_png(path: Path, pixels: np.ndarray, mode: str, bitdepth: int = 8, palette=None) -> None:
    """pixels: H×W (grey / palette index) or H×W×C."""
    height, width = pixels.shape[:2]
    rows = pixels.reshape(height, -1)
    if palette is not None:
        writer = png.Writer(width, height, palette=palette, bitdepth=bitdepth)
    else:
        writer = png.Writer(width, height, greyscale=mode in ("L", "LA"),
                            alpha=mode in ("LA", "RGBA"), bitdepth=bitdepth)
    with open(path, "wb") as f:
        writer.write(f, rows.tolist())


def read_png(path: Path):
    """Returns (H×W×4 int array as RGBA, bitdepth); grey and palette images are expanded,
    a missing alpha is filled with the maximum."""
    reader = png.Reader(filename=str(path))
    width, height, rows, info = reader.asRGBA()
    data = np.vstack([np.asarray(r, dtype=np.int64) for r in rows]).reshape(height, width, 4)
    return data, info["bitdepth"]


def make_inputs(work: Path) -> dict:
    """Writes the test images; returns name -> path."""
    photo8 = synthetic_photo(WIDTH, HEIGHT, 256)
    photo16 = synthetic_photo(WIDTH, HEIGHT, 65536)
    files = {}

    files["gray8"] = work / "gray8.png"
    write_png(files["gray8"], photo8, "L")

    files["rgb8"] = work / "rgb8.png"
    write_png(files["rgb8"], np.repeat(photo8[:, :, None], 3, axis=2), "RGB")

    alpha = np.tile(np.linspace(0, 255, WIDTH).round().astype(np.int64), (HEIGHT, 1))
    alpha[: HEIGHT // 3] = 255
    files["rgba8"] = work / "rgba8.png"
    write_png(files["rgba8"], np.dstack([photo8, photo8, photo8, alpha]), "RGBA")

    files["cancel"] = work / "cancel-gray8.png"
    write_png(files["cancel"], synthetic_photo(CANCEL_WIDTH, CANCEL_HEIGHT, 256), "L")

    files["gray16"] = work / "gray16.png"
    write_png(files["gray16"], photo16, "L", bitdepth=16)

    # 16 grey levels in a palette: GIMP opens this as an INDEXED image.
    levels = np.rint(np.linspace(0, 255, 16)).astype(int)
    files["indexed"] = work / "indexed.png"
    write_png(files["indexed"], photo8 * 15 // 255, "P", bitdepth=4,
              palette=[(int(v), int(v), int(v)) for v in levels])
    return files


# ---- running the CLI and GIMP -------------------------------------------------------


def run_cli(src: Path, dst: Path, model, saturation: float = 1.0, precision=None,
            vividness=None) -> None:
    command = [str(CLI), str(src), "-o", str(dst), "--saturation", repr(saturation)]
    if precision is not None:
        command += ["--precision", precision]
    if vividness is not None:
        command += ["--vividness", repr(vividness)]
    if model is not None:
        command += ["--model", str(model)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=CLI_TIMEOUT_S)
    if result.returncode != 0 or not dst.exists():
        raise RuntimeError(f"CLI failed ({result.returncode}): {' '.join(command)}\n{result.stderr}")


def scheme_string(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


class Gimp:
    """One GIMP version: how to call it and how Script-Fu spells things there."""

    def __init__(self, version: int, work: Path, chroot):
        self.version = version
        self.work = work
        self.chroot = chroot

    def path(self, host_path: Path) -> str:
        """The path GIMP sees for a file of ours."""
        if self.chroot is None:
            return str(host_path)
        return "/" + str(host_path.resolve().relative_to(self.chroot.resolve()))

    # GIMP's precision names differ between the versions ("gamma" became "non-linear").
    # After colorizing, the image goes back to 16-bit perceptual so that the PNG holds
    # sRGB-encoded values like the CLI's (GIMP exports a linear image's values linear).
    PRECISIONS = {2: {"float-linear": "PRECISION-FLOAT-LINEAR", "half-perceptual": "PRECISION-HALF-GAMMA",
                      "export": "PRECISION-U16-GAMMA"},
                  3: {"float-linear": "PRECISION-FLOAT-LINEAR", "half-perceptual": "PRECISION-HALF-NON-LINEAR",
                      "export": "PRECISION-U16-NON-LINEAR"}}

    def case_script(self, src: Path, dst: Path, model: str, saturation: float, selection,
                    variant=None, precision=None, vividness=None, working_size=None) -> str:
        """A Script-Fu expression: open, (convert precision), (select), colorize, save,
        close. A failing call aborts the expression, so no output file is written.
        variant: None, a precision name (see PRECISIONS), "layer-mask" (the plug-in is
        handed the layer's mask instead of the layer: it must refuse) or "caught" (an
        error of the plug-in is caught and the image saved as it is then).
        precision: None (the argument left out) or the network's precision argument.
        vividness, working_size: None (left out) or the arguments (GIMP 2.10: through
        plug-in-colorize3, which takes every argument)."""
        s, d = scheme_string(self.path(src)), scheme_string(self.path(dst))
        before, after, target, wrap = "", "", "layer", "{}"
        if variant == "caught":  # the error is caught, the image saved as it is afterwards
            wrap = "(catch #f {})"
        elif variant == "layer-mask":
            before = "(gimp-layer-add-mask layer (car (gimp-layer-create-mask layer ADD-MASK-WHITE)))"
            target = "(car (gimp-layer-get-mask layer))"
        elif variant is not None:
            before = f"(gimp-image-convert-precision image {self.PRECISIONS[self.version][variant]})"
            after = f"(gimp-image-convert-precision image {self.PRECISIONS[self.version]['export']})"
        if selection is not None:
            x, y, w, h, feather = selection
            before += (f"(gimp-image-select-rectangle image CHANNEL-OP-REPLACE {x} {y} {w} {h})"
                       f"(gimp-selection-feather image {feather})")
        if self.version == 2:
            return (f"(let* ((image (car (gimp-file-load RUN-NONINTERACTIVE {s} {s})))"
                    f"       (layer (car (gimp-image-get-active-layer image))))"
                    f"  {before}"
                    # 2.10's Script-Fu wants every declared argument: the precision comes
                    # with plug-in-colorize2, so that 5-argument calls keep working.
                    f"  " + wrap.format(
                        (f"(plug-in-colorize3 RUN-NONINTERACTIVE image {target} {scheme_string(model)} "
                         f"{saturation!r} {scheme_string(precision or 'default')} {float(vividness or 0)!r} "
                         f"{int(working_size or 0)})")
                        if vividness is not None or working_size is not None else
                        ((f"(plug-in-colorize RUN-NONINTERACTIVE image {target} "
                          if precision is None else
                          f"(plug-in-colorize2 RUN-NONINTERACTIVE image {target} ")
                         + f"{scheme_string(model)} {saturation!r}"
                         + ("" if precision is None else f" {scheme_string(precision)}") + ")")) +
                    f"  {after}"
                    f"  (gimp-file-save RUN-NONINTERACTIVE image layer {d} {d})"
                    f"  (gimp-image-delete image))")
        return (f"(let* ((image (car (gimp-file-load RUN-NONINTERACTIVE {s})))"
                f"       (layer (vector-ref (car (gimp-image-get-layers image)) 0)))"
                f"  {before}"
                f"  " + wrap.format(f"(plug-in-colorize #:run-mode RUN-NONINTERACTIVE #:image image "
                                    f"#:drawables (vector {target}) #:model {scheme_string(model)} "
                                    f"#:saturation {saturation!r}"
                                    + ("" if precision is None else f" #:precision {scheme_string(precision)}")
                                    + ("" if vividness is None else f" #:vividness {vividness!r}")
                                    + ("" if working_size is None else f" #:working-size {working_size}")
                                    + ")") +
                f"  {after}"
                f"  (gimp-file-save RUN-NONINTERACTIVE image {d} -1)"
                f"  (gimp-image-delete image))")

    def two_layers_script(self, src: Path, top_out: Path, bottom_out: Path, model: str) -> str:
        """GIMP 3 only: a copy of the layer on top, both selected and colorized in one call;
        saved once as is (the top layer shows) and once with the top hidden (the bottom shows)."""
        s, t, b = (scheme_string(self.path(x)) for x in (src, top_out, bottom_out))
        return (f"(let* ((image (car (gimp-file-load RUN-NONINTERACTIVE {s})))"
                f"       (layer (vector-ref (car (gimp-image-get-layers image)) 0))"
                f"       (top (car (gimp-layer-copy layer))))"
                f"  (gimp-image-insert-layer image top 0 0)"
                f"  (plug-in-colorize #:run-mode RUN-NONINTERACTIVE #:image image #:drawables (vector layer top)"
                f"                    #:model {scheme_string(model)} #:saturation 1.0)"
                f"  (gimp-file-save RUN-NONINTERACTIVE image {t} -1)"
                f"  (gimp-item-set-visible top FALSE)"
                f"  (gimp-file-save RUN-NONINTERACTIVE image {b} -1)"
                f"  (gimp-image-delete image))")

    def environment(self) -> dict:
        home = self.path(self.work / "home")
        env = {"HOME": home, "XDG_CACHE_HOME": self.path(self.work / "cache"),
               "XDG_DATA_HOME": self.path(self.work / "data"),
               "XDG_CONFIG_HOME": self.path(self.work / "config"), "LANG": "C.UTF-8",
               "PATH": "/usr/local/bin:/usr/bin:/bin"}
        env["GIMP2_DIRECTORY" if self.version == 2 else "GIMP3_DIRECTORY"] = self.path(self.work / "gimp")
        return env

    def run(self, scripts: list, log: Path, extra_env=None) -> float:
        """Runs the scripts in one GIMP session (each -b is evaluated separately, so one
        failing case does not stop the others), with extra_env added to GIMP's
        environment (the plug-in inherits it). Returns the wall time."""
        if self.version == 2:
            argv = ["gimp", "-i", "-d", "-f"]
            for script in scripts:
                argv += ["-b", script]
            argv += ["-b", "(gimp-quit 0)"]
        else:
            argv = ["gimp-console-3.0", "-i", "-d", "-f",
                    "--batch-interpreter", "plug-in-script-fu-eval"]
            for script in scripts:
                argv += ["-b", script]
            argv += ["--quit"]
        argv = ["timeout", str(GIMP_TIMEOUT_S)] + argv
        gimp_env = {**self.environment(), **(extra_env or {})}
        if self.chroot is None:
            command = argv
            env = {**os.environ, **gimp_env}
        else:
            command = [str(ROOT / "tests" / "gimp" / "gimp3-chroot.sh"), "run", "env"]
            command += [f"{k}={v}" for k, v in gimp_env.items()] + argv
            env = {**os.environ, "GIMP3_CHROOT": str(self.chroot)}
        for d in ("home", "cache", "data", "config"):
            (self.work / d).mkdir(parents=True, exist_ok=True)
        start = time.monotonic()
        with open(log, "w") as out:
            result = subprocess.run(command, env=env, stdout=out, stderr=subprocess.STDOUT)
        elapsed = time.monotonic() - start
        if result.returncode == 124:
            raise RuntimeError(f"GIMP did not finish within {GIMP_TIMEOUT_S} s (see {log})")
        return elapsed

    def prepare_profile(self) -> None:
        """Lets GIMP create its own profile folder on a first, empty run (creating it by
        hand leaves GIMP half-initialised)."""
        self.run([], self.work / "first-run.log")
        if not (self.work / "gimp").is_dir():
            raise RuntimeError(f"GIMP did not create its profile folder {self.work / 'gimp'}")


# ---- checks ---------------------------------------------------------------------------


class Report:
    def __init__(self):
        self.rows = []

    def check(self, name: str, ok: bool, detail: str) -> None:
        self.rows.append((name, ok, detail))
        print(f"  {'PASS' if ok else 'FAIL'}  {name}: {detail}", flush=True)

    @property
    def failures(self) -> int:
        return sum(1 for _, ok, _ in self.rows if not ok)


def load_pair(out: Path, ref: Path):
    a, depth_a = read_png(out)
    b, depth_b = read_png(ref)
    return a, b, depth_a, depth_b


def compare_to_reference(report: Report, name: str, out: Path, ref: Path, tolerance: int,
                         mask=None, expect_depth: int = 8, colour_only_where_opaque=False,
                         require_colour=True) -> None:
    """GIMP's output equals the CLI's within `tolerance`; with require_colour the CLI's
    result must also be visibly coloured, so that the comparison is not grey vs grey."""
    if not out.exists():
        report.check(name, False, f"GIMP wrote no {out.name} (see the GIMP log)")
        return
    a, b, depth_a, depth_b = load_pair(out, ref)
    if a.shape != b.shape:
        report.check(name, False, f"size {a.shape} differs from the CLI's {b.shape}")
        return
    if depth_a != expect_depth or depth_b != expect_depth:
        report.check(name, False, f"bit depth GIMP {depth_a}, CLI {depth_b}, expected {expect_depth}")
        return
    select = np.ones(a.shape[:2], dtype=bool) if mask is None else mask
    if colour_only_where_opaque:
        select = select & (b[:, :, 3] > 0)
    diff = np.abs(a[:, :, :3] - b[:, :, :3])[select]
    worst = int(diff.max()) if diff.size else 0
    chroma = np.abs(b[:, :, 0] - b[:, :, 1])[select].max() + np.abs(b[:, :, 1] - b[:, :, 2])[select].max()
    coloured = chroma > (4 if expect_depth == 8 else 1000) or not require_colour
    report.check(name, worst <= tolerance and coloured,
                 f"max |GIMP − CLI| = {worst} (tolerance {tolerance} of {2 ** expect_depth - 1}), "
                 f"{int(select.sum())} px, mean {diff.mean():.3f}" + ("" if coloured else ", but the CLI result is not coloured"))


def check_unchanged(report: Report, name: str, out: Path, src: Path, tolerance: int, expect_depth: int) -> None:
    """For the zero-chroma model: every pixel must come back as it went in, and grey."""
    if not out.exists():
        report.check(name, False, f"GIMP wrote no {out.name}")
        return
    a, depth = read_png(out)
    b, _ = read_png(src)
    grey_error = max(int(np.abs(a[:, :, 0] - a[:, :, 1]).max()), int(np.abs(a[:, :, 1] - a[:, :, 2]).max()))
    worst = int(np.abs(a[:, :, :3] - b[:, :, :3]).max())
    report.check(name, depth == expect_depth and grey_error == 0 and worst <= tolerance,
                 f"{depth}-bit, max |R−G|,|G−B| = {grey_error} (must be 0), "
                 f"max |out − in| = {worst} (tolerance {tolerance})")


def check_grey(report: Report, name: str, out: Path) -> None:
    if not out.exists():
        report.check(name, False, f"GIMP wrote no {out.name}")
        return
    a, _ = read_png(out)
    grey_error = max(int(np.abs(a[:, :, 0] - a[:, :, 1]).max()), int(np.abs(a[:, :, 1] - a[:, :, 2]).max()))
    report.check(name, grey_error == 0, f"max |R−G|,|G−B| = {grey_error} (must be 0)")


def check_bf16(report: Report, out: Path, src: Path, ref: Path) -> None:
    """precision "bf16": the run succeeds, the image keeps its size (a GRAY input comes back
    as 8-bit RGB, as with every precision), and the result is the CLI's bf16 result."""
    name = "precision bf16: size kept, equal to CLI --precision bf16"
    if not out.exists():
        report.check(name, False, f"GIMP wrote no {out.name} (see the GIMP log)")
        return
    a, depth = read_png(out)
    s, _ = read_png(src)
    _, _, _, info = png.Reader(filename=str(out)).read()
    if a.shape != s.shape or depth != 8 or info["greyscale"]:
        report.check(name, False, f"{a.shape[1]}×{a.shape[0]} {depth}-bit greyscale={info['greyscale']}, "
                     f"input {s.shape[1]}×{s.shape[0]}: want the input's size, 8-bit RGB")
        return
    compare_to_reference(report, name, out, ref, 1)


def check_selection(report: Report, out: Path, src: Path, ref: Path, rect, feather: int) -> None:
    name = "feathered selection"
    if not out.exists():
        report.check(name, False, f"GIMP wrote no {out.name}")
        return
    a, _ = read_png(out)
    s, _ = read_png(src)
    r, _ = read_png(ref)
    x, y, w, h = rect
    yy, xx = np.mgrid[0:a.shape[0], 0:a.shape[1]]
    # distance outside (>0) / inside (<0) the rectangle, in pixels (Chebyshev)
    outside = np.maximum(np.maximum(x - xx, xx - (x + w - 1)), np.maximum(y - yy, yy - (y + h - 1)))
    far_out = outside > feather // 2 + 2
    deep_in = outside < -(feather // 2 + 2)
    band = ~far_out & ~deep_in
    out_err = int(np.abs(a - s)[far_out].max())
    in_err = int(np.abs(a[:, :, :3] - r[:, :, :3])[deep_in].max())
    # in the band each channel lies between the input and the CLI result (±1 rounding)
    lo = np.minimum(s[:, :, :3], r[:, :, :3]) - 1
    hi = np.maximum(s[:, :, :3], r[:, :, :3]) + 1
    between = ((a[:, :, :3] >= lo) & (a[:, :, :3] <= hi)).all(axis=2)[band]
    partly = (np.abs(a[:, :, :3] - s[:, :, :3]).max(axis=2) > 0)[band].mean()
    ok = out_err == 0 and in_err <= 1 and between.all() and 0.2 < partly < 1.0 + 1e-9
    report.check(name, ok,
                 f"outside: max change {out_err} (must be 0); deep inside: max |GIMP − CLI| {in_err} (≤ 1); "
                 f"feather band: {between.mean() * 100:.1f}% between input and CLI, "
                 f"{partly * 100:.0f}% changed")


def check_alpha(report: Report, out: Path, src: Path) -> None:
    name = "alpha kept"
    if not out.exists():
        report.check(name, False, f"GIMP wrote no {out.name}")
        return
    a, _ = read_png(out)
    s, _ = read_png(src)
    worst = int(np.abs(a[:, :, 3] - s[:, :, 3]).max())
    report.check(name, worst == 0 and len(np.unique(s[:, :, 3])) > 100,
                 f"max |alpha out − alpha in| = {worst} over {len(np.unique(s[:, :, 3]))} alpha levels")


def check_untouched_after_error(report: Report, out: Path, src: Path, log_text: str, expected: str) -> None:
    """A model that fails only at inference: GIMP reports the error, and the image —
    saved after the caught error — is still the grey GRAY image it was (not converted)."""
    name = "inference error leaves the image untouched"
    if not out.exists():
        report.check(name, False, f"GIMP wrote no {out.name}")
        return
    reader = png.Reader(filename=str(out))
    _, _, _, info = reader.read()
    a, _ = read_png(out)
    s, _ = read_png(src)
    worst = int(np.abs(a - s).max())
    reported = expected in log_text
    report.check(name, info["greyscale"] and worst == 0 and reported,
                 f"still GRAY: {info['greyscale']}, max change {worst} (must be 0), "
                 + (f"GIMP reported \"{expected}…\"" if reported else f"\"{expected}\" not in the GIMP log"))


CANCEL_LINE = re.compile(r"colorize: test cancel requested at library fraction ([0-9.]+) after (\d+) reports; "
                         r"then (\d+) more reports, the last at ([0-9.]+); the library returned status (\d+) "
                         r"\(([^)]*)\) ([0-9.]+) s after the request; the longest time without a report "
                         r"([0-9.]+) s")


def check_cancel(report: Report, out: Path, src: Path, log_text: str,
                 name="cancel stops the library and leaves the image untouched", gap_limit=None) -> None:
    """The plug-in's own cancel (the path of its Cancel button), on a larger layer: the
    library stops at its next progress report with CANCELLED (10) within CANCEL_LIMIT_S,
    before the end of its work, and the image is saved afterwards exactly as it was
    (still GRAY, same pixels). `gap_limit`: the longest time the library may go without a
    progress report before the cancel, in seconds (None: not checked)."""
    found = CANCEL_LINE.search(log_text)
    if not found:
        never = re.search(r"colorize: test cancel never requested[^\n]*", log_text)
        report.check(name, False, never.group(0) if never else "no cancel report in the GIMP log")
        return
    at, before, after, last, status, status_text, seconds, gap = found.groups()
    if not out.exists():
        report.check(name, False, f"GIMP wrote no {out.name} (see the GIMP log)")
        return
    _, _, _, info = png.Reader(filename=str(out)).read()
    a, _ = read_png(out)
    s, _ = read_png(src)
    worst = int(np.abs(a - s).max())
    ok = (int(status) == 10 and int(after) <= 1 and float(last) < 1.0 and float(seconds) <= CANCEL_LIMIT_S
          and info["greyscale"] and worst == 0 and (gap_limit is None or float(gap) <= gap_limit))
    report.check(name, ok,
                 f"{s.shape[1]}×{s.shape[0]}: cancelled at {float(at):.2f} after {before} reports; "
                 f"{after} more report(s) (≤ 1), the last at {float(last):.2f} (< 1); status {status} "
                 f"({status_text}, must be 10) {float(seconds) * 1000:.0f} ms after the request "
                 f"(≤ {CANCEL_LIMIT_S * 1000:.0f}); still GRAY: {info['greyscale']}, max change {worst} (must be 0); "
                 f"the longest time without a progress report {float(gap):.2f} s"
                 + ("" if gap_limit is None else f" (≤ {gap_limit:.1f})"))


def check_help(report: Report, gimp_dir: Path, chroot) -> None:
    """The plug-in registered its help domain (GIMP writes it to pluginrc), and the
    domain's folder maps the dialog's help ID to a page that is there."""
    name = "Help: the plug-in's help domain is registered and its page installed"
    pluginrc = gimp_dir / "pluginrc"
    text = pluginrc.read_text(errors="replace") if pluginrc.exists() else ""
    found = re.search(r'\(help-def "colorize" "([^"]+)"\)', text)
    if not found:
        report.check(name, False, f"no (help-def \"colorize\" …) in {pluginrc}")
        return
    uri = found.group(1)
    folder = Path(uri[len("file://"):]) if uri.startswith("file://") else Path(uri)
    if chroot is not None:
        folder = chroot / folder.relative_to("/")
    index = folder / "en" / "gimp-help.xml"
    mapped = re.search(r'<help-item id="plug-in-colorize" ref="([^"]+)"', index.read_text()) if index.exists() else None
    page = index.parent / mapped.group(1) if mapped else None
    ok = page is not None and page.is_file() and "Working size" in page.read_text()
    report.check(name, ok, f"{uri}: " + (f"plug-in-colorize -> {page.name}" if ok else f"no page for plug-in-colorize under {folder}"))


def check_error(report: Report, name: str, out: Path, log_text: str, expected: str) -> None:
    report.check(name, (not out.exists()) and expected in log_text,
                 ("no output written" if not out.exists() else "an output was written")
                 + (f"; GIMP reported \"{expected}…\"" if expected in log_text else f"; \"{expected}\" not in the GIMP log"))


# ---- main -----------------------------------------------------------------------------


def default_model_embedded() -> bool:
    """build.rs embeds src/models/*.onnx and names the default in src/models/DEFAULT."""
    default = ROOT / "src" / "models" / "DEFAULT"
    return default.is_file() and (ROOT / "src" / "models" / f"{default.read_text().strip()}.onnx").is_file()


def embedded_model_names() -> list:
    return sorted(path.stem for path in (ROOT / "src" / "models").glob("*.onnx"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--gimp", type=int, choices=(2, 3), required=True)
    parser.add_argument("--chroot", type=Path, help="the Debian 13 chroot (GIMP 3 only)")
    parser.add_argument("--work", type=Path, help="work folder (default: a fresh one under /tmp or the chroot's /tmp)")
    parser.add_argument("--prepare-only", action="store_true",
                        help="only create the work folder and GIMP's profile, print the profile folder")
    parser.add_argument("--run-only", action="store_true", help="the work folder is prepared and the plug-in installed")
    args = parser.parse_args()
    if args.gimp == 3 and args.chroot is None:
        parser.error("--gimp 3 needs --chroot")

    work = args.work
    if work is None:
        base = (args.chroot / "tmp") if args.chroot else Path("/tmp")
        work = base / f"colorize-gimp{args.gimp}-test"
    gimp = Gimp(args.gimp, work, args.chroot)

    if not args.run_only:
        if work.exists():
            shutil.rmtree(work)
        work.mkdir(parents=True)
        gimp.prepare_profile()
        if args.prepare_only:
            print(work / "gimp")
            return 0

    plugin = work / "gimp" / "plug-ins" / "colorize" / "colorize"
    if not plugin.is_file():
        print(f"plug-in not installed at {plugin}", file=sys.stderr)
        return 1
    if not CLI.is_file():
        print(f"CLI missing: {CLI} (cargo build --release)", file=sys.stderr)
        return 1

    print(f"GIMP {args.gimp}: preparing inputs, models and CLI references in {work}", flush=True)
    inputs = make_inputs(work)
    import onnx
    chroma_model, zero_model = work / "chroma.onnx", work / "zero.onnx"
    onnx.save(test_models.build("chroma"), chroma_model)
    onnx.save(test_models.build("zero"), zero_model)
    failing_model = work / "fails-at-run.onnx"
    onnx.save(test_models.build("fails-at-run"), failing_model)
    corrupt_model = work / "corrupt.onnx"
    corrupt_model.write_bytes(b"this is not an ONNX file\n" * 4)

    ref = {}
    for name in ("gray8", "rgb8", "rgba8", "gray16", "indexed"):
        ref[name] = work / f"cli-{name}.png"
        run_cli(inputs[name], ref[name], chroma_model)
    with_default = default_model_embedded()
    if with_default:
        ref["default"] = work / "cli-default.png"
        run_cli(inputs["rgb8"], ref["default"], None)
    ref["bf16"] = work / "cli-bf16.png"
    run_cli(inputs["gray8"], ref["bf16"], chroma_model, precision="bf16")
    # The vividness argument (GIMP 2.10: plug-in-colorize3) needs a classification model:
    # the embedded `vivid`.
    vividness_case = "vivid" in embedded_model_names()
    if vividness_case:
        ref["vividness"] = work / "cli-vividness.png"
        run_cli(inputs["rgb8"], ref["vividness"], "vivid", vividness=3.0)
        ref["vivid-default"] = work / "cli-vivid-default.png"
        run_cli(inputs["rgb8"], ref["vivid-default"], "vivid")
    named = embedded_model_names()[:1]  # one embedded model by name, if there is any
    for name in named:
        ref["named"] = work / "cli-named.png"
        run_cli(inputs["rgb8"], ref["named"], name)

    selection_rect, feather = (30, 20, 50, 35), 10
    cases = [  # (output name, input, model, saturation, selection[, variant])
        ("gray8", inputs["gray8"], chroma_model, 1.0, None),
        ("rgb8", inputs["rgb8"], chroma_model, 1.0, None),
        ("rgba8", inputs["rgba8"], chroma_model, 1.0, None),
        ("gray16", inputs["gray16"], chroma_model, 1.0, None),
        ("indexed", inputs["indexed"], chroma_model, 1.0, None),
        ("float-linear", inputs["gray16"], chroma_model, 1.0, None, "float-linear"),
        ("half-perceptual", inputs["gray16"], chroma_model, 1.0, None, "half-perceptual"),
        ("selection", inputs["rgb8"], chroma_model, 1.0, (*selection_rect, feather)),
        ("zero8", inputs["rgb8"], zero_model, 1.0, None),
        ("zero16", inputs["gray16"], zero_model, 1.0, None),
        ("saturation0", inputs["rgb8"], chroma_model, 0.0, None),
        ("unknown-model", inputs["rgb8"], "no-such-model", 1.0, None),
        ("missing-model-file", inputs["rgb8"], work / "no-such-model.onnx", 1.0, None),
        ("corrupt-model", inputs["rgb8"], corrupt_model, 1.0, None),
        ("layer-mask", inputs["rgb8"], chroma_model, 1.0, None, "layer-mask"),
        ("inference-error", inputs["gray8"], failing_model, 1.0, None, "caught"),
        ("cancel", inputs["cancel"], chroma_model, 1.0, None, "caught"),
        ("cancel-large", inputs["cancel"], "", 1.0, None, "caught"),
        ("default-model", inputs["rgb8"], "", 1.0, None),
        ("bf16", inputs["gray8"], chroma_model, 1.0, None),
    ] + [("unknown-precision", inputs["rgb8"], chroma_model, 1.0, None)] * (args.gimp == 2) + [("named-model", inputs["rgb8"], name, 1.0, None) for name in named] \
      + [("vividness", inputs["rgb8"], "vivid", 1.0, None)] * vividness_case
    # GIMP 3 checks a choice argument itself; 2.10 hands the plug-in any string.
    network_precision = {"bf16": "bf16", "unknown-precision": "f16"}  # output name -> precision argument (else left out)
    outputs = {name: work / f"gimp-{name}.png" for name, *_ in cases}
    scripts = []
    for name, src, model, saturation, selection, *variant in cases:
        model_arg = gimp.path(model) if isinstance(model, Path) else model
        scripts.append(gimp.case_script(src, outputs[name], model_arg, saturation, selection,
                                        variant[0] if variant else None, network_precision.get(name),
                                        3.0 if name == "vividness" else None,
                                        LARGE_WORKING_SIZE if name == "cancel-large" else None))

    if args.gimp == 3:  # several selected layers: only GIMP 3 hands a plug-in more than one
        outputs["two-layers-top"] = work / "gimp-two-layers-top.png"
        outputs["two-layers-bottom"] = work / "gimp-two-layers-bottom.png"
        scripts.append(gimp.two_layers_script(inputs["gray8"], outputs["two-layers-top"],
                                              outputs["two-layers-bottom"], gimp.path(chroma_model)))
        cases.append(("two-layers", None, None, None, None))

    # GIMP 3 stops at the first failing batch command (2.10 goes on), so the cases that
    # must fail each get a GIMP session of their own; the others share one.
    expected_failures = {"unknown-model", "missing-model-file", "corrupt-model", "layer-mask"} | ({"default-model"} if not with_default else set()) | ({"unknown-precision"} if args.gimp == 2 else set())
    # The cancel case needs a session of its own environment (the variable that makes the
    # plug-in cancel itself applies to the whole session): it runs first in the unknown-
    # model session, where it changes nothing (that call fails before the library runs).
    script_of = {name: s for (name, *_), s in zip(cases, scripts)}
    # The large cancel needs another fraction, so a session of its own.
    alone = expected_failures | {"cancel", "cancel-large"}
    cancel_env = {"COLORIZE_GIMP_TEST_CANCEL_AT": repr(CANCEL_AT)}
    sessions = [([s for name, s in script_of.items() if name not in alone], None)]
    sessions += [([script_of["cancel"], script_of[name]], cancel_env) if name == "unknown-model" else ([script_of[name]], None)
                 for name in script_of if name in expected_failures]
    sessions.append(([script_of["cancel-large"]], {"COLORIZE_GIMP_TEST_CANCEL_AT": repr(LARGE_CANCEL_AT)}))
    log_text, times = "", []
    for number, (session, extra_env) in enumerate(sessions):
        log = work / f"gimp-{number}.log"
        times.append(gimp.run(session, log, extra_env))
        session_log = log.read_text(errors="replace")
        log_text += session_log
    large_cancel_log = session_log  # the last session's
    print(f"GIMP {args.gimp}: {len(cases)} batch commands in {len(sessions)} sessions, {sum(times):.1f} s "
          f"({', '.join(f'{t:.1f}' for t in times)}); logs: {work}/gimp-*.log", flush=True)

    report = Report()
    compare_to_reference(report, "GRAY 8-bit vs CLI", outputs["gray8"], ref["gray8"], 1)
    compare_to_reference(report, "RGB 8-bit vs CLI", outputs["rgb8"], ref["rgb8"], 1)
    compare_to_reference(report, "RGBA 8-bit vs CLI (colour where alpha > 0)", outputs["rgba8"], ref["rgba8"], 1,
                         colour_only_where_opaque=True)
    check_alpha(report, outputs["rgba8"], inputs["rgba8"])
    compare_to_reference(report, "GRAY 16-bit vs CLI", outputs["gray16"], ref["gray16"], 16, expect_depth=16)
    compare_to_reference(report, "INDEXED vs CLI", outputs["indexed"], ref["indexed"], 1)
    # Higher precisions, exported by GIMP as 16-bit PNG. Float: besides the final 16-bit
    # rounding, the same 16 as GRAY 16-bit: near black the chroma model's colours are out of
    # gamut, and which side of the clip a channel lands on (0 or up to 16 of 65535, the sRGB
    # toe's 12.92 slope) follows the last bits of the network's output, which differ between
    # the float and 16-bit paths' L* (measured through the C API on a 16-bit ramp: 4 of
    # 180,000 values over 4, at most 16, with f32 and bf16 alike). Half float has an 11-bit
    # significand: 2^-11 of 65535 is 32 levels.
    compare_to_reference(report, "32-bit float linear vs CLI 16-bit", outputs["float-linear"], ref["gray16"], 16,
                         expect_depth=16)
    compare_to_reference(report, "16-bit half perceptual vs CLI 16-bit", outputs["half-perceptual"], ref["gray16"],
                         64, expect_depth=16)
    if args.gimp == 3:
        compare_to_reference(report, "two selected layers: top vs CLI", outputs["two-layers-top"], ref["gray8"], 1)
        compare_to_reference(report, "two selected layers: bottom vs CLI", outputs["two-layers-bottom"],
                             ref["gray8"], 1)
    check_bf16(report, outputs["bf16"], inputs["gray8"], ref["bf16"])
    if args.gimp == 2:
        check_error(report, "unknown precision is a GIMP error", outputs["unknown-precision"], log_text,
                    'Unknown precision "f16"')
    check_selection(report, outputs["selection"], inputs["rgb8"], ref["rgb8"], selection_rect, feather)
    check_unchanged(report, "grey stays grey, 8-bit (zero-chroma model)", outputs["zero8"], inputs["rgb8"], 0, 8)
    check_unchanged(report, "grey stays grey, 16-bit (zero-chroma model)", outputs["zero16"], inputs["gray16"], 2, 16)
    check_grey(report, "saturation 0 gives grey", outputs["saturation0"])
    check_error(report, "unknown model name is a GIMP error", outputs["unknown-model"], log_text,
                'Unknown model "no-such-model"')
    check_error(report, "missing model file is a GIMP error", outputs["missing-model-file"], log_text,
                f'Could not use the model "{gimp.path(work / "no-such-model.onnx")}"')
    check_error(report, "corrupt model is a GIMP error", outputs["corrupt-model"], log_text,
                f'Could not use the model "{gimp.path(corrupt_model)}"')
    check_untouched_after_error(report, outputs["inference-error"], inputs["gray8"], log_text, "Colorizing failed")
    check_cancel(report, outputs["cancel"], inputs["cancel"], log_text)
    check_cancel(report, outputs["cancel-large"], inputs["cancel"], large_cancel_log,
                 f"cancel at working size {LARGE_WORKING_SIZE} (default model) within a second, "
                 f"reports at least every second", REPORT_GAP_LIMIT_S)
    check_help(report, work / "gimp", args.chroot)
    check_error(report, "a layer mask is refused", outputs["layer-mask"], log_text, "Colorize works on")
    if with_default:
        compare_to_reference(report, "default model (\"\") vs CLI", outputs["default-model"], ref["default"], 1,
                             require_colour=False)
    else:
        check_error(report, "no embedded default model: clear error", outputs["default-model"], log_text,
                    "No default model is available")
    for name in named:
        compare_to_reference(report, f"embedded model \"{name}\" by name vs CLI", outputs["named-model"],
                             ref["named"], 1, require_colour=False)
    if vividness_case:
        compare_to_reference(report, "vividness 3 vs CLI --vividness 3", outputs["vividness"],
                             ref["vividness"], 1, require_colour=False)
        differs = (outputs["vividness"].exists()
                   and not np.array_equal(read_png(outputs["vividness"])[0],
                                          read_png(ref["vivid-default"])[0]))
        report.check("vividness 3 differs from vivid's default vividness", differs,
                     "other pixels" if differs else "the same pixels as the default (or no output)")
    if not named:
        print("  (no embedded models in src/models: the by-name case is skipped)")

    crashed = [line for line in log_text.splitlines()
               if "terminated" in line or "crashed" in line.lower() or "wire_read" in line and "colorize" in line]
    report.check("plug-in never crashed", not crashed, "; ".join(crashed[:3]) or "no crash in the GIMP log")

    print(f"GIMP {args.gimp}: {len(report.rows) - report.failures} of {len(report.rows)} checks passed", flush=True)
    if report.failures:
        print("--- last lines of the GIMP logs ---")
        print("\n".join(log_text.splitlines()[-60:]))
    return 1 if report.failures else 0


if __name__ == "__main__":
    sys.exit(main())
