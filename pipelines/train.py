"""DVC stage `train`: fit the QCNN on the encoded train split, register it as `candidate`.

Outputs models/qcnn/ (model.json: weights, circuit spec, hyper-parameters;
registry.json: the MLflow model version), metrics/train.json and
plots/train/history.csv. The run, its learning curves and circuit drawing are
in MLflow; the model is registered with alias `candidate`.
"""

import sys

from qml_ops.config import Params
from qml_ops.stage import run_stage
from qml_ops.training import train_and_register
from qml_ops.training_data import load_encoded


def main(params: Params) -> None:
    result = train_and_register(params, load_encoded())
    print(
        f"val accuracy {result['val_accuracy']:.4f} (best epoch {result['best_epoch']}/{result['epochs_run']}, "
        f"{result['train_seconds']:.1f} s); registered models:/{result['name']}/{result['version']} "
        f"as @{result['alias']}"
    )


if __name__ == "__main__":
    sys.exit(run_stage("train", main))
