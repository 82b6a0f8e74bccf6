"""DVC stage `hardware` (gated): the registered model on QPUs or their calibrated emulators.

Prices the run first and prints the estimate. `hardware.mode`:
  emulate (default): calibrated local emulators of each device, offline and free;
  qpu: real devices, only if the estimate is within hardware.max_budget_usd and
       hardware.approve_usd, `qml-ops hardware approve` recorded an approval of this
       exact run (consumed by it; a resume needs no new one) and the period's spend
       stays within hardware.total_budget_usd; otherwise the stage is skipped (exit 0);
  off: skipped.
The estimate names each device's calibration profile date; a profile older than
hardware.max_profile_age_days gets a warning (`qml-ops devices drift DEVICE`).
With `hardware.plan: auto`, hardware.n_samples and hardware.shots come from the cheapest
run that resolves the accuracy to ±hardware.plan_halfwidth (qml_ops.hardware.planner),
before the estimate; the spend gate is the same.
Outputs metrics/hardware.json (numbers only), reports/hardware.json (everything,
with each device's gate verdict and reasons) and plots/hardware/*.csv (DVC plot
data); logs a `hardware-<mode>` MLflow run with one child run for the simulator
and one per device, puts their metrics on the registered model and its model
card, promotes a version whose devices pass hardware.gate, and ends with a table
of the simulator and every device.
"""

import sys
import tempfile
from pathlib import Path

from qml_ops import io, plots, project, tracking
from qml_ops.config import Params
from qml_ops.hardware import approvals, drift, reporting
from qml_ops.hardware.params_check import check_hardware_params
from qml_ops.hardware.planner import apply_plan
from qml_ops.hardware.validation import estimates, gate_decision
from qml_ops.stage import run_stage


def write(report: reporting.HardwareReport) -> None:
    io.write_json(project.HARDWARE_METRICS, report.metrics)
    io.write_json(project.HARDWARE_REPORT, report.report)
    for name, text in report.plots.items():
        io.write_text(project.HARDWARE_PLOTS_DIR / name, text)


def main(params: Params) -> None:
    hw = params.hardware
    if hw.mode == "off":
        write(reporting.skipped(hw, "hardware.mode is 'off'", {}))
        print("hardware: mode 'off', skipped")
        return
    if hw.plan == "auto":  # n_samples x shots from the plan; then priced, shown and gated as any run
        params = apply_plan(params)
        hw = params.hardware
    prices = estimates(hw)
    print(reporting.estimate_table(prices, hw.mode))
    for warning in drift.stale_profile_warnings(hw.devices, hw.max_profile_age_days):
        print(f"hardware: warning: {warning}")
    if hw.mode == "qpu":
        decision = gate_decision(hw, prices)
        if decision.allowed:  # ceilings passed: now this run's recorded approval and the period's budget
            decision = approvals.stage_decision(params, prices)
        if not decision.allowed:
            write(reporting.skipped(hw, decision.reason, prices))
            print(f"hardware: skipped, no task created: {decision.reason}")
            return
    with tempfile.TemporaryDirectory() as tmp:
        report = reporting.validate_registered_model(params, prices, Path(tmp))
    write(report)
    for fig in report.figures.values():
        plots.close(fig)
    print(report.text)


if __name__ == "__main__":
    sys.exit(run_stage("hardware", main, checks=(check_hardware_params,), preflight=(tracking.check_store,)))
