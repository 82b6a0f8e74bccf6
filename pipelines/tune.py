"""DVC stage `tune`: an Optuna study over the QCNN in simulation.

Creates or resumes the study (storage: tune.storage, default optuna/<study>.db)
and runs it to tune.n_trials in total; every trial is an MLflow run nested
under the study's run. Outputs tune/best_params.json, metrics/tune.json (counts
and best value), reports/tune.json (the study, storage, best params, MLflow run,
every trial) and plots/tune/trials.csv (the tuning history).
"""

import sys

from qml_ops import io, tracking
from qml_ops.config import Params
from qml_ops.stage import run_stage
from qml_ops.tuning.runner import outputs, run_study


def main(params: Params) -> None:
    summary = run_study(params)
    for path, content in outputs(summary).items():
        (io.write_text if isinstance(content, str) else io.write_json)(path, content)
    print(f"best val accuracy {summary['best_value']:.4f} (trial {summary['best_trial']}, "
          f"{summary['n_complete']} complete, {summary['n_pruned']} pruned, {summary['n_failed']} failed): "
          f"{summary['best_params']}")


if __name__ == "__main__":
    sys.exit(run_stage("tune", main, preflight=(tracking.check_store,)))
