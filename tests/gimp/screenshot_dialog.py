#!/usr/bin/env python3
"""Takes a screenshot of plug-in-colorize's dialog in GIMP 2.10 under Xvfb, for the README.

    screenshot_dialog.py OUT.png [--model NAME_OR_PATH]

Needs: Xvfb, xdotool, xwd (apt-get install xvfb xdotool x11-apps), GIMP 2.10 with the
plug-in installed in the profile given by GIMP2_DIRECTORY (tests/ci.d/50-gimp.sh makes one
at /tmp/colorize-gimp2-test/gimp). It starts Xvfb and GIMP itself, waits for the dialog,
grabs that window with xwd, converts it to PNG (a small XWD reader below: no ImageMagick
needed) and stops both processes it started.
"""
import argparse
import os
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import png

DIALOG_TITLE = "Colorize (neural)"


def xwd_to_rgb(data: bytes) -> np.ndarray:
    """Decodes a 24/32-bit TrueColor ZPixmap XWD file into an H×W×3 uint8 array."""
    fields = struct.unpack(">25I", data[:100])
    header_size, _, pixmap_format, _, width, height = fields[:6]
    byte_order, bits_per_pixel, bytes_per_line = fields[7], fields[11], fields[12]
    red_mask, green_mask, blue_mask = fields[14:17]
    ncolors = fields[19]
    if pixmap_format != 2 or bits_per_pixel != 32:
        raise ValueError(f"unsupported XWD: format {pixmap_format}, {bits_per_pixel} bits per pixel")
    offset = header_size + 12 * ncolors
    raw = np.frombuffer(data[offset:offset + height * bytes_per_line], dtype="<u4" if byte_order == 0 else ">u4")
    pixels = raw.reshape(height, bytes_per_line // 4)[:, :width]

    def channel(mask: int) -> np.ndarray:
        shift = (mask & -mask).bit_length() - 1
        return ((pixels & mask) >> shift).astype(np.uint8)

    return np.dstack([channel(red_mask), channel(green_mask), channel(blue_mask)])


def wait_for_window(env: dict, title: str, timeout_s: float) -> str:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = subprocess.run(["xdotool", "search", "--name", f"^{title}$"], env=env,
                               capture_output=True, text=True)
        ids = found.stdout.split()
        if ids:
            return ids[-1]
        time.sleep(0.5)
    raise RuntimeError(f"no window named {title!r} within {timeout_s} s")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("output", type=Path)
    parser.add_argument("--image", type=Path, help="image to open behind the dialog")
    parser.add_argument("--display", default=":77")
    args = parser.parse_args()
    if "GIMP2_DIRECTORY" not in os.environ:
        sys.exit("set GIMP2_DIRECTORY to a GIMP 2.10 profile with the plug-in installed")

    env = {**os.environ, "DISPLAY": args.display}
    xvfb = subprocess.Popen(["Xvfb", args.display, "-screen", "0", "1280x800x24", "-nolisten", "tcp"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    gimp = None
    try:
        time.sleep(1.0)
        if args.image:
            image = f'(car (gimp-file-load RUN-NONINTERACTIVE "{args.image}" "{args.image}"))'
        else:
            image = "(car (gimp-image-new 320 200 RGB))"
        script = (f"(let* ((image {image})"
                  f"       (layer (car (gimp-layer-new image 320 200 RGB-IMAGE \"photo\" 100 LAYER-MODE-NORMAL))))"
                  f"  (if (= (car (gimp-image-get-active-layer image)) -1) (gimp-image-insert-layer image layer 0 0))"
                  f"  (plug-in-colorize RUN-INTERACTIVE image (car (gimp-image-get-active-layer image)) \"\" 1.0))")
        with tempfile.TemporaryFile() as log:
            gimp = subprocess.Popen(["timeout", "120", "gimp", "-d", "-f", "-s", "-b", script], env=env,
                                    stdout=log, stderr=subprocess.STDOUT)
            window = wait_for_window(env, DIALOG_TITLE, 90)
            time.sleep(2.0)  # let it finish drawing
            shot = subprocess.run(["xwd", "-silent", "-id", window], env=env, capture_output=True, check=True)
        rgb = xwd_to_rgb(shot.stdout)
        height, width = rgb.shape[:2]
        with open(args.output, "wb") as f:
            png.Writer(width, height, greyscale=False).write(f, rgb.reshape(height, -1).tolist())
        print(f"{args.output}: {width}×{height} dialog screenshot")
        return 0
    finally:
        for process in (gimp, xvfb):
            if process is not None and process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    process.kill()


if __name__ == "__main__":
    sys.exit(main())
