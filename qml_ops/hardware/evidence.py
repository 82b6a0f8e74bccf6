"""The hardware stage's evidence in the shapes users read: one row per device and the simulator.

Pure functions (no I/O, no MLflow): :mod:`qml_ops.hardware.reporting` logs the
rows as MLflow runs, and the stage writes the documents and tables built here.

* Every row (the simulator reference and each device) carries the **same
  metric keys** (:data:`RUN_METRIC_KEYS`) and the same params
  (:data:`RUN_PARAM_KEYS`), so MLflow's chart view draws the simulator and every
  device in one bar chart per metric, and its runs table is the comparison.
  The simulator row is the model's own accuracy on the same samples, with its
  interval; its gap is 0 with the degenerate interval [0, 0], its cost 0, its
  gate counts those of the logical circuit, and its shots 0 (exact ⟨Z⟩); its
  predicted band is its own accuracy. The one exception: a QPU run's devices
  also carry ``band_coverage_rate`` (:data:`QPU_ONLY_KEYS`).
* :func:`metrics_document` (``metrics/hardware.json``) holds numbers and booleans
  only, the ones a user compares across experiments (``dvc metrics diff``,
  ``dvc exp show``); :func:`report_document` (``reports/hardware.json``) holds
  everything else: layouts, profiles, cost basis, verdicts and their reasons.
* :func:`results_table` is what the stage prints last; :func:`plot_tables` the
  CSV data of its DVC plots.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from qml_ops.hardware.verdict import GateLimits, Verdict
from qml_ops.intervals import accuracy_interval

SIMULATOR = "simulator"
#: The predicted accuracy band (:mod:`qml_ops.hardware.band`) and whether the measured accuracy fell
#: inside (1/0). The simulator's band is its own accuracy ([a, a], gap [0, 0]); a device without a
#: prediction gets [0, 1] (its report says why: ``predicted_band_reason``).
BAND_KEYS = ("predicted_accuracy_low", "predicted_accuracy_high", "predicted_gap_low", "predicted_gap_high",
             "band_covered")
#: Metric keys of every hardware child run (the simulator's and each device's), in this order.
RUN_METRIC_KEYS = (
    "accuracy", "accuracy_ci_low", "accuracy_ci_high",
    "sim2real_gap", "sim2real_gap_ci_low", "sim2real_gap_ci_high",
    "expval_mae", "cost_usd", "cost_per_inference_usd", "latency_s_per_inference",
    "two_qubit_gates", "depth", "shots", "n_samples",
    *BAND_KEYS,
    "expval_mae_mitigated", "accuracy_mitigated", "accuracy_mitigated_ci_low", "accuracy_mitigated_ci_high",
)
#: The one device-only metric: on a QPU run, the device's band coverage over all recorded QPU runs
#: (``hardware/band_coverage.json``; :mod:`qml_ops.hardware.band_coverage`).
QPU_ONLY_KEYS = ("band_coverage_rate",)
#: Param keys of every hardware child run.
RUN_PARAM_KEYS = ("device", "vendor", "backend", "emulator_method", "profile_date", "model_name", "model_version",
                  "train_run_id")
#: ``emulator_method`` of runs no emulator computed (the simulator reference, a QPU).
NO_EMULATOR = "n/a"
#: The outcome of a device that could not run the model.
UNSUPPORTED = "unsupported"
#: What ``metrics/hardware.json`` keeps per device: figures that differ between experiments
#: (shots and samples are params; cost and latency totals are in the report and MLflow).
METRICS_FILE_KEYS = (
    "accuracy", "accuracy_ci_low", "accuracy_ci_high",
    "sim2real_gap", "sim2real_gap_ci_low", "sim2real_gap_ci_high",
    "expval_mae", "expval_mae_mitigated", "cost_per_inference_usd", "two_qubit_gates",
    "predicted_accuracy_low", "predicted_accuracy_high",
)
# Left to MLflow and reports/hardware.json (derived or rarely compared): depth, the gap band
# (simulator accuracy minus the accuracy band), the mitigated accuracy and its interval, band_covered.
#: What ``metrics/hardware.json`` keeps for the simulator reference.
SIMULATOR_FILE_KEYS = ("accuracy", "accuracy_ci_low", "accuracy_ci_high")
#: Columns of ``plots/hardware/accuracy.csv``.
PLOT_COLUMNS = ("device", "backend", "accuracy", "accuracy_ci_low", "accuracy_ci_high", "sim2real_gap",
                "sim2real_gap_ci_low", "sim2real_gap_ci_high", "cost_per_inference_usd", "verdict")
#: How the intervals are computed (in the report and the model card).
INTERVAL_METHODS = {
    "confidence": 0.95,
    "accuracy": "Wilson score interval over samples (Wilson 1927; Newcombe 1998, method 3)",
    "sim2real_gap": "Newcombe's paired square-and-add interval (Newcombe 1998, method 10): the same samples "
                    "on the simulator and the device",
}


@dataclass
class EvidenceRow:
    """The simulator or one device, as a run, a table row and a metrics entry.

    Attributes:
        name: ``"simulator"`` or the device id.
        metrics: the :data:`RUN_METRIC_KEYS` figures.
        params: the :data:`RUN_PARAM_KEYS` values.
        verdict: the gate's verdict (``None`` for the simulator, which is not judged).
        details: report-only figures and facts (layout, profile, cost basis, ...).
        samples: the per-sample table (column -> values).
        reason: why the device could not run the model (then ``metrics`` is empty
            and ``verdict`` ``None``), else ``None``.
    """

    name: str
    metrics: dict[str, float]
    params: dict[str, str]
    verdict: Verdict | None = None
    details: dict[str, Any] = field(default_factory=dict)
    samples: dict[str, list] = field(default_factory=dict)
    reason: str | None = None

    @property
    def supported(self) -> bool:
        return self.reason is None

    @property
    def backend(self) -> str:
        return self.params["backend"]

    @property
    def outcome(self) -> str:
        """The verdict, ``unsupported``, or ``reference`` for the simulator (which is not judged)."""
        if self.reason is not None:
            return UNSUPPORTED
        return self.verdict.outcome if self.verdict else "reference"

    @property
    def emulation(self) -> str:
        """How the figures were computed: ``trajectories ×256``, ``density_matrix``, or ``n/a``."""
        method = self.params.get("emulator_method", NO_EMULATOR)
        trajectories = self.details.get("emulator_trajectories")
        return f"{method} ×{trajectories}" if method == "trajectories" and trajectories else method


def logical_depth(gates: Sequence[Any]) -> int:
    """ASAP depth of a gate list (each gate has ``wires``): the logical circuit's depth."""
    level: dict[int, int] = {}
    depth = 0
    for gate in gates:
        layer = 1 + max((level.get(w, 0) for w in gate.wires), default=0)
        for w in gate.wires:
            level[w] = layer
        depth = max(depth, layer)
    return depth


def simulator_row(y: np.ndarray, z_sim: np.ndarray, two_qubit_gates: int, depth: int,
                  latency_s_per_inference: float, model: dict[str, str]) -> EvidenceRow:
    """The reference row: the noiseless simulator on the same samples (exact ⟨Z⟩, no shots).

    Args:
        y: the samples' labels.
        z_sim: the simulator's ⟨Z⟩ per sample.
        two_qubit_gates, depth: of the logical circuit.
        latency_s_per_inference: the simulator's wall time per sample.
        model: ``model_name``, ``model_version``, ``train_run_id``.
    """
    pred = (np.asarray(z_sim) < 0).astype(np.int64)
    acc = accuracy_interval(pred == np.asarray(y))
    metrics = {
        "accuracy": acc.estimate, "accuracy_ci_low": acc.low, "accuracy_ci_high": acc.high,
        "sim2real_gap": 0.0, "sim2real_gap_ci_low": 0.0, "sim2real_gap_ci_high": 0.0,
        "expval_mae": 0.0, "cost_usd": 0.0, "cost_per_inference_usd": 0.0,
        "latency_s_per_inference": round(float(latency_s_per_inference), 6),
        "two_qubit_gates": int(two_qubit_gates), "depth": int(depth), "shots": 0, "n_samples": int(len(y)),
        "predicted_accuracy_low": acc.estimate, "predicted_accuracy_high": acc.estimate,
        "predicted_gap_low": 0.0, "predicted_gap_high": 0.0, "band_covered": 1,
        # nothing to mitigate on the noiseless simulator: its mitigated figures are its own
        "expval_mae_mitigated": 0.0, "accuracy_mitigated": acc.estimate,
        "accuracy_mitigated_ci_low": acc.low, "accuracy_mitigated_ci_high": acc.high,
    }
    params = {"device": SIMULATOR, "vendor": "qml-ops", "backend": SIMULATOR, "emulator_method": NO_EMULATOR,
              "profile_date": "n/a", **model}
    samples = {"sample": list(range(len(y))), "label": [int(v) for v in y],
               "sim_expval": [round(float(v), 6) for v in z_sim], "sim_prediction": [int(v) for v in pred]}
    return EvidenceRow(SIMULATOR, metrics, params, None, {"exact_expectation_values": True}, samples)


def device_row(result: Any, model: dict[str, str]) -> EvidenceRow:
    """A device's row from its :class:`~qml_ops.hardware.validation.DeviceResult`."""
    m = result.metrics
    metrics = {key: m[key] for key in RUN_METRIC_KEYS}
    metrics.update({key: m[key] for key in QPU_ONLY_KEYS if m.get(key) is not None})
    params = {"device": result.device, "vendor": str(m.get("vendor", "")), "backend": str(m.get("backend_kind", "")),
              "emulator_method": str(m.get("emulator_method") or NO_EMULATOR),
              "profile_date": str(m.get("profile_date") or "n/a"), **model}
    details = {k: v for k, v in m.items() if k not in metrics}
    return EvidenceRow(result.device, metrics, params, result.verdict, details, dict(result.samples))


def unsupported_row(result: Any, model: dict[str, str]) -> EvidenceRow:
    """A device that could not run the model: its reason and what was compiled, no metrics."""
    params = {"device": result.device, "vendor": "", "backend": UNSUPPORTED, "emulator_method": NO_EMULATOR,
              "profile_date": "n/a", **model}
    return EvidenceRow(result.device, {}, params, None, dict(result.metrics), {}, result.reason)


def metrics_document(rows: Sequence[EvidenceRow], estimate_usd: float, promoted: bool) -> dict[str, Any]:
    """``metrics/hardware.json``: numbers and booleans only.

    ``{"estimate_usd": …, "promoted": …, "simulator": {…}, "<device>": {…}}``.
    """
    doc: dict[str, Any] = {"estimate_usd": float(estimate_usd), "promoted": bool(promoted)}
    for row in (r for r in rows if r.supported):
        keys = SIMULATOR_FILE_KEYS if row.name == SIMULATOR else METRICS_FILE_KEYS
        doc[row.name] = {key: row.metrics[key] for key in keys}
        doc[row.name].update({key: row.metrics[key] for key in QPU_ONLY_KEYS if key in row.metrics})
    return doc


def skipped_metrics(estimate_usd: float) -> dict[str, Any]:
    """``metrics/hardware.json`` of a run that ran nothing."""
    return {"estimate_usd": float(estimate_usd), "promoted": False}


def report_document(rows: Sequence[EvidenceRow], limits: GateLimits, **facts: Any) -> dict[str, Any]:
    """``reports/hardware.json``: every figure and fact of the run.

    ``devices`` holds each device's whole result with its verdict; ``gate`` each
    device's verdict and reasons; ``facts`` (status, mode, model, estimates,
    promotion, MLflow run ids, ...) are added at the top level.
    """
    devices, gate = {}, {}
    simulator = None
    for row in rows:
        entry = {**row.metrics, **row.details, **{k: row.params[k] for k in ("vendor", "backend", "profile_date")}}
        if row.name == SIMULATOR:
            simulator = entry
            continue
        if not row.supported:
            devices[row.name] = {**row.details, "status": UNSUPPORTED, "reason": row.reason}
            continue
        v = row.verdict
        entry.update(verdict=v.outcome, verdict_summary=v.summary, verdict_reasons=list(v.reasons))
        devices[row.name] = entry
        gate[row.name] = {"passed": v.promotes, "verdict": v.outcome, "reasons": list(v.reasons),
                          "summary": v.summary}
    return {
        "status": "ok",
        **facts,
        "gate_limits": {"max_gap": limits.max_gap, "min_accuracy": limits.min_accuracy,
                        "max_cost_per_inference_usd": limits.max_cost_per_inference_usd},
        "intervals": INTERVAL_METHODS,
        "simulator": simulator,
        "devices": devices,
        "gate": gate,
    }


def _interval(m: dict[str, float], key: str, signed: bool = False) -> str:
    f = "{:+.4f}" if signed else "{:.4f}"
    return f"{f.format(m[key])} [{f.format(m[key + '_ci_low'])}, {f.format(m[key + '_ci_high'])}]"


def results_table(rows: Sequence[EvidenceRow], limits: GateLimits, mode: str) -> str:
    """The stage's closing table: simulator and each device, the figures of MLflow and the metrics file."""
    cost_head = "run cost (QPU price)" if mode != "qpu" else "run cost"
    header = (f"  {'run':24s} {'backend':9s} {'accuracy [95% CI]':25s} {'predicted':16s} {'sim2real gap [95% CI]':28s} "
              f"{'cost/inference':>14s}  {cost_head:>20s}  verdict")
    lines = [f"hardware: gate (on 95% intervals): accuracy >= {limits.min_accuracy}, sim2real gap <= "
             f"{limits.max_gap}, cost per inference <= ${limits.max_cost_per_inference_usd:.2f}", header]
    for row in rows:
        m = row.metrics
        if not row.supported:
            lines.append(f"  {row.name:24s} {'-':9s} unsupported: {row.reason}")
            continue
        band = (f"[{m['predicted_accuracy_low']:.3f}, {m['predicted_accuracy_high']:.3f}]"
                if row.name != SIMULATOR and m.get("predicted_accuracy_low") is not None else "")
        lines.append(f"  {row.name:24s} {row.backend:9s} {_interval(m, 'accuracy'):25s} {band:16s} "
                     f"{_interval(m, 'sim2real_gap', signed=True):28s} {'$' + format(m['cost_per_inference_usd'], '.4f'):>14s}  "
                     f"{'$' + format(m['cost_usd'], ',.2f'):>20s}  {row.outcome}")
    emulated = [f"{row.name} {row.emulation}" for row in rows if row.params.get("emulator_method", NO_EMULATOR)
                != NO_EMULATOR and row.supported]
    if emulated:
        lines.append("  emulator: " + ", ".join(emulated)
                     + " (trajectory intervals include the emulator's own error)" * any("traj" in e for e in emulated))
    lines.append("  predicted: the accuracy band expected before the run (README, \"Predicted accuracy band, before "
                 "anything runs\"); mitigated figures: reports/hardware.json, MLflow and the model card")
    for row in rows:
        if row.verdict and not row.verdict.promotes:
            lines.append(f"  {row.name}: {row.verdict.summary}")
    return "\n".join(lines)


def plot_tables(rows: Sequence[EvidenceRow]) -> dict[str, str]:
    """CSV data of the hardware stage's DVC plots, by file name (under ``plots/hardware/``).

    ``accuracy.csv`` has one row per run (:data:`PLOT_COLUMNS`); ``accuracy_ci_low.csv``
    and ``accuracy_ci_high.csv`` repeat the interval bounds in an ``accuracy`` column, so
    one bar chart draws the three series side by side (DVC's templates draw no error bars).
    """
    def fmt(value: Any) -> str:
        return f"{value:.6g}" if isinstance(value, float) else str(value)

    main = [",".join(PLOT_COLUMNS)]
    low, high = ["device,accuracy"], ["device,accuracy"]
    for row in (r for r in rows if r.supported):
        values = {**row.metrics, "device": row.name, "backend": row.backend, "verdict": row.outcome}
        main.append(",".join(fmt(values[c]) for c in PLOT_COLUMNS))
        low.append(f"{row.name},{fmt(row.metrics['accuracy_ci_low'])}")
        high.append(f"{row.name},{fmt(row.metrics['accuracy_ci_high'])}")
    return {"accuracy.csv": "\n".join(main) + "\n", "accuracy_ci_low.csv": "\n".join(low) + "\n",
            "accuracy_ci_high.csv": "\n".join(high) + "\n"}


def card_rows(rows: Sequence[EvidenceRow]) -> list[dict[str, Any]]:
    """The model card's device table (JSON-able): one entry per run, simulator first."""
    out = []
    for row in rows:
        m = row.metrics
        if not row.supported:
            out.append({"run": row.name, "backend": UNSUPPORTED, "profile_date": "n/a", "emulation": NO_EMULATOR,
                        "verdict": UNSUPPORTED, "verdict_summary": row.reason or ""})
            continue
        out.append({"run": row.name, "backend": row.backend, "profile_date": row.params["profile_date"],
                    **{k: m[k] for k in ("accuracy", "accuracy_ci_low", "accuracy_ci_high", "sim2real_gap",
                                         "sim2real_gap_ci_low", "sim2real_gap_ci_high", "cost_per_inference_usd",
                                         "two_qubit_gates", "depth", "n_samples", "shots", "expval_mae",
                                         "expval_mae_mitigated", "accuracy_mitigated",
                                         "accuracy_mitigated_ci_low", "accuracy_mitigated_ci_high")},
                    **{k: m[k] for k in (*BAND_KEYS, *QPU_ONLY_KEYS) if k in m},
                    "mitigation": str(row.details.get("mitigation", "none")),
                    "emulation": row.emulation,
                    "verdict": row.outcome, "verdict_summary": row.verdict.summary if row.verdict else ""})
    return out
