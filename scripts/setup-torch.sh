#!/usr/bin/env bash
# Makes .venv/ with a CPU-usable libtorch from PyPI for the trainer (cargo feature `train`)
# and prints the environment that points tch at it. Idempotent: a second run only prints.
#
#   eval "$(scripts/setup-torch.sh)"    # then: cargo build --release --features train
#
# PyPI's Linux torch wheels are CUDA builds; the CPU part of libtorch needs only the CUDA
# runtime and CUPTI libraries beside it, so we install those three wheels without their
# other dependencies (about 540 MB instead of 2.7 GB). On a machine with a GPU, install the
# full `torch` package instead and set LIBTORCH to it: the trainer then uses CUDA.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
venv=${COLORIZE_TORCH_VENV:-$root/.venv}
torch_version=2.13.0
if [ ! -f "$venv/.torch-$torch_version" ]; then
  python3 -m venv "$venv" >&2
  "$venv/bin/pip" install --quiet --disable-pip-version-check --no-deps \
    "torch==$torch_version" "nvidia-cuda-runtime==13.0.96.*" "nvidia-cuda-cupti==13.0.85.*" >&2
  touch "$venv/.torch-$torch_version"
fi
site=$("$venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
echo "export LIBTORCH=$site/torch"
echo "export LIBTORCH_BYPASS_VERSION_CHECK=1"
echo "export LD_LIBRARY_PATH=$site/torch/lib:$site/nvidia/cu13/lib\${LD_LIBRARY_PATH:+:\$LD_LIBRARY_PATH}"
