"""Emulated QPU validation: wall time per device, from 8 to 24 qubits.

Three parts, each writing its own section of ``benchmarks/results/emulator.json``
(the others are kept):

* default (``rows``): 100 samples x 1,000 shots of the 8-qubit model, the torch
  density matrix against Braket's ``LocalEmulator``;
* ``--scale 16 20`` (``scale``): the stage's own run (48 samples x 512 shots by
  default) of an N-qubit model on each device: compile time, the method
  ``hardware.emulator_method: auto`` picks, two-qubit gates, depth, qubits used
  (routing ancillas included), emulation wall and CPU time, the trajectory
  estimate's standard error; ``--emulator-device cuda`` for a GPU (see
  ``benchmarks/gpu_emulator.sh``);
* ``--crossover 8 10 12`` (``method_crossover``): the density matrix against 64
  trajectories on Garnet, one CPU thread (where ``auto`` switches).

Model: the SU(4) QCNN (ansatz 9), angle encoding, random weights and
features in [0, π]; the repository's calibration profiles (``profiles/``). For
sizes ``QCNNSpec`` does not train (10, 12, 20, 24 qubits) the same layer rule
is applied (odd layers keep the last wire: 20 -> 10 -> 5 -> 3 -> 2 -> 1).
Per device the default part times:

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
    .venv/bin/python benchmarks/bench_emulator.py --scale 16 20   # ~2 + ~30 min on 2 cores
    .venv/bin/python benchmarks/bench_emulator.py --crossover 8 10 12

Writes ``benchmarks/results/emulator.json``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import time
import warnings
from pathlib import Path

from dataclasses import dataclass

import numpy as np

from qml_ops.circuits.qcnn import QCNNSpec

RESULTS = Path(__file__).resolve().parent / "results" / "emulator.json"
ONLINE = ["rigetti-cepheus-1-108q", "iqm-garnet", "iqm-emerald", "ionq-forte-enterprise-1"]


@dataclass(frozen=True)
class WideQCNN(QCNNSpec):
    """The QCNN layer rule at any width (``QCNNSpec`` itself trains 4, 8 or 16 qubits)."""

    def __post_init__(self) -> None:
        pass

    @property
    def n_layers(self) -> int:
        return len(self.layers)


def model(n_qubits: int, n_samples: int, seed: int):
    rng = np.random.default_rng(seed)
    spec = WideQCNN(n_qubits, 9, "angle")
    return (spec, rng.uniform(-math.pi, math.pi, spec.n_weights),
            rng.uniform(0, math.pi, (n_samples, spec.n_features)))


def bench_scale(n_qubits: int, device_id: str, samples: int, shots: int, trajectories: int,
                emulator_device: str, max_qubits: int, seed: int) -> dict:
    """One stage-like run: compile, bind, emulate with method ``auto``."""
    from qml_ops.hardware.compile import compile_spec
    from qml_ops.hardware.emulator import choose_method, run_emulated, unsupported_reason
    from qml_ops.hardware.profiles import load_profile

    spec, weights, features = model(n_qubits, samples, seed)
    profile = load_profile(device_id)
    row = {"qubits": n_qubits, "device": device_id, "emulator_device": emulator_device, "samples": samples,
           "shots": shots}
    if len(profile.qubits) < n_qubits:
        return {**row, "status": "unsupported", "reason": f"{device_id} has {len(profile.qubits)} qubits"}
    t0 = time.perf_counter()
    circuits = compile_spec(spec, weights, profile, seed=seed).bind_batch(features)
    compile_s = time.perf_counter() - t0
    used = len(circuits[0].qubits)
    method = choose_method(used)
    row.update(two_qubit_gates=circuits[0].two_qubit_gate_count, depth=circuits[0].depth, qubits_used=used,
               method=method, compile_s=round(compile_s, 2))
    reason = unsupported_reason(used, method, max_qubits)
    if reason:
        return {**row, "status": "unsupported", "reason": reason}
    t0, c0 = time.perf_counter(), time.process_time()
    result = run_emulated(circuits, profile, shots, seed=seed, trajectories=trajectories, device=emulator_device)
    emulate_s, cpu_s = time.perf_counter() - t0, time.process_time() - c0
    return {**row, "status": "ok", "trajectories": result.trajectories, "emulate_s": round(emulate_s, 2),
            "emulate_cpu_s": round(cpu_s, 2), "total_s": round(compile_s + emulate_s, 2),
            "p1_stderr_mean": round(float(result.p1_stderr.mean()), 5),
            "p1_stderr_max": round(float(result.p1_stderr.max()), 5)}


def bench_crossover(n_qubits: int, samples: int, trajectories: int, seed: int) -> dict:
    """Density matrix vs trajectories on Garnet, one thread (CPU time)."""
    from qml_ops.hardware.compile import compile_spec
    from qml_ops.hardware.emulator import NoiseParams, exact_p1, trajectory_p1
    from qml_ops.hardware.profiles import load_profile

    spec, weights, features = model(n_qubits, samples, seed)
    profile = load_profile("iqm-garnet")
    circuits = compile_spec(spec, weights, profile, seed=seed).bind_batch(features)
    noise = NoiseParams.from_profile(profile)
    c0 = time.process_time()
    exact = exact_p1(circuits, noise)
    dm_s = time.process_time() - c0
    c0 = time.process_time()
    traj = trajectory_p1(circuits, noise, trajectories=trajectories, seed=seed, num_threads=1)
    traj_s = time.process_time() - c0
    z = (traj.p1 - exact) / np.maximum(traj.p1_stderr, 1e-12)
    return {"qubits": n_qubits, "device": "iqm-garnet", "samples": samples, "qubits_used": len(circuits[0].qubits),
            "density_matrix_cpu_s": round(dm_s, 2), "trajectories": trajectories,
            "trajectories_cpu_s": round(traj_s, 2), "max_abs_z": round(float(np.abs(z).max()), 2)}


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
    parser.add_argument("--samples", type=int, default=None, help="default: 100 (48 with --scale/--crossover)")
    parser.add_argument("--shots", type=int, default=None, help="default: 1000 (512 with --scale)")
    parser.add_argument("--braket-samples", type=int, default=3,
                        help="circuits run on LocalEmulator (time extrapolated)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--scale", type=int, nargs="+", metavar="QUBITS",
                        help="stage-like runs of these model sizes (section 'scale')")
    parser.add_argument("--crossover", type=int, nargs="+", metavar="QUBITS",
                        help="density matrix vs trajectories at these sizes (section 'method_crossover')")
    parser.add_argument("--trajectories", type=int, default=64)
    parser.add_argument("--emulator-device", default="cpu", help="cpu | cuda (scale runs)")
    parser.add_argument("--max-qubits", type=int, default=26,
                        help="scale runs: skip circuits on more qubits (hardware.emulator_max_qubits)")
    args = parser.parse_args(argv)

    import torch

    if args.scale or args.crossover:
        return main_scale(args, argv, torch)
    args.samples, args.shots = args.samples or 100, args.shots or 1000
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
        **_existing(args.out),
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


def _existing(path: Path) -> dict:
    """The results file as it is (each part rewrites only its own section)."""
    return json.loads(path.read_text()) if path.exists() else {}


def _machine(torch) -> dict:
    gpu = torch.cuda.get_device_name() if torch.cuda.is_available() else None
    return {"platform": platform.platform(), "processor": platform.processor(), "cpu_count": os.cpu_count(),
            "torch_threads": torch.get_num_threads(), "gpu": gpu, "torch": torch.__version__}


def main_scale(args, argv, torch) -> int:
    result = _existing(args.out)
    command = "benchmarks/bench_emulator.py " + " ".join(argv or [])
    if args.crossover:
        rows = []
        for n in args.crossover:
            rows.append(bench_crossover(n, args.samples or 48, args.trajectories, args.seed))
            print(json.dumps(rows[-1]), flush=True)
        result["method_crossover"] = {"benchmark": "density matrix vs trajectories, one CPU thread, CPU seconds",
                                      "machine": _machine(torch), "command": command, "rows": rows}
    if args.scale:
        samples, shots = args.samples or 48, args.shots or 512
        section = result.get("scale", {})
        kept = [r for r in section.get("rows", []) if (r["qubits"], r["device"], r["emulator_device"]) not in
                {(n, d, args.emulator_device) for n in args.scale for d in args.devices}]
        rows = []
        for n in args.scale:
            for device_id in args.devices:
                rows.append(bench_scale(n, device_id, samples, shots, args.trajectories, args.emulator_device,
                                        args.max_qubits, args.seed))
                print(json.dumps(rows[-1]), flush=True)
        all_rows = sorted(kept + rows, key=lambda r: (r["emulator_device"], r["qubits"], ONLINE.index(r["device"])
                                                      if r["device"] in ONLINE else 99))
        totals = {}
        for r in all_rows:
            if r.get("status") == "ok":
                key = f"{r['qubits']}q-{r['emulator_device']}"
                totals[key] = round(totals.get(key, 0.0) + r["total_s"], 1)
        machines = section.get("machines", {})
        machines[args.emulator_device] = _machine(torch)
        result["scale"] = {
            "benchmark": f"stage-like emulated validation ({samples} samples x {shots} shots), SU(4) QCNN, "
                         f"method auto, {args.trajectories} trajectories",
            "machines": machines, "command": command, "rows": all_rows,
            "total_s_per_size_and_device": totals,
        }
        print(f"\n{'qubits':>6s} {'device':26s} {'method':14s} {'used':>4s} {'2q':>4s} {'depth':>5s} "
              f"{'compile s':>9s} {'emulate s':>9s} {'p1 stderr':>9s}")
        for r in all_rows:
            if r.get("status") != "ok":
                print(f"{r['qubits']:6d} {r['device']:26s} unsupported: {r['reason']}")
                continue
            print(f"{r['qubits']:6d} {r['device']:26s} {r['method']:14s} {r['qubits_used']:4d} "
                  f"{r['two_qubit_gates']:4d} {r['depth']:5d} {r['compile_s']:9.1f} {r['emulate_s']:9.1f} "
                  f"{r['p1_stderr_mean']:9.4f}")
        print("totals (compile + emulate, all devices):", totals)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
