"""DVC stage `baseline`: classical models on the QCNN's encoded features.

Logistic regression and an MLP of about the QCNN's parameter count, each an
MLflow run beside the QCNN's; outputs metrics/baseline.json.
"""

import sys

from qml_ops import baselines, io, project, tracking
from qml_ops.config import Params
from qml_ops.stage import run_stage
from qml_ops.training_data import load_encoded


def main(params: Params) -> None:
    results = baselines.fit_from_params(params, load_encoded())
    baselines.log_runs(results, params)
    io.write_json(project.BASELINE_METRICS, baselines.summary(results))
    for result in results:
        print(f"{result.name:7s} ({result.n_params} params): test accuracy {result.test_accuracy:.4f}")


if __name__ == "__main__":
    sys.exit(run_stage("baseline", main, preflight=(tracking.check_store,)))
