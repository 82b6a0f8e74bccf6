"""Hardware validation: the registered model on each device, beside the simulator.

For every device in ``hardware.devices`` this module

1. prices the run (:func:`qml_ops.cost.estimate`) *before* anything runs;
2. compiles the model's circuit to the device's native gates and layout
   (:mod:`qml_ops.hardware.compile`), binding each test sample;
3. runs the circuits on a :class:`~qml_ops.hardware.backends.Backend`: a
   calibrated emulator of the device (``emulate``, offline, free) or the QPU
   (``qpu``, only through the spend gate and the task ledger of
   :mod:`qml_ops.hardware.qpu`); this module never asks which;
4. compares with the simulator on the same samples: exact and noiseless
   finite-shot accuracy, the Sim2Real gap, ⟨Z⟩ error and prediction agreement.

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
from qml_ops.hardware.backends import Backend, DeviceRun
from qml_ops.hardware.devices import Device, get_device, with_prices
from qml_ops.hardware.gate import check_spend
from qml_ops.model import QCNNClassifier, shot_predictions


#: ``DeviceResult.status``: validated, or the device cannot run the model.
OK, UNSUPPORTED = "ok", "unsupported"


@dataclass
class DeviceResult:
    """One device's validation, in the keys of ``metrics/hardware.json``.

    Attributes:
        device: the catalogue id.
        metrics: the device's entry of ``metrics/hardware.json`` (for an
            unsupported device: its status, the reason and what was compiled).
        passed_gate: whether it passes ``hardware.gate`` (never for unsupported).
        gate_reasons: why it failed the gate.
        status: ``ok`` or ``unsupported``.
        reason: why the device is unsupported, else ``None``.
    """

    device: str
    metrics: dict[str, Any]
    passed_gate: bool
    gate_reasons: list[str] = field(default_factory=list)
    status: str = OK
    reason: str | None = None

    @classmethod
    def unsupported(cls, device: str, reason: str, **compiled: Any) -> "DeviceResult":
        """A device that cannot run the model; ``compiled``: what is known of its circuit."""
        return cls(device, {"status": UNSUPPORTED, "reason": reason, **compiled}, False, [], UNSUPPORTED, reason)


def device_for(params: HardwareParams, device_id: str) -> Device:
    device = get_device(device_id)
    override = params.prices.get(device_id)
    if override is not None:
        device = with_prices(device, per_task=override.per_task, per_shot=override.per_shot)
    return device


def estimates(params: HardwareParams) -> dict[str, Estimate]:
    """The price of the configured run on every device (what a QPU run would cost)."""
    return {
        device_id: estimate(device_for(params, device_id), params.n_samples, params.shots,
                            one_task_per_inference=params.one_task_per_inference)
        for device_id in params.devices
    }


def total_estimate(prices: dict[str, Estimate]) -> Decimal:
    """The price of the run on all devices together (exact cents)."""
    return sum((e.cost_usd for e in prices.values()), Decimal(0))


def gate_decision(params: HardwareParams, prices: dict[str, Estimate]):
    """The spend gate for the whole run (all devices together)."""
    return check_spend(params.mode, total_estimate(prices), params.max_budget_usd, params.approve_usd)


def judge(params: HardwareParams, metrics: dict[str, Any]) -> tuple[bool, list[str]]:
    """Does a device's result pass ``hardware.gate``? Returns (passed, reasons it failed)."""
    gate = params.gate
    reasons = []
    if metrics["sim2real_gap"] > gate.max_gap:
        reasons.append(f"sim2real_gap {metrics['sim2real_gap']:.4f} > max_gap {gate.max_gap}")
    if metrics["accuracy"] < gate.min_accuracy:
        reasons.append(f"accuracy {metrics['accuracy']:.4f} < min_accuracy {gate.min_accuracy}")
    if metrics["cost_per_inference_usd"] > gate.max_cost_per_inference_usd:
        reasons.append(
            f"cost_per_inference_usd {metrics['cost_per_inference_usd']:.4f} > "
            f"max_cost_per_inference_usd {gate.max_cost_per_inference_usd}"
        )
    return not reasons, reasons


def compare(z_sim: np.ndarray, counts: np.ndarray, y: np.ndarray, shots: int, seed: int) -> dict[str, float]:
    """Simulator vs hardware on the same samples (``counts``: n × [#0, #1])."""
    z_hw = 1.0 - 2.0 * counts[:, 1] / counts.sum(axis=1)
    pred_hw = (z_hw < 0).astype(np.int64)
    pred_sim = (z_sim < 0).astype(np.int64)
    sim_accuracy = float(np.mean(pred_sim == y))
    accuracy = float(np.mean(pred_hw == y))
    return {
        "accuracy": accuracy,
        "sim_accuracy": sim_accuracy,
        "sim_shot_accuracy": float(np.mean(shot_predictions(z_sim, shots, seed) == y)),
        "sim2real_gap": sim_accuracy - accuracy,
        "expval_mae": float(np.mean(np.abs(z_sim - z_hw))),
        "agreement": float(np.mean(pred_sim == pred_hw)),
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
    from qml_ops.hardware.compile import compile_spec

    device, profile = backend.device, backend.profile
    if len(profile.qubits) < model.n_qubits:
        reason = (f"the model needs {model.n_qubits} qubits; {device.id} has {len(profile.qubits)} "
                  f"(profile {profile.source})")
        progress(f"  {device.id}: unsupported: {reason}")
        return DeviceResult.unsupported(device.id, reason)
    started = time.perf_counter()
    compiled_model = compile_spec(model.spec, model.weights_, profile, seed=params.seed)
    circuits = compiled_model.bind_batch(features)
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
    run_started = time.perf_counter()
    run = backend.run(circuits, params.shots, sample_indices=list(range(len(circuits))), estimate=est)
    run_s = time.perf_counter() - run_started
    if after_run is not None:
        after_run(run)
    if run.pending:
        raise HardwareError(f"{device.id}: {run.resume_hint or 'results are still pending'}")
    done = run.done
    if not done.any():
        raise HardwareError(f"{device.id}: no sample has results (failed or cancelled tasks); see the ledger")
    metrics = {"status": OK, **compare(z_sim[done], run.counts[done].astype(np.int64), y[done], params.shots,
                                       params.seed)}
    n = int(done.sum())
    cost = float(run.committed_usd)
    metrics.update(
        cost_usd=round(cost, 2),
        cost_per_inference_usd=round(cost / n, 4),
        cost_basis=run.cost_basis,
        spent_usd=round(float(run.spent_usd), 2),
        latency_s_per_inference=round(run.latency.per_inference_s or run_s / n, 6),
        samples_without_results=int((~done).sum()),
        expected_qpu_latency_s_per_inference=device.latency_per_inference_s,
        tasks=int(run.tasks),
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
        wall_s=round(compile_s + run_s, 3),
        **emulator_fields(run, done),
    )
    passed, reasons = judge(params, metrics)
    return DeviceResult(device.id, metrics, passed, reasons)
