"""Cost-aware error mitigation of the device's ⟨Z⟩: readout correction and zero-noise extrapolation.

The QCNN reads one qubit (``CompiledCircuit.readout_qubit``). Two mitigations,
both configured under ``hardware.mitigation`` and both priced before anything runs:

* **Readout** (``readout: profile | calibration | none``). With
  ``f0 = P(read 0 | 0)`` and ``f1 = P(read 1 | 1)`` the measured probability of
  reading 1 is ``p1_raw = (1 - f0) + (f0 + f1 - 1) p1``, so

      p1 = (p1_raw - (1 - f0)) / (f0 + f1 - 1),   clipped to [0, 1],   ⟨Z⟩ = 1 - 2 p1.

  ``profile`` (default, free: no extra shots) takes ``f0 = f1`` = the readout
  fidelity of the readout qubit in the calibration profile (the Braket device
  document's READOUT / SPAM fidelity, one number per qubit). ``calibration``
  measures ``f0`` and ``f1`` with two extra circuits per device run (prepare
  ``|0⟩`` and ``|1⟩`` on the readout qubit, ``calibration_shots`` each), priced
  in the estimate (:func:`mitigation_parts`); emulators only in this version.
* **Zero-noise extrapolation** (``zne: {enabled, scale_factors}``): unitary
  folding ``C → C (C† C)^k`` of the compiled native circuit after its one-qubit
  state preparation (:func:`fold`) scales its gate noise by ``λ = 2k + 1``
  (Giurgica-Tiron et al. 2020, "Digital zero noise extrapolation for quantum
  error mitigation", arXiv:2005.10921); every factor
  but 1 is one more run of every sample (executables and shots × the number of
  factors in the estimate, gated with the base run). The readout-corrected ⟨Z⟩
  at each factor is extrapolated to ``λ = 0`` with Richardson's polynomial
  through all points (clipped to [-1, 1]); emulators only in this version.

Example:
    >>> mitigate_p1(np.array([0.05, 0.95]), 0.95, 0.95)
    array([0., 1.])
    >>> round(richardson([1, 3], [0.8, 0.6]), 12)   # the line through (1, 0.8), (3, 0.6) at 0
    0.9
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any, Sequence

import numpy as np

from qml_ops.cost import Estimate, estimate, with_parts
from qml_ops.errors import HardwareError

__all__ = [
    "CALIBRATION", "NONE", "PROFILE",
    "MitigationOutcome", "calibration_circuits", "fold", "inverse_ops", "method_name", "mitigate_p1",
    "mitigation_parts", "priced", "profile_fidelities", "richardson", "run_mitigation", "split_head",
]

PROFILE, CALIBRATION, NONE = "profile", "calibration", "none"
_LABEL_CALIBRATION = "readout calibration"


# ----------------------------------------------------------------------- readout

def mitigate_p1(p1_raw: np.ndarray, f0: float, f1: float) -> np.ndarray:
    """Invert a one-qubit readout channel: the probability of 1 before readout error.

    Args:
        p1_raw: measured frequencies of reading 1.
        f0: P(read 0 | prepared 0); f1: P(read 1 | prepared 1).

    Raises:
        HardwareError: ``f0 + f1 <= 1`` (the channel cannot be inverted: the readout
            tells nothing, or less than a coin).
    """
    denom = float(f0) + float(f1) - 1.0
    if not denom > 1e-9:
        raise HardwareError(f"readout mitigation needs f0 + f1 > 1, but P(0|0) = {f0} and P(1|1) = {f1}: "
                            "the readout cannot be inverted")
    return np.clip((np.asarray(p1_raw, dtype=float) - (1.0 - float(f0))) / denom, 0.0, 1.0)


def profile_fidelities(profile: Any, qubit: int) -> tuple[float, float]:
    """``(f0, f1)`` of ``qubit`` from a calibration profile: its readout fidelity, the
    same for both outcomes (the device documents give one number per qubit)."""
    try:
        f = float(profile.readout_fidelity[int(qubit)])
    except KeyError:
        raise HardwareError(f"profile {getattr(profile, 'source', '?')} has no readout fidelity for qubit "
                            f"{qubit}; set hardware.mitigation.readout to 'calibration' or 'none'") from None
    return f, f


_X_OPS = {  # a native X (up to a global phase) per compiler family
    "rigetti": lambda q: [("rx", (q,), (math.pi / 2,)), ("rx", (q,), (math.pi / 2,))],
    "iqm": lambda q: [("prx", (q,), (math.pi, 0.0))],
    "ionq": lambda q: [("gpi", (q,), (0.0,))],
}
_IDLE_OPS = {  # the identity, one native gate (a verbatim box may not be empty)
    "rigetti": lambda q: [("rz", (q,), (0.0,))],
    "iqm": lambda q: [("prx", (q,), (0.0, 0.0))],
    "ionq": lambda q: [("gpi2", (q,), (0.0,)), ("gpi2", (q,), (math.pi,))],
}


def calibration_circuits(circuit: Any, profile: Any) -> list:
    """The two readout-calibration circuits of ``circuit``'s readout qubit: prepare
    ``|0⟩`` (an identity gate) and ``|1⟩`` (a native X), then measure it."""
    from qml_ops.hardware.compile import CompiledCircuit, DeviceModel

    family = DeviceModel.from_profile(profile).family
    q = int(circuit.readout_qubit)
    out = []
    for ops in (_IDLE_OPS[family](q), _X_OPS[family](q)):
        out.append(CompiledCircuit(device_id=circuit.device_id, initial_layout={0: q}, final_layout={0: q},
                                   readout_qubit=q, two_qubit_gate_count=0, depth=len(ops), ops=tuple(ops)))
    return out


# -------------------------------------------------------------------- ZNE folding

def _inverse(op: tuple) -> list[tuple]:
    name, qs, angles = op
    if name in ("rx", "rz", "zz"):
        return [(name, qs, (-angles[0],))]
    if name == "prx":  # PRx(θ, φ)† = PRx(θ, φ + π): the same angle about the opposite axis
        return [(name, qs, (angles[0], angles[1] + math.pi))]
    if name == "gpi":  # self-inverse
        return [op]
    if name == "gpi2":  # GPi2(φ)† = GPi2(φ + π)
        return [(name, qs, (angles[0] + math.pi,))]
    if name == "cz":
        return [op]
    if name == "iswap":  # iSWAP⁴ = 1
        return [op, op, op]
    raise HardwareError(f"zero-noise extrapolation cannot fold native gate {name!r}")


def inverse_ops(ops: Sequence[tuple]) -> list[tuple]:
    """The native ops of the inverse circuit (each gate's inverse, in reverse order)."""
    return [inv for op in reversed(list(ops)) for inv in _inverse(op)]


def split_head(ops: Sequence[tuple]) -> tuple[list[tuple], list[tuple]]:
    """``(head, body)``: each qubit's one-qubit gates before its first two-qubit gate
    (the state preparation, where the samples differ) and the rest, in time order.
    Head gates act first on their qubit, so ``body · head`` is the circuit."""
    head, body, entangled = [], [], set()
    for op in ops:
        qs = op[1]
        if len(qs) == 1 and qs[0] not in entangled:
            head.append(op)
        else:
            entangled.update(qs)
            body.append(op)
    return head, body


def fold(circuit: Any, scale: int) -> Any:
    """Unitary folding of the compiled circuit to ``scale = 2k + 1``: ``C (C† C)^k · P``.

    ``P`` is the head (:func:`split_head`: the one-qubit state preparation on each
    qubit, which carries the sample's features) and ``C`` the rest, where nearly
    all the noise is (every two-qubit gate); folding ``C`` globally keeps the
    unitary, multiplies ``C``'s gates by ``scale`` and keeps the samples differing
    only in their heads, so the emulators still batch them. A circuit without
    two-qubit gates is folded whole.

    Raises:
        HardwareError: ``scale`` is not an odd integer >= 1.
    """
    from qml_ops.hardware.compile import _depth

    if isinstance(scale, bool) or not isinstance(scale, int) or scale < 1 or scale % 2 == 0:
        raise HardwareError(f"a folding scale factor must be an odd integer >= 1, but got {scale!r}")
    if scale == 1:
        return circuit
    head, body = split_head(circuit.ops)
    if not body:
        head, body = [], list(circuit.ops)
    folded = head + body + (inverse_ops(body) + body) * ((scale - 1) // 2)
    return replace(circuit, ops=tuple(folded), two_qubit_gate_count=sum(1 for _, qs, _ in folded if len(qs) == 2),
                   depth=_depth(folded))


def richardson(scales: Sequence[float], values: Sequence[float]) -> float:
    """The polynomial through ``(scale, value)`` points, at scale 0 (Lagrange form)."""
    xs, ys = [float(s) for s in scales], [float(v) for v in values]
    total = 0.0
    for i, (xi, yi) in enumerate(zip(xs, ys)):
        weight = 1.0
        for j, xj in enumerate(xs):
            if j != i:
                weight *= (0.0 - xj) / (xi - xj)
        total += weight * yi
    return total


# ----------------------------------------------------------------------- pricing

def _zne_factors(mitigation: Any) -> list[int]:
    return list(mitigation.zne.scale_factors) if mitigation.zne.enabled else []


def mitigation_parts(device: Any, mitigation: Any, n_samples: int, shots: int,
                     one_task_per_inference: bool = False) -> list[tuple[str, Estimate]]:
    """The extra runs ``hardware.mitigation`` asks for, each priced like the base run.

    Returns ``(label, estimate)`` pairs in the order they run: the two readout
    calibration circuits (``readout: calibration``), then one run of every sample
    per zero-noise scale factor other than 1 (the base run is factor 1).
    """
    parts = []
    if mitigation.readout == CALIBRATION:
        parts.append((_LABEL_CALIBRATION, estimate(device, 2, mitigation.calibration_shots,
                                                   one_task_per_inference=one_task_per_inference)))
    for factor in _zne_factors(mitigation):
        if factor != 1:
            parts.append((f"zne scale {factor}", estimate(device, n_samples, shots,
                                                          one_task_per_inference=one_task_per_inference)))
    return parts


def priced(base: Estimate, device: Any, mitigation: Any, one_task_per_inference: bool = False) -> Estimate:
    """``base`` with the mitigation's extra runs added (:func:`qml_ops.cost.with_parts`)."""
    parts = mitigation_parts(device, mitigation, base.n_samples, base.shots, one_task_per_inference)
    return with_parts(base, [e for _, e in parts])


def method_name(mitigation: Any) -> str:
    """``readout=profile``, ``readout=calibration+zne[1,3,5]``, ``none``, ..."""
    parts = [] if mitigation.readout == NONE else [f"readout={mitigation.readout}"]
    if mitigation.zne.enabled:
        parts.append("zne[" + ",".join(str(f) for f in mitigation.zne.scale_factors) + "]")
    return "+".join(parts) or NONE


# ---------------------------------------------------------------------- running

@dataclass
class MitigationOutcome:
    """The mitigated ⟨Z⟩ of the base run's samples, and what it cost.

    Attributes:
        z: mitigated ⟨Z⟩ per sample of the base run (NaN where a sample has no result).
        fields: report figures (method, fidelities used, per-factor ⟨Z⟩ error inputs).
        committed_usd, spent_usd, tasks: of the extra runs.
    """

    z: np.ndarray
    fields: dict[str, Any]
    committed_usd: Decimal = Decimal(0)
    spent_usd: Decimal = Decimal(0)
    tasks: int = 0


def _p1(counts: np.ndarray) -> np.ndarray:
    counts = np.asarray(counts, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        return counts[:, 1] / counts.sum(axis=1)


def _run_part(backend: Any, circuits: list, shots: int, est: Estimate, label: str, progress) -> Any:
    run = backend.run(circuits, shots, sample_indices=list(range(len(circuits))), estimate=est)
    if run.pending or not np.all(run.done):
        raise HardwareError(f"{backend.device.id}: the {label} run has samples without results")
    progress(f"  {backend.device.id}: {label}: {len(circuits)} circuits x {shots} shots")
    return run


def run_mitigation(mitigation: Any, backend: Any, circuits: list, counts: np.ndarray, shots: int,
                   est: Estimate, progress=print) -> MitigationOutcome:
    """Mitigate a device run: readout correction and, if enabled, zero-noise extrapolation.

    Args:
        mitigation: ``hardware.mitigation``.
        backend: the backend that ran ``circuits`` (runs the extra circuits too).
        circuits: the compiled circuits of the base run.
        counts: the base run's ``(n, 2)`` counts (NaN rows: no result).
        shots: shots per sample of the base run.
        est: the device's estimate with the mitigation's runs in ``est.parts``
            (:func:`priced`); each extra run is passed its own part.
    """
    device, profile = backend.device, backend.profile
    labels = [label for label, _ in mitigation_parts(device, mitigation, len(circuits), shots)]
    if len(labels) != len(est.parts):
        raise HardwareError(f"{device.id}: the estimate prices {len(est.parts)} mitigation runs, but "
                            f"hardware.mitigation asks for {len(labels)}; estimate again")
    parts = dict(zip(labels, est.parts))
    committed, spent, tasks = Decimal(0), Decimal(0), 0
    fields: dict[str, Any] = {"mitigation": method_name(mitigation)}
    readout_qubit = int(circuits[0].readout_qubit)
    f0 = f1 = None
    if mitigation.readout == PROFILE:
        f0, f1 = profile_fidelities(profile, readout_qubit)
    elif mitigation.readout == CALIBRATION:
        cal = _run_part(backend, calibration_circuits(circuits[0], profile), mitigation.calibration_shots,
                        parts[_LABEL_CALIBRATION], _LABEL_CALIBRATION, progress)
        committed, spent, tasks = committed + cal.committed_usd, spent + cal.spent_usd, tasks + cal.tasks
        f0 = float(cal.counts[0, 0] / cal.counts[0].sum())
        f1 = float(cal.counts[1, 1] / cal.counts[1].sum())
    if f0 is not None:
        fields.update(readout_fidelity_0=round(f0, 6), readout_fidelity_1=round(f1, 6))

    def corrected(c: np.ndarray) -> np.ndarray:
        p1 = _p1(c)
        return 1.0 - 2.0 * (p1 if f0 is None else mitigate_p1(p1, f0, f1))

    z = corrected(counts)
    factors = _zne_factors(mitigation)
    if factors:
        by_factor = {}
        for factor in factors:
            if factor == 1:
                by_factor[1] = z
                continue
            label = f"zne scale {factor}"
            run = _run_part(backend, [fold(c, factor) for c in circuits], shots, parts[label], label, progress)
            committed, spent, tasks = committed + run.committed_usd, spent + run.spent_usd, tasks + run.tasks
            by_factor[factor] = corrected(run.counts)
        stacked = np.stack([by_factor[f] for f in factors])
        z = np.clip([richardson(factors, stacked[:, i]) for i in range(stacked.shape[1])], -1.0, 1.0)
        fields["zne_scale_factors"] = [int(f) for f in factors]
        fields["zne_expval_mean_by_factor"] = {str(f): round(float(np.nanmean(v)), 6) for f, v in by_factor.items()}
    return MitigationOutcome(np.asarray(z, dtype=float), fields, committed, spent, tasks)
