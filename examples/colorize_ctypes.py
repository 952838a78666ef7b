#!/usr/bin/env python3
"""Colorize an 8-bit grey or RGB image in place through libcolorize with ctypes.

    python3 colorize_ctypes.py IN.pgm OUT.ppm [MODEL.onnx]

Reads a binary PGM (P5) or PPM (P6), writes a PPM. No dependency beyond Python.
LIBCOLORIZE may name the library; by default target/release/libcolorize.so next to examples/.
"""
import ctypes
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
LIB = os.environ.get("LIBCOLORIZE", os.path.join(HERE, "..", "target", "release", "libcolorize.so"))


class Options(ctypes.Structure):
    _fields_ = [("working_size", ctypes.c_uint32), ("saturation", ctypes.c_float),
                ("mode", ctypes.c_int), ("tile_size", ctypes.c_uint32)]


def load_library(path):
    lib = ctypes.CDLL(path)
    lib.colorize_options_default.restype = Options
    lib.colorize_model_load_file.argtypes = [ctypes.c_char_p, ctypes.POINTER(ctypes.c_void_p)]
    lib.colorize_model_free.argtypes = [ctypes.c_void_p]
    lib.colorize_rgb8.argtypes = [ctypes.c_void_p, ctypes.POINTER(Options), ctypes.c_void_p,
                                  ctypes.c_size_t, ctypes.c_size_t, ctypes.c_size_t, ctypes.c_size_t]
    lib.colorize_last_error.restype = ctypes.c_char_p
    lib.colorize_version.restype = ctypes.c_char_p
    return lib


def read_pnm(path):
    with open(path, "rb") as f:
        data = f.read()
    fields, pos = [], 0
    while len(fields) < 4:
        while data[pos:pos + 1].isspace():
            pos += 1
        if data[pos:pos + 1] == b"#":
            pos = data.index(b"\n", pos)
            continue
        end = pos
        while not data[end:end + 1].isspace():
            end += 1
        fields.append(data[pos:end])
        pos = end
    magic, width, height, maxval = fields[0], int(fields[1]), int(fields[2]), int(fields[3])
    if magic not in (b"P5", b"P6") or maxval != 255:
        raise ValueError(f"{path}: only binary 8-bit PGM/PPM")
    pixels = data[pos + 1:]
    if magic == b"P5":
        pixels = bytes(v for v in pixels[:width * height] for _ in range(3))
    return width, height, bytearray(pixels[:width * height * 3])


def main(argv):
    if len(argv) not in (3, 4):
        print(__doc__, file=sys.stderr)
        return 2
    lib = load_library(LIB)
    width, height, pixels = read_pnm(argv[1])
    model = ctypes.c_void_p()  # NULL = the embedded default model
    if len(argv) == 4 and lib.colorize_model_load_file(argv[3].encode(), ctypes.byref(model)) != 0:
        print(f"{argv[3]}: {lib.colorize_last_error().decode()}", file=sys.stderr)
        return 1
    options = lib.colorize_options_default()
    buffer = (ctypes.c_uint8 * len(pixels)).from_buffer(pixels)
    status = lib.colorize_rgb8(model, ctypes.byref(options), buffer, width, height, width * 3, 3)
    lib.colorize_model_free(model)
    if status != 0:
        print(f"colorize failed ({status}): {lib.colorize_last_error().decode()}", file=sys.stderr)
        return 1
    with open(argv[2], "wb") as f:
        f.write(b"P6\n%d %d\n255\n" % (width, height) + bytes(pixels))
    print(f"colorize {lib.colorize_version().decode()}: wrote {argv[2]} ({width}x{height})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
