"""Training wall time of the default model: digits 0 vs 1, 8 qubits, angle, SU(4), batch 32, Adam 0.01.

The model and data are the pipeline's defaults (``params.yaml`` without tuned
parameters: ``prepare`` digits 0/1, ``encode`` angle on 8 qubits, ``model``
ansatz 9, ``train`` Adam lr 0.01, batch 32, 30 epochs), prepared and encoded
as the ``prepare`` and ``encode`` stages do. Early stopping is off by default
(``--patience 0``) so every repeat trains all 30 epochs; ``train_seconds`` is the
wall time of ``QCNNClassifier.fit`` (per-epoch train and validation accuracy
included), the median over ``--repeats`` runs, each in a fresh process with
``--threads`` torch threads. The first ``torch.optim`` optimizer of a process
imports ``torch._dynamo`` (1-3 s here, whatever the simulator); that import is
timed separately (``optimizer_import_seconds``), before the clock of
``train_seconds`` starts. The test accuracy is reported so a faster run can be
seen to learn the same model.

Usage::

    .venv/bin/python benchmarks/bench_train.py                 # 1 and 2 threads, 3 repeats
    .venv/bin/python benchmarks/bench_train.py --threads 1 --repeats 5

Writes ``benchmarks/results/train.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results" / "train.json"


def worker(threads: int, epochs: int, patience: int) -> dict:
    """Train once in this process; returns a result row."""
    import torch

    torch.set_num_threads(threads)
    from qml_ops import data
    from qml_ops.config import parse_params
    from qml_ops.encodings import make_encoder
    from qml_ops.training import model_from_params

    params = parse_params({"train": {"epochs": epochs, "patience": patience, "use_tuned": False,
                                     "threads": threads}})
    p, e = params.prepare, params.encode
    prepared = data.prepare(p.dataset, p.classes, p.split.model_dump(), seed=p.seed)
    encoder = make_encoder(e.method, e.n_qubits).fit(prepared.splits["train"].X)
    splits = {name: (encoder.transform(s.X), s.y) for name, s in prepared.splits.items()}
    model = model_from_params(params)
    started = time.perf_counter()
    import torch._dynamo  # noqa: F401  (torch.optim imports it on first use: ~1-3 s, not training)

    imported = time.perf_counter()
    model.fit(*splits["train"], *splits["val"])
    seconds = time.perf_counter() - imported
    return {
        "train_seconds": round(seconds, 3),
        "optimizer_import_seconds": round(imported - started, 3),
        "epochs_run": len(model.history_),
        "test_accuracy": model.score(*splits["test"]),
        "n_train": int(len(splits["train"][1])),
        "spec": model.spec.to_dict(),
        "batch_size": model.batch_size,
        "optimizer": model.optimizer,
        "lr": model.lr,
    }


def _run_once(threads: int, args) -> dict:
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    cmd = [sys.executable, __file__, "--worker", "--threads", str(threads), "--epochs", str(args.epochs),
           "--patience", str(args.patience)]
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise SystemExit(f"training worker failed:\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", type=int, nargs="+", default=[1, 2], help="torch threads (one row each)")
    p.add_argument("--repeats", type=int, default=3, help="fresh-process runs per row (median reported)")
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--patience", type=int, default=0, help="early stopping (0: off, all epochs run)")
    p.add_argument("--label", default="qml-ops", help="name of this code version in the output")
    p.add_argument("--out", type=Path, default=RESULTS)
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker:
        print(json.dumps(worker(args.threads[0], args.epochs, args.patience)))
        return 0

    rows = []
    print(f"{'threads':>7} {'train s (median)':>17} {'runs':>24} {'epochs':>6} {'test acc':>8} {'import s':>8}")
    for threads in args.threads:
        runs = [_run_once(threads, args) for _ in range(args.repeats)]
        secs = [r["train_seconds"] for r in runs]
        row = dict(runs[0], label=args.label, threads=threads, train_seconds=round(statistics.median(secs), 3),
                   train_seconds_runs=secs, test_accuracies=[r["test_accuracy"] for r in runs],
                   optimizer_import_seconds=round(statistics.median(r["optimizer_import_seconds"] for r in runs), 3))
        row.pop("test_accuracy")
        rows.append(row)
        print(f"{threads:>7} {row['train_seconds']:>17.2f} {str(secs):>24} {row['epochs_run']:>6} "
              f"{statistics.mean(row['test_accuracies']):>8.3f} {row['optimizer_import_seconds']:>8.2f}", flush=True)
    result = {
        "rows": rows,
        "notes": [
            "train_seconds: median wall time of QCNNClassifier.fit over fresh-process runs",
            "optimizer_import_seconds: torch.optim's first-use import of torch._dynamo, done before fit",
            "model: params.yaml defaults without tuning (digits 0/1, angle, 8 qubits, ansatz 9, "
            "Adam lr 0.01, batch 32), early stopping off unless --patience is set",
        ],
        "machine": platform.platform(),
        "cpu_count": os.cpu_count(),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
