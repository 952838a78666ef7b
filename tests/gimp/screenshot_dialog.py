#!/usr/bin/env python3
"""Takes a screenshot of plug-in-colorize's dialog under Xvfb, for docs/gimp.md.

    GIMP2_DIRECTORY=PROFILE screenshot_dialog.py OUT.png [--image IMG]
    GIMP3_DIRECTORY=PROFILE screenshot_dialog.py OUT.png --gimp 3 --chroot DIR [--image IMG]

Needs on this machine: Xvfb, xdotool, xwd, dbus-run-session (apt-get install xvfb xdotool
x11-apps dbus); a GIMP profile with the plug-in installed (tests/ci.d/50-gimp.sh leaves
/tmp/colorize-gimp2-test/gimp and target/gimp3-trixie/tmp/colorize-gimp3-test/gimp). GIMP 3
runs in the chroot, drawing on this machine's Xvfb. It starts Xvfb and GIMP itself, waits for the dialog,
grabs that window with xwd, converts it to PNG (a small XWD reader below: no ImageMagick
needed) and stops both processes it started.
"""
import argparse
import os
import re
import shutil
import signal
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
        found = subprocess.run(["xdotool", "search", "--name", "^" + re.escape(title) + "$"], env=env,
                               capture_output=True, text=True)
        ids = found.stdout.split()
        if ids:
            return ids[-1]
        time.sleep(0.5)
    raise RuntimeError(f"no window named {title!r} within {timeout_s} s")


def gimp_script(version: int, image_path) -> str:
    """Script-Fu that opens an image (or makes one) and runs the plug-in interactively."""
    if version == 2:
        image = (f'(car (gimp-file-load RUN-NONINTERACTIVE "{image_path}" "{image_path}"))' if image_path
                 else "(car (gimp-image-new 320 200 RGB))")
        return (f"(let* ((image {image})"
                f"       (layer (car (gimp-layer-new image 320 200 RGB-IMAGE \"photo\" 100 LAYER-MODE-NORMAL))))"
                f"  (if (= (car (gimp-image-get-active-layer image)) -1) (gimp-image-insert-layer image layer 0 0))"
                f"  (plug-in-colorize RUN-INTERACTIVE image (car (gimp-image-get-active-layer image)) \"\" 1.0))")
    image = (f'(car (gimp-file-load RUN-NONINTERACTIVE "{image_path}"))' if image_path
             else "(car (gimp-image-new 320 200 RGB))")
    return (f"(let* ((image {image}))"
            f"  (gimp-display-new image)"
            f"  (plug-in-colorize #:run-mode RUN-INTERACTIVE #:image image"
            f"                    #:drawables (car (gimp-image-get-selected-layers image)) #:model \"\"))")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("output", type=Path)
    parser.add_argument("--gimp", type=int, choices=(2, 3), default=2)
    parser.add_argument("--chroot", type=Path, help="the Debian 13 chroot (GIMP 3)")
    parser.add_argument("--image", type=Path, help="image to open first (a path GIMP sees)")
    parser.add_argument("--display", default=":77")
    args = parser.parse_args()
    profile_variable = "GIMP2_DIRECTORY" if args.gimp == 2 else "GIMP3_DIRECTORY"
    if profile_variable not in os.environ:
        sys.exit(f"set {profile_variable} to a GIMP profile (host path) with the plug-in installed")
    if args.gimp == 3 and args.chroot is None:
        sys.exit("--gimp 3 needs --chroot")

    # A private copy of the profile: GIMP killed at the end must not leave crash-recovery
    # files (an "Image Recovery" window) in the real one.
    scratch = Path(tempfile.mkdtemp(prefix="colorize-screenshot-", dir=(args.chroot / "tmp") if args.chroot else None))
    inner = (lambda path: "/" + str(path.relative_to(args.chroot))) if args.chroot else str
    shutil.copytree(os.environ[profile_variable], scratch / "gimp", ignore=shutil.ignore_patterns("backups"))
    (scratch / "gimp" / "backups").mkdir()
    gimp_env = {"DISPLAY": args.display, profile_variable: inner(scratch / "gimp"), "HOME": inner(scratch),
                "XDG_CACHE_HOME": inner(scratch / "cache"), "XDG_DATA_HOME": inner(scratch / "data"),
                "XDG_CONFIG_HOME": inner(scratch / "config")}
    env = {**os.environ, "DISPLAY": args.display}
    # Own process groups, so that exactly what we started is stopped at the end.
    xvfb = subprocess.Popen(["Xvfb", args.display, "-screen", "0", "1280x800x24", "-nolisten", "tcp"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    gimp = None
    try:
        time.sleep(1.0)
        script = gimp_script(args.gimp, args.image)
        # GIMP's GUI wants a D-Bus session bus; without one no plug-in dialog ever appears.
        if args.gimp == 2:
            command = ["env"] + [f"{k}={v}" for k, v in gimp_env.items()]
            command += ["timeout", "120", "dbus-run-session", "--", "gimp", "-d", "-f", "-s", "-b", script]
        else:
            command = [str(Path(__file__).with_name("gimp3-chroot.sh")), "run", "env"]
            command += [f"{k}={v}" for k, v in gimp_env.items()]
            command += ["timeout", "120", "dbus-run-session", "--", "gimp-3.0", "-d", "-f", "-s",
                        "--batch-interpreter", "plug-in-script-fu-eval", "-b", script]
            env.update(GIMP3_CHROOT=str(args.chroot), COLORIZE_CHROOT_X11="1")
        with open(scratch / "gimp.log", "w") as log:
            gimp = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT,
                                    start_new_session=True)
            try:
                window = wait_for_window(env, DIALOG_TITLE, 90)
            except RuntimeError:
                print((scratch / "gimp.log").read_text(errors="replace")[-3000:], file=sys.stderr)
                raise
            time.sleep(3.0)  # let it finish drawing
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
                os.killpg(process.pid, signal.SIGTERM)
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
