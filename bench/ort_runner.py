#!/usr/bin/env python3
"""ONNX Runtime side of `colorize-bench network` (docs/performance.md): the same ONNX
bytes, the same thread count, the same input tensor as the Rust engine, driven line by line
over stdin so that the two runtimes can be timed interleaved in one run.

usage: ort_runner.py MODEL.onnx THREADS
protocol (one command per line on stdin, one answer line on stdout):
  load H W PATH   read H*W little-endian float32 L* values from PATH as the [1,1,H,W] input
  run H W         run once on that input; answers the wall time in seconds
  dump H W PATH   run once and write the output (float32, C order) to PATH; answers its shape
  quit
The first line written is "ready <onnxruntime version>".
"""
import sys
import time

import numpy as np
import onnxruntime as ort


def main():
    model, threads = sys.argv[1], int(sys.argv[2])
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    session = ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])
    input_name = session.get_inputs()[0].name
    # A classification model's second input: the softmax temperature at the model's default
    # vividness, as the engine feeds it when the vividness is left at 0.
    extra = {}
    if len(session.get_inputs()) == 2:
        meta = session.get_modelmeta().custom_metadata_map
        vividness = float(meta.get("colorize.default_vividness", "1"))
        extra[session.get_inputs()[1].name] = np.array([1.0 / vividness], dtype=np.float32)
    inputs = {}
    print("ready", ort.__version__, flush=True)
    for line in sys.stdin:
        words = line.split()
        if not words:
            continue
        command = words[0]
        if command == "quit":
            break
        h, w = int(words[1]), int(words[2])
        if command == "load":
            data = np.fromfile(words[3], dtype="<f4")
            inputs[(h, w)] = data.reshape(1, 1, h, w)
            print("ok", flush=True)
        elif command == "run":
            feed = {input_name: inputs[(h, w)], **extra}
            start = time.perf_counter()
            session.run(None, feed)
            print(f"{time.perf_counter() - start:.6f}", flush=True)
        elif command == "dump":
            (out,) = session.run(None, {input_name: inputs[(h, w)], **extra})
            np.ascontiguousarray(out, dtype="<f4").tofile(words[3])
            print(" ".join(str(d) for d in out.shape), flush=True)
        else:
            print(f"error unknown command {command}", flush=True)


if __name__ == "__main__":
    main()
