"""Recovery: find tasks whose create went out but whose ARN never reached the ledger.

A crash between the ledger write and the recording of the ARN leaves a
``CREATING`` row. Before creating anything for such a row, the run searches the
device's tasks of this run (``SearchQuantumTasks``, paginated) and matches them
to rows by the client-token tag; a row found this way gets its ARN and state and
is not created again. A row not found is created with the *same* client token,
so Braket's idempotency protects even a search that lags.

The search filter (``deviceArn`` and ``tags:qml-ops-run``) is defined here, in
:func:`search_filters`, the one place to change it.
"""

from __future__ import annotations

import logging
from typing import Iterable

from qml_ops.hardware.devices import Device
from qml_ops.hardware.ledger import TAG_RUN, TAG_TOKEN, Ledger, TaskRow
from qml_ops.hardware.qpu import aws

__all__ = ["search_filters", "reconcile"]

log = logging.getLogger(__name__)


def search_filters(device: Device, run_key: str) -> list[dict]:
    """The ``SearchQuantumTasks`` filters for the tasks of ``run_key`` on ``device``."""
    return [
        {"name": "deviceArn", "operator": "EQUAL", "values": [device.arn]},
        {"name": f"tags:{TAG_RUN}", "operator": "EQUAL", "values": [run_key]},
    ]


def reconcile(braket, ledger: Ledger, rows: Iterable[TaskRow], device: Device,
              run_key: str) -> dict[int, TaskRow]:
    """Find the tasks of rows without an ARN; returns task index -> the updated row
    for each one found (its ARN and state recorded in the ledger)."""
    found: dict[str, dict] = {}
    kwargs = {"filters": search_filters(device, run_key)}
    while True:
        page = aws.read(braket.search_quantum_tasks, f"SearchQuantumTasks for run {run_key!r}", **kwargs)
        for summary in page.get("quantumTasks", []):
            token = (summary.get("tags") or {}).get(TAG_TOKEN)
            if token:
                found[token] = summary
        if not page.get("nextToken"):
            break
        kwargs["nextToken"] = page["nextToken"]
    updated: dict[int, TaskRow] = {}
    for row in rows:
        summary = found.get(row.client_token)
        if summary is not None:
            log.info("task %d of run %s was created before an interruption: %s",
                     row.task_index, run_key, summary["quantumTaskArn"])
            updated[row.task_index] = ledger.update(row, arn=summary["quantumTaskArn"],
                                                    state=summary["status"])
    return updated
