"""DVC stage `hardware` (gated): the registered model on QPUs or their calibrated emulators.

Prices the run first and prints the estimate. `hardware.mode`:
  emulate (default): calibrated local emulators of each device, offline and free;
  qpu: real devices, only if the estimate is within hardware.max_budget_usd and
       hardware.approve_usd, `qml-ops hardware approve` recorded an approval of this
       exact run (consumed by it; a resume needs no new one) and the period's spend
       stays within hardware.total_budget_usd; otherwise the stage is skipped (exit 0);
  off: skipped.
Outputs metrics/hardware.json and plots/hardware/*.png; logs a `hardware` run
linked to the training run, puts the device metrics on the registered model,
and promotes a version whose devices pass hardware.gate.
"""

import sys
import tempfile
from pathlib import Path

from qml_ops import io, plots, project, tracking
from qml_ops.config import Params
from qml_ops.hardware import approvals, reporting
from qml_ops.hardware.params_check import check_hardware_params
from qml_ops.hardware.validation import estimates, gate_decision
from qml_ops.stage import run_stage

METRICS = project.HARDWARE_METRICS
PLOTS = project.HARDWARE_PLOTS_DIR


def main(params: Params) -> None:
    hw = params.hardware
    if hw.mode == "off":
        io.write_json(METRICS, reporting.skipped(hw, "hardware.mode is 'off'", {}))
        print("hardware: mode 'off', skipped")
        return
    prices = estimates(hw)
    print(reporting.estimate_table(prices, hw.mode))
    if hw.mode == "qpu":
        decision = gate_decision(hw, prices)
        if decision.allowed:  # ceilings passed: now this run's recorded approval and the period's budget
            decision = approvals.stage_decision(params, prices)
        if not decision.allowed:
            io.write_json(METRICS, reporting.skipped(hw, decision.reason, prices))
            print(f"hardware: skipped, no task created: {decision.reason}")
            return
    with tempfile.TemporaryDirectory() as tmp:
        report = reporting.validate_registered_model(params, prices, Path(tmp))
    io.write_json(METRICS, report.summary)
    for name, fig in report.figures.items():
        io.write_figure(PLOTS / name, fig, dpi=110)
        plots.close(fig)
    print(reporting.results_text(report.summary))


if __name__ == "__main__":
    sys.exit(run_stage("hardware", main, checks=(check_hardware_params,), preflight=(tracking.check_store,)))
