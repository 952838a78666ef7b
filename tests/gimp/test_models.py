"""Small ONNX models that meet colorize's model contract (docs/model-contract.md), for the
GIMP tests.

They are not colorizers: they make the plumbing observable. `chroma` predicts a*, b* as a
known 3×3 convolution of L* (so a result depends on neighbours, and a swapped, shifted or
transposed buffer shows), strong enough to push some pixels out of the sRGB gamut (so the
library's gamut mapping is exercised too). `zero` predicts a* = b* = 0 everywhere: with it
every pixel must come back exactly as it went in (the white-point test: grey stays grey).
`fails-at-run` passes the library's load-time check (a probe at 32×32) but cannot run at
any other size (a Reshape to a fixed 1×2×32×32): it makes an inference error happen after
the plug-in has started, to show that the image is then left as it was.

The models are made by the project's one model builder (`colorize::onnx::test_models`,
through examples/test_model.rs), like every other test model, so the contract's keys and
rules live in one place (src/contract.rs). The tests run this at set-up; nothing is
committed.
"""
import subprocess
import sys
import tempfile
from pathlib import Path

import onnx

ROOT = Path(__file__).resolve().parents[2]
KINDS = ("chroma", "zero", "fails-at-run")


def write(kind: str, out: Path) -> None:
    """Writes the test model `kind` to `out` with the Rust helper (built on first use by
    the suite's one cargo configuration, scripts/cargo-suite.sh)."""
    if kind not in KINDS:
        raise ValueError(f"unknown test model kind {kind!r}")
    subprocess.run(
        [str(ROOT / "scripts" / "cargo-suite.sh"), "run", "--quiet", "--example", "test_model",
         "--", kind, str(out)],
        cwd=ROOT, check=True, stdout=subprocess.DEVNULL)


def build(kind: str) -> onnx.ModelProto:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"{kind}.onnx"
        write(kind, path)
        return onnx.load(str(path))


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: test_models.py chroma|zero|fails-at-run OUT.onnx")
    write(sys.argv[1], Path(sys.argv[2]))
