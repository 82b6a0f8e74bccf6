"""DVC stage `tune`: an Optuna study over the QCNN in simulation, measured on the target device(s).

Creates or resumes the study (storage: tune.storage, default optuna/<study>.db)
and runs it to tune.n_trials in total; every trial is an MLflow run nested
under the study's run, with its objective values and its two-qubit gates on the
target device. Outputs tune/best_params.json (the trial tune.select picks, and
why), metrics/tune.json (counts, the selection's figures, the Pareto front under
`pareto`), reports/tune.json (the study, storage, the selection's reason, MLflow
run, every trial) and plots/tune/trials.csv (the tuning history).
tune.target_devices are checked against the device catalogue before any trial.
"""

import sys

from qml_ops import io, tracking
from qml_ops.config import Params
from qml_ops.hardware.params_check import check_target_devices
from qml_ops.stage import run_stage
from qml_ops.tuning.runner import outputs, run_study


def main(params: Params) -> None:
    summary = run_study(params)
    for path, content in outputs(summary).items():
        (io.write_text if isinstance(content, str) else io.write_json)(path, content)
    print(f"selected trial {summary['best_trial']} (val accuracy {summary['selection']['val_accuracy']:.4f}; "
          f"{summary['n_complete']} complete, {summary['n_pruned']} pruned, {summary['n_failed']} failed): "
          f"{summary['best_params']}")
    if len(summary["objectives"]) > 1:
        print(f"Pareto front: {len(summary['pareto'])} trial(s); {summary['selection_reason']}")


if __name__ == "__main__":
    sys.exit(run_stage("tune", main, checks=(check_target_devices,), preflight=(tracking.check_store,)))
