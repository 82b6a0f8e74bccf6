#!/usr/bin/env bash
# The trajectory emulator on a CUDA GPU: 16, 20 and 24-qubit models, 48 samples x 512 shots,
# the 4 default devices; rows go to the 'scale' section of benchmarks/results/emulator.json
# (emulator_device "cuda", beside the CPU rows), after checking CUDA against the CPU.
#
# Needs a CUDA build of torch in $PYTHON's environment (the project's .venv has the CPU build).
# Usage:  PYTHON=/path/to/python benchmarks/gpu_emulator.sh [results.json]
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-.venv/bin/python}
OUT_JSON=${1:-benchmarks/results/emulator.json}
export PYTHONPATH=$PWD

"$PYTHON" -c "import torch; assert torch.cuda.is_available(), 'torch sees no CUDA device'; print('GPU:', torch.cuda.get_device_name())"
# same seed, same errors: CUDA must reproduce the CPU trajectories
"$PYTHON" -m pytest tests/hardware/test_emulator_trajectories.py -q -p no:cacheprovider -m gpu
# cp keeps the CPU rows: the script rewrites only the cuda rows of the 'scale' section
[ "$OUT_JSON" = benchmarks/results/emulator.json ] || cp benchmarks/results/emulator.json "$OUT_JSON"
"$PYTHON" benchmarks/bench_emulator.py --scale 16 20 24 --emulator-device cuda --max-qubits 28 --out "$OUT_JSON"
