#!/usr/bin/env python3
"""ONNX Runtime side of `colorize-bench network` (docs/performance.md): the same ONNX
bytes, the same thread count, the same input tensor as the Rust engine, driven line by line
over stdin so that the two runtimes can be timed interleaved in one run.

usage: ort_runner.py MODEL.onnx THREADS
       ort_runner.py --profile MODEL.onnx THREADS SIZE [RUNS]
protocol (one command per line on stdin, one answer line on stdout):
  load H W PATH   read H*W little-endian float32 L* values from PATH as the [1,1,H,W] input
  run H W         run once on that input; answers the wall time in seconds
  dump H W PATH   run once and write the output (float32, C order) to PATH; answers its shape
  quit
The first line written is "ready <onnxruntime version>".

--profile: ONNX Runtime's own profiler (SessionOptions.enable_profiling) over RUNS runs at
SIZE x SIZE after a warm-up; prints each node's mean time and kernel (after ORT's graph
optimisations, e.g. the NCHWc convolutions of MLAS), the largest first, then a JSON line.
"""
import json
import os
import sys
import tempfile
import time

import numpy as np
import onnxruntime as ort


def session_options(threads):
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return options


def extra_inputs(session):
    extra = {}
    # A classification model's second input: the softmax temperature at the model's default
    # vividness, as the engine feeds it when the vividness is left at 0.
    if len(session.get_inputs()) == 2:
        meta = session.get_modelmeta().custom_metadata_map
        vividness = float(meta.get("colorize.default_vividness", "1"))
        extra[session.get_inputs()[1].name] = np.array([1.0 / vividness], dtype=np.float32)
    return extra


def profile(model, threads, size, runs):
    options = session_options(threads)
    options.enable_profiling = True
    options.profile_file_prefix = os.path.join(tempfile.mkdtemp(), "ort")
    session = ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])
    x = np.fromfunction(lambda i, j: (i * 7 + j * 3) % 100, (size, size), dtype=np.float32)
    feed = {session.get_inputs()[0].name: x.reshape(1, 1, size, size), **extra_inputs(session)}
    session.run(None, feed)  # warm-up, dropped below
    walls = []
    for _ in range(runs):
        start = time.perf_counter()
        session.run(None, feed)
        walls.append(time.perf_counter() - start)
    events = json.load(open(session.end_profiling()))
    runs_seen = [e for e in events if e.get("name") == "model_run"]
    skip_before = runs_seen[0]["ts"] + runs_seen[0]["dur"] if runs_seen else 0
    totals = {}
    for e in events:
        if e.get("cat") != "Node" or not e["name"].endswith("_kernel_time") or e["ts"] < skip_before:
            continue
        name = e["name"][: -len("_kernel_time")]
        row = totals.setdefault(name, {"name": name, "op": e["args"].get("op_name", "?"),
                                       "provider": e["args"].get("provider", "?"), "ms": 0.0})
        row["ms"] += e["dur"] / 1e3
    rows = sorted(totals.values(), key=lambda r: -r["ms"])
    for r in rows:
        r["ms"] /= runs
    total = sum(r["ms"] for r in rows)
    print(f"onnxruntime {ort.__version__} f32 {size}x{size} threads {threads}: "
          f"mean run {1e3 * sum(walls) / runs:.1f} ms (profiled), nodes sum {total:.1f} ms")
    for r in rows[:30]:
        print(f"  {r['ms']:8.2f} ms {100 * r['ms'] / total:5.1f}%  {r['op']:<18} {r['name']}")
    print(json.dumps({"size": size, "threads": threads, "mean_run_ms": 1e3 * sum(walls) / runs,
                      "nodes": rows}))


def main():
    if sys.argv[1] == "--profile":
        model, threads, size = sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
        profile(model, threads, size, int(sys.argv[5]) if len(sys.argv) > 5 else 5)
        return
    model, threads = sys.argv[1], int(sys.argv[2])
    session = ort.InferenceSession(model, session_options(threads), providers=["CPUExecutionProvider"])
    input_name = session.get_inputs()[0].name
    extra = extra_inputs(session)
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
