#!/usr/bin/env python3
"""OpenVINO side of `colorize-bench network` (docs/performance.md): the same ONNX bytes read
as they are (no conversion step, no IR on disk), the same thread count, the same input tensor
as the Rust engine and bench/ort_runner.py, driven line by line over stdin so that the
runtimes can be timed interleaved in one run. Same protocol as ort_runner.py.

usage: openvino_runner.py MODEL.onnx THREADS PRECISION
       openvino_runner.py --profile MODEL.onnx THREADS PRECISION SIZE [RUNS]
PRECISION is OpenVINO's INFERENCE_PRECISION_HINT: f32, or bf16 (where the CPU has bf16
instructions; OpenVINO's own default on such CPUs, hence always set explicitly here).
protocol (one command per line on stdin, one answer line on stdout):
  load H W PATH   read H*W little-endian float32 L* values from PATH as the [1,1,H,W] input
                  (the model is compiled for that static shape here, as our engine caches a
                  concrete-shape plan)
  run H W         run once on that input; answers the wall time in seconds
  dump H W PATH   run once and write the output (float32, C order) to PATH; answers its shape
  quit
The first line written is "ready <openvino version>" (the model compiles at PRECISION or the
runner answers "error ..." to the first load).

--profile: compile with ENABLE_PROFILING, run RUNS times (after a warm-up) at SIZE x SIZE and
print OpenVINO's per-layer counters (mean real time, exec type = the primitive chosen, e.g.
jit_avx512 / brgconv_avx512 / gemm / winograd), the largest first, then a JSON line.
"""
import json
import sys
import time

import numpy as np
import openvino as ov


def read_model(core, path):
    model = core.read_model(path)
    # A classification model's second input: the softmax temperature at the model's default
    # vividness, as the engine (and ort_runner.py) feed it when the vividness is left at 0.
    extra = {}
    if len(model.inputs) == 2:
        vividness = 1.0
        if model.has_rt_info(["framework", "colorize.default_vividness"]):
            vividness = float(model.get_rt_info(["framework", "colorize.default_vividness"]).astype(str))
        else:
            # The ONNX metadata, read the way ort_runner.py does (onnx is not needed for it).
            try:
                import onnxruntime as ort

                meta = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
                vividness = float(
                    meta.get_modelmeta().custom_metadata_map.get("colorize.default_vividness", "1")
                )
            except Exception:  # noqa: BLE001 - the default is what the engine uses too
                pass
        extra[model.inputs[1].get_any_name()] = np.array([1.0 / vividness], dtype=np.float32)
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
    x = np.fromfunction(lambda i, j: (i * 7 + j * 3) % 100, (size, size), dtype=np.float32)
    feed = {compiled.inputs[0]: x.reshape(1, 1, size, size).astype(np.float32)}
    for name, value in extra.items():
        feed[name] = value
    request.infer(feed)  # warm-up
    totals, walls = {}, []
    for _ in range(runs):
        start = time.perf_counter()
        request.infer(feed)
        walls.append(time.perf_counter() - start)
        for p in request.profiling_info:
            if p.status != ov.ProfilingInfo.Status.EXECUTED:
                continue
            key = p.node_name
            t = p.real_time.total_seconds()
            if key in totals:
                totals[key]["ms"] += t * 1e3
            else:
                totals[key] = {"name": key, "type": p.node_type, "exec_type": p.exec_type, "ms": t * 1e3}
    rows = sorted(totals.values(), key=lambda r: -r["ms"])
    for r in rows:
        r["ms"] /= runs
    total = sum(r["ms"] for r in rows)
    print(f"openvino {ov.__version__} {precision} {size}x{size} threads {threads}: "
          f"mean run {1e3 * sum(walls) / runs:.1f} ms, layers sum {total:.1f} ms")
    for r in rows[:30]:
        print(f"  {r['ms']:8.2f} ms {100 * r['ms'] / total:5.1f}%  {r['type']:<18} {r['exec_type']:<28} {r['name']}")
    print(json.dumps({"size": size, "precision": precision, "threads": threads,
                      "mean_run_ms": 1e3 * sum(walls) / runs, "layers": rows}))


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
    compiled, inputs, extra = {}, {}, {}
    print("ready", ov.__version__, flush=True)
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
            try:
                c, extra = compile_for(core, path, h, w, threads, precision)
            except Exception as e:  # noqa: BLE001 - reported to the benchmark, which stops
                print(f"error compiling for {h}x{w} at {precision}: {e}", flush=True)
                continue
            compiled[(h, w)] = (c, c.create_infer_request())
            print("ok", flush=True)
        elif command in ("run", "dump"):
            c, request = compiled[(h, w)]
            feed = {c.inputs[0]: inputs[(h, w)]}
            for name, value in extra.items():
                feed[name] = value
            start = time.perf_counter()
            request.infer(feed)
            elapsed = time.perf_counter() - start
            if command == "run":
                print(f"{elapsed:.6f}", flush=True)
            else:
                out = request.get_output_tensor(0).data
                np.ascontiguousarray(out, dtype="<f4").tofile(words[3])
                print(" ".join(str(d) for d in out.shape), flush=True)
        else:
            print(f"error unknown command {command}", flush=True)


if __name__ == "__main__":
    main()
