"""Small ONNX models that meet colorize's model contract (DESIGN.md §3), for the GIMP tests.

They are not colorizers: they make the plumbing observable. `chroma` predicts a*, b* as a
known 3×3 convolution of L* (so a result depends on neighbours, and a swapped, shifted or
transposed buffer shows), strong enough to push some pixels out of the sRGB gamut (so the
library's gamut mapping is exercised too). `zero` predicts a* = b* = 0 everywhere: with it
every pixel must come back exactly as it went in (the white-point test: grey stays grey).
`fails-at-run` passes the library's load-time check (a probe at 32×32) but cannot run at
any other size (a Reshape to a fixed 1×2×32×32): it makes an inference error happen after
the plug-in has started, to show that the image is then left as it was.

Built with the `onnx` package's helpers; the tests run this at set-up, nothing is committed.
"""
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def _kernel(centre: float, total: float) -> np.ndarray:
    """A 3×3 kernel whose weights sum to `total`, `centre` in the middle, the rest spread
    unevenly over the neighbours (so a transposed image gives a different result)."""
    k = np.array([[1.0, 2.0, 3.0], [4.0, 0.0, 5.0], [6.0, 7.0, 8.0]], dtype=np.float32)
    k *= (total - centre) / k.sum()
    k[1, 1] = centre
    return k


def build(kind: str) -> onnx.ModelProto:
    if kind == "chroma":
        # a* ≈ 0.6 (L* − 50), b* ≈ 10 − 0.4 (L* − 50): the 3×3 sums carry the gains.
        weight = np.stack([_kernel(0.45, 0.6), _kernel(-0.25, -0.4)])[:, None, :, :]
        bias = np.array([-30.0, 30.0], dtype=np.float32)
    elif kind == "zero":
        weight = np.zeros((2, 1, 3, 3), dtype=np.float32)
        bias = np.zeros(2, dtype=np.float32)
    elif kind == "fails-at-run":
        return _fails_at_run()
    else:
        raise ValueError(f"unknown test model kind {kind!r}")

    conv = helper.make_node("Conv", ["L", "weight", "bias"], ["ab"],
                            kernel_shape=[3, 3], pads=[1, 1, 1, 1])
    graph = helper.make_graph(
        [conv], f"colorize-test-{kind}",
        [helper.make_tensor_value_info("L", TensorProto.FLOAT, ["N", 1, "H", "W"])],
        [helper.make_tensor_value_info("ab", TensorProto.FLOAT, ["N", 2, "H", "W"])],
        initializer=[numpy_helper.from_array(weight.astype(np.float32), "weight"),
                     numpy_helper.from_array(bias, "bias")])
    model = helper.make_model(graph, producer_name="colorize-gimp-tests",
                              opset_imports=[helper.make_opsetid("", 13)])
    return _finish(model)


def _finish(model: onnx.ModelProto) -> onnx.ModelProto:
    model.ir_version = 8
    helper.set_model_props(model, {
        "colorize.format": "1", "colorize.stride": "1", "colorize.pad_multiple": "1",
        "colorize.train_size": "64", "colorize.category": "test", "colorize.loss": "none",
        "colorize.encoder": "none", "colorize.dataset": "none", "colorize.epochs": "0",
    })
    onnx.checker.check_model(model)
    return model


def _fails_at_run() -> onnx.ModelProto:
    conv = helper.make_node("Conv", ["L", "weight", "bias"], ["conv"], kernel_shape=[1, 1])
    reshape = helper.make_node("Reshape", ["conv", "shape"], ["ab"])
    graph = helper.make_graph(
        [conv, reshape], "colorize-test-fails-at-run",
        [helper.make_tensor_value_info("L", TensorProto.FLOAT, ["N", 1, "H", "W"])],
        [helper.make_tensor_value_info("ab", TensorProto.FLOAT, ["N", 2, "H", "W"])],
        initializer=[numpy_helper.from_array(np.ones((2, 1, 1, 1), np.float32), "weight"),
                     numpy_helper.from_array(np.zeros(2, np.float32), "bias"),
                     numpy_helper.from_array(np.array([1, 2, 32, 32], np.int64), "shape")])
    return _finish(helper.make_model(graph, producer_name="colorize-gimp-tests",
                                     opset_imports=[helper.make_opsetid("", 13)]))


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: test_models.py chroma|zero|fails-at-run OUT.onnx")
    onnx.save(build(sys.argv[1]), sys.argv[2])
