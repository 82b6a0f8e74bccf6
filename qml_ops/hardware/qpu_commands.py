"""``qml-ops hardware status`` and ``qml-ops hardware cancel``: the QPU ledger from the CLI.

    qml-ops hardware status [--ledger PATH] [--run RUN_KEY] [--json]
    qml-ops hardware cancel --run RUN_KEY [--ledger PATH] [--yes]

``status`` reads the ledger only (no AWS call): tasks per run, device and
state, what was committed (price table, created tasks) and spent (billed:
:mod:`qml_ops.hardware.billing`), what is pending, and the recorded approvals.

``cancel`` cancels as the service allows: it first reads each unfinished task's
state (``GetQuantumTask``), then cancels those ``CREATED`` or ``QUEUED`` with
``CancelQuantumTask`` (a deterministic client token per task; for a queued
task best effort: it may start meanwhile) after a confirmation (without a
terminal and without ``--yes`` it refuses). A ``RUNNING`` task is not
cancelled: Braket does not stop a running task; it completes, is billed, and
the next run of the stage collects it. A ``CANCELLING`` task that ends
``COMPLETED`` is collected and billed the same way.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from qml_ops.errors import ConfigError, HardwareError
from qml_ops.hardware import billing
from qml_ops.hardware.ledger import (
    ACTIVE_STATES, CREATING, Ledger, TaskRow, default_ledger_path, latest_attempts, sha256, spend,
    summarize,
)
from qml_ops.money import usd

#: States in which Braket cancels a QPU task (QUEUED: best effort).
CANCELLABLE = frozenset({"CREATED", "QUEUED"})


def register_hardware(sub) -> None:
    """Add ``status`` and ``cancel`` to the ``qml-ops hardware`` sub-commands."""
    p = sub.add_parser("status", help="QPU tasks in the ledger: states, spend, pending")
    p.add_argument("--ledger", metavar="PATH", help="ledger file (default: hardware/ledger.json)")
    p.add_argument("--run", metavar="RUN_KEY", help="only this run")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=cmd_status)

    p = sub.add_parser("cancel", help="cancel a run's QPU tasks that are created or queued (not running)")
    p.add_argument("--run", required=True, metavar="RUN_KEY", help="the run to cancel")
    p.add_argument("--ledger", metavar="PATH", help="ledger file (default: hardware/ledger.json)")
    p.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    p.set_defaults(func=cmd_cancel)


def _ledger(args) -> Ledger:
    return Ledger(Path(args.ledger) if args.ledger else default_ledger_path())


def cmd_status(args: argparse.Namespace) -> int:
    """``qml-ops hardware status``: tasks per device and state, spend so far, pending."""
    ledger = _ledger(args)
    rows = ledger.rows(run_key=args.run)
    groups = summarize(rows)
    spent = spend(rows)
    billed = billing.spent(rows)
    pending = [r for r in rows if r.state in ACTIVE_STATES or r.state == CREATING
               or (r.state == "COMPLETED" and r.counts is None)]
    approvals = _approvals(ledger, args.run)
    if args.json:
        print(json.dumps({
            "ledger": str(ledger.path),
            "groups": [{**g, "spend_usd": str(g["spend_usd"]),
                        "spent_usd": str(billing.spent(r for r in rows if (r.run_key, r.device, r.state)
                                                       == (g["run_key"], g["device"], g["state"])))}
                       for g in groups],
            "spend_usd": str(spent), "committed_usd": str(spent), "spent_usd": str(billed),
            "pending_tasks": len(pending), "approvals": approvals,
        }, indent=2))
        return 0
    if not rows:
        print(f"no QPU tasks in {ledger.path}" + (f" for run {args.run!r}" if args.run else ""))
        return 0
    table = [[g["run_key"], g["device"], g["state"], str(g["tasks"]), str(g["samples"]),
              usd(g["spend_usd"])] for g in groups]
    headers = ["run", "device", "state", "tasks", "samples", "spend"]
    widths = [max(len(c) for c in col) for col in zip(headers, *table)]
    for row in [headers, *table]:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip())
    print(f"spend so far: {usd(spent)} (price table, tasks created); spent (billed): {usd(billed)} "
          f"(failed and cancelled tasks are not billed); pending: {len(pending)} task(s)")
    for a in approvals:
        state = f"used by {', '.join(a['used'])}" if a["used"] else "not used yet"
        print(f"approval {a['id']} ({a['created_at']}): models:/{a['model']}/{a['model_version']}, "
              f"{a['n_samples']} x {a['shots']}, {usd(a['approved_usd'])}: {state}")
    unconfirmed = [r for r in rows if r.state == CREATING]
    if unconfirmed:
        print(f"{len(unconfirmed)} task(s) were being created when a run stopped; run the stage "
              "again to reconcile them (no double spend)")
    return 0


def _approvals(ledger: Ledger, run_key: str | None) -> list[dict]:
    """The recorded approvals (of ``run_key`` only, if given), as JSON."""
    from qml_ops.hardware.approvals import recorded

    out = []
    for a in recorded(ledger):
        if run_key is None or any(d.run_key == run_key for d in a.devices):
            doc = a.to_json()
            out.append({k: doc[k] for k in ("id", "created_at", "model", "model_version", "n_samples", "shots",
                                            "approved_usd", "used")})
    return out


def _client(region: str):
    """A Braket client for ``region`` from the standard credential chain."""
    from qml_ops.hardware.qpu.aws import braket_clients

    braket, _ = braket_clients(region, s3_client=object())
    return braket


def _confirm(prompt: str) -> bool:
    if not sys.stdin or not sys.stdin.isatty():
        raise ConfigError("not cancelling: stdin is not a terminal; pass --yes to confirm")
    return input(prompt).strip().lower() in ("y", "yes")


def cmd_cancel(args: argparse.Namespace) -> int:
    """``qml-ops hardware cancel --run RUN_KEY``: cancel the run's tasks that are created or queued."""
    from botocore.exceptions import BotoCoreError, ClientError

    from qml_ops.hardware.qpu.aws import READ_ATTEMPTS, describe_error, read, retrying

    ledger = _ledger(args)
    rows = ledger.rows(run_key=args.run)
    if not rows:
        raise HardwareError(f"no tasks of run {args.run!r} in {ledger.path}")
    latest = [r for (_, _), by in _by_device(rows).items() for r in latest_attempts(by).values()]
    unfinished = [r for r in latest if r.is_created and r.state in ACTIVE_STATES - {"CANCELLING"}]
    orphans = [r for r in latest if not r.is_created and r.state == CREATING]
    for r in orphans:
        print(f"task {r.task_index} on {r.device} has no ARN (its creation was interrupted); "
              "run the stage again to reconcile it, or check the Braket console")
    clients: dict[str, object] = {}

    def client(r: TaskRow):
        region = r.device_arn.split(":")[3]
        return clients.get(region) or clients.setdefault(region, _client(region))

    targets, running = [], []
    for r in unfinished:  # the ledger may be behind: read each state first
        meta = read(client(r).get_quantum_task, f"GetQuantumTask {r.arn}", quantumTaskArn=r.arn,
                    additionalAttributeNames=["QueueInfo"])
        if meta["status"] != r.state:
            r = ledger.update(r, state=meta["status"])
        if r.state in CANCELLABLE:
            targets.append(r)
        elif r.state == "RUNNING":
            running.append(r)
    for r in running:
        print(f"  {r.device}  task {r.task_index}  RUNNING  {r.arn}: not cancelled (Braket does not stop a "
              "running task; it completes and is billed, and the next run of the stage collects it)")
    if not targets:
        print(f"nothing to cancel in run {args.run!r}")
        return 0
    for r in targets:
        print(f"  {r.device}  task {r.task_index}  {r.state}  {r.arn}  ({usd(r.cost_usd)} committed)")
    if not args.yes and not _confirm(f"cancel these {len(targets)} task(s)? [y/N] "):
        print("not cancelled")
        return 1
    failures = 0
    for r in targets:
        try:
            # idempotent (same client token), so transient errors are retried
            response = retrying(client(r).cancel_quantum_task, f"CancelQuantumTask {r.arn}",
                                READ_ATTEMPTS, quantumTaskArn=r.arn,
                                clientToken=sha256(f"qml-ops-cancel|{r.arn}"))
        except (ClientError, BotoCoreError) as exc:
            failures += 1
            conflict = getattr(exc, "response", {}).get("Error", {}).get("Code") == "ConflictException"
            why = ("it started running meanwhile or is finished: it is collected and billed as it ends"
                   if conflict else describe_error(exc))
            print(f"task {r.task_index} ({r.arn}): not cancelled: {why}", file=sys.stderr)
            continue
        state = response.get("cancellationStatus", "CANCELLING")
        ledger.update(r, state=state)
        print(f"task {r.task_index} on {r.device}: {state}")
    print("a CANCELLING task may still complete: it is then billed, and the next run of the stage collects it")
    return 1 if failures else 0


def _by_device(rows: list[TaskRow]) -> dict[tuple, list[TaskRow]]:
    out: dict[tuple, list[TaskRow]] = {}
    for r in rows:
        out.setdefault((r.run_key, r.device), []).append(r)
    return out
