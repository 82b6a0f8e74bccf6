"""Predicted accuracy band of a device, before anything runs on it.

The calibrated emulator (:meth:`NoiseParams.from_profile`, Braket ``LocalEmulator``'s
channels) is an *optimistic* model: depolarizing noise from randomized-benchmarking
fidelities and a symmetric readout flip; no idle decoherence, coherent error or
crosstalk. This module bounds the accuracy a device will measure from both sides:

* **optimistic**: today's calibrated channels at the profile's values;
* **pessimistic**: the same channels with every calibration value at its bad end
  (:func:`pessimistic_calibration`: the value minus ``k`` published standard errors,
  or the worst value any snapshot of the device in ``profiles/snapshots/`` records,
  whichever is worse), plus T1/T2 thermal relaxation over an ASAP schedule of the
  compiled circuit (:class:`ScheduledNoise`: each gate's duration, each qubit's
  idle time, and the readout window on every qubit) and, where the device document
  gives them (IQM), the asymmetric readout errors ``P(1|0)``, ``P(0|1)`` scaled to the
  pessimistic readout error;
* **finite shots**: each sample's prediction is a majority vote of ``shots`` shots,
  so a model's probability of a correct prediction is ``P(Binomial(shots, p1) > shots/2)``
  (or ``<=`` for label 0), and its number of correct samples is a sum of independent
  Bernoullis (Poisson binomial, computed exactly).

``predicted_accuracy_low`` is the ``(1 - confidence)/2`` quantile, and
``predicted_accuracy_high`` the ``(1 + confidence)/2`` quantile, of the number of
correct samples / n, each the more extreme of the two models (noise can help a
sample, so neither model is assumed to be below the other). The band is for the
accuracy measured on **these** samples with **these** shots (the same samples the
stage runs; the population accuracy's Wilson interval is a separate figure), under
the assumption that the device lies between the two models. It does not model
coherent (unitary) errors, crosstalk, leakage or drift beyond the recorded
snapshots. ``predicted_gap_low/high`` = simulator accuracy - ``high/low``.

Gate and readout durations: IonQ's document gives them (``provider.timing``: 1Q, 2Q,
readout); for the superconducting devices (IQM, Rigetti) the documents give none, so
:data:`TRANSMON_DURATIONS` uses typical transmon durations at the long end of the
published ranges (Krantz et al. 2019, "A quantum engineer's guide to superconducting
qubits", Applied Physics Reviews 6, 021318; arXiv:1904.06560). ``rz`` is virtual
(a frame change, duration 0).

Missing coherence times: a qubit of the circuit without T1 or T2 in the profile (or
with a value <= 0, which documents use for "not measured") gets the device's median
over the qubits that have one; the band's ``notes`` say so. A profile with no T1/T2
at all raises :class:`~qml_ops.errors.HardwareError`: the pessimistic side cannot be
built. T2 > 2·T1 (not physical; T2 from a different experiment) is clamped to 2·T1,
also noted.

Example:
    >>> band = predict_band(circuits, profile, y, sim_accuracy=0.97, shots=512)   # doctest: +SKIP
    >>> band.accuracy_low, band.accuracy_high, band.notes                          # doctest: +SKIP
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
from scipy.stats import binom

from qml_ops.errors import HardwareError, QmlOpsError
from qml_ops.hardware.emulator.density_matrix import exact_p1
from qml_ops.hardware.emulator.noise import NoiseParams, NoiseStep, thermal_relaxation

__all__ = ["BAND_METRIC_KEYS", "Band", "Durations", "ScheduledNoise", "TRANSMON_DURATIONS", "correct_probabilities",
           "device_durations", "pessimistic_calibration", "pessimistic_noise", "predict_band",
           "poisson_binomial_quantiles"]

#: The band's figures as they reach the metrics (MLflow device runs, metrics/hardware.json, the model card).
BAND_METRIC_KEYS = ("predicted_accuracy_low", "predicted_accuracy_high", "predicted_gap_low", "predicted_gap_high")
#: Standard errors subtracted for the pessimistic end of a published calibration value (~95% one-sided: 2).
DEFAULT_K_SIGMA = 2.0
#: The most qubits a band is computed for (exact density matrix, the emulator's automatic limit).
BAND_MAX_QUBITS = 10
#: Gates that are frame changes (no pulse, no time).
VIRTUAL_GATES = frozenset({"rz"})
#: Older snapshots record failed calibrations as fidelity 0.5 (standard error 1) or T = 0: not a measurement.
_FAILED_FIDELITY = 0.5


@dataclass(frozen=True)
class Durations:
    """Gate and readout durations in seconds, and where they come from."""

    one_qubit_s: float
    two_qubit_s: float
    readout_s: float
    source: str

    def of(self, gate: str, n_qubits: int) -> float:
        if gate in VIRTUAL_GATES:
            return 0.0
        return self.one_qubit_s if n_qubits == 1 else self.two_qubit_s


#: Typical superconducting-transmon durations, at the long (pessimistic) end of the ranges of
#: Krantz et al. 2019 (Applied Physics Reviews 6, 021318): one-qubit gates tens of ns, two-qubit
#: gates up to a few hundred ns, dispersive readout up to ~1-2 µs.
TRANSMON_DURATIONS = Durations(
    one_qubit_s=50e-9, two_qubit_s=300e-9, readout_s=2e-6,
    source="typical transmon durations, long end (Krantz et al. 2019, Appl. Phys. Rev. 6, 021318): "
           "1Q 50 ns, 2Q 300 ns, readout 2 us",
)


def _document(path: Path) -> dict:
    from qml_ops.hardware.profiles import decode_json_document

    return decode_json_document(path.read_text(), str(path))


def device_durations(profile: Any, document: dict | None = None) -> Durations:
    """The durations of ``profile``'s device: from its document where it gives them (IonQ's
    ``provider.timing``), else :data:`TRANSMON_DURATIONS` for superconducting devices.

    Raises:
        HardwareError: a device of an unknown provider without durations in its document.
    """
    timing = ((document or {}).get("provider") or {}).get("timing") or {}
    if all(isinstance(timing.get(k), (int, float)) for k in ("1Q", "2Q", "readout")):
        return Durations(float(timing["1Q"]), float(timing["2Q"]), float(timing["readout"]),
                         source=f"device document {profile.source}: provider.timing 1Q/2Q/readout")
    if profile.provider in ("iqm", "rigetti"):
        return TRANSMON_DURATIONS
    raise HardwareError(f"{profile.device_id}: no gate durations in its document ({profile.source}: "
                        "provider.timing) and no documented typical values for provider "
                        f"{profile.provider!r}; known: iqm, rigetti (transmon), ionq (document)")


# ------------------------------------------------------------------ calibration


@dataclass
class Calibration:
    """The pessimistic calibration of one device and what it took from where.

    Attributes:
        profile: the profile with each fidelity and coherence time at its bad end.
        readout_asymmetry: qubit -> ``(P(1|0), P(0|1))`` at the pessimistic mean error, where known.
        notes: fallbacks and clamps applied (for the report).
        snapshots: the snapshot files considered.
    """

    profile: Any
    readout_asymmetry: dict[int, tuple[float, float]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    snapshots: list[str] = field(default_factory=list)


def _stderrs(document: dict | None, profile: Any) -> dict[str, dict]:
    """Published standard errors by kind: ``one`` (1Q RB), ``readout``, ``t1``, ``t2`` per qubit,
    ``two`` per ``(edge, gate)``; and the asymmetric readout errors ``asym`` per qubit."""
    out: dict[str, dict] = {"one": {}, "readout": {}, "t1": {}, "t2": {}, "two": {}, "asym": {}}
    std = (document or {}).get("standardized") or {}
    for label, entry in (std.get("oneQubitProperties") or {}).items():
        q = int(label)
        by_type = {f["fidelityType"]["name"]: f for f in entry.get("oneQubitFidelity") or []}
        for kind, name in (("one", profile.one_qubit_fidelity_type), ("readout", "READOUT")):
            se = (by_type.get(name) or {}).get("standardError")
            if isinstance(se, (int, float)) and 0 <= se < 1:
                out[kind][q] = float(se)
        e01 = (by_type.get("READOUT_ERROR_0_TO_1") or {}).get("fidelity")
        e10 = (by_type.get("READOUT_ERROR_1_TO_0") or {}).get("fidelity")
        if isinstance(e01, (int, float)) and isinstance(e10, (int, float)) and e01 + e10 > 0:
            out["asym"][q] = (float(e01), float(e10))
        for kind, key in (("t1", "T1"), ("t2", "T2")):
            se = (entry.get(key) or {}).get("standardError") if isinstance(entry.get(key), dict) else None
            if isinstance(se, (int, float)) and se >= 0:
                out[kind][q] = float(se)
    for edge, entry in (std.get("twoQubitProperties") or {}).items():
        for f in entry.get("twoQubitGateFidelity") or []:
            se = f.get("standardError")
            if isinstance(se, (int, float)) and 0 <= se < 1:
                out["two"][(str(edge), str(f.get("gateName", "")).lower())] = float(se)
    return out


def _valid_fidelity(value: Any) -> bool:
    return isinstance(value, (int, float)) and _FAILED_FIDELITY < value <= 1


def _valid_time(value: Any) -> bool:
    return isinstance(value, (int, float)) and value > 0


def _coherence(values: dict, qubits: Sequence[int], name: str, profile: Any, notes: list[str]) -> dict:
    """``values`` on ``qubits``, with the device median for qubits without a measurement (noted)."""
    measured = [float(v) for v in values.values() if _valid_time(v)]
    if not measured:
        raise HardwareError(f"{profile.device_id}: the profile ({profile.source}) has no {name} "
                            f"(key {name.lower()}_s): the pessimistic model needs T1 and T2 per qubit; "
                            "re-derive the profile from a device document that has them")
    median = statistics.median(measured)
    out = dict(values)
    for q in qubits:
        if not _valid_time(values.get(q)):
            out[q] = median
            notes.append(f"qubit {q}: no {name} in {profile.source}; used the device median {median:.3g} s")
    return out


def pessimistic_calibration(profile: Any, qubits: Sequence[int], *, snapshots: Sequence[Path] = (),
                            k_sigma: float = DEFAULT_K_SIGMA, document: dict | None = None) -> Calibration:
    """Every calibration value of ``qubits`` (and their couplers) at its bad end.

    Args:
        profile: the profile in use (its values are the optimistic model's).
        qubits: the physical qubits of the compiled circuit.
        snapshots: device documents of other dates (the worst value of any counts;
            entries a vendor marks as failed, fidelity <= 0.5 or T <= 0, are skipped).
        k_sigma: published standard errors subtracted from each value.
        document: the profile's own device document (its standard errors and
            asymmetric readout errors), if available.

    Raises:
        HardwareError: the profile has no T1 or no T2 at all.
    """
    from qml_ops.hardware.profiles import read_snapshot

    notes: list[str] = []
    qs = [int(q) for q in qubits]
    t1 = _coherence(profile.t1_s, qs, "T1", profile, notes)
    t2 = _coherence(profile.t2_s, qs, "T2", profile, notes)
    se = _stderrs(document, profile)
    one = {q: f - k_sigma * se["one"].get(q, 0.0) for q, f in profile.one_qubit_fidelity.items()}
    readout = {q: f - k_sigma * se["readout"].get(q, 0.0) for q, f in profile.readout_fidelity.items()}
    t1 = {q: max(v - k_sigma * se["t1"].get(q, 0.0), 0.5 * v) for q, v in t1.items()}
    t2 = {q: max(v - k_sigma * se["t2"].get(q, 0.0), 0.5 * v) for q, v in t2.items()}
    two = {edge: {g: f - k_sigma * se["two"].get((edge, g), 0.0) for g, f in gates.items()}
           for edge, gates in profile.two_qubit_fidelity.items()}
    used: list[str] = []
    for path in snapshots:
        try:
            old = read_snapshot(path, profile.device_id)
        except HardwareError as exc:
            notes.append(f"snapshot {Path(path).name} skipped: {exc}")
            continue
        used.append(Path(path).name)
        for mine, theirs, valid in ((one, old.one_qubit_fidelity, _valid_fidelity),
                                    (readout, old.readout_fidelity, _valid_fidelity),
                                    (t1, old.t1_s, _valid_time), (t2, old.t2_s, _valid_time)):
            for q in list(mine):
                if valid(theirs.get(q)):
                    mine[q] = min(mine[q], float(theirs[q]))
        for edge, gates in two.items():
            for g in gates:
                value = (old.two_qubit_fidelity.get(edge) or {}).get(g)
                if _valid_fidelity(value):
                    gates[g] = min(gates[g], float(value))
    for q in qs:
        if t2[q] > 2 * t1[q]:
            notes.append(f"qubit {q}: T2 {t2[q]:.3g} s > 2·T1 {t1[q]:.3g} s; clamped to 2·T1")
            t2[q] = 2 * t1[q]
    asym: dict[int, tuple[float, float]] = {}
    for q, (e01, e10) in se["asym"].items():
        if q in readout:
            scale = 2 * (1 - readout[q]) / (e01 + e10)  # keep the documented ratio, the pessimistic mean
            asym[q] = (min(1.0, e01 * scale), min(1.0, e10 * scale))
    pess = replace(profile, one_qubit_fidelity=one, readout_fidelity=readout, two_qubit_fidelity=two,
                   t1_s=t1, t2_s=t2)
    return Calibration(pess, asym, notes, used)


# ------------------------------------------------------------------ schedule


@dataclass(frozen=True)
class ScheduledNoise(NoiseParams):
    """:class:`NoiseParams` plus T1/T2 relaxation over an ASAP schedule of the circuit.

    Each gate starts when all its qubits are free; a qubit waiting for it relaxes
    over the wait (before the gate), and every qubit of a gate relaxes over the gate's
    duration (after its depolarizing channel). After the last gate every qubit relaxes
    until the circuit ends, then over the readout window. With infinite T1 and T2
    every relaxation channel is the identity and the model is :class:`NoiseParams`'.

    Attributes:
        t1_s, t2_s: qubit -> coherence times (seconds; ``inf`` allowed).
        durations: the gate and readout durations.
    """

    t1_s: Mapping[int, float] = field(default_factory=dict)
    t2_s: Mapping[int, float] = field(default_factory=dict)
    durations: Durations | None = None

    def _relax(self, q: int, duration: float) -> list[NoiseStep]:
        t1, t2 = float(self.t1_s[q]), float(self.t2_s[q])
        if duration <= 0 or (math.isinf(t1) and math.isinf(t2)):
            return []
        if math.isinf(t1):
            t1 = 1e300
        channels = thermal_relaxation(duration, t1, min(t2, 2 * t1))
        return [("noise", c, (q,)) for c in channels if not _is_identity(c)]

    def steps(self, structure: Sequence[tuple[str, tuple[int, ...]]]) -> list[NoiseStep]:
        if self.durations is None:
            return super().steps(structure)
        base = super().steps(structure)
        free: dict[int, float] = {}
        out: list[NoiseStep] = []
        pending: list[NoiseStep] = []
        for step in base:
            if step[0] != "gate":
                out.append(step)
                continue
            out.extend(pending)
            name, qs = structure[step[1]]
            start = max((free.get(q, 0.0) for q in qs), default=0.0)
            for q in qs:
                out.extend(self._relax(q, start - free.get(q, 0.0)))
            out.append(step)
            d = self.durations.of(name, len(qs))
            pending = [s for q in qs for s in self._relax(q, d)]
            for q in qs:
                free[q] = start + d
        out.extend(pending)
        end = max(free.values(), default=0.0)
        for q in sorted(free):
            out.extend(self._relax(q, end - free[q] + self.durations.readout_s))
        return out


def _is_identity(channel: Any) -> bool:
    return len(channel.kraus) >= 1 and np.allclose(channel.kraus[0], np.eye(2)) and all(
        np.allclose(k, 0) for k in channel.kraus[1:])


def pessimistic_noise(calibration: Calibration, durations: Durations) -> ScheduledNoise:
    """The pessimistic model's channels (readout left to :func:`apply_readout`)."""
    base = NoiseParams.from_profile(calibration.profile)
    return ScheduledNoise(base.one_qubit, base.two_qubit, {}, t1_s=dict(calibration.profile.t1_s),
                          t2_s=dict(calibration.profile.t2_s), durations=durations)


def apply_readout(p1: np.ndarray, readout_qubits: Sequence[int], calibration: Calibration) -> np.ndarray:
    """Probability of reading 1 after the pessimistic readout error (asymmetric where documented)."""
    out = np.empty_like(p1)
    for i, (p, q) in enumerate(zip(p1, readout_qubits)):
        if q in calibration.readout_asymmetry:
            e01, e10 = calibration.readout_asymmetry[q]
        else:
            e01 = e10 = 1.0 - float(calibration.profile.readout_fidelity.get(q, 1.0))
        out[i] = p * (1 - e10) + (1 - p) * e01
    return np.clip(out, 0.0, 1.0)


# ------------------------------------------------------------------ statistics


def correct_probabilities(p1: np.ndarray, y: np.ndarray, shots: int) -> np.ndarray:
    """Each sample's probability of a correct prediction from ``shots`` shots.

    The stage predicts 1 when more than half the shots read 1 (``⟨Z⟩ < 0``), so
    ``P(pred = 1) = P(Binomial(shots, p1) > shots/2)``.
    """
    p_one = binom.sf(shots // 2, shots, np.clip(p1, 0.0, 1.0))
    return np.where(np.asarray(y) == 1, p_one, 1.0 - p_one)


def poisson_binomial_quantiles(q: np.ndarray, probs: Sequence[float]) -> list[int]:
    """Quantiles of the number of successes of independent Bernoulli(``q_i``) (exact, O(n²))."""
    dist = np.zeros(len(q) + 1)
    dist[0] = 1.0
    for qi in q:
        dist[1:] = dist[1:] * (1 - qi) + dist[:-1] * qi
        dist[0] *= 1 - qi
    cdf = np.cumsum(dist)
    return [int(min(np.searchsorted(cdf, p - 1e-12), len(q))) for p in probs]


# ------------------------------------------------------------------ the band


@dataclass
class Band:
    """A device's predicted accuracy band on the stage's samples and shots.

    Attributes:
        accuracy_low, accuracy_high: the band (see the module docstring).
        optimistic_accuracy, pessimistic_accuracy: each model's expected accuracy.
        gap_low, gap_high: ``sim_accuracy - accuracy_high``, ``sim_accuracy - accuracy_low``.
        confidence: the quantile level of the band.
        durations_source, notes, snapshots: what the prediction assumed and used.
    """

    accuracy_low: float
    accuracy_high: float
    optimistic_accuracy: float
    pessimistic_accuracy: float
    gap_low: float
    gap_high: float
    confidence: float
    k_sigma: float
    durations_source: str
    notes: list[str] = field(default_factory=list)
    snapshots: list[str] = field(default_factory=list)

    def metrics(self) -> dict[str, Any]:
        """The band as metric entries (:data:`BAND_METRIC_KEYS` and report-only details)."""
        return {
            "predicted_accuracy_low": round(self.accuracy_low, 6),
            "predicted_accuracy_high": round(self.accuracy_high, 6),
            "predicted_gap_low": round(self.gap_low, 6),
            "predicted_gap_high": round(self.gap_high, 6),
            "predicted_accuracy_optimistic": round(self.optimistic_accuracy, 6),
            "predicted_accuracy_pessimistic": round(self.pessimistic_accuracy, 6),
            "predicted_band": {"confidence": self.confidence, "k_sigma": self.k_sigma,
                               "durations": self.durations_source, "snapshots": list(self.snapshots),
                               "notes": list(self.notes)},
        }

    def covers(self, accuracy: float) -> bool:
        return self.accuracy_low - 1e-12 <= accuracy <= self.accuracy_high + 1e-12


def predict_band(circuits: Sequence[Any], profile: Any, y: np.ndarray, *, sim_accuracy: float, shots: int,
                 confidence: float = 0.95, k_sigma: float = DEFAULT_K_SIGMA,
                 snapshots: Sequence[Path] | None = None, document: dict | None = None,
                 durations: Durations | None = None) -> Band:
    """The device's predicted accuracy band for the compiled ``circuits`` (one per sample).

    Args:
        circuits: the compiled circuits (what the device will run), <= 10 qubits
            (exact density matrix).
        profile: the device's profile in use.
        y: the samples' labels.
        sim_accuracy: the simulator's accuracy on the same samples (for the gap band).
        shots: shots per sample.
        confidence: the band's quantile level.
        k_sigma: standard errors for the pessimistic end of published values.
        snapshots: device documents of other dates (default: all of the device's in
            ``profiles/snapshots/`` except the profile's own).
        document: the profile's own device document (default: read from ``profiles/snapshots/``
            when there).
        durations: gate and readout durations (default: :func:`device_durations`).

    Raises:
        HardwareError: no T1/T2 in the profile, unknown durations, or too many qubits.
    """
    from qml_ops.hardware.profiles import list_snapshots

    if snapshots is None or document is None:
        try:
            paths = list_snapshots(profile.device_id)
        except QmlOpsError:
            paths = []
        own = [p for p in paths if p.name == profile.source]
        if document is None and own:
            document = _document(own[0])
        if snapshots is None:
            snapshots = [p for p in paths if p.name != profile.source]
    qubits = sorted({q for c in circuits for q in c.qubits})
    if len(qubits) > BAND_MAX_QUBITS:
        raise HardwareError(f"the compiled circuit uses {len(qubits)} qubits; the band is computed with the exact "
                            f"density matrix, up to {BAND_MAX_QUBITS} qubits")
    durations = durations or device_durations(profile, document)
    cal = pessimistic_calibration(profile, qubits, snapshots=snapshots, k_sigma=k_sigma, document=document)
    y = np.asarray(y)
    p_opt = exact_p1(circuits, NoiseParams.from_profile(profile))
    p_pess = apply_readout(exact_p1(circuits, pessimistic_noise(cal, durations)),
                           [c.readout_qubit for c in circuits], cal)
    lo_q, hi_q = (1 - confidence) / 2, (1 + confidence) / 2
    q_opt, q_pess = correct_probabilities(p_opt, y, shots), correct_probabilities(p_pess, y, shots)
    n = len(y)
    opt_lo, opt_hi = poisson_binomial_quantiles(q_opt, (lo_q, hi_q))
    pess_lo, pess_hi = poisson_binomial_quantiles(q_pess, (lo_q, hi_q))
    low, high = min(opt_lo, pess_lo) / n, max(opt_hi, pess_hi) / n
    return Band(low, high, float(q_opt.mean()), float(q_pess.mean()), sim_accuracy - high, sim_accuracy - low,
                confidence, k_sigma, durations.source, cal.notes, cal.snapshots)

