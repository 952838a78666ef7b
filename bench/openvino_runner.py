#!/usr/bin/env python3
"""OpenVINO side of `colorize-bench network` (docs/performance.md): the same ONNX bytes read
as they are (no conversion step, no IR on disk), the same thread count, the same input tensor
as the Rust engine and bench/ort_runner.py, driven line by line over stdin so that the
runtimes can be timed interleaved in one run. Same protocol as ort_runner.py.

usage: openvino_runner.py MODEL.onnx THREADS PRECISION
       openvino_runner.py --profile MODEL.onnx THREADS PRECISION SIZE [RUNS]
PRECISION is OpenVINO's INFERENCE_PRECISION_HINT: f32, or bf16 (where the CPU has bf16
instructions; OpenVINO's own default on such CPUs, hence always set explicitly here).
protocol: bench/runner_protocol.py (load H W PATH, run H W, dump H W PATH, quit); "load"
compiles the model for that static shape, as our engine caches a concrete-shape plan. The
first line written is "ready <openvino version>" (the model compiles at PRECISION or the
runner answers "error ..." to the first load).

--profile: compile with ENABLE_PROFILING, run RUNS times (after a warm-up) at SIZE x SIZE and
print OpenVINO's per-layer counters (mean real time, exec type = the primitive chosen, e.g.
jit_avx512 / brgconv_avx512 / gemm / winograd), the largest first, then a JSON line.
"""
import sys

import numpy as np
import openvino as ov

import runner_protocol as protocol


def read_model(core, path):
    model = core.read_model(path)
    extra = {}
    if len(model.inputs) == 2:
        vividness = 1.0
        if model.has_rt_info(["framework", protocol.VIVIDNESS_KEY]):
            vividness = float(model.get_rt_info(["framework", protocol.VIVIDNESS_KEY]).astype(str))
        else:
            # The ONNX metadata, read through onnxruntime as ort_runner.py does (no onnx needed).
            try:
                import onnxruntime as ort

                meta = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
                vividness = protocol.default_vividness(meta.get_modelmeta().custom_metadata_map)
            except Exception:  # noqa: BLE001 - the default is what the engine uses too
                pass
        extra[model.inputs[1].get_any_name()] = protocol.temperature(vividness)
    return model, extra


def compile_for(core, path, h, w, threads, precision, profiling=False):
    model, extra = read_model(core, path)
    shapes = {model.inputs[0].get_any_name(): ov.PartialShape([1, 1, h, w])}
    for name, value in extra.items():
        shapes[name] = ov.PartialShape(list(value.shape))
    model.reshape(shapes)
    config = {
        "INFERENCE_NUM_THREADS": threads,
        "NUM_STREAMS": 1,
        "PERFORMANCE_HINT": "LATENCY",
        "INFERENCE_PRECISION_HINT": precision,
    }
    if profiling:
        config["PERF_COUNT"] = True
    compiled = core.compile_model(model, "CPU", config)
    got = compiled.get_property("INFERENCE_PRECISION_HINT")
    if got != {"f32": ov.Type.f32, "bf16": ov.Type.bf16}[precision]:
        raise RuntimeError(f"OpenVINO compiled at {got}, asked {precision}")
    return compiled, extra


def profile(path, threads, precision, size, runs):
    core = ov.Core()
    compiled, extra = compile_for(core, path, size, size, threads, precision, profiling=True)
    request = compiled.create_infer_request()
    feed = {compiled.inputs[0]: protocol.profile_input(size).astype(np.float32), **extra}
    totals = {}

    def add_counters():
        for p in request.profiling_info:
            if p.status == ov.ProfilingInfo.Status.EXECUTED:
                protocol.add_time(totals, p.node_name, p.real_time.total_seconds() * 1e3,
                                  type=p.node_type, exec_type=p.exec_type)

    walls = protocol.profiled_runs(lambda: request.infer(feed), runs, after_each=add_counters)
    protocol.report_profile(
        f"openvino {ov.__version__} {precision} {size}x{size} threads {threads}", "layers", totals, runs, walls,
        lambda r: f"{r['type']:<18} {r['exec_type']:<28} {r['name']}",
        {"size": size, "precision": precision, "threads": threads})


def main():
    if sys.argv[1] == "--profile":
        path, threads, precision, size = sys.argv[2], int(sys.argv[3]), sys.argv[4], int(sys.argv[5])
        runs = int(sys.argv[6]) if len(sys.argv) > 6 else 5
        profile(path, threads, precision, size, runs)
        return
    path, threads, precision = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    core = ov.Core()
    if precision == "bf16" and "BF16" not in core.get_property("CPU", "OPTIMIZATION_CAPABILITIES"):
        print("error this CPU has no bf16 for OpenVINO", flush=True)
        return
    compiled, extra = {}, {}

    def load(h, w, x):
        nonlocal extra
        try:
            c, extra = compile_for(core, path, h, w, threads, precision)
        except Exception as e:  # noqa: BLE001 - reported to the benchmark, which stops
            return f"compiling for {h}x{w} at {precision}: {e}"
        compiled[(h, w)] = (c, c.create_infer_request())
        return None

    def bind(h, w, x):
        c, request = compiled[(h, w)]
        feed = {c.inputs[0]: x, **extra}
        return (lambda: request.infer(feed)), (lambda _: request.get_output_tensor(0).data)

    protocol.serve(ov.__version__, load, bind)


if __name__ == "__main__":
    main()
