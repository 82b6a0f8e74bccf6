"""The run planner against the seed's configuration: the same precision, at what cost?

The default model (params.yaml defaults without tuning: digits 0/1, angle, 8 qubits,
ansatz 9, the pipeline's split) is trained in-process; its exact ⟨Z⟩ on the test split
are the margins :mod:`qml_ops.hardware.planner` plans with. For IQM Garnet, IQM Emerald
and Rigetti Ankaa-3 (retired; at its price) the seed's configuration (48 inferences x
512 shots, one task each) is priced and its half-width computed; then the cheapest plan
that reaches the same half-width, and the plans for ±0.05 and ±0.03. Prints a table and
writes benchmarks/results/planner.json.

    .venv/bin/python benchmarks/bench_planner.py
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from qml_ops import data
from qml_ops.config import parse_params
from qml_ops.cost import estimate
from qml_ops.encodings import make_encoder
from qml_ops.hardware.devices import get_device
from qml_ops.hardware.planner import TestMargins, TestSplitTooSmallError, achieved, plan_device
from qml_ops.training import model_from_params

DEVICES = ("iqm-garnet", "iqm-emerald", "rigetti-ankaa-3")
SEED_SAMPLES, SEED_SHOTS = 48, 512
RESULTS = Path(__file__).resolve().parent / "results" / "planner.json"


def default_model_margins() -> tuple[TestMargins, dict]:
    params = parse_params({"train": {"use_tuned": False}})
    p, enc = params.prepare, params.encode
    prepared = data.prepare(p.dataset, p.classes, p.split.model_dump(), seed=p.seed)
    encoder = make_encoder(enc.method, enc.n_qubits).fit(prepared.splits["train"].X)
    splits = {name: (encoder.transform(s.X), s.y) for name, s in prepared.splits.items()}
    model = model_from_params(params)
    started = time.perf_counter()
    model.fit(*splits["train"], *splits["val"])
    X_test, y_test = splits["test"]
    margins = TestMargins(z=model.expval(X_test), y=y_test)
    facts = {"dataset": p.dataset, "n_qubits": enc.n_qubits, "ansatz": params.model.ansatz,
             "train_seconds": round(time.perf_counter() - started, 2), "test_samples": margins.n,
             "test_accuracy": margins.accuracy}
    return margins, facts


def row(label: str, device_id: str, n: int, shots: int, tasks: int, cost: float, halfwidth: float,
        qpu_s: float | None) -> dict:
    return {"config": label, "device": device_id, "n_samples": n, "shots": shots, "tasks": tasks,
            "cost_usd": cost, "halfwidth": round(halfwidth, 4), "expected_qpu_time_s": qpu_s}


def main() -> None:
    argparse.ArgumentParser(description=__doc__.splitlines()[0]).parse_args()
    margins, facts = default_model_margins()
    rows = []
    for device_id in DEVICES:
        device = get_device(device_id, allow_retired=True)
        seed = estimate(device, SEED_SAMPLES, SEED_SHOTS, one_task_per_inference=True)
        seed_width = achieved(margins, SEED_SAMPLES, SEED_SHOTS)
        rows.append(row("seed 48x512, one task each", device_id, SEED_SAMPLES, SEED_SHOTS, seed.tasks,
                        float(seed.cost_usd), seed_width, seed.expected_latency_s))
        started = time.perf_counter()
        for label, width in (("plan, same half-width", seed_width), ("plan ±0.05", 0.05), ("plan ±0.03", 0.03)):
            try:
                plan = plan_device(device, margins, width)
            except TestSplitTooSmallError as exc:
                rows.append({"config": label, "device": device_id, "error": str(exc)})
                continue
            rows.append(row(label, device_id, plan.n_samples, plan.shots, plan.estimate.tasks,
                            float(plan.cost_usd), plan.halfwidth, plan.estimate.expected_latency_s))
        rows[-3]["saving_vs_seed"] = round(rows[-4]["cost_usd"] / rows[-3]["cost_usd"], 1)
        rows[-1]["planning_seconds"] = round(time.perf_counter() - started, 2)
    doc = {"model": facts, "rows": rows,
           "notes": ["halfwidth: Wilson half-width at the expected accuracy + expected shot-misread fraction "
                     "(qml_ops.hardware.planner), 95% confidence",
                     "seed: the reference case study's configuration, 48 inferences x 512 shots, one task each",
                     "plans use program sets where the device has them; "
                     "prices: https://aws.amazon.com/braket/pricing/"]}
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(doc, indent=2) + "\n")
    print(f"default model: {facts}")
    print(f"{'device':18s} {'config':28s} {'samples':>7s} {'shots':>6s} {'tasks':>5s} {'cost':>9s} "
          f"{'half-width':>10s} {'QPU time':>9s}")
    for r in rows:
        if "error" in r:
            print(f"{r['device']:18s} {r['config']:28s} {r['error']}")
            continue
        qpu = "n/a" if r["expected_qpu_time_s"] is None else f"{r['expected_qpu_time_s']:.0f} s"
        extra = f"  ({r['saving_vs_seed']}x cheaper)" if "saving_vs_seed" in r else ""
        print(f"{r['device']:18s} {r['config']:28s} {r['n_samples']:7d} {r['shots']:6d} {r['tasks']:5d} "
              f"${r['cost_usd']:8.2f} {r['halfwidth']:10.4f} {qpu:>9s}{extra}")
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
