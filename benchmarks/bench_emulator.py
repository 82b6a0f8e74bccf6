"""Emulated QPU validation: wall time of 100 samples x 1,000 shots per device.

Model: the 8-qubit SU(4) QCNN (ansatz 9), angle encoding, random weights and
features in [0, π]; the repository's calibration profiles (``profiles/``).
Per device the script times:

* ``compile``: transpile once (:func:`qml_ops.hardware.compile.compile_spec`)
  and bind every sample (native gates, virtual-Z frames);
* ``torch``: :func:`qml_ops.hardware.emulator.run_emulated` (exact
  probabilities with LocalEmulator's noise, then sampled counts);
* ``braket``: Braket's ``LocalEmulator`` on ``--braket-samples`` circuits
  (building each Braket circuit included), extrapolated to all samples;
* ``max_abs_diff``: on those circuits, torch exact P(1) against the
  LocalEmulator's sampled frequency, with the 1-σ sampling error for scale.

Usage::

    .venv/bin/python benchmarks/bench_emulator.py                 # ~1-2 min
    .venv/bin/python benchmarks/bench_emulator.py --braket-samples 5

Writes ``benchmarks/results/emulator.json``.
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import time
import warnings
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).resolve().parent / "results" / "emulator.json"
ONLINE = ["rigetti-cepheus-1-108q", "iqm-garnet", "iqm-emerald", "ionq-forte-enterprise-1"]


def bench_device(device_id: str, samples: int, shots: int, braket_samples: int, seed: int) -> dict:
    from qml_ops.circuits.qcnn import QCNNSpec
    from qml_ops.hardware.compile import compile_spec
    from qml_ops.hardware.emulator import run_emulated
    from qml_ops.hardware.profiles import build_local_emulator, load_profile

    rng = np.random.default_rng(seed)
    spec = QCNNSpec(8, 9, "angle")
    weights = rng.uniform(-math.pi, math.pi, spec.n_weights)
    features = rng.uniform(0, math.pi, (samples, spec.n_features))
    profile = load_profile(device_id)

    t0 = time.perf_counter()
    compiled = compile_spec(spec, weights, profile).bind_batch(features)
    t_compile = time.perf_counter() - t0

    t0 = time.perf_counter()
    torch_result = run_emulated(compiled, profile, shots=shots, seed=seed)
    t_torch = time.perf_counter() - t0

    emulator = build_local_emulator(profile)
    few = compiled[:braket_samples]
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        braket_result = run_emulated(few, emulator, shots=shots, backend="braket")
    t_braket = time.perf_counter() - t0
    freq = braket_result.counts[:, 1] / shots
    p = torch_result.p1[:braket_samples]
    return {
        "device": device_id,
        "profile_date": profile.snapshot_date,
        "samples": samples,
        "shots": shots,
        "two_qubit_gates": compiled[0].two_qubit_gate_count,
        "depth": compiled[0].depth,
        "qubits_used": len(compiled[0].qubits),
        "compile_s": round(t_compile, 3),
        "torch_s": round(t_torch, 3),
        "braket_s_per_circuit": round(t_braket / len(few), 3),
        "braket_s_extrapolated": round(t_braket / len(few) * samples, 1),
        "braket_measured_on": len(few),
        "speedup": round(t_braket / len(few) * samples / t_torch, 1),
        "max_abs_diff_vs_braket_sampled": round(float(np.abs(p - freq).max()), 4),
        "sampling_sigma": round(float(np.sqrt(p * (1 - p) / shots).max()), 4),
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", nargs="+", default=ONLINE)
    parser.add_argument("--samples", type=int, default=100)
    parser.add_argument("--shots", type=int, default=1000)
    parser.add_argument("--braket-samples", type=int, default=3,
                        help="circuits run on LocalEmulator (time extrapolated)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)

    import torch

    rows = []
    t_all = time.perf_counter()
    for device_id in args.devices:
        rows.append(bench_device(device_id, args.samples, args.shots, args.braket_samples,
                                 args.seed))
        print(json.dumps(rows[-1]), flush=True)
    total = time.perf_counter() - t_all

    head = f"{'device':26s} {'2q':>4s} {'depth':>5s} {'compile s':>9s} {'torch s':>8s} " \
           f"{'braket s (extrap.)':>18s} {'speedup':>8s} {'|Δp| max':>8s} {'σ':>6s}"
    print("\n" + head)
    for r in rows:
        print(f"{r['device']:26s} {r['two_qubit_gates']:4d} {r['depth']:5d} {r['compile_s']:9.2f} "
              f"{r['torch_s']:8.2f} {r['braket_s_extrapolated']:18.1f} {r['speedup']:8.0f} "
              f"{r['max_abs_diff_vs_braket_sampled']:8.4f} {r['sampling_sigma']:6.4f}")
    torch_total = sum(r["compile_s"] + r["torch_s"] for r in rows)
    braket_total = sum(r["braket_s_extrapolated"] for r in rows)
    print(f"\ntorch path (compile + emulate), all devices: {torch_total:.1f} s; "
          f"LocalEmulator extrapolated: {braket_total:.0f} s; script wall time {total:.0f} s")

    result = {
        "benchmark": "emulated validation, 8-qubit SU(4) QCNN, angle encoding",
        "machine": {"platform": platform.platform(), "processor": platform.processor(),
                    "torch_threads": torch.get_num_threads(), "emulator_threads": 1},
        "command": "benchmarks/bench_emulator.py " + " ".join(argv or []),
        "rows": rows,
        "torch_total_s": round(torch_total, 2),
        "braket_extrapolated_total_s": round(braket_total, 1),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
