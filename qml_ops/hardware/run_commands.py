"""``qml-ops hardware approve`` and ``qml-ops hardware preflight``: before a real QPU run.

    qml-ops hardware approve [--params PATH] [--yes]
    qml-ops hardware preflight [--params PATH] [--json]

``approve`` prices the run the ``hardware`` stage would make now: the model
version behind ``hardware.model_alias``, compiled for every device of
``hardware.devices``, on ``hardware.n_samples`` test samples × ``hardware.shots``.
It shows the estimate per device, the run keys and the budget of the period,
checks the ceilings (``hardware.max_budget_usd``, ``hardware.approve_usd``) and
``hardware.total_budget_usd``, asks for confirmation (``--yes`` for
non-interactive use: CI has no stdin) and records an approval bound to exactly
that run (:mod:`qml_ops.hardware.approvals`). The stage consumes it; a
different or repeated run needs a new one.

``preflight`` runs every check short of creating a task, for each device:
credentials, the device's status and execution window (live ``GetDevice``),
the results bucket (reachable, writable, ``amazon-braket-`` name, same
region), its AWS spending limits, and the estimate against the budgets and the
recorded approval; then a verdict per device. It changes nothing (a probe object
is written to the bucket and deleted). Exit status 0 when every device is ready.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from qml_ops.config import DEFAULT_PARAMS, Params, load_params
from qml_ops.errors import BudgetError, ConfigError, HardwareError, QmlOpsError
from qml_ops.money import usd

__all__ = ["register_hardware", "cmd_approve", "cmd_preflight", "plan_stage_run"]


def register_hardware(sub) -> None:
    """Add ``approve`` and ``preflight`` to the ``qml-ops hardware`` sub-commands."""
    p = sub.add_parser(
        "approve", help="show the QPU run's estimate and record an approval of that run only",
        description="Price the run the hardware stage would make now (model version, devices, samples x shots, "
                    "compiled circuits), show it, and after confirmation record an approval bound to exactly that "
                    "run. The stage consumes it; a different or repeated run needs a new one.")
    p.add_argument("--params", default=DEFAULT_PARAMS, help="params file (default: %(default)s)")
    p.add_argument("--yes", action="store_true",
                   help="approve without asking (non-interactive use, e.g. CI; you have read the estimate)")
    p.set_defaults(func=cmd_approve)

    p = sub.add_parser("preflight", help="every check short of creating a QPU task, with a verdict per device")
    p.add_argument("--params", default=DEFAULT_PARAMS, help="params file (default: %(default)s)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=cmd_preflight)


def _params(path: str) -> Params:
    from qml_ops.hardware.params_check import check_hardware_params

    from qml_ops.hardware.planner import apply_plan

    return apply_plan(load_params(path, checks=(check_hardware_params,)))  # hardware.plan: auto


def _ledger():
    from qml_ops.hardware.ledger import Ledger, default_ledger_path

    return Ledger(default_ledger_path())


def _clients(region: str):
    """Braket and S3 clients of ``region`` from the standard credential chain (tests replace this)."""
    from qml_ops.hardware.qpu.aws import braket_clients

    return braket_clients(region)


# ------------------------------------------------------------------ approve


@dataclass(frozen=True)
class StageRun:
    """What the hardware stage would run now: the model version and, per device,
    what an approval binds (:class:`~qml_ops.hardware.approvals.DeviceApproval`)."""

    model: str
    model_version: str
    devices: tuple[Any, ...]
    estimates: dict = field(default_factory=dict)


def plan_stage_run(params: Params) -> StageRun:
    """Compile and plan the run the hardware stage would make now, as it would
    (the same model, samples, compile seed, run keys and task plans).

    Raises:
        TrackingError: no registered model behind ``hardware.model_alias``.
        HardwareError: the model does not fit a device, or the estimate does not
            match the circuits (e.g. fewer test samples than ``hardware.n_samples``).
    """
    from qml_ops import tracking
    from qml_ops.hardware.approvals import DeviceApproval, run_key_prefix
    from qml_ops.hardware.backends.braket_qpu import run_key_for
    from qml_ops.hardware.profiles import load_profile
    from qml_ops.hardware.qpu import plan_digest, plan_tasks
    from qml_ops.hardware.reporting import check_lineage, load_model, validation_samples
    from qml_ops.hardware.validation import compile_circuits, device_for, estimates

    hw = params.hardware
    name = params.train.registered_model
    prices = estimates(hw)
    tracking.configure(params.tracking.experiment)
    with tempfile.TemporaryDirectory() as tmp:
        version, model, encoder = load_model(params, Path(tmp))
    check_lineage(name, hw.model_alias, version)
    X_raw, _ = validation_samples(hw.n_samples)
    features = encoder.transform(X_raw)
    prefix = run_key_prefix(name, version.version, hw.n_samples, hw.shots)
    covered = []
    for device_id in hw.devices:
        device = device_for(hw, device_id)
        profile = load_profile(device_id)
        if len(profile.qubits) < model.n_qubits:
            raise HardwareError(f"{device_id}: profile {profile.source} has {len(profile.qubits)} qubits, "
                                f"the model needs {model.n_qubits}")
        circuits = compile_circuits(model, profile, features, hw.seed)
        plan = plan_tasks(device, circuits, hw.shots, list(range(len(circuits))), prices[device_id])
        covered.append(DeviceApproval(device_id, run_key_for(prefix, circuits), plan_digest(plan), len(plan),
                                      prices[device_id].cost_usd))
    return StageRun(model=name, model_version=str(version.version), devices=tuple(covered), estimates=prices)


def _confirm(prompt: str) -> bool:
    if not sys.stdin or not sys.stdin.isatty():
        raise ConfigError("not approving: stdin is not a terminal; pass --yes to approve non-interactively "
                          "(after reading the estimate above)")
    return input(prompt).strip().lower() in ("y", "yes")


def cmd_approve(args: argparse.Namespace) -> int:
    """``qml-ops hardware approve``: show the estimate, record an approval of this run only."""
    from qml_ops.hardware import billing
    from qml_ops.hardware.approvals import matching_approvals, new_approval, record, recorded, remaining_to_create
    from qml_ops.hardware.gate import QPU_MODE, check_spend, check_total_budget
    from qml_ops.hardware.qpu import clock

    params = _params(args.params)
    hw = params.hardware
    if hw.mode != QPU_MODE:
        print(f"qml-ops: note: hardware.mode is {hw.mode!r}: the stage creates QPU tasks only in mode 'qpu'; "
              "the approval waits for such a run", file=sys.stderr)
    run = plan_stage_run(params)
    total = sum((d.estimate_usd for d in run.devices), Decimal(0))
    print(f"QPU run: models:/{run.model}/{run.model_version} (@{hw.model_alias}), "
          f"{hw.n_samples} samples x {hw.shots} shots")
    print(f"  {'device':26s} {'tasks':>5s} {'shots':>9s} {'estimate':>10s}  run key")
    for d in run.devices:
        e = run.estimates[d.device]
        print(f"  {d.device:26s} {d.tasks:5d} {e.shots_total:9,d} {usd(d.estimate_usd):>10s}  {d.run_key}")
    print(f"  {'total':26s} {'':5s} {'':9s} {usd(total):>10s}")
    ledger = _ledger()
    now = clock.utcnow()
    rows = ledger.rows()
    existing = matching_approvals(recorded(ledger), model=run.model, model_version=run.model_version,
                                  devices=[d.device for d in run.devices], n_samples=hw.n_samples, shots=hw.shots,
                                  one_task_per_inference=hw.one_task_per_inference,
                                  estimates={d.device: d.estimate_usd for d in run.devices})
    wanted = {tuple(sorted(d.to_json().items())) for d in run.devices}
    same = [a for a in existing if {tuple(sorted(d.to_json().items())) for d in a.devices} == wanted]
    if same:
        print(f"already approved: approval {same[0].id} of {same[0].created_at} covers exactly this run "
              "(nothing recorded)")
        return 0
    ceiling = check_spend(QPU_MODE, total, hw.max_budget_usd, hw.approve_usd)
    period = billing.describe_period(hw.budget_period, now)
    exposure = billing.exposure(billing.in_period(rows, hw.budget_period, now))
    candidate = new_approval(model=run.model, model_version=run.model_version, n_samples=hw.n_samples,
                             shots=hw.shots, one_task_per_inference=hw.one_task_per_inference,
                             devices=run.devices, now=now)
    budget = check_total_budget(remaining_to_create(candidate, rows), exposure, hw.total_budget_usd, period)
    print(f"budget: one run <= hardware.max_budget_usd {usd(hw.max_budget_usd)} and hardware.approve_usd "
          f"{usd(hw.approve_usd)}; spent or committed in {period}: {usd(exposure)} of "
          f"hardware.total_budget_usd {usd(hw.total_budget_usd)}")
    for decision in (ceiling, budget):
        if not decision.allowed:
            raise BudgetError(f"not approved: {decision.reason}")
    print("This approval pays for this run only: another model version, samples, shots, devices, prices or "
          "compile needs a new one. Before the first real run: `qml-ops hardware preflight`.")
    if not args.yes and not _confirm(f"approve {usd(total)} for this run? [y/N] "):
        print("not approved")
        return 1
    record(ledger, candidate)
    print(f"recorded approval {candidate.id} ({usd(total)}) in {ledger.approvals_path}; "
          f"`dvc repro hardware` (mode qpu) consumes it")
    return 0


# ------------------------------------------------------------------ preflight


@dataclass
class Check:
    name: str
    status: str  # ok | warn | fail
    detail: str

    def to_dict(self) -> dict:
        return {"name": self.name, "status": self.status, "detail": self.detail}


def _device_checks(params: Params, device_id: str, est, approval_text: Check, budget_checks: list[Check]) -> list[Check]:
    from qml_ops.hardware.qpu import aws, clock, preflight, spending_limits
    from qml_ops.hardware.validation import device_for

    hw = params.hardware
    device = device_for(hw, device_id)
    checks: list[Check] = []
    problem = aws.credentials_problem(device.region)
    if problem:
        checks.append(Check("credentials", "fail", problem))
        return checks + [Check("device", "fail", "not checked (no credentials)"), *budget_checks, approval_text]
    checks.append(Check("credentials", "ok", f"AWS credentials found (region {device.region})"))
    try:
        braket, s3 = _clients(device.region)
    except HardwareError as exc:
        return checks + [Check("clients", "fail", str(exc)), *budget_checks, approval_text]
    try:
        seen = preflight.check_device(braket, device, hw.shots, est.program_sets,
                                      sizes=preflight.task_sizes(estimate=est),
                                      refuse_outside_window=hw.refuse_outside_window)
    except HardwareError as exc:
        checks.append(Check("device", "fail", str(exc)))
    else:
        checks.append(Check("device", "ok", f"{seen.status}; queue {seen.queue}"))
        if seen.inside_window:
            checks.append(Check("window", "ok", "inside an execution window now"))
        else:
            checks.append(Check("window", "warn", seen.notes[0] if seen.notes else "outside its execution windows"))
    problems = preflight.check_bucket(s3, hw.s3_bucket, hw.s3_prefix, device.region)
    checks.append(Check("bucket", "fail", "; ".join(problems)) if problems else
                  Check("bucket", "ok", f"s3://{hw.s3_bucket}/{hw.s3_prefix}: reachable, writable, in {device.region}"))
    now = clock.utcnow()
    try:
        limits = spending_limits.read_spending_limits(braket, device)
    except HardwareError as exc:
        checks.append(Check("spending limit", "fail" if hw.enforce_spending_limit else "warn",
                            f"cannot read: {exc}"))
    else:
        text = spending_limits.describe(limits, now)
        try:
            spending_limits.check_limits(limits, device, est.cost_usd, now)
        except HardwareError as exc:
            checks.append(Check("spending limit", "fail", str(exc)))
        else:
            plan = (f"; the run will set one to cover {usd(est.cost_usd)} (hardware.enforce_spending_limit)"
                    if hw.enforce_spending_limit else "")
            checks.append(Check("spending limit", "ok", text + plan))
    return checks + [*budget_checks, approval_text]


def cmd_preflight(args: argparse.Namespace) -> int:
    """``qml-ops hardware preflight``: every check short of creating a task, a verdict per device."""
    from qml_ops import tracking
    from qml_ops.hardware import billing
    from qml_ops.hardware.approvals import APPROVE_HINT, matching_approvals, recorded, remaining_to_create
    from qml_ops.hardware.gate import QPU_MODE, check_spend, check_total_budget
    from qml_ops.hardware.qpu import clock
    from qml_ops.hardware.validation import estimates

    params = _params(args.params)
    hw = params.hardware
    prices = estimates(hw)
    total = sum((e.cost_usd for e in prices.values()), Decimal(0))
    now = clock.utcnow()
    ledger = _ledger()
    rows = ledger.rows()
    period = billing.describe_period(hw.budget_period, now)
    exposure = billing.exposure(billing.in_period(rows, hw.budget_period, now))
    ceiling = check_spend(QPU_MODE, total, hw.max_budget_usd, hw.approve_usd)
    needed = total
    try:
        tracking.configure(params.tracking.experiment)
        version = str(tracking.resolve_alias(params.train.registered_model, hw.model_alias).version)
    except QmlOpsError as exc:
        approval = Check("approval", "fail", f"no registered model to approve: {exc}")
    else:
        found = matching_approvals(recorded(ledger), model=params.train.registered_model, model_version=version,
                                   devices=list(hw.devices), n_samples=hw.n_samples, shots=hw.shots,
                                   one_task_per_inference=hw.one_task_per_inference,
                                   estimates={d: e.cost_usd for d, e in prices.items()})
        approval = (Check("approval", "ok", f"approval {found[-1].id} of {found[-1].created_at} covers "
                          f"models:/{params.train.registered_model}/{version} on these devices")
                    if found else Check("approval", "fail", f"no recorded approval for "
                                        f"models:/{params.train.registered_model}/{version} with these devices, "
                                        f"samples, shots and prices: {APPROVE_HINT}"))
        if found:
            needed = min(remaining_to_create(a, rows) for a in found)
    budget = check_total_budget(needed, exposure, hw.total_budget_usd, period)
    budget_checks = [Check("run budget", "ok" if ceiling.allowed else "fail", f"{usd(total)} for all devices: "
                           + ceiling.reason),
                     Check("total budget", "ok" if budget.allowed else "fail", budget.reason)]
    report = {}
    for device_id in hw.devices:
        e = prices[device_id]
        checks = _device_checks(params, device_id, e, approval, budget_checks)
        failed = [c.name for c in checks if c.status == "fail"]
        report[device_id] = {"estimate_usd": str(e.cost_usd), "tasks": e.tasks,
                             "verdict": "ready" if not failed else "not ready",
                             "failed": failed, "checks": [c.to_dict() for c in checks]}
    ready = all(r["verdict"] == "ready" for r in report.values())
    if hw.mode != QPU_MODE:
        note = f"hardware.mode is {hw.mode!r}: the stage creates no QPU task until it is 'qpu'"
    else:
        note = None
    if args.json:
        print(json.dumps({"ready": ready, "mode": hw.mode, "estimate_usd": str(total), "note": note,
                          "devices": report}, indent=2))
        return 0 if ready else 1
    print(f"QPU preflight: {len(hw.devices)} device(s), {hw.n_samples} samples x {hw.shots} shots, "
          f"estimate {usd(total)}" + (f" ({note})" if note else ""))
    for device_id, r in report.items():
        print(f"{device_id}: estimate {usd(Decimal(r['estimate_usd']))} ({r['tasks']} task(s))")
        for c in r["checks"]:
            print(f"  {c['status']:4s}  {c['name']:15s} {c['detail']}")
        verdict = "READY" if r["verdict"] == "ready" else f"NOT READY ({', '.join(r['failed'])})"
        print(f"  verdict: {verdict}")
    return 0 if ready else 1
