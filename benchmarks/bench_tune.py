"""Tuning throughput: trials per minute of the default `tune` stage (digits, 8 qubits, 20 trials),
with 1 and with 2 local worker processes, each on a fresh study in a temporary project.

    .venv/bin/python benchmarks/bench_tune.py [--trials 20]

Prints a table and writes benchmarks/results/tune.json.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]


def make_project(root: Path, trials: int, study: str) -> None:
    from qml_ops import data, io, project
    from qml_ops.config import load_params
    from qml_ops.encodings import make_encoder

    root.mkdir(parents=True)
    (root / "dvc.yaml").write_text("stages: {}\n")
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    params["tune"].update({"n_trials": trials, "study": study})
    params["tracking"]["experiment"] = "bench-tune"
    (root / "params.yaml").write_text(yaml.safe_dump(params))
    p = load_params(root / "params.yaml")
    prepared = data.prepare(p.prepare.dataset, p.prepare.classes, p.prepare.split.model_dump(), seed=p.prepare.seed)
    encoder = make_encoder(p.encode.method, p.encode.n_qubits).fit(prepared.splits["train"].X)
    for name, split in prepared.splits.items():
        io.write_npz(root / project.ENCODED_DIR / f"{name}.npz", X=encoder.transform(split.X), y=split.y)


def measure(workers: int, trials: int) -> dict:
    from qml_ops.config import load_params
    from qml_ops.tuning.runner import run_study

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "proj"
        make_project(root, trials, f"bench-{workers}w")
        cwd = os.getcwd()
        os.chdir(root)
        os.environ["QML_OPS_PROJECT_ROOT"] = str(root)
        os.environ.pop("MLFLOW_TRACKING_URI", None)
        try:
            params = load_params("params.yaml")
            started = time.perf_counter()
            summary = run_study(params, "params.yaml", workers=workers, progress=False)
            wall = time.perf_counter() - started
        finally:
            os.chdir(cwd)
        return {
            "workers": workers,
            "trials": summary["n_finished"],
            "complete": summary["n_complete"],
            "pruned": summary["n_pruned"],
            "failed": summary["n_failed"],
            "wall_s": round(wall, 1),
            "trials_per_min": round(60 * summary["n_finished"] / wall, 1),
            "best_value": summary["best_value"],
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--out", default=str(REPO / "benchmarks/results/tune.json"))
    args = parser.parse_args()
    rows = [measure(w, args.trials) for w in (1, 2)]
    print(f"{'workers':>7s} {'trials':>6s} {'pruned':>6s} {'wall s':>7s} {'trials/min':>10s} {'best val acc':>12s}")
    for r in rows:
        print(f"{r['workers']:7d} {r['trials']:6d} {r['pruned']:6d} {r['wall_s']:7.1f} {r['trials_per_min']:10.1f} "
              f"{r['best_value']:12.4f}")
    Path(args.out).write_text(json.dumps({"rows": rows, "cpus": os.cpu_count()}, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
