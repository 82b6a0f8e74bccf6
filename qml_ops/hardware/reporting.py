"""The hardware stage's workflow: registered model in, device metrics and promotion out.

Reads ``models:/<name>@<hardware.model_alias>``, validates it on every device
(:mod:`qml_ops.hardware.validation`) with the backend ``hardware.mode`` names
(:mod:`qml_ops.hardware.backends`), logs a ``hardware`` MLflow run linked to
the training run and metrics on the registered model's logged model (so the
simulator and hardware figures sit on one model page), and returns the summary
and figures for the stage to write (``metrics/hardware.json``,
``plots/hardware/*.png``). Devices that pass ``hardware.gate`` promote the
version (``hardware-validated`` for real QPUs, ``emulator-validated`` for
emulated runs: an emulator is not hardware). A device that cannot run the model
(status ``unsupported``) is reported with its reason and left out of the
aggregates (figures, metrics, gate, promotion); the stage fails only when no
device could run.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from qml_ops import plots, tracking
from qml_ops.config import HardwareParams, Params
from qml_ops.cost import Estimate
from qml_ops.encodings import encoder_from_dict
from qml_ops.errors import HardwareError
from qml_ops.hardware.backends import (
    Backend, BackendOptions, DeviceRun, EmulatorSettings, QpuSettings, backend_for, backend_name,
)
from qml_ops.hardware.ledger import default_ledger_path
from qml_ops.hardware.profiles import load_profile
from qml_ops.hardware.validation import OK, DeviceResult, device_for, total_estimate, validate_device
from qml_ops.model import QCNNClassifier
from qml_ops.money import usd
from qml_ops.training_data import load_prepared


def estimate_table(prices: dict[str, Estimate], mode: str) -> str:
    """The estimate per device and in total, as printed before anything runs."""
    lines = [f"hardware: cost estimate (mode {mode!r}; {'nothing is spent' if mode != 'qpu' else 'real money'}):",
             f"  {'device':26s} {'tasks':>6s} {'shots':>9s} {'cost':>10s}  program sets"]
    for device_id, e in prices.items():
        lines.append(f"  {device_id:26s} {e.tasks:6d} {e.shots_total:9d} {usd(e.cost_usd):>10s}  "
                     f"{'yes' if e.program_sets else 'no'}")
    lines.append(f"  {'total':26s} {'':6s} {'':9s} {usd(total_estimate(prices)):>10s}")
    return "\n".join(lines)


def skipped(hw: HardwareParams, reason: str, prices: dict[str, Estimate]) -> dict[str, Any]:
    """The ``metrics/hardware.json`` document of a run that ran nothing."""
    return {
        "status": "skipped",
        "mode": hw.mode,
        "reason": reason,
        "estimate_usd": float(total_estimate(prices)),
        "estimates": {d: e.to_dict() for d, e in prices.items()},
        "devices": {},
    }


def load_model(params: Params, dest: Path):
    """The registered model version, the classifier and its encoder."""
    hw = params.hardware
    name = params.train.registered_model
    version, artifacts = tracking.download_registered_model(name, hw.model_alias, dest)
    model = QCNNClassifier.load(artifacts)
    encoder = encoder_from_dict(json.loads((artifacts / "encoder.json").read_text()))
    return version, model, encoder


def validation_samples(n_samples: int) -> tuple[np.ndarray, np.ndarray]:
    X_raw, y = load_prepared("test")
    if n_samples > len(y):
        print(f"hardware: hardware.n_samples = {n_samples} but the test split has {len(y)}; using {len(y)}")
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
    """What :func:`validate_registered_model` returns for the stage to write.

    Attributes:
        summary: the document of ``metrics/hardware.json``.
        figures: file name -> matplotlib figure (``plots/hardware/<name>``);
            the caller saves and closes them.
    """

    summary: dict[str, Any]
    figures: dict[str, Any] = field(default_factory=dict)


def validate_registered_model(params: Params, prices: dict[str, Estimate], tmp: Path) -> HardwareReport:
    """Validate the registered model on every device; log to MLflow; promote.

    Returns the summary and the figures; writes no file (the stage does).
    """
    hw = params.hardware
    tracking.configure(params.tracking.experiment)
    version, model, encoder = load_model(params, tmp)
    name = params.train.registered_model
    check_lineage(name, hw.model_alias, version)
    print(f"hardware: models:/{name}@{hw.model_alias} = version {version.version} "
          f"(ansatz {model.ansatz}, {model.n_qubits} qubits, {model.encoding})")
    X_raw, y = validation_samples(hw.n_samples)
    features = encoder.transform(X_raw)
    z_sim = model.expval(features)
    run_key = f"{name}-v{version.version}-{hw.n_samples}x{hw.shots}"
    options = BackendOptions(seed=hw.seed, qpu=qpu_settings(params, run_key, str(version.version)),
                             emulator=emulator_settings(hw))
    results: list[DeviceResult] = []
    tags = {**tracking.standard_tags("hardware", ("data/prepared",)), "hardware.mode": hw.mode,
            "qml_ops.train_run_id": version.run_id or "", "model.name": name, "model.version": str(version.version)}
    with tracking.start_run(f"hardware-{hw.mode}", tags=tags) as run:
        tracking.log_params({f"hardware.{k}": v for k, v in hw.model_dump().items() if k not in ("prices", "gate")})
        tracking.log_dict({d: e.to_dict() for d, e in prices.items()}, "estimate.json")
        tracking.log_metrics({f"estimate_usd.{d}": float(e.cost_usd) for d, e in prices.items()})
        for device_id in hw.devices:
            backend = build_backend(hw, device_id, options)
            results.append(validate_device(hw, backend, model, features, y, z_sim, prices[device_id],
                                           after_run=_log_ledger))
        unsupported = {r.device: r.reason for r in results if r.status != OK}
        tracking.log_params({f"hw.{r.device}.status": r.status for r in results})
        tracking.log_params({f"hw.{r.device}.emulator_method": r.metrics.get("emulator_method")
                             for r in results if r.metrics.get("emulator_method")})
        if unsupported:
            tracking.set_tags({f"hw.{d}.unsupported": reason[:5000] for d, reason in unsupported.items()})
        results_ok = [r for r in results if r.status == OK]
        if not results_ok:
            raise HardwareError("no device could run the model: " + "; ".join(
                f"{d}: {reason}" for d, reason in unsupported.items()))
        model_id = tracking.version_model_id(version)
        device_metrics = {r.device: r.metrics for r in results_ok}
        numeric = {f"hw.{d}.{k}": v for d, m in device_metrics.items() for k, v in m.items()
                   if isinstance(v, (int, float)) and not isinstance(v, bool) and v is not None}
        tracking.log_metrics(numeric, model_id=model_id)
        device_figures = figures(device_metrics)
        for name_png, fig in device_figures.items():
            tracking.log_figure(fig, name_png)
        summary = {
            "status": "ok",
            "mode": hw.mode,
            "model": f"models:/{name}/{version.version}",
            "model_alias": hw.model_alias,
            "estimate_usd": float(total_estimate(prices)),
            "devices": {r.device: r.metrics for r in results},
            "gate": {r.device: {"passed": r.passed_gate, "reasons": r.gate_reasons} for r in results_ok},
            "mlflow_run_id": run.info.run_id,
        }
        tracking.log_dict(summary, "hardware.json")
    summary["promoted"] = promote(params, version, results_ok, summary["mlflow_run_id"])
    return HardwareReport(summary, device_figures)


def results_text(summary: dict[str, Any]) -> str:
    """The stage's closing lines: each device's figures, and the promotion if any."""
    lines = [f"  {device_id:26s} unsupported: {m['reason']}" if m.get("status", OK) != OK else
             f"  {device_id:26s} accuracy {m['accuracy']:.4f} (sim {m['sim_accuracy']:.4f}, gap "
             f"{m['sim2real_gap']:+.4f}), {m['two_qubit_gates']} 2q gates, {usd(m['cost_usd'])} "
             f"({m['cost_basis']}){_method_text(m)}" for device_id, m in summary["devices"].items()]
    promoted = summary.get("promoted")
    if promoted:
        lines.append(f"hardware: promoted {summary['model']} to @{promoted['alias']} "
                     f"(devices passing hardware.gate: {', '.join(promoted['devices'])})")
    return "\n".join(lines)


def _method_text(m: dict[str, Any]) -> str:
    """``, trajectories x64 (p1 stderr 0.0105)`` for an emulated device, else empty."""
    method = m.get("emulator_method")
    if not method:
        return ""
    if method == "trajectories":
        return f", {method} x{m['emulator_trajectories']} (p1 stderr {m['emulator_p1_stderr']:.4f})"
    return f", {method}"


def promote(params: Params, version: Any, results: list[DeviceResult], run_id: str) -> dict[str, Any] | None:
    """Tag the version with each device's evidence; alias it if any device passed the gate."""
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


def figures(device_metrics: dict[str, dict[str, Any]]) -> dict[str, Any]:
    labels = list(device_metrics)
    accuracy = plots.bars(
        labels,
        {
            "simulator (exact)": [m["sim_accuracy"] for m in device_metrics.values()],
            "simulator (shots)": [m["sim_shot_accuracy"] for m in device_metrics.values()],
            "device": [m["accuracy"] for m in device_metrics.values()],
        },
        ylabel="test accuracy",
        title="Accuracy per device vs the simulator",
    )
    cost = plots.scatter(
        {d: (m["cost_per_inference_usd"], m["accuracy"]) for d, m in device_metrics.items()},
        xlabel="cost per inference (USD)",
        ylabel="accuracy",
        title="Cost vs accuracy",
    )
    expval = plots.bars(
        labels,
        {"mean |<Z>sim - <Z>device|": [m["expval_mae"] for m in device_metrics.values()]},
        ylabel="mean |⟨Z⟩ error|",
        title="Read-out expectation error vs the simulator",
    )
    return {"accuracy_per_device.png": accuracy, "cost_vs_accuracy.png": cost, "expval_error_per_device.png": expval}
