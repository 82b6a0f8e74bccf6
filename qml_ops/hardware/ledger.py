"""The QPU task ledger: one row per task, written before the task is created.

The ledger is the memory that makes QPU runs resumable without paying twice.
A row is written (atomically, under a file lock) *before* ``create_quantum_task``
is called, with the deterministic ``clientToken`` and tags that let a later run
find the task again; it is updated with the ARN right after the create returns,
then with the task's state, timings and the per-sample counts once read.

File format (``hardware/ledger.json`` under the project root by default)::

    {"version": 1, "tasks": [ {row}, ... ]}

A row (all JSON; money as decimal strings)::

    run_key, model_version, device, device_arn, task_index, attempt,
    sample_indices, shots, shots_total, n_executables, program_sets,
    program_hash, client_token, tags, state, arn, cost_usd,
    created_at, updated_at, failure_reason, output_s3_bucket,
    output_s3_directory, queue_s, execution_s, total_s, counts

``state`` is ``CREATING`` (written, create not confirmed), ``REJECTED`` (the
service refused the create: nothing was created), or a Braket task state
(``CREATED, QUEUED, RUNNING, COMPLETED, FAILED, CANCELLING, CANCELLED``).
Rows are keyed by ``(run_key, device, task_index, attempt)``; an update
re-reads the file and merges only its row, so a ``cancel`` from another
process is not lost.

Example:
    >>> ledger = Ledger(tmp_path / "ledger.json")                  # doctest: +SKIP
    >>> ledger.upsert({"run_key": "r1", "device": "iqm-garnet", ...})  # doctest: +SKIP
    >>> [r["state"] for r in ledger.rows(run_key="r1")]             # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any, Iterator

from qml_ops.errors import HardwareError
from qml_ops.io import write_json

LEDGER_VERSION = 1
DEFAULT_LEDGER = Path("hardware/ledger.json")

#: Tags put on every task (the run and the task index, plus the client token so
#: a task found by ``search_quantum_tasks`` can be matched to its ledger row).
TAG_RUN, TAG_TASK, TAG_TOKEN, TAG_MODEL = "qml-ops-run", "qml-ops-task", "qml-ops-token", "qml-ops-model"

CREATING, REJECTED = "CREATING", "REJECTED"
TERMINAL_STATES = frozenset({"COMPLETED", "FAILED", "CANCELLED"})
FAILED_STATES = frozenset({"FAILED", "CANCELLED"})
ACTIVE_STATES = frozenset({"CREATED", "QUEUED", "RUNNING", "CANCELLING"})


def default_ledger_path() -> Path:
    """``hardware/ledger.json`` under the project root."""
    from qml_ops.project import find_root

    return find_root() / DEFAULT_LEDGER


def utc_now() -> str:
    """The current UTC time as ISO-8601 text (seconds)."""
    return datetime.now(tz=timezone.utc).replace(microsecond=0).isoformat()


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def client_token(run_key: str, device_arn: str, task_index: int, program_hash: str,
                 shots: int, attempt: int = 0) -> str:
    """The deterministic idempotency token of one task (64 hex chars, the API's maximum).

    The same run, device, task index, program, shots and attempt always give the
    same token, so a create retried after a crash is recognised by Braket as the
    same request. A resubmission of a failed task is a new ``attempt`` and so a
    new token (the old token would return the failed task).
    """
    return sha256(f"qml-ops|{run_key}|{device_arn}|{task_index}|{program_hash}|{shots}|{attempt}")


def row_key(row: dict) -> tuple:
    return (row["run_key"], row["device"], int(row["task_index"]), int(row.get("attempt", 0)))


def row_cost(row: dict) -> Decimal:
    return Decimal(str(row.get("cost_usd", "0")))


def is_created(row: dict) -> bool:
    """True once the task exists on Braket (it has an ARN): it is billed."""
    return bool(row.get("arn"))


class Ledger:
    """A JSON ledger file with locked, atomic, row-merging updates.

    Args:
        path: the ledger file (created on first write; its folder too).
    """

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        self._lock_path = self.path.with_name(f".{self.path.name}.lock")

    # ------------------------------------------------------------ reading

    def _read(self) -> list[dict]:
        if not self.path.exists():
            return []
        try:
            doc = json.loads(self.path.read_text())
        except (OSError, ValueError) as exc:
            raise HardwareError(f"cannot read the QPU ledger {self.path}: {exc}") from None
        if not isinstance(doc, dict) or not isinstance(doc.get("tasks"), list):
            raise HardwareError(
                f"{self.path} is not a qml-ops QPU ledger (expected {{'version': 1, 'tasks': [...]}})"
            )
        if doc.get("version") != LEDGER_VERSION:
            raise HardwareError(
                f"{self.path}: ledger version {doc.get('version')!r} is not supported "
                f"(expected {LEDGER_VERSION})"
            )
        return doc["tasks"]

    def rows(self, run_key: str | None = None, device: str | None = None) -> list[dict]:
        """All rows, optionally of one run and/or device, by task index and attempt."""
        rows = [
            r for r in self._read()
            if (run_key is None or r["run_key"] == run_key) and (device is None or r["device"] == device)
        ]
        return sorted(rows, key=row_key)

    # ------------------------------------------------------------ writing

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """A short exclusive lock around one read-modify-write of the file."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self._lock_path, "a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def upsert(self, row: dict) -> dict:
        """Insert or update (merge) ``row``, keyed by run, device, task index, attempt.

        The file is re-read under the lock and rewritten atomically, so the row is
        on disk when this returns.
        """
        row = dict(row, updated_at=utc_now())
        key = row_key(row)
        with self._locked():
            rows = self._read()
            for i, old in enumerate(rows):
                if row_key(old) == key:
                    rows[i] = {**old, **row}
                    row = rows[i]
                    break
            else:
                rows.append(row)
            write_json(self.path, {"version": LEDGER_VERSION, "tasks": rows})
        return row

    @contextlib.contextmanager
    def submission_lock(self) -> Iterator[None]:
        """Held by a submitter for a whole run: a second one fails at once.

        Separate from the short per-write lock, so ``status`` and ``cancel`` still
        work while a run polls.
        """
        self.path.parent.mkdir(parents=True, exist_ok=True)
        lock = self.path.with_name(f".{self.path.name}.submit.lock")
        with open(lock, "a") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise HardwareError(
                    f"another qml-ops process is submitting with the ledger {self.path}; "
                    "wait for it to finish (two submitters could pay twice)"
                ) from None
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)


def latest_attempts(rows: list[dict]) -> dict[int, dict]:
    """task index -> the row of its latest attempt."""
    out: dict[int, dict] = {}
    for row in sorted(rows, key=row_key):
        out[int(row["task_index"])] = row
    return out


def summarize(rows: list[dict]) -> list[dict[str, Any]]:
    """Per (run, device, state): number of tasks, samples and spend (created tasks)."""
    groups: dict[tuple, dict] = {}
    for row in rows:
        key = (row["run_key"], row["device"], row["state"])
        g = groups.setdefault(key, {"run_key": key[0], "device": key[1], "state": key[2],
                                    "tasks": 0, "samples": 0, "spend_usd": Decimal("0")})
        g["tasks"] += 1
        g["samples"] += len(row.get("sample_indices", []))
        if is_created(row):
            g["spend_usd"] += row_cost(row)
    return [groups[k] for k in sorted(groups)]
