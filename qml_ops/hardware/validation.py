"""Hardware validation: the registered model on each device, beside the simulator.

For every device in ``hardware.devices`` this module

1. prices the run (:func:`qml_ops.cost.estimate`) *before* anything runs;
2. compiles the model's circuit to the device's native gates and layout
   (:mod:`qml_ops.hardware.compile`), binding each test sample;
3. predicts the accuracy the device will measure, as a band from an optimistic
   to a pessimistic noise model (:mod:`qml_ops.hardware.band`), before it runs;
   after the run, ``band_covered`` says whether the accuracy fell inside;
4. runs the circuits on a :class:`~qml_ops.hardware.backends.Backend`: a
   calibrated emulator of the device (``emulate``, offline, free) or the QPU
   (``qpu``, only through the spend gate and the task ledger of
   :mod:`qml_ops.hardware.qpu`); this module never asks which;
5. compares with the simulator on the same samples: exact and noiseless
   finite-shot accuracy, the Sim2Real gap, ⟨Z⟩ error and prediction agreement,
   with 95% intervals on the accuracy (Wilson) and on the gap (Newcombe's
   paired interval: the same samples on both sides; :mod:`qml_ops.intervals`);
6. mitigates the device's ⟨Z⟩ (``hardware.mitigation``: readout correction,
   zero-noise extrapolation; their extra runs are in the estimate) and reports
   the raw and mitigated ⟨Z⟩ error and accuracy (:mod:`qml_ops.hardware.mitigation`);
7. judges the raw result against ``hardware.gate`` on those intervals: pass, fail
   or inconclusive (:mod:`qml_ops.hardware.verdict`).

A device that cannot run the model (fewer qubits than the model needs, or a
compiled circuit the backend cannot emulate at its configured cost) gets a
result with status ``unsupported`` and the reason instead of metrics; the
caller validates the other devices.

Nothing here imports MLflow; the stage entry point logs the results.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Callable

import numpy as np

from qml_ops.config import HardwareParams
from qml_ops.cost import Estimate, estimate
from qml_ops.errors import HardwareError
from qml_ops.hardware import mitigation
from qml_ops.hardware.backends import Backend, DeviceRun
from qml_ops.hardware.devices import Device, get_device, with_prices
from qml_ops.hardware.gate import check_spend
from qml_ops.hardware.verdict import GateLimits, Verdict, judge_metrics
from qml_ops.intervals import accuracy_interval, sim2real_gap_interval, wilson_interval
from qml_ops.model import QCNNClassifier, shot_predictions


#: ``DeviceResult.status``: validated, or the device cannot run the model.
OK, UNSUPPORTED = "ok", "unsupported"


@dataclass
class DeviceResult:
    """One device's validation.

    Attributes:
        device: the catalogue id.
        metrics: every figure of the run (numbers, and the layout, profile and cost
            basis); for an unsupported device: its status, the reason and what was compiled.
        passed_gate: the verdict is a pass (the version may be promoted; never when unsupported).
        gate_reasons: why it did not pass (empty on a pass).
        verdict: the gate's outcome (pass, fail, inconclusive) and its reasons (``None`` when unsupported).
        samples: the per-sample table (column -> values): index, label, the
            simulator's ⟨Z⟩ and prediction, the device's counts, ⟨Z⟩ and prediction.
        status: ``ok`` or ``unsupported``.
        reason: why the device is unsupported, else ``None``.
    """

    device: str
    metrics: dict[str, Any]
    passed_gate: bool
    gate_reasons: list[str] = field(default_factory=list)
    verdict: Verdict | None = None
    samples: dict[str, list] = field(default_factory=dict)
    status: str = OK
    reason: str | None = None

    @classmethod
    def unsupported(cls, device: str, reason: str, **compiled: Any) -> "DeviceResult":
        """A device that cannot run the model; ``compiled``: what is known of its circuit."""
        return cls(device, {"status": UNSUPPORTED, "reason": reason, **compiled}, False, [], None, {},
                   UNSUPPORTED, reason)


def device_for(params: HardwareParams, device_id: str) -> Device:
    device = get_device(device_id)
    override = params.prices.get(device_id)
    if override is not None:
        device = with_prices(device, per_task=override.per_task, per_shot=override.per_shot)
    return device


def estimates(params: HardwareParams) -> dict[str, Estimate]:
    """The price of the configured run on every device (what a QPU run would cost),
    error mitigation's extra runs included (in each estimate's ``parts``)."""
    out = {}
    for device_id in params.devices:
        device = device_for(params, device_id)
        base = estimate(device, params.n_samples, params.shots, one_task_per_inference=params.one_task_per_inference)
        out[device_id] = mitigation.priced(base, device, params.mitigation, params.one_task_per_inference)
    return out


def total_estimate(prices: dict[str, Estimate]) -> Decimal:
    """The price of the run on all devices together (exact cents)."""
    return sum((e.cost_usd for e in prices.values()), Decimal(0))


def gate_decision(params: HardwareParams, prices: dict[str, Estimate]):
    """The spend gate for the whole run (all devices together)."""
    return check_spend(params.mode, total_estimate(prices), params.max_budget_usd, params.approve_usd)


def verdict(params: HardwareParams, metrics: dict[str, Any]) -> Verdict:
    """``hardware.gate``'s verdict on a device's result, judged on its intervals
    (:func:`qml_ops.hardware.verdict.judge_metrics`)."""
    return judge_metrics(GateLimits.from_params(params.gate), metrics)


def judge(params: HardwareParams, metrics: dict[str, Any]) -> tuple[bool, list[str]]:
    """Does a device's result pass ``hardware.gate``? Returns (passed, reasons it did not:
    checks that failed, or whose interval straddles the threshold)."""
    v = verdict(params, metrics)
    return v.promotes, list(v.reasons)


def compare(z_sim: np.ndarray, counts: np.ndarray, y: np.ndarray, shots: int, seed: int) -> dict[str, float]:
    """Simulator vs hardware on the same samples (``counts``: n × [#0, #1])."""
    z_hw = 1.0 - 2.0 * counts[:, 1] / counts.sum(axis=1)
    pred_hw = (z_hw < 0).astype(np.int64)
    pred_sim = (z_sim < 0).astype(np.int64)
    sim_accuracy = float(np.mean(pred_sim == y))
    accuracy = float(np.mean(pred_hw == y))
    acc = accuracy_interval(pred_hw == y)
    sim = accuracy_interval(pred_sim == y)
    gap = sim2real_gap_interval(pred_sim == y, pred_hw == y)
    return {
        "accuracy": accuracy,
        "accuracy_ci_low": acc.low,
        "accuracy_ci_high": acc.high,
        "sim_accuracy": sim_accuracy,
        "sim_accuracy_ci_low": sim.low,
        "sim_accuracy_ci_high": sim.high,
        "sim_shot_accuracy": float(np.mean(shot_predictions(z_sim, shots, seed) == y)),
        "sim2real_gap": sim_accuracy - accuracy,
        "sim2real_gap_ci_low": gap.low,
        "sim2real_gap_ci_high": gap.high,
        "expval_mae": float(np.mean(np.abs(z_sim - z_hw))),
        "agreement": float(np.mean(pred_sim == pred_hw)),
    }


def mitigated_metrics(z_sim: np.ndarray, z_mitigated: np.ndarray, y: np.ndarray) -> dict[str, float]:
    """The mitigated ⟨Z⟩ beside the simulator (:mod:`qml_ops.hardware.mitigation`):
    ``expval_mae_mitigated``, ``accuracy_mitigated`` and its Wilson interval."""
    correct = (np.asarray(z_mitigated) < 0).astype(np.int64) == np.asarray(y)
    acc = accuracy_interval(correct)
    return {
        "expval_mae_mitigated": float(np.mean(np.abs(np.asarray(z_sim) - np.asarray(z_mitigated)))),
        "accuracy_mitigated": float(np.mean(correct)),
        "accuracy_mitigated_ci_low": acc.low,
        "accuracy_mitigated_ci_high": acc.high,
    }


def fold_emulator_error(metrics: dict[str, Any], counts: np.ndarray, p1_stderr: np.ndarray | None,
                        y: np.ndarray, z: float = 1.96) -> dict[str, Any]:
    """Widen the accuracy and gap intervals for the emulator's own statistical error.

    The trajectory emulator estimates each sample's probability of reading 1 with a
    standard error; a sample whose measured frequency lies within ``z`` standard
    errors of 1/2 could have been predicted the other way by another draw of
    trajectories ("fragile"). The accuracy interval's low end is the Wilson bound
    with every fragile correct sample counted wrong, its high end with every fragile
    wrong sample counted right; the gap interval widens by the same counts / n.
    Exact emulators (standard error 0) and QPUs (``None``) leave the intervals as
    they are. Adds ``emulator_fragile_samples``; returns ``metrics``.
    """
    metrics["emulator_fragile_samples"] = 0
    if p1_stderr is None or not np.any(np.asarray(p1_stderr) > 0):
        return metrics
    counts = np.asarray(counts, dtype=float)
    p1 = counts[:, 1] / counts.sum(axis=1)
    fragile = np.abs(p1 - 0.5) <= z * np.asarray(p1_stderr, dtype=float)
    correct = (p1 > 0.5).astype(np.int64) == np.asarray(y)
    n, k = len(correct), int(correct.sum())
    down, up = int((fragile & correct).sum()), int((fragile & ~correct).sum())
    metrics["accuracy_ci_low"] = min(metrics["accuracy_ci_low"], wilson_interval(k - down, n)[0])
    metrics["accuracy_ci_high"] = max(metrics["accuracy_ci_high"], wilson_interval(k + up, n)[1])
    metrics["sim2real_gap_ci_low"] = max(-1.0, metrics["sim2real_gap_ci_low"] - up / n)
    metrics["sim2real_gap_ci_high"] = min(1.0, metrics["sim2real_gap_ci_high"] + down / n)
    metrics["emulator_fragile_samples"] = down + up
    return metrics


def compile_circuits(model: QCNNClassifier, profile: Any, features: np.ndarray, seed: int) -> list:
    """The model's circuit compiled for ``profile``'s device, bound to each sample
    (what runs on the device; ``qml-ops hardware approve`` binds an approval to it)."""
    from qml_ops.hardware.compile import compile_spec

    return compile_spec(model.spec, model.weights_, profile, seed=seed).bind_batch(features)


def sample_table(sample_indices: np.ndarray, y: np.ndarray, z_sim: np.ndarray, counts: np.ndarray) -> dict[str, list]:
    """Per-sample results (column -> values) of samples with counts: dataset index, label, the
    simulator's ⟨Z⟩ and prediction, the device's counts of 0 and 1, its ⟨Z⟩ and prediction."""
    counts = np.asarray(counts, dtype=np.int64)
    z_hw = 1.0 - 2.0 * counts[:, 1] / counts.sum(axis=1)
    return {
        "sample": [int(i) for i in sample_indices],
        "label": [int(v) for v in y],
        "sim_expval": [round(float(v), 6) for v in z_sim],
        "sim_prediction": [int(v < 0) for v in z_sim],
        "device_counts_0": [int(v) for v in counts[:, 0]],
        "device_counts_1": [int(v) for v in counts[:, 1]],
        "device_expval": [round(float(v), 6) for v in z_hw],
        "device_prediction": [int(v < 0) for v in z_hw],
    }


def emulator_fields(run: DeviceRun, done: np.ndarray) -> dict[str, Any]:
    """How an emulator computed the counts, and its own statistical error.

    ``emulator_method``: ``density_matrix`` or ``trajectories`` (``None`` on a
    QPU); ``emulator_trajectories``: trajectories per sample (trajectories
    only); ``emulator_p1_stderr`` / ``emulator_p1_stderr_max``: mean and largest
    per-sample standard error of the probability the counts were drawn from
    (0 for the exact density matrix; ``None`` where unknown: QPU, braket).
    """
    stderr = None if run.p1_stderr is None else np.asarray(run.p1_stderr)[done]
    return {
        "emulator_method": run.provenance.emulator_method,
        "emulator_trajectories": run.provenance.trajectories,
        "emulator_p1_stderr": None if stderr is None else round(float(stderr.mean()), 6),
        "emulator_p1_stderr_max": None if stderr is None else round(float(stderr.max()), 6),
    }


def predicted_band(params: HardwareParams, profile: Any, circuits: list, y: np.ndarray,
                   z_sim: np.ndarray) -> tuple[Any, str | None]:
    """The device's predicted accuracy band before it runs (:mod:`qml_ops.hardware.band`), or
    ``(None, reason)`` when it cannot be predicted (no T1/T2, too many qubits)."""
    from qml_ops.hardware.band import predict_band

    sim_accuracy = float(np.mean((np.asarray(z_sim) < 0).astype(np.int64) == np.asarray(y)))
    try:
        return predict_band(circuits, profile, y, sim_accuracy=sim_accuracy, shots=params.shots), None
    except HardwareError as exc:
        return None, str(exc)


def band_fields(band: Any, reason: str | None, metrics: dict[str, Any]) -> dict[str, Any]:
    """The band's metrics and whether the measured accuracy fell inside (``band_covered``: 1/0).

    Without a band (``reason``: why), the band is the whole range [0, 1] (nothing was
    predicted; ``band_covered`` 1, and a QPU run records no coverage) and
    ``predicted_band_reason`` says why, so every run keeps the same metric keys.
    """
    if band is None:
        sim = metrics["sim_accuracy"]
        return {"predicted_accuracy_low": 0.0, "predicted_accuracy_high": 1.0, "predicted_gap_low": sim - 1.0,
                "predicted_gap_high": sim, "band_covered": 1, "predicted_band_reason": reason}
    return {**band.metrics(), "band_covered": int(band.covers(metrics["accuracy"]))}


def validate_device(
    params: HardwareParams,
    backend: Backend,
    model: QCNNClassifier,
    features: np.ndarray,
    y: np.ndarray,
    z_sim: np.ndarray,
    est: Estimate,
    progress: Callable[[str], None] = print,
    after_run: Callable[[DeviceRun], None] | None = None,
) -> DeviceResult:
    """Compile the model for ``backend``'s device, run it there, compare with the simulator.

    Args:
        params: the ``hardware`` section (shots, seed, gate).
        backend: what runs the circuits (:func:`qml_ops.hardware.backends.backend_for`).
        model: the fitted classifier.
        features: encoded samples, one circuit each.
        y: their labels.
        z_sim: the simulator's exact ⟨Z⟩ per sample.
        est: the run's price on the device (approved, for a QPU).
        progress: where progress lines go.
        after_run: called with the backend's result before it is judged (e.g. to
            log the task ledger, also when results are still pending).

    Returns:
        The device's result; status ``unsupported`` (with the reason, nothing
        run) when the device has fewer qubits than the model or the backend
        cannot emulate the compiled circuit at its configured cost.

    Raises:
        HardwareError: results are pending, or no sample has a result.
    """
    device, profile = backend.device, backend.profile
    if len(profile.qubits) < model.n_qubits:
        reason = (f"the model needs {model.n_qubits} qubits; {device.id} has {len(profile.qubits)} "
                  f"(profile {profile.source})")
        progress(f"  {device.id}: unsupported: {reason}")
        return DeviceResult.unsupported(device.id, reason)
    started = time.perf_counter()
    circuits = compile_circuits(model, profile, features, params.seed)
    compile_s = time.perf_counter() - started
    first = circuits[0]
    progress(f"  {device.id}: compiled {len(circuits)} circuits ({first.two_qubit_gate_count} two-qubit "
             f"gates, depth {first.depth}, {len(first.qubits)} qubits) in {compile_s:.1f} s")
    check = getattr(backend, "unsupported_reason", None)
    reason = check(circuits) if check is not None else None
    if reason is not None:
        progress(f"  {device.id}: unsupported: {reason}")
        return DeviceResult.unsupported(device.id, reason, two_qubit_gates=int(first.two_qubit_gate_count),
                                        depth=int(first.depth), qubits_used=len(first.qubits))
    band, band_reason = predicted_band(params, profile, circuits, y, z_sim)
    if band is not None:
        progress(f"  {device.id}: predicted accuracy band [{band.accuracy_low:.3f}, {band.accuracy_high:.3f}] "
                 f"(optimistic {band.optimistic_accuracy:.3f}, pessimistic {band.pessimistic_accuracy:.3f})")
    else:
        progress(f"  {device.id}: no predicted accuracy band: {band_reason}")
    run_started = time.perf_counter()
    run = backend.run(circuits, params.shots, sample_indices=list(range(len(circuits))), estimate=est.base_run())
    run_s = time.perf_counter() - run_started
    for note in run.notes:  # QPU: AWS spending limits, execution windows
        progress(f"  {device.id}: {note}")
    if after_run is not None:
        after_run(run)
    if run.pending:
        raise HardwareError(f"{device.id}: {run.resume_hint or 'results are still pending'}")
    done = run.done
    if not done.any():
        raise HardwareError(f"{device.id}: no sample has results (failed or cancelled tasks); see the ledger")
    metrics = {"status": OK, **compare(z_sim[done], run.counts[done].astype(np.int64), y[done], params.shots,
                                       params.seed)}
    stderr = None if run.p1_stderr is None else np.asarray(run.p1_stderr)[done]
    fold_emulator_error(metrics, run.counts[done], stderr, y[done])
    mitigated = mitigation.run_mitigation(params.mitigation, backend, circuits, run.counts, params.shots, est,
                                          progress)
    metrics.update(mitigated_metrics(z_sim[done], mitigated.z[done], y[done]), **mitigated.fields)
    n = int(done.sum())
    cost = float(run.committed_usd + mitigated.committed_usd)
    metrics.update(
        cost_usd=round(cost, 2),
        cost_per_inference_usd=round(cost / n, 4),
        cost_basis=run.cost_basis,
        spent_usd=round(float(run.spent_usd + mitigated.spent_usd), 2),
        latency_s_per_inference=round(run.latency.per_inference_s or run_s / n, 6),
        **run.latency.summary(),
        samples_without_results=int((~done).sum()),
        expected_qpu_latency_s_per_inference=device.latency_per_inference_s,
        tasks=int(run.tasks + mitigated.tasks),
        shots=params.shots,
        n_samples=n,
        two_qubit_gates=int(circuits[0].two_qubit_gate_count),
        depth=int(circuits[0].depth),
        layout={str(k): int(v) for k, v in circuits[0].initial_layout.items()},
        readout_qubit=int(circuits[0].readout_qubit),
        profile=f"profiles/{device.id}.json",
        profile_source=run.provenance.profile_source,
        profile_date=run.provenance.profile_date,
        backend=run.provenance.backend,
        backend_kind=run.provenance.kind,
        vendor=device.provider,
        device_name=device.name,
        wall_s=round(compile_s + run_s, 3),
        **emulator_fields(run, done),
    )
    metrics.update(band_fields(band, band_reason, metrics))
    v = verdict(params, metrics)
    samples = sample_table(np.flatnonzero(done), y[done], z_sim[done], run.counts[done])
    samples["device_expval_mitigated"] = [round(float(v), 6) for v in mitigated.z[done]]
    return DeviceResult(device.id, metrics, v.promotes, list(v.reasons), verdict=v, samples=samples)
