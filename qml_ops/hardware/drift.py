"""Calibration drift: how a device's calibration changed between its snapshots.

The project keeps every Braket device document it derives profiles from
(``profiles/snapshots/<device_id>_<date>.json``, several dates per device).
This module

* compares two snapshots' profiles qubit by qubit (readout and 1-qubit
  fidelity, T1, T2) and coupler by coupler (the native 2-qubit gate's
  fidelity), the largest changes first (:func:`compare_profiles`);
* predicts the registered model's accuracy under each snapshot: the model
  compiled for that snapshot's profile and run on the configured emulator on
  the test samples, with its 95% Wilson interval (:func:`predicted_accuracy`);
* says how old the profile in use is (:func:`profile_age_days`,
  :func:`stale_profile_warnings`, against ``hardware.max_profile_age_days``).

Example:
    >>> from qml_ops.hardware.profiles import snapshot_profiles
    >>> old, new = snapshot_profiles("iqm-garnet")               # doctest: +SKIP
    >>> drift = compare_profiles(old, new)                        # doctest: +SKIP
    >>> drift.qubits[0].qubit, drift.summary()["largest_change"]  # doctest: +SKIP
"""

from __future__ import annotations

import datetime as _dt
import statistics
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from qml_ops.errors import HardwareError, QmlOpsError
from qml_ops.hardware.profiles import Profile, load_profile

#: Per-qubit figures compared, as (key, Profile attribute).
QUBIT_FIGURES = (("readout_fidelity", "readout_fidelity"), ("one_qubit_fidelity", "one_qubit_fidelity"),
                 ("t1_s", "t1_s"), ("t2_s", "t2_s"))
#: Fidelities that rank qubits (coherence times change by larger, less telling amounts).
RANKING_FIGURES = ("readout_fidelity", "one_qubit_fidelity")


def today() -> _dt.date:
    """Today's date in UTC (a function, so tests can fix it)."""
    return _dt.datetime.now(_dt.timezone.utc).date()


# ------------------------------------------------------------------ comparison


@dataclass(frozen=True)
class Change:
    """One figure's values in the older and the newer snapshot (``None``: not reported)."""

    old: float | None
    new: float | None

    @property
    def delta(self) -> float | None:
        return None if self.old is None or self.new is None else self.new - self.old

    def to_dict(self) -> dict[str, float | None]:
        return {"old": self.old, "new": self.new, "change": self.delta}


@dataclass(frozen=True)
class QubitDrift:
    """A qubit present in both snapshots and how its figures moved."""

    qubit: int
    figures: dict[str, Change]

    @property
    def largest_change(self) -> float:
        """The largest absolute change of its readout or 1-qubit fidelity."""
        return max((abs(self.figures[k].delta or 0.0) for k in RANKING_FIGURES), default=0.0)

    def to_dict(self) -> dict[str, Any]:
        return {"qubit": self.qubit, **{k: c.to_dict() for k, c in self.figures.items()}}


@dataclass(frozen=True)
class CouplerDrift:
    """A coupler present in both snapshots: its native 2-qubit gate fidelity."""

    coupler: str
    gate: str
    fidelity: Change

    def to_dict(self) -> dict[str, Any]:
        return {"coupler": self.coupler, "gate": self.gate, "two_qubit_fidelity": self.fidelity.to_dict()}


@dataclass
class Drift:
    """The calibration change of one device from ``old`` to ``new``, the largest changes first.

    ``qubits_only_old`` / ``qubits_only_new`` (and the coupler lists) hold what only one
    snapshot reports (a qubit taken out of service, a coupler added).
    """

    device: str
    old: Profile
    new: Profile
    qubits: list[QubitDrift]
    couplers: list[CouplerDrift]
    qubits_only_old: list[int] = field(default_factory=list)
    qubits_only_new: list[int] = field(default_factory=list)
    couplers_only_old: list[str] = field(default_factory=list)
    couplers_only_new: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        """Median changes and the single largest qubit and coupler change."""
        def median_delta(values):
            values = [v for v in values if v is not None]
            return round(statistics.median(values), 6) if values else None

        out: dict[str, Any] = {
            "days": (_date(self.new.snapshot_date) - _date(self.old.snapshot_date)).days,
            "qubits_compared": len(self.qubits),
            "couplers_compared": len(self.couplers),
        }
        for key, _ in QUBIT_FIGURES:
            out[f"median_{key}_change"] = median_delta(q.figures[key].delta for q in self.qubits)
        out["median_two_qubit_fidelity_change"] = median_delta(c.fidelity.delta for c in self.couplers)
        out["largest_qubit_change"] = (
            {"qubit": self.qubits[0].qubit, "change": round(self.qubits[0].largest_change, 6)}
            if self.qubits else None)
        out["largest_coupler_change"] = (
            {"coupler": self.couplers[0].coupler, "change": round(self.couplers[0].fidelity.delta or 0.0, 6)}
            if self.couplers else None)
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "device": self.device,
            "old": {"snapshot_date": self.old.snapshot_date, "source": self.old.source},
            "new": {"snapshot_date": self.new.snapshot_date, "source": self.new.source},
            "summary": self.summary(),
            "qubits": [q.to_dict() for q in self.qubits],
            "couplers": [c.to_dict() for c in self.couplers],
            "qubits_only_old": self.qubits_only_old,
            "qubits_only_new": self.qubits_only_new,
            "couplers_only_old": self.couplers_only_old,
            "couplers_only_new": self.couplers_only_new,
        }


def _date(text: str) -> _dt.date:
    return _dt.date.fromisoformat(text)


def _coupler_key(edge: str, directed: bool) -> str:
    """``"a-b"`` as the snapshot names it; undirected couplers as ``"low-high"``."""
    if directed:
        return edge
    a, b = sorted(int(x) for x in edge.split("-"))
    return f"{a}-{b}"


def _native_two_qubit(profile: Profile) -> dict[str, tuple[str, float]]:
    """Coupler -> (native gate, fidelity)."""
    out = {}
    for edge, gates in profile.two_qubit_fidelity.items():
        native = [g for g in profile.native_gates if g in gates]
        if native:
            out[_coupler_key(edge, profile.directed)] = (native[0], gates[native[0]])
    return out


def _edge_order(edge: str) -> tuple[int, ...]:
    return tuple(int(x) for x in edge.split("-"))


def compare_profiles(old: Profile, new: Profile) -> Drift:
    """The per-qubit and per-coupler changes from ``old`` to ``new`` (same device).

    Qubits are ranked by the largest absolute change of their readout or 1-qubit
    fidelity, couplers by the absolute change of their native 2-qubit gate
    fidelity; the largest first.

    Raises:
        HardwareError: the two profiles are of different devices.
    """
    if old.device_id != new.device_id:
        raise HardwareError(f"cannot compare profiles of {old.device_id} and {new.device_id}: not the same device")
    shared = sorted(set(old.qubits) & set(new.qubits))
    qubits = [
        QubitDrift(q, {key: Change(getattr(old, attr).get(q), getattr(new, attr).get(q))
                       for key, attr in QUBIT_FIGURES})
        for q in shared
    ]
    qubits.sort(key=lambda d: (-d.largest_change, d.qubit))
    old_2q, new_2q = _native_two_qubit(old), _native_two_qubit(new)
    couplers = [
        CouplerDrift(edge, new_2q[edge][0], Change(old_2q[edge][1], new_2q[edge][1]))
        for edge in sorted(set(old_2q) & set(new_2q), key=_edge_order)
    ]
    couplers.sort(key=lambda c: -abs(c.fidelity.delta or 0.0))
    return Drift(
        device=new.device_id, old=old, new=new, qubits=qubits, couplers=couplers,
        qubits_only_old=sorted(set(old.qubits) - set(new.qubits)),
        qubits_only_new=sorted(set(new.qubits) - set(old.qubits)),
        couplers_only_old=sorted(set(old_2q) - set(new_2q), key=_edge_order),
        couplers_only_new=sorted(set(new_2q) - set(old_2q), key=_edge_order),
    )


def pick_snapshots(snapshots: list[Profile], old_date: str | None = None,
                   new_date: str | None = None) -> tuple[Profile, Profile]:
    """The two snapshots to compare: ``old_date`` and ``new_date`` (default: the oldest and the newest).

    Raises:
        HardwareError: fewer than two snapshots, a date with no snapshot (the dates there are named).
    """
    if not snapshots:
        raise HardwareError("no snapshots to compare")
    device = snapshots[0].device_id
    dates = [p.snapshot_date for p in snapshots]
    if len(snapshots) < 2:
        raise HardwareError(f"{device} has one snapshot ({dates[0]}): there is nothing to compare; "
                            f"add another dated device document to profiles/snapshots/")

    def by_date(date: str | None, default: Profile, option: str) -> Profile:
        if date is None:
            return default
        for p in snapshots:
            if p.snapshot_date == date:
                return p
        raise HardwareError(f"{option} {date}: {device} has no snapshot of that date; dates: {', '.join(dates)}")

    return by_date(old_date, snapshots[0], "--from"), by_date(new_date, snapshots[-1], "--to")


# ------------------------------------------------------------ predicted accuracy


class ModelUnavailable(QmlOpsError):
    """No registered model (or no test split) to predict with: the drift is still shown."""


def predicted_accuracy(params: Any, snapshots: list[Profile]) -> dict[str, Any]:
    """The registered model's accuracy on the test samples under each snapshot's calibration.

    Loads ``models:/<train.registered_model>@<hardware.model_alias>``, compiles it for
    each profile and runs it on the configured emulator (``hardware.emulator``) with
    ``hardware.n_samples`` samples x ``hardware.shots`` shots.

    Returns:
        ``{"model": "models:/name/version", "n_samples", "shots", "snapshots": {date:
        {"accuracy", "accuracy_ci_low", "accuracy_ci_high", "sim_accuracy", "sim2real_gap",
        "expval_mae" (mean |<Z> error| vs the simulator), "physical_qubits" (the layout the
        compiler chose under that calibration), "status", "reason"}}}``.

    Raises:
        ModelUnavailable: no tracking store, no model at the alias, or no test split.
        HardwareError: the model was trained on other data than this workspace's.
    """
    from qml_ops import tracking
    from qml_ops.cost import estimate as price
    from qml_ops.errors import TrackingError
    from qml_ops.hardware.backends import BackendOptions, backend_for, backend_name
    from qml_ops.hardware.reporting import check_lineage, emulator_settings, load_model, validation_samples
    from qml_ops.hardware.validation import OK, device_for, validate_device

    hw = params.hardware
    name = params.train.registered_model
    uri = tracking.tracking_uri()
    if uri.startswith("sqlite:///") and not Path(uri.removeprefix("sqlite:///")).is_file():
        raise ModelUnavailable(f"no MLflow store at {uri.removeprefix('sqlite:///')}: no registered model yet "
                               "(train and register one with `dvc repro train`)")
    tracking.connect()
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        try:
            version, model, encoder = load_model(params, Path(tmp))
        except TrackingError as exc:
            raise ModelUnavailable(str(exc)) from None
        check_lineage(name, hw.model_alias, version)
        try:
            X_raw, y = validation_samples(hw.n_samples)
        except (HardwareError, OSError) as exc:
            raise ModelUnavailable(f"no test samples: {exc}") from None
    features = encoder.transform(X_raw)
    z_sim = model.expval(features)
    for profile in snapshots:
        device = device_for(hw, profile.device_id)
        options = BackendOptions(seed=hw.seed, emulator=emulator_settings(hw))
        backend = backend_for(backend_name("emulate", hw.emulator), device, profile, options)
        est = price(device, len(y), hw.shots, hw.one_task_per_inference)
        result = validate_device(hw, backend, model, features, y, z_sim, est, progress=lambda _line: None)
        m = result.metrics
        entry = {"status": result.status, "source": profile.source}
        if result.status == OK:
            entry.update({k: m[k] for k in ("accuracy", "accuracy_ci_low", "accuracy_ci_high", "sim_accuracy",
                                            "sim2real_gap", "expval_mae", "two_qubit_gates", "depth")})
            entry["physical_qubits"] = sorted(m["layout"].values())
        else:
            entry["reason"] = result.reason
        results[profile.snapshot_date] = entry
    return {"model": f"models:/{name}/{version.version}", "model_alias": hw.model_alias,
            "emulator": hw.emulator, "n_samples": int(len(y)), "shots": hw.shots, "snapshots": results}


# -------------------------------------------------------------------- profile age


def profile_date(device_id: str) -> str | None:
    """The snapshot date of ``profiles/<device_id>.json``, or ``None`` without one."""
    try:
        return load_profile(device_id).snapshot_date
    except HardwareError:
        return None


def profile_age_days(snapshot_date: str, on: _dt.date | None = None) -> int:
    """Days from ``snapshot_date`` (``YYYY-MM-DD``) to ``on`` (default: :func:`today`)."""
    return ((on or today()) - _date(snapshot_date)).days


def stale_profile_warnings(devices: list[str], max_age_days: int, on: _dt.date | None = None) -> list[str]:
    """One warning per device whose profile is older than ``max_age_days`` (``hardware.max_profile_age_days``)."""
    on = on or today()
    warnings = []
    for device_id in devices:
        date = profile_date(device_id)
        if date is None:
            continue
        age = profile_age_days(date, on)
        if age > max_age_days:
            warnings.append(
                f"the calibration profile of {device_id} is from {date}, {age} days old on {on.isoformat()} "
                f"(hardware.max_profile_age_days = {max_age_days}): its emulator may no longer match the device; "
                f"fetch a new snapshot (`qml-ops devices snapshot {device_id}`) or see "
                f"`qml-ops devices drift {device_id}`")
    return warnings
