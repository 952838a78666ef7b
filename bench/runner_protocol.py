"""What bench/ort_runner.py and bench/openvino_runner.py share: the line protocol that
`colorize-bench network` speaks to a peer runtime (src/bin/colorize-bench/network.rs), the
classification models' extra input, and the --profile run and report. Each runner keeps only
what its runtime does its own way (session or compilation, precision, profiling API).

protocol (one command per line on stdin, one answer line on stdout):
  load H W PATH   read H*W little-endian float32 L* values from PATH as the [1,1,H,W] input
  run H W         run once on that input; answers the wall time in seconds
  dump H W PATH   run once and write the output (float32, C order) to PATH; answers its shape
  quit
The first line written is "ready <runtime version>"; an answer "error <message>" makes the
benchmark stop with that message.
"""
import json
import sys
import time

import numpy as np

# The metadata key of a classification model's default vividness.
VIVIDNESS_KEY = "colorize.default_vividness"


def default_vividness(onnx_metadata):
    """The default vividness in an ONNX model's metadata (onnxruntime's custom_metadata_map);
    1 where it has none, as in the engine."""
    return float(onnx_metadata.get(VIVIDNESS_KEY, "1"))


def temperature(vividness):
    """A classification model's second input: the softmax temperature at the model's default
    vividness, as the engine feeds it when the vividness is left at 0."""
    return np.array([1.0 / vividness], dtype=np.float32)


def serve(version, load, bind):
    """Answers the protocol's commands from stdin until "quit" or its end.

    load(h, w, x): x is the [1,1,h,w] input just read; returns None when the runtime is ready
      to run on it, or the text of an error answer.
    bind(h, w, x): returns (run_once, output): run_once() runs once on that input (whatever
      feed it needs built beforehand, so that the time of "run" is the runtime's call alone),
      and output(what run_once returned) is the output array.
    """
    inputs = {}
    print("ready", version, flush=True)
    for line in sys.stdin:
        words = line.split()
        if not words:
            continue
        command = words[0]
        if command == "quit":
            break
        h, w = int(words[1]), int(words[2])
        if command == "load":
            inputs[(h, w)] = np.fromfile(words[3], dtype="<f4").reshape(1, 1, h, w)
            error = load(h, w, inputs[(h, w)])
            print("ok" if error is None else f"error {error}", flush=True)
        elif command in ("run", "dump"):
            run_once, output = bind(h, w, inputs[(h, w)])
            start = time.perf_counter()
            result = run_once()
            elapsed = time.perf_counter() - start
            if command == "run":
                print(f"{elapsed:.6f}", flush=True)
            else:
                out = output(result)
                np.ascontiguousarray(out, dtype="<f4").tofile(words[3])
                print(" ".join(str(d) for d in out.shape), flush=True)
        else:
            print(f"error unknown command {command}", flush=True)


def profile_input(size):
    """The --profile input: a fixed [1,1,SIZE,SIZE] pattern of L* values, the same for every
    runtime."""
    x = np.fromfunction(lambda i, j: (i * 7 + j * 3) % 100, (size, size), dtype=np.float32)
    return x.reshape(1, 1, size, size)


def profiled_runs(run_once, runs, after_each=None):
    """One warm-up run (left out), then RUNS timed runs; after_each() is called after each
    timed run, outside its time. Returns the wall times in seconds."""
    run_once()
    walls = []
    for _ in range(runs):
        start = time.perf_counter()
        run_once()
        walls.append(time.perf_counter() - start)
        if after_each is not None:
            after_each()
    return walls


def add_time(totals, name, ms, **fields):
    """Adds MS to the row of node NAME in TOTALS (made with FIELDS on first sight)."""
    totals.setdefault(name, {"name": name, **fields, "ms": 0.0})["ms"] += ms


def report_profile(title, rows_key, totals, runs, walls, columns, fields, mean_note=""):
    """Prints the profile: a line with the mean run and the sum of the rows, each row's mean
    time (largest first, the first 30) with the runtime's own COLUMNS(row), then everything as
    one JSON line (FIELDS, mean_run_ms and the rows under ROWS_KEY) for bench/layer_compare.py."""
    rows = sorted(totals.values(), key=lambda r: -r["ms"])
    for r in rows:
        r["ms"] /= runs
    total = sum(r["ms"] for r in rows)
    mean_run_ms = 1e3 * sum(walls) / runs
    print(f"{title}: mean run {mean_run_ms:.1f} ms{mean_note}, {rows_key} sum {total:.1f} ms")
    for r in rows[:30]:
        print(f"  {r['ms']:8.2f} ms {100 * r['ms'] / total:5.1f}%  {columns(r)}")
    print(json.dumps({**fields, "mean_run_ms": mean_run_ms, rows_key: rows}))
