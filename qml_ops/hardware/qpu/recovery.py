"""Recovery: find tasks whose create went out but whose ARN never reached the ledger.

A crash between the ledger write and the recording of the ARN (or a create that
kept failing transiently, so its outcome is unknown) leaves a ``CREATING`` row.
Before creating anything for such a row, the run searches the device's tasks
created around the row's time and matches them to rows on the client side by
their tags (the run tag and the client-token tag); a row found this way gets its
ARN and state and is not created again. A row not found is created with the
*same* client token, so Braket's idempotency protects even a search that lags.

``SearchQuantumTasks`` filters only on ``quantumTaskArn``, ``deviceArn``,
``jobArn``, ``status`` and ``createdAt`` (operators ``LT``, ``LTE``, ``EQUAL``,
``GT``, ``GTE``, ``BETWEEN``; at most 10 filters of 10 values; ``maxResults`` at
most 100), as the service model documents; it has no tag filter. So the search
is ``deviceArn EQUAL <device>`` and ``createdAt BETWEEN [first row's time - skew,
now + skew]`` (UTC, ISO 8601), paginated with ``nextToken``; each task's tags
come from the search result or, where a result carries none,
``ListTagsForResource``. :func:`search_filters` is the one place that builds
the filters (a test checks every search sent against the service model).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone
from typing import Iterable

from qml_ops.hardware.devices import Device
from qml_ops.hardware.ledger import TAG_RUN, TAG_TOKEN, Ledger, TaskRow
from qml_ops.hardware.qpu import aws, clock

__all__ = ["CLOCK_SKEW", "SEARCH_PAGE_SIZE", "search_filters", "search_window", "reconcile"]

log = logging.getLogger(__name__)

#: Margin around the search window: this machine's clock against AWS's, and the
#: retries of a create after its row was written.
CLOCK_SKEW = timedelta(minutes=15)
#: ``maxResults`` of each search page (the service's maximum).
SEARCH_PAGE_SIZE = 100


def _iso(when: datetime) -> str:
    return when.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def search_window(rows: Iterable[TaskRow], now: datetime) -> tuple[datetime, datetime] | None:
    """``[earliest row time - skew, now + skew]``, or ``None`` if a row's time is unknown
    (then the search is by device only)."""
    times = [r.created_time for r in rows]
    if not times or any(t is None for t in times):
        return None
    return min(times) - CLOCK_SKEW, now + CLOCK_SKEW


def search_filters(device: Device, window: tuple[datetime, datetime] | None) -> list[dict]:
    """The ``SearchQuantumTasks`` filters: the device, and the creation window if known."""
    filters = [{"name": "deviceArn", "operator": "EQUAL", "values": [device.arn]}]
    if window is not None:
        filters.append({"name": "createdAt", "operator": "BETWEEN", "values": [_iso(window[0]), _iso(window[1])]})
    return filters


def _tags(braket, summary: dict) -> dict:
    tags = summary.get("tags")
    if tags is None:
        arn = summary["quantumTaskArn"]
        tags = aws.read(braket.list_tags_for_resource, f"ListTagsForResource {arn}",
                        resourceArn=arn).get("tags") or {}
    return tags


def reconcile(braket, ledger: Ledger, rows: Iterable[TaskRow], device: Device,
              run_key: str) -> dict[int, TaskRow]:
    """Find the tasks of rows without an ARN; returns task index -> the updated row
    for each one found (its ARN and state recorded in the ledger)."""
    rows = list(rows)
    wanted = {r.client_token: r for r in rows}
    window = search_window(rows, clock.utcnow())
    kwargs = {"filters": search_filters(device, window), "maxResults": SEARCH_PAGE_SIZE}
    found: dict[str, dict] = {}
    pages = tasks = 0
    while len(found) < len(wanted):
        page = aws.read(braket.search_quantum_tasks, f"SearchQuantumTasks on {device.id}", **kwargs)
        pages += 1
        for summary in page.get("quantumTasks", []):
            tasks += 1
            tags = _tags(braket, summary)
            token = tags.get(TAG_TOKEN)
            if token in wanted and tags.get(TAG_RUN) == run_key:
                found[token] = summary
        if not page.get("nextToken"):
            break
        kwargs["nextToken"] = page["nextToken"]
    log.info("reconciliation on %s: %d task(s) in %d page(s), %d of %d row(s) found",
             device.id, tasks, pages, len(found), len(wanted))
    updated: dict[int, TaskRow] = {}
    for token, summary in found.items():
        row = wanted[token]
        log.warning("task %d of run %s was created before an interruption: %s (reconnected, "
                    "not created again)", row.task_index, run_key, summary["quantumTaskArn"])
        updated[row.task_index] = ledger.update(row, arn=summary["quantumTaskArn"], state=summary["status"])
    return updated
