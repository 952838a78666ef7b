#!/usr/bin/env python3
"""ONNX Runtime side of `colorize-bench network` (docs/performance.md): the same ONNX
bytes, the same thread count, the same input tensor as the Rust engine, driven line by line
over stdin so that the two runtimes can be timed interleaved in one run.

usage: ort_runner.py MODEL.onnx THREADS
       ort_runner.py --profile MODEL.onnx THREADS SIZE [RUNS]
protocol: bench/runner_protocol.py (load H W PATH, run H W, dump H W PATH, quit); the first
line written is "ready <onnxruntime version>".

--profile: ONNX Runtime's own profiler (SessionOptions.enable_profiling) over RUNS runs at
SIZE x SIZE after a warm-up; prints each node's mean time and kernel (after ORT's graph
optimisations, e.g. the NCHWc convolutions of MLAS), the largest first, then a JSON line.
"""
import json
import os
import sys
import tempfile

import onnxruntime as ort

import runner_protocol as protocol


def session_options(threads):
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return options


def extra_inputs(session):
    extra = {}
    if len(session.get_inputs()) == 2:
        vividness = protocol.default_vividness(session.get_modelmeta().custom_metadata_map)
        extra[session.get_inputs()[1].name] = protocol.temperature(vividness)
    return extra


def profile(model, threads, size, runs):
    options = session_options(threads)
    options.enable_profiling = True
    options.profile_file_prefix = os.path.join(tempfile.mkdtemp(), "ort")
    session = ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])
    feed = {session.get_inputs()[0].name: protocol.profile_input(size), **extra_inputs(session)}
    walls = protocol.profiled_runs(lambda: session.run(None, feed), runs)
    events = json.load(open(session.end_profiling()))
    # The warm-up's events are left out: the first model_run is the warm-up.
    runs_seen = [e for e in events if e.get("name") == "model_run"]
    skip_before = runs_seen[0]["ts"] + runs_seen[0]["dur"] if runs_seen else 0
    totals = {}
    for e in events:
        if e.get("cat") != "Node" or not e["name"].endswith("_kernel_time") or e["ts"] < skip_before:
            continue
        protocol.add_time(totals, e["name"][: -len("_kernel_time")], e["dur"] / 1e3,
                          op=e["args"].get("op_name", "?"), provider=e["args"].get("provider", "?"))
    protocol.report_profile(
        f"onnxruntime {ort.__version__} f32 {size}x{size} threads {threads}", "nodes", totals, runs, walls,
        lambda r: f"{r['op']:<18} {r['name']}", {"size": size, "threads": threads}, mean_note=" (profiled)")


def main():
    if sys.argv[1] == "--profile":
        model, threads, size = sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
        profile(model, threads, size, int(sys.argv[5]) if len(sys.argv) > 5 else 5)
        return
    model, threads = sys.argv[1], int(sys.argv[2])
    session = ort.InferenceSession(model, session_options(threads), providers=["CPUExecutionProvider"])
    input_name = session.get_inputs()[0].name
    extra = extra_inputs(session)

    def only_output(outputs):
        (out,) = outputs
        return out

    def bind(h, w, x):
        feed = {input_name: x, **extra}
        return (lambda: session.run(None, feed)), only_output

    protocol.serve(ort.__version__, lambda h, w, x: None, bind)


if __name__ == "__main__":
    main()
