#!/usr/bin/env python3
"""Per-layer comparison of our engine (tract) with OpenVINO and ONNX Runtime, f32, for
PERF_NOTES.md: each runtime's own per-layer profile (`colorize-bench --profile SIZE`,
`openvino_runner.py --profile`, `ort_runner.py --profile`), the three run in turn ROUNDS
times (the order rotating, as the network benchmark does, because the machine is shared) and
the median per layer kept. Layers are matched by the ONNX node names each runtime keeps
(tract: `Conv_52.matmatmul`, OpenVINO: `Conv_52/WithoutBiases`, ORT after fusion:
`relu_53_nchwc`); the table has each layer's multiply-adds, time, GMAC/s, OpenVINO's
primitive and the ratios.

usage: layer_compare.py PYTHON MODEL.onnx SIZE [ROUNDS] [THREADS]   (from the repository root;
PYTHON has onnxruntime and openvino; target/release/colorize-bench is built)
"""
import json
import re
import statistics
import subprocess
import sys

# (label, shape note, MACs per output pixel of the *network input* grid, our node-name
# prefixes, OpenVINO layer names, ORT node names). Multiply-adds are computed below from the
# layer geometry (ECCV16 conv1..conv3 encoder, two 4x4 stride-2 transposed convolutions, 3x3
# head; input side S).
LAYERS = [
    ("conv1_1 3x3 1->64", lambda s: 64 * 9 * s * s,
     ["Conv_10", "Relu_12"], ["Conv_10/WithoutBiases"], ["relu_11_nchwc", "ReorderInput"]),
    ("conv1_2 3x3 s2 64->64", lambda s: 64 * 64 * 9 * (s // 2) ** 2,
     ["Conv_16", "Relu_18", "Add_24"], ["Conv_16/WithoutBiases"], ["relu_17_nchwc", "mul_21_mul_nchwc", "Add_24"]),
    ("conv2_1 3x3 64->128", lambda s: 128 * 64 * 9 * (s // 2) ** 2,
     ["Conv_28", "Relu_30"], ["Conv_28/WithoutBiases"], ["relu_29_nchwc"]),
    ("conv2_2 3x3 s2 128->128", lambda s: 128 * 128 * 9 * (s // 4) ** 2,
     ["Conv_34", "Relu_36", "Add_42"], ["Conv_34/WithoutBiases"], ["relu_35_nchwc", "mul_39_mul_nchwc", "Add_42"]),
    ("conv3_1 3x3 128->256", lambda s: 256 * 128 * 9 * (s // 4) ** 2,
     ["Conv_46", "Relu_48"], ["Conv_46/WithoutBiases"], ["relu_47_nchwc"]),
    ("conv3_2 3x3 256->256", lambda s: 256 * 256 * 9 * (s // 4) ** 2,
     ["Conv_52", "Relu_54"], ["Conv_52/WithoutBiases"], ["relu_53_nchwc"]),
    ("conv3_3 3x3 s2 256->256", lambda s: 256 * 256 * 9 * (s // 8) ** 2,
     ["Conv_58", "Relu_60", "Add_66", "Add_72"], ["Conv_58/WithoutBiases"], ["relu_59_nchwc", "mul_63_mul_nchwc", "Add_66", "Add_72"]),
    ("up0 ConvT 4x4 s2 256->128", lambda s: 256 * 128 * 16 * (s // 8) ** 2,
     ["ConvTranspose_86", "Relu_88", "Add_82"], ["ConvolutionBackpropData_155", "Relu_88", "Add_82"], ["ConvTranspose_86", "Relu_88", "Add_82"]),
    ("up1 ConvT 4x4 s2 128->64", lambda s: 128 * 64 * 16 * (s // 4) ** 2,
     ["ConvTranspose_92", "Relu_94"], ["ConvolutionBackpropData_162", "Relu_94"], ["ConvTranspose_92", "Relu_94"]),
    ("head 3x3 64->2", lambda s: 2 * 64 * 9 * (s // 2) ** 2,
     ["Conv_98", "Mul_102", "Add_104", "Mul_108", "Add_110"], ["Multiply_4168"], ["ab_nchwc", "ReorderOutput"]),
]


def ours(size, threads):
    out = subprocess.run(["target/release/colorize-bench", "--profile", str(size), "--threads", str(threads)],
                         capture_output=True, text=True, check=True).stdout
    wall = float(re.search(r"mean run ([0-9.]+) ms", out).group(1))
    nodes = {}
    for m in re.finditer(r"^\s+([0-9.]+) ms\s+[0-9.]+%\s+#\d+ (\S+) (\S+)$", out, re.M):
        nodes[m.group(3)] = nodes.get(m.group(3), 0.0) + float(m.group(1))
    return wall, nodes, {}


def peer(python, script, args):
    out = subprocess.run([python, script, "--profile", *args], capture_output=True, text=True, check=True).stdout
    data = json.loads(out.strip().splitlines()[-1])
    rows = data.get("layers") or data.get("nodes")
    nodes, kinds = {}, {}
    for r in rows:
        nodes[r["name"]] = nodes.get(r["name"], 0.0) + r["ms"]
        kinds[r["name"]] = r.get("exec_type", r.get("op", ""))
    return data["mean_run_ms"], nodes, kinds


def layer_times(nodes, names, exact):
    total = 0.0
    for name, t in nodes.items():
        for n in names:
            if name == n or (not exact and (name.startswith(n + ".") or name.startswith(n + "/"))):
                total += t
                break
    return total


def main():
    python, model, size = sys.argv[1], sys.argv[2], int(sys.argv[3])
    rounds = int(sys.argv[4]) if len(sys.argv) > 4 else 3
    threads = sys.argv[5] if len(sys.argv) > 5 else "2"
    runners = [
        ("ours", lambda: ours(size, threads)),
        ("openvino", lambda: peer(python, "bench/openvino_runner.py", [model, threads, "f32", str(size), "3"])),
        ("ort", lambda: peer(python, "bench/ort_runner.py", [model, threads, str(size), "3"])),
    ]
    results = {name: [] for name, _ in runners}
    for r in range(rounds):
        for i in range(len(runners)):
            name, run = runners[(r + i) % len(runners)]
            results[name].append(run())
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
    load = open("/proc/loadavg").read().split()[0]
    print(f"{cpu}; {size}x{size}, {threads} threads, f32, median of {rounds} interleaved profiles "
          f"(3 runs each after a warm-up); load {load} at the end")
    walls = {k: statistics.median(w for w, _, _ in v) for k, v in results.items()}
    print(f"whole run: ours {walls['ours']:.1f} ms, OpenVINO {walls['openvino']:.1f} ms, "
          f"ORT {walls['ort']:.1f} ms; ours/OV {walls['ours'] / walls['openvino']:.2f}, "
          f"ours/ORT {walls['ours'] / walls['ort']:.2f}")
    print("| layer | GMAC | ours ms | OV ms | ORT ms | ours GMAC/s | OV GMAC/s | ours/OV | ours/ORT | OV primitive |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    ov_kinds = results["openvino"][0][2]
    sums = [0.0, 0.0, 0.0]
    for label, macs, our_names, ov_names, ort_names in LAYERS:
        t = [statistics.median(layer_times(n, our_names, False) for _, n, _ in results["ours"]),
             statistics.median(layer_times(n, ov_names, True) for _, n, _ in results["openvino"]),
             statistics.median(layer_times(n, ort_names, True) for _, n, _ in results["ort"])]
        for i in range(3):
            sums[i] += t[i]
        g = macs(size) / 1e9
        prim = ov_kinds.get(ov_names[0], "?")
        print(f"| {label} | {g:.2f} | {t[0]:.1f} | {t[1]:.1f} | {t[2]:.1f} | {g / t[0] * 1e3:.0f} | "
              f"{g / t[1] * 1e3:.0f} | {t[0] / t[1]:.2f} | {t[0] / t[2]:.2f} | {prim} |")
    other = [walls["ours"] - sums[0], walls["openvino"] - sums[1], walls["ort"] - sums[2]]
    print(f"| rest (other nodes, overhead) | | {other[0]:.1f} | {other[1]:.1f} | {other[2]:.1f} | | | | | |")


if __name__ == "__main__":
    main()
