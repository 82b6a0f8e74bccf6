"""Run approvals: an approval buys one run, not a standing allowance.

``qml-ops hardware approve`` prices the run the hardware stage would make now
(the registered model version behind ``hardware.model_alias``, the devices,
samples × shots, and each device's compiled circuits), shows the estimate and,
once confirmed, records an :class:`Approval` beside the QPU ledger
(``hardware/approvals.json``, see :mod:`qml_ops.hardware.ledger`). The approval is
bound to what it approves: the model and version, ``n_samples``, ``shots``,
``one_task_per_inference``, and per device the run key, the sha256 of the exact
task actions (:func:`qml_ops.hardware.qpu.plan_digest`), the number of tasks
and the estimate to the cent.

:func:`qml_ops.hardware.qpu.run_on_qpu` creates the first task of a run only
under a recorded approval that matches the run exactly (:func:`approval_for_run`),
and marks it used by that run right after the first task's row is written;
every row it pays for carries its id. From then on:

* resuming the same run (the same key: same model version, samples, shots and
  circuits) needs no new approval: its rows carry the approval;
* any other run (a retrained model, other samples, shots, devices, prices or
  circuits) matches no approval and needs its own;
* an approval whose run's rows are gone from the ledger is refused (the tasks
  may exist and be billed; a new approval is needed to pay again).

``hardware.approve_usd`` and ``hardware.max_budget_usd`` approve nothing by
themselves any more: they are ceilings (the most one run may be approved for
and may cost), checked by ``approve`` and again by the stage.
``hardware.total_budget_usd`` caps the exposure of all runs in the budget period
(:mod:`qml_ops.hardware.billing`), checked by ``approve``, by the stage, and
before every create.

Example:
    >>> approval = new_approval(model="qcnn", model_version="3", n_samples=48, shots=512,  # doctest: +SKIP
    ...                         one_task_per_inference=False, devices=[...], now=now)
    >>> record(Ledger(default_ledger_path()), approval)                                   # doctest: +SKIP
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, Iterable, Mapping, Sequence

from qml_ops.errors import BudgetError, HardwareError
from qml_ops.hardware.gate import GateDecision, check_total_budget
from qml_ops.hardware.ledger import Ledger, TaskRow, sha256
from qml_ops.money import usd

__all__ = ["Approval", "DeviceApproval", "run_key_prefix", "new_approval", "recorded", "record",
           "approval_for_run", "matching_approvals", "remaining_to_create", "stage_gate", "stage_decision"]

APPROVE_HINT = ("run `qml-ops hardware approve` (it shows the estimate and records an approval for "
                "this run only)")


def run_key_prefix(model: str, version: Any, n_samples: int, shots: int) -> str:
    """The run key of the hardware stage before its circuits' digest:
    ``<model>-v<version>-<samples>x<shots>``."""
    return f"{model}-v{version}-{n_samples}x{shots}"


@dataclass(frozen=True)
class DeviceApproval:
    """What an approval covers on one device."""

    device: str
    run_key: str
    circuits_sha256: str
    tasks: int
    estimate_usd: Decimal

    def to_json(self) -> dict:
        return {"device": self.device, "run_key": self.run_key, "circuits_sha256": self.circuits_sha256,
                "tasks": self.tasks, "estimate_usd": str(self.estimate_usd)}

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> "DeviceApproval":
        return cls(device=str(doc["device"]), run_key=str(doc["run_key"]),
                   circuits_sha256=str(doc["circuits_sha256"]), tasks=int(doc["tasks"]),
                   estimate_usd=Decimal(str(doc["estimate_usd"])))


@dataclass(frozen=True)
class Approval:
    """One recorded approval of one run (all its devices).

    ``used`` maps the run keys whose first task it paid for to when that happened.
    """

    id: str
    model: str
    model_version: str
    n_samples: int
    shots: int
    one_task_per_inference: bool
    devices: tuple[DeviceApproval, ...]
    approved_usd: Decimal
    created_at: str
    used: Mapping[str, str] = field(default_factory=dict)

    def for_device(self, device_id: str) -> DeviceApproval | None:
        return next((d for d in self.devices if d.device == device_id), None)

    def to_json(self) -> dict:
        return {"id": self.id, "model": self.model, "model_version": self.model_version,
                "n_samples": self.n_samples, "shots": self.shots,
                "one_task_per_inference": self.one_task_per_inference,
                "devices": [d.to_json() for d in self.devices], "approved_usd": str(self.approved_usd),
                "created_at": self.created_at, "used": dict(self.used)}

    @classmethod
    def from_json(cls, doc: Mapping[str, Any], where: str = "approval") -> "Approval":
        try:
            return cls(id=str(doc["id"]), model=str(doc["model"]), model_version=str(doc["model_version"]),
                       n_samples=int(doc["n_samples"]), shots=int(doc["shots"]),
                       one_task_per_inference=bool(doc["one_task_per_inference"]),
                       devices=tuple(DeviceApproval.from_json(d) for d in doc["devices"]),
                       approved_usd=Decimal(str(doc["approved_usd"])), created_at=str(doc["created_at"]),
                       used={str(k): str(v) for k, v in (doc.get("used") or {}).items()})
        except (KeyError, TypeError, ValueError, ArithmeticError) as exc:
            raise HardwareError(f"{where}: malformed approval ({exc!r})") from None


def new_approval(*, model: str, model_version: str, n_samples: int, shots: int, one_task_per_inference: bool,
                 devices: Sequence[DeviceApproval], now: datetime) -> Approval:
    """An approval of exactly this run; its id is a digest of what it binds and when."""
    created = now.replace(microsecond=0).isoformat()
    binding = {"model": model, "model_version": str(model_version), "n_samples": n_samples, "shots": shots,
               "one_task_per_inference": one_task_per_inference, "devices": [d.to_json() for d in devices],
               "created_at": created}
    return Approval(id=sha256(json.dumps(binding, sort_keys=True))[:16], model=model,
                    model_version=str(model_version), n_samples=n_samples, shots=shots,
                    one_task_per_inference=one_task_per_inference, devices=tuple(devices),
                    approved_usd=sum((d.estimate_usd for d in devices), Decimal(0)), created_at=created)


def recorded(ledger: Ledger) -> list[Approval]:
    """The approvals recorded in the ledger, oldest first."""
    return [Approval.from_json(doc, f"{ledger.path}: approval {i}") for i, doc in enumerate(ledger.approval_docs())]


def record(ledger: Ledger, approval: Approval) -> None:
    """Store ``approval`` in the ledger."""
    ledger.add_approval_doc(approval.to_json())


# ------------------------------------------------------------------ the submitter's check


def approval_for_run(ledger: Ledger, run_rows: Sequence[TaskRow], *, device_id: str, run_key: str,
                     model_version: str, n_samples: int, shots: int, tasks: int, estimate_usd: Decimal,
                     digest: str) -> Approval | None:
    """The recorded approval that pays for creating tasks of this run, or ``None``
    when the run's rows already carry one (a resume needs no new approval).

    Raises:
        BudgetError: no recorded approval matches the run exactly (the message
            says what differs), or the matching one was used by this run but the
            ledger no longer holds the run's tasks.
    """
    if any(r.approval_id for r in run_rows):
        return None
    reasons = []
    for approval in recorded(ledger):
        covered = approval.for_device(device_id)
        if covered is None or covered.run_key != run_key:
            continue
        differs = [what for what, ok in (
            ("model version", approval.model_version == str(model_version)),
            ("samples", approval.n_samples == n_samples), ("shots", approval.shots == shots),
            ("compiled circuits", covered.circuits_sha256 == digest), ("tasks", covered.tasks == tasks),
            ("estimate", covered.estimate_usd == estimate_usd)) if not ok]
        if differs:
            reasons.append(f"approval {approval.id} differs in {', '.join(differs)}")
            continue
        if run_key in approval.used and not run_rows:
            reasons.append(f"approval {approval.id} paid for run {run_key} on {approval.used[run_key]}, but the "
                           f"ledger {ledger.path} holds none of its tasks (they may exist and be billed: see the "
                           "Braket console); paying again needs a new approval")
            continue
        return approval
    why = f" ({'; '.join(reasons)})" if reasons else ""
    raise BudgetError(
        f"no recorded approval for run {run_key!r} on {device_id} ({n_samples} samples x {shots} shots, "
        f"{usd(estimate_usd)}){why}: {APPROVE_HINT}; nothing was submitted"
    )


# ------------------------------------------------------------------ the stage's check


def matching_approvals(approvals: Iterable[Approval], *, model: str, model_version: str, devices: Sequence[str],
                       n_samples: int, shots: int, one_task_per_inference: bool,
                       estimates: Mapping[str, Decimal]) -> list[Approval]:
    """Approvals of this configuration (not yet checked against the compiled circuits)."""
    out = []
    for a in approvals:
        if (a.model, a.model_version, a.n_samples, a.shots, a.one_task_per_inference) != (
                model, str(model_version), n_samples, shots, one_task_per_inference):
            continue
        if sorted(d.device for d in a.devices) != sorted(devices):
            continue
        if all(d.estimate_usd == estimates.get(d.device) for d in a.devices):
            out.append(a)
    return out


def remaining_to_create(approval: Approval, rows: Sequence[TaskRow]) -> Decimal:
    """What the approved run still has to create: each device's estimate minus the
    committed cost of its first-attempt tasks already created."""
    left = Decimal(0)
    for d in approval.devices:
        done = sum((r.cost_usd for r in rows if r.run_key == d.run_key and r.device == d.device
                    and r.attempt == 0 and r.is_created), Decimal(0))
        left += max(d.estimate_usd - done, Decimal(0))
    return left


def stage_gate(ledger: Ledger, *, model: str, model_version: str, devices: Sequence[str], n_samples: int,
               shots: int, one_task_per_inference: bool, estimates: Mapping[str, Decimal],
               total_budget_usd: Any, budget_period: str, now: datetime) -> GateDecision:
    """Before the stage runs in mode ``qpu``: is there a recorded approval of this
    run, and does what it still has to create fit ``hardware.total_budget_usd``?

    Without an approval, a run whose tasks are already in the ledger may go on to
    collect them (the submitter creates nothing without one); otherwise it is
    denied, saying how to approve.
    """
    from qml_ops.hardware import billing

    rows = ledger.rows()
    found = matching_approvals(recorded(ledger), model=model, model_version=model_version, devices=devices,
                               n_samples=n_samples, shots=shots, one_task_per_inference=one_task_per_inference,
                               estimates=estimates)
    total = sum(estimates.values(), Decimal(0))
    if not found:
        prefix = run_key_prefix(model, model_version, n_samples, shots) + "-"
        if any(r.run_key.startswith(prefix) and r.device in devices for r in rows):
            return GateDecision(True, "no recorded approval for this run: its tasks already in the ledger are "
                                      "collected, nothing new is created")
        return GateDecision(False, f"no recorded approval for models:/{model}/{model_version} on "
                                   f"{', '.join(devices)}, {n_samples} samples x {shots} shots ({usd(total)}): "
                                   f"{APPROVE_HINT}; hardware.approve_usd alone approves nothing")
    needed = min(remaining_to_create(a, rows) for a in found)
    period_rows = billing.in_period(rows, budget_period, now)
    return check_total_budget(needed, billing.exposure(period_rows), total_budget_usd,
                              billing.describe_period(budget_period, now))


def stage_decision(params: Any, prices: Mapping[str, Any]) -> GateDecision:
    """The hardware stage's gate in mode ``qpu`` after :func:`~qml_ops.hardware.gate.check_spend`:
    a recorded approval of this run (model version behind ``hardware.model_alias``,
    devices, samples x shots, estimates) and room in ``hardware.total_budget_usd``.

    Args:
        params: the whole :class:`~qml_ops.config.Params`.
        prices: device id -> :class:`~qml_ops.cost.Estimate` of this run.
    """
    from qml_ops import tracking
    from qml_ops.hardware.ledger import default_ledger_path
    from qml_ops.hardware.qpu import clock

    hw = params.hardware
    tracking.configure(params.tracking.experiment)
    version = tracking.resolve_alias(params.train.registered_model, hw.model_alias)
    return stage_gate(Ledger(default_ledger_path()), model=params.train.registered_model,
                      model_version=str(version.version), devices=list(hw.devices), n_samples=hw.n_samples,
                      shots=hw.shots, one_task_per_inference=hw.one_task_per_inference,
                      estimates={d: e.cost_usd for d, e in prices.items()},
                      total_budget_usd=hw.total_budget_usd, budget_period=hw.budget_period, now=clock.utcnow())
