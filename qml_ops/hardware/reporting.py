"""The hardware stage's workflow: registered model in, device evidence and promotion out.

Reads ``models:/<name>@<hardware.model_alias>``, validates it on every device
(:mod:`qml_ops.hardware.validation`) with the backend ``hardware.mode`` names
(:mod:`qml_ops.hardware.backends`) and logs, in MLflow, a ``hardware-<mode>``
parent run linked to the training run with one nested child run for the
simulator reference and one per device, all with the same metric and param keys
(:mod:`qml_ops.hardware.evidence`): one bar chart of ``accuracy`` in the chart
view shows them side by side. Each child run also holds its per-sample table and
the gate's verdict, and its metrics go on the registered model's logged model
(one model page holds the simulator and hardware figures). Devices that pass
``hardware.gate`` on their 95% intervals promote the version
(``hardware-validated`` for real QPUs, ``emulator-validated`` for emulated runs:
an emulator is not hardware); the version's model card gets the device table.
A device that cannot run the model (status ``unsupported``: too few qubits, or a
compiled circuit the emulator cannot run at its configured cost) gets a child run
with its reason and no metrics, and is left out of the metrics file, plots and
promotion; the stage fails only when no device could run.

Returns a :class:`HardwareReport` for the stage to write (``metrics/hardware.json``:
numbers only; ``reports/hardware.json``: everything; ``plots/hardware/*.csv``: DVC
plot data) and print (the closing table).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from qml_ops import plots, tracking
from qml_ops.config import HardwareParams, Params
from qml_ops.cost import Estimate
from qml_ops.encodings import encoder_from_dict
from qml_ops.errors import HardwareError
from qml_ops.hardware import evidence
from qml_ops.hardware.backends import (
    Backend, BackendOptions, DeviceRun, EmulatorSettings, QpuSettings, backend_for, backend_name,
)
from qml_ops.hardware.approvals import run_key_prefix
from qml_ops.hardware.band_coverage import record_coverage
from qml_ops.hardware.ledger import default_ledger_path
from qml_ops.hardware.profiles import load_profile
from qml_ops.hardware.validation import OK, DeviceResult, device_for, total_estimate, validate_device
from qml_ops.hardware.verdict import GateLimits
from qml_ops.model import QCNNClassifier
from qml_ops.money import usd
from qml_ops.training_data import load_prepared


def estimate_table(prices: dict[str, Estimate], mode: str) -> str:
    """The estimate per device and in total, as printed before anything runs (with the date of the
    calibration profile each device's emulator uses)."""
    from qml_ops.hardware.drift import profile_date

    lines = [f"hardware: cost estimate (mode {mode!r}; {'nothing is spent' if mode != 'qpu' else 'real money'}):",
             f"  {'device':26s} {'tasks':>6s} {'shots':>9s} {'cost':>10s}  program sets  profile date"]
    for device_id, e in prices.items():
        lines.append(f"  {device_id:26s} {e.tasks:6d} {e.shots_total:9d} {usd(e.cost_usd):>10s}  "
                     f"{'yes' if e.program_sets else 'no':12s}  {profile_date(device_id) or '-'}"
                     + (f"  (incl. error mitigation: {len(e.parts)} extra runs, "
                        f"{usd(e.cost_usd - e.base_run().cost_usd)})" if e.parts else ""))
    lines.append(f"  {'total':26s} {'':6s} {'':9s} {usd(total_estimate(prices)):>10s}")
    return "\n".join(lines)


def skipped(hw: HardwareParams, reason: str, prices: dict[str, Estimate]) -> "HardwareReport":
    """What a run that ran nothing writes: the estimate, and in the report why."""
    report = {
        "status": "skipped",
        "mode": hw.mode,
        "reason": reason,
        "estimate_usd": float(total_estimate(prices)),
        "estimates": {d: e.to_dict() for d, e in prices.items()},
        "devices": {},
    }
    return HardwareReport(metrics=evidence.skipped_metrics(float(total_estimate(prices))), report=report,
                          plots=evidence.plot_tables([]))  # empty tables: DVC's outputs exist


def load_model(params: Params, dest: Path):
    """The registered model version, the classifier and its encoder."""
    hw = params.hardware
    name = params.train.registered_model
    version, artifacts = tracking.download_registered_model(name, hw.model_alias, dest)
    model = QCNNClassifier.load(artifacts)
    encoder = encoder_from_dict(json.loads((artifacts / "encoder.json").read_text()))
    return version, model, encoder


def validation_samples(n_samples: int) -> tuple[np.ndarray, np.ndarray]:
    """The first ``n_samples`` samples of the test split (raw, as the registered model takes them).

    Raises:
        HardwareError: the test split has fewer samples (the run was priced for ``n_samples``).
    """
    X_raw, y = load_prepared("test")
    if n_samples > len(y):
        raise HardwareError(
            f"hardware.n_samples = {n_samples}: the test split has only {len(y)} samples; set "
            f"hardware.n_samples to at most {len(y)} (the run is priced and approved for that many)")
    return X_raw[:n_samples], y[:n_samples]


def check_lineage(name: str, alias: str, version: Any) -> None:
    """Refuse to score a model on test data it was not trained with.

    An alias is global (another experiment may have moved it); the test split is
    this workspace's. The training run records the DVC md5 of ``data/encoded``;
    if both sides know it and they differ, the figures would be meaningless.
    """
    from qml_ops.lineage import dvc_md5_or_none

    here = dvc_md5_or_none("data/encoded")
    trained = None
    if version.run_id:
        trained = tracking.client().get_run(version.run_id).data.tags.get("dvc.md5.data/encoded")
    if here and trained and here != trained:
        raise HardwareError(
            f"models:/{name}@{alias} is version {version.version}, trained on data/encoded {trained}, but this "
            f"workspace's data/encoded is {here} (dvc.lock): its test split is not that model's. Re-run "
            f"`dvc repro train` here, or point the alias at this workspace's model "
            f"(`qml-ops promote {name} VERSION {alias}`, VERSION from models/qcnn/registry.json)"
        )


def qpu_settings(params: Params, run_key: str, model_version: str) -> QpuSettings:
    """The real-QPU settings: approval, budget, S3, and the task ledger.

    The ledger sits in the real project (``<root>/hardware/ledger.json``, also
    for ``dvc exp run --temp`` copies), so a re-run anywhere reconnects to the
    tasks it already paid for instead of creating them again.
    """
    hw = params.hardware
    return QpuSettings(
        approve_usd=hw.approve_usd, max_budget_usd=hw.max_budget_usd, ledger_path=default_ledger_path(),
        run_key=run_key, model_version=model_version, s3_bucket=hw.s3_bucket, s3_prefix=hw.s3_prefix,
        one_task_per_inference=hw.one_task_per_inference, poll_timeout_s=hw.poll_timeout_s,
        total_budget_usd=hw.total_budget_usd, budget_period=hw.budget_period,
        refuse_outside_window=hw.refuse_outside_window, enforce_spending_limit=hw.enforce_spending_limit,
    )


def emulator_settings(hw: HardwareParams) -> EmulatorSettings:
    """The torch emulator's settings from the ``hardware`` section."""
    return EmulatorSettings(method=hw.emulator_method, trajectories=hw.trajectories, device=hw.emulator_device,
                            max_qubits=hw.emulator_max_qubits)


def build_backend(hw: HardwareParams, device_id: str, options: BackendOptions) -> Backend:
    """The backend ``hardware.mode`` (and ``hardware.emulator``) names, for one device."""
    return backend_for(backend_name(hw.mode, hw.emulator), device_for(hw, device_id), load_profile(device_id),
                       options)


def _log_ledger(run: DeviceRun) -> None:
    """Attach the task ledger of a QPU run to the MLflow run (emulators have none)."""
    ledger = run.provenance.ledger_path
    if ledger and Path(ledger).exists():
        tracking.log_artifact(Path(ledger), "ledger")


@dataclass
class HardwareReport:
    """What :func:`validate_registered_model` returns for the stage to write and print.

    Attributes:
        metrics: ``metrics/hardware.json`` (numbers and booleans only).
        report: ``reports/hardware.json`` (everything: devices, verdicts and reasons,
            layouts, profiles, cost basis, estimates, promotion, MLflow run ids).
        plots: file name -> CSV text of the DVC plot data (``plots/hardware/<name>``).
        figures: file name -> matplotlib figure, already logged to MLflow; the caller closes them.
        text: the closing lines: the results table and the promotion.
    """

    metrics: dict[str, Any]
    report: dict[str, Any]
    plots: dict[str, str] = field(default_factory=dict)
    figures: dict[str, Any] = field(default_factory=dict)
    text: str = ""

    @property
    def summary(self) -> dict[str, Any]:
        """The report (the name earlier code used)."""
        return self.report


def _simulator_row(model: QCNNClassifier, features: np.ndarray, y: np.ndarray,
                   model_facts: dict[str, str]) -> tuple[evidence.EvidenceRow, np.ndarray]:
    """The simulator's ⟨Z⟩ on the samples and its evidence row (logical circuit, wall time)."""
    started = time.perf_counter()
    z_sim = model.expval(features)
    latency = (time.perf_counter() - started) / max(1, len(y))
    gates = model.spec.gates()
    row = evidence.simulator_row(y, z_sim, model.spec.n_two_qubit_gates, evidence.logical_depth(gates),
                                 latency, model_facts)
    return row, z_sim


def _log_child_run(row: evidence.EvidenceRow, parent_tags: dict[str, str], model_id: str | None,
                   dataset_args: tuple, body=None) -> str:
    """One nested run (the simulator or a device): params, metrics (also on the logged model,
    linked to the samples' dataset), the per-sample table and the verdict. ``body`` runs inside
    the run first (it validates the device) and returns the row to log."""
    tags = {**parent_tags, "qml_ops.stage": "hardware", "hardware.device": row.name}
    with tracking.start_run(row.name, tags=tags, parent_run_id=tracking.active_run_id()) as child:
        if body is not None:
            row = body()
        dataset = tracking.log_dataset(*dataset_args)
        if model_id:
            tracking.log_model_input(model_id)
        tracking.log_params(row.params)
        tracking.log_metrics(row.metrics, model_id=model_id, dataset=dataset)
        if not row.supported:
            tracking.set_tags({"gate.verdict": evidence.UNSUPPORTED, "hardware.unsupported": row.reason[:4900],
                               "mlflow.note.content": f"Unsupported: {row.reason[:4900]}"})
        elif row.verdict is not None:
            tracking.set_tags({"gate.verdict": row.verdict.outcome, "gate.reason": row.verdict.summary[:4900],
                               "mlflow.note.content": f"Gate verdict: {row.verdict.summary[:4900]}"})
        else:  # the run page's description
            tracking.set_tags({"mlflow.note.content": "Reference: the noiseless simulator (exact <Z>) on the same "
                                                      "samples the devices ran; gap 0, cost 0."})
        if row.samples:
            tracking.log_table(row.samples, "samples.json")
        if row.details:
            tracking.log_dict({"name": row.name, **row.details}, "details.json")
        row.details["mlflow_run_id"] = child.info.run_id
    return row


def validate_registered_model(params: Params, prices: dict[str, Estimate], tmp: Path) -> HardwareReport:
    """Validate the registered model on every device; log to MLflow; promote; update the model card.

    Returns the documents, plot data, figures and closing text; writes no file (the stage does).
    """
    hw = params.hardware
    limits = GateLimits.from_params(hw.gate)
    tracking.configure(params.tracking.experiment)
    version, model, encoder = load_model(params, tmp)
    name = params.train.registered_model
    check_lineage(name, hw.model_alias, version)
    print(f"hardware: models:/{name}@{hw.model_alias} = version {version.version} "
          f"(ansatz {model.ansatz}, {model.n_qubits} qubits, {model.encoding})")
    X_raw, y = validation_samples(hw.n_samples)
    features = encoder.transform(X_raw)
    model_facts = {"model_name": name, "model_version": str(version.version), "train_run_id": version.run_id or ""}
    simulator, z_sim = _simulator_row(model, features, y, model_facts)
    run_key = run_key_prefix(name, version.version, hw.n_samples, hw.shots)
    options = BackendOptions(seed=hw.seed, qpu=qpu_settings(params, run_key, str(version.version)),
                             emulator=emulator_settings(hw))
    model_id = tracking.version_model_id(version)
    md5 = (tracking.standard_tags("hardware", ("data/prepared",)).get("dvc.md5.data/prepared") or "unversioned")
    dataset_args = (X_raw.reshape(len(X_raw), -1), y, "prepared-test", f"data/prepared/test.npz@{md5}", "evaluation")
    tags = {**tracking.standard_tags("hardware", ("data/prepared",)), "hardware.mode": hw.mode,
            "qml_ops.train_run_id": version.run_id or "", "model.name": name, "model.version": str(version.version)}
    results: list[DeviceResult] = []
    rows: list[evidence.EvidenceRow] = []
    with tracking.start_run(f"hardware-{hw.mode}", tags=tags) as run:
        tracking.log_params({f"hardware.{k}": v for k, v in hw.model_dump().items() if k not in ("prices", "gate")})
        tracking.log_params({f"hardware.gate.{k}": v for k, v in hw.gate.model_dump().items()})
        tracking.log_dict({d: e.to_dict() for d, e in prices.items()}, "estimate.json")
        tracking.log_metrics({"estimate_usd": float(total_estimate(prices))})
        child_tags = {k: v for k, v in tags.items() if k != "qml_ops.stage"}
        rows.append(_log_child_run(simulator, child_tags, model_id, dataset_args))
        for device_id in hw.devices:
            def body(device_id=device_id):
                backend = build_backend(hw, device_id, options)
                result = validate_device(hw, backend, model, features, y, z_sim, prices[device_id],
                                         after_run=_log_ledger)
                if hw.mode == "qpu" and result.status == OK:  # score the band predictor on real hardware
                    result.metrics["band_coverage_rate"] = record_coverage(
                        result, run_key=run_key, run_id=tracking.active_run_id(),
                        model_version=str(version.version))
                results.append(result)
                if result.status != OK:
                    return evidence.unsupported_row(result, model_facts)
                return evidence.device_row(result, model_facts)

            placeholder = evidence.EvidenceRow(device_id, {}, {})
            rows.append(_log_child_run(placeholder, child_tags, model_id, dataset_args, body=body))
        unsupported = {r.device: r.reason for r in results if r.status != OK}
        if len(unsupported) == len(results):
            raise HardwareError("no device could run the model: " + "; ".join(
                f"{d}: {reason}" for d, reason in unsupported.items()))
        results = [r for r in results if r.status == OK]
        device_figures = figures(rows, limits)
        for name_png, fig in device_figures.items():
            tracking.log_figure(fig, name_png)
        passed = [r.name for r in rows if r.verdict is not None and r.verdict.promotes]
        tracking.log_metrics({"devices_passed": len(passed)})
        parent_run_id = run.info.run_id
        promoted = promote(params, version, results, parent_run_id)
        report = evidence.report_document(
            rows, limits,
            mode=hw.mode, model=f"models:/{name}/{version.version}", model_alias=hw.model_alias,
            model_version=str(version.version), train_run_id=version.run_id,
            n_samples=int(len(y)), shots=hw.shots, estimate_usd=float(total_estimate(prices)),
            estimates={d: e.to_dict() for d, e in prices.items()}, promoted=promoted, mlflow_run_id=parent_run_id,
        )
        report["mlflow_comparison"] = tracking.ui_address() + tracking.share_child_runs_view(
            parent_run_id, "device", COMPARISON_COLUMNS, key=f"hardware-{parent_run_id}")
        tracking.log_dict(report, "hardware.json")
        tracking.set_tags({"hardware.promoted": promoted["alias"] if promoted else "none",
                           "hardware.comparison_view": report["mlflow_comparison"]})
    update_card(params, version, rows, limits, promoted, parent_run_id, int(len(y)),
                comparison=report["mlflow_comparison"].split("#", 1)[-1])
    text = (evidence.results_table(rows, limits, hw.mode) + "\n" + promotion_text(report)
            + f"\nhardware: MLflow comparison of the simulator and every device: {report['mlflow_comparison']}")
    return HardwareReport(
        metrics=evidence.metrics_document(rows, float(total_estimate(prices)), bool(promoted)),
        report=report, plots=evidence.plot_tables(rows), figures=device_figures, text=text,
    )


#: The runs-table columns of the comparison view (the chart view draws every metric).
COMPARISON_COLUMNS = [*(f"metrics.`{k}`" for k in ("accuracy", "accuracy_ci_low", "accuracy_ci_high", "sim2real_gap",
                                                     "sim2real_gap_ci_low", "sim2real_gap_ci_high",
                                                     "cost_per_inference_usd", "two_qubit_gates", "depth")),
                      "params.`backend`", "params.`profile_date`", "tags.`gate.verdict`"]


def promotion_text(report: dict[str, Any]) -> str:
    """One line: the alias the run moved, or why it moved none."""
    promoted = report.get("promoted")
    if promoted:
        return (f"hardware: promoted {report['model']} to @{promoted['alias']} "
                f"(devices passing hardware.gate: {', '.join(promoted['devices'])})")
    outcomes = [g["verdict"] for g in report.get("gate", {}).values()]
    counts = ", ".join(f"{outcomes.count(o)} {o}" for o in ("inconclusive", "fail") if o in outcomes)
    return f"hardware: {report['model']} not promoted: no device passed hardware.gate ({counts or 'no device'})"


def results_text(report: dict[str, Any]) -> str:
    """The promotion line of a report (the table comes with :class:`HardwareReport`)."""
    return promotion_text(report)


def promote(params: Params, version: Any, results: list[DeviceResult], run_id: str) -> dict[str, Any] | None:
    """Tag the version with each device's evidence; alias it if any device passed the gate
    (an inconclusive verdict does not)."""
    hw = params.hardware
    name = params.train.registered_model
    tags = {}
    for r in results:
        prefix = f"{'hw' if hw.mode == 'qpu' else 'emu'}.{r.device}"
        tags.update({f"{prefix}.accuracy": round(r.metrics["accuracy"], 6),
                     f"{prefix}.sim2real_gap": round(r.metrics["sim2real_gap"], 6),
                     f"{prefix}.passed_gate": r.passed_gate,
                     f"{prefix}.run_id": run_id})
    tracking.set_model_version_tags(name, str(version.version), tags)
    passed = [r.device for r in results if r.passed_gate]
    if not passed:
        return None
    alias = hw.promote_alias if hw.mode == "qpu" else hw.emulated_alias
    tracking.set_alias(name, str(version.version), alias)
    return {"alias": alias, "version": str(version.version), "devices": passed}


def update_card(params: Params, version: Any, rows: list[evidence.EvidenceRow], limits: GateLimits,
                promoted: dict[str, Any] | None, run_id: str, n_samples: int, comparison: str = "") -> None:
    """The model card's ``hardware`` section: the device table, the gate and the alias it set."""
    hw = params.hardware
    if not version.run_id:
        return
    kind = "real QPUs" if hw.mode == "qpu" else "calibrated emulators"
    aliases = {}
    if promoted:
        aliases[promoted["alias"]] = (f"set by the `hardware` stage ({kind}): {', '.join(promoted['devices'])} "
                                      f"passed `hardware.gate` over the whole 95% intervals")
    section = {"mode": hw.mode, "n_samples": n_samples, "shots": hw.shots, "run_id": run_id, "comparison": comparison,
               "gate_limits": {"max_gap": limits.max_gap, "min_accuracy": limits.min_accuracy,
                               "max_cost_per_inference_usd": limits.max_cost_per_inference_usd},
               "rows": evidence.card_rows(rows), "aliases": aliases}
    tracking.update_model_card(params.train.registered_model, str(version.version), version.run_id, "hardware",
                               section)


def figures(rows: list[evidence.EvidenceRow], limits: GateLimits) -> dict[str, Any]:
    """The MLflow figures of the parent run: accuracy with intervals, cost vs accuracy, ⟨Z⟩ error
    (devices that could not run the model are left out)."""
    rows = [r for r in rows if r.supported]
    labels = [r.name for r in rows]
    accuracy = plots.interval_bars(
        labels, [r.metrics["accuracy"] for r in rows], [r.metrics["accuracy_ci_low"] for r in rows],
        [r.metrics["accuracy_ci_high"] for r in rows], ylabel="test accuracy (95% interval)",
        title="Accuracy per device vs the simulator", threshold=(limits.min_accuracy, "gate: min_accuracy"),
    )
    cost = plots.scatter(
        {r.name: (r.metrics["cost_per_inference_usd"], r.metrics["accuracy"]) for r in rows},
        xlabel="cost per inference (USD)",
        ylabel="accuracy",
        title="Cost vs accuracy",
    )
    devices = [r for r in rows if r.name != evidence.SIMULATOR]
    expval = plots.bars(
        [r.name for r in devices],
        {"mean |<Z>sim - <Z>device|": [r.metrics["expval_mae"] for r in devices]},
        ylabel="mean |⟨Z⟩ error|",
        title="Read-out expectation error vs the simulator",
    )
    return {"accuracy_per_device.png": accuracy, "cost_vs_accuracy.png": cost, "expval_error_per_device.png": expval}
