"""DVC stage `train`: fit the QCNN on the encoded train split, register it as `candidate`.

Outputs models/qcnn/ (model.json: weights, circuit spec, hyper-parameters;
registry.json: the MLflow run, logged model and model version), metrics/train.json
and plots/train/history.csv. The run, its learning curves and circuit drawing are
in MLflow; the model is registered with alias `candidate`.
"""

import sys

from qml_ops import io, project, tracking
from qml_ops.config import Params
from qml_ops.hardware.params_check import check_noise_model
from qml_ops.stage import run_stage
from qml_ops.training import train_and_register
from qml_ops.training_data import load_encoded


def main(params: Params) -> None:
    result = train_and_register(params, load_encoded())
    result.model.save(project.MODEL_DIR)
    io.write_json(project.REGISTRATION_FILE, result.registration.to_dict())
    io.write_json(project.TRAIN_METRICS, result.metrics)
    io.write_text(project.TRAIN_HISTORY_PLOT, result.history_csv())
    m, r = result.metrics, result.registration
    print(
        f"val accuracy {m['val_accuracy']:.4f} (best epoch {m['best_epoch']}/{m['epochs_run']}, "
        f"{m['train_seconds']:.1f} s); registered models:/{r.name}/{r.version} as @{r.alias}"
    )


if __name__ == "__main__":
    sys.exit(run_stage("train", main, checks=(check_noise_model,), preflight=(tracking.check_store,)))
