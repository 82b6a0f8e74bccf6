"""``qml-ops hardware status`` and ``qml-ops hardware cancel``: the QPU ledger from the CLI.

    qml-ops hardware status [--ledger PATH] [--run RUN_KEY] [--json]
    qml-ops hardware cancel --run RUN_KEY [--ledger PATH] [--yes]

``status`` reads the ledger only (no AWS call): tasks per run, device and
state, the spend so far (price table, created tasks) and what is pending.
``cancel`` cancels the run's non-terminal tasks with ``CancelQuantumTask``
(a deterministic client token per task) after a confirmation; without a
terminal and without ``--yes`` it refuses.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from qml_ops.errors import ConfigError, HardwareError
from qml_ops.hardware.ledger import (
    ACTIVE_STATES, CREATING, Ledger, TaskRow, default_ledger_path, latest_attempts, sha256, spend,
    summarize,
)
from qml_ops.money import usd


def register_hardware(sub) -> None:
    """Add ``status`` and ``cancel`` to the ``qml-ops hardware`` sub-commands."""
    p = sub.add_parser("status", help="QPU tasks in the ledger: states, spend, pending")
    p.add_argument("--ledger", metavar="PATH", help="ledger file (default: hardware/ledger.json)")
    p.add_argument("--run", metavar="RUN_KEY", help="only this run")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=cmd_status)

    p = sub.add_parser("cancel", help="cancel a run's QPU tasks that are not finished")
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
    pending = [r for r in rows if r.state in ACTIVE_STATES or r.state == CREATING
               or (r.state == "COMPLETED" and r.counts is None)]
    if args.json:
        print(json.dumps({
            "ledger": str(ledger.path),
            "groups": [{**g, "spend_usd": str(g["spend_usd"])} for g in groups],
            "spend_usd": str(spent), "pending_tasks": len(pending),
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
    print(f"spend so far: {usd(spent)} (price table, tasks created); "
          f"pending: {len(pending)} task(s)")
    unconfirmed = [r for r in rows if r.state == CREATING]
    if unconfirmed:
        print(f"{len(unconfirmed)} task(s) were being created when a run stopped; run the stage "
              "again to reconcile them (no double spend)")
    return 0


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
    """``qml-ops hardware cancel --run RUN_KEY``: cancel the run's non-terminal tasks."""
    from botocore.exceptions import BotoCoreError, ClientError

    from qml_ops.hardware.qpu.aws import READ_ATTEMPTS, describe_error, retrying

    ledger = _ledger(args)
    rows = ledger.rows(run_key=args.run)
    if not rows:
        raise HardwareError(f"no tasks of run {args.run!r} in {ledger.path}")
    latest = [r for (_, _), by in _by_device(rows).items() for r in latest_attempts(by).values()]
    targets = [r for r in latest if r.is_created and r.state in ACTIVE_STATES - {"CANCELLING"}]
    orphans = [r for r in latest if not r.is_created and r.state == CREATING]
    for r in orphans:
        print(f"task {r.task_index} on {r.device} has no ARN (its creation was interrupted); "
              "run the stage again to reconcile it, or check the Braket console")
    if not targets:
        print(f"nothing to cancel in run {args.run!r}")
        return 0
    for r in targets:
        print(f"  {r.device}  task {r.task_index}  {r.state}  {r.arn}")
    if not args.yes and not _confirm(f"cancel these {len(targets)} task(s)? [y/N] "):
        print("not cancelled")
        return 1
    clients: dict[str, object] = {}
    failures = 0
    for r in targets:
        region = r.device_arn.split(":")[3]
        braket = clients.get(region) or clients.setdefault(region, _client(region))
        try:
            # idempotent (same client token), so transient errors are retried
            response = retrying(braket.cancel_quantum_task, f"CancelQuantumTask {r.arn}",
                                READ_ATTEMPTS, quantumTaskArn=r.arn,
                                clientToken=sha256(f"qml-ops-cancel|{r.arn}"))
        except (ClientError, BotoCoreError) as exc:
            failures += 1
            print(f"task {r.task_index} ({r.arn}): cancel failed: {describe_error(exc)}",
                  file=sys.stderr)
            continue
        state = response.get("cancellationStatus", "CANCELLING")
        ledger.update(r, state=state)
        print(f"task {r.task_index} on {r.device}: {state}")
    return 1 if failures else 0


def _by_device(rows: list[TaskRow]) -> dict[tuple, list[TaskRow]]:
    out: dict[tuple, list[TaskRow]] = {}
    for r in rows:
        out.setdefault((r.run_key, r.device), []).append(r)
    return out
