"""DVC stage `baseline`: classical models on the QCNN's encoded features.

Logistic regression and an MLP of about the QCNN's parameter count, each an
MLflow run beside the QCNN's; outputs metrics/baseline.json.
"""

import sys

import numpy as np

from qml_ops import io, project, tracking
from qml_ops.baselines import fit_baselines
from qml_ops.circuits.qcnn import QCNNSpec
from qml_ops.config import Params
from qml_ops.stage import run_stage
from qml_ops.training_data import load_encoded


def main(params: Params) -> None:
    splits = load_encoded()
    spec = QCNNSpec(n_qubits=params.encode.n_qubits, ansatz=params.model.ansatz, encoding=params.encode.method)
    b = params.baseline
    results = fit_baselines(splits, spec.n_weights, seed=params.train.seed, mlp_hidden=b.mlp_hidden, max_iter=b.max_iter)
    tracking.configure(params.tracking.experiment)
    tags = tracking.standard_tags("baseline")
    summary = {}
    for result in results:
        with tracking.start_run(f"baseline-{result.name}", tags={**tags, "model.family": "classical"}):
            tracking.log_params({**params.flat(), "baseline.model": result.name})
            tracking.log_metrics(result.as_metrics())
        summary[result.name] = result.as_metrics()
        print(f"{result.name:7s} ({result.n_params} params): test accuracy {result.test_accuracy:.4f}")
    io.write_json(project.METRICS_DIR / "baseline.json", summary)


if __name__ == "__main__":
    sys.exit(run_stage("baseline", main))
