#!/usr/bin/env bash
# The GPU check of the simulator (issue 15), as one prepared run: about 5-8 minutes on an H200.
#
#   1. the simulator's CUDA tests (CUDA against CPU in complex128, 8 and 16 qubits);
#   2. benchmarks/bench_sim.py --device cuda: qml-ops against a plain torch complex64
#      state-vector implementation and PennyLane default.qubit broadcasting at 16 qubits
#      batch 256, 8 qubits batch 4096, 20 qubits batch 32, and the largest register that
#      trains (22, 24, 26, 28 qubits at batch 32, 8 or 1). Rows (device, GPU model) go into
#      benchmarks/results/sim.json, CPU rows kept; the file is copied to $OUT if set.
#
# Run it on a lent GPU machine with the device tool, from the repository root:
#     run(command="bash benchmarks/gpu_sim.sh", timeout_s=600, carry=[".whl"])
# or anywhere with CUDA:  PYTHON=.venv/bin/python bash benchmarks/gpu_sim.sh
#
# The lent machines have torch but not PennyLane. For the PennyLane row, first put its
# wheels (Python 3.12) in .whl/ here (echo /.whl/ >> .git/info/exclude), e.g.
#     python3 -m pip download --only-binary=:all: --python-version 3.12 --implementation cp \
#         --platform manylinux_2_28_x86_64 -d .whl pennylane==0.44.1
# then delete from .whl/ the packages the machine already has (numpy, scipy, networkx, ...,
# see /work/.library/device/KINDS.md). Without them that row says why it is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if compgen -G ".whl/*.whl" >/dev/null; then
    "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site .whl/*.whl
    export PYTHONPATH=/tmp/site
fi
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH}
export PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
"$PY" -c "import torch; print('torch', torch.__version__, 'cuda', torch.cuda.is_available())"
"$PY" -m pytest tests/simulation/test_engine.py -q -p no:cacheprovider -m gpu
"$PY" benchmarks/bench_sim.py --device cuda --budget 2 --timeout 150 "$@"
if [ -n "${OUT:-}" ]; then cp benchmarks/results/sim.json "$OUT/"; fi
