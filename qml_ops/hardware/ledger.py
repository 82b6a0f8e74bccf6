"""The QPU task ledger: one row per task, written before the task is created.

The ledger is the memory that makes QPU runs resumable without paying twice.
A row is written (atomically, under a file lock) *before* ``create_quantum_task``
is called, with the deterministic ``clientToken`` and tags that let a later run
find the task again; it is updated with the ARN right after the create returns,
then with the task's state, timings and the per-sample counts once read.

File format (``hardware/ledger.json`` under the project root by default)::

    {"version": 1, "tasks": [ {row}, ... ]}

A row is a :class:`TaskRow`; on disk it is a JSON object with one key per
field (money as a decimal string, tuples as lists)::

    run_key, model_version, device, device_arn, task_index, attempt,
    sample_indices, shots, shots_total, n_executables, program_sets,
    program_hash, client_token, tags, s3_bucket, s3_prefix, cost_usd,
    price_per_task_usd, price_per_shot_usd, approval_id,
    state, arn, created_at, updated_at, failure_reason, output_s3_bucket,
    output_s3_directory, queue_position, running_at, queue_s, execution_s,
    total_s, num_successful_shots, spent_usd, counts

``cost_usd`` is the *committed* cost (price table, at creation); ``spent_usd``
is what Braket bills for the task once it is final (see
:mod:`qml_ops.hardware.billing`).

The run approvals of ``qml-ops hardware approve`` (:mod:`qml_ops.hardware.approvals`)
sit beside the ledger, in ``approvals.json`` of the same folder
(``{"version": 1, "approvals": [ {approval}, ... ]}``), under the same lock. An
approval is marked used by a run right after the first row it pays for is
written (that row carries its id, so a crash between the two only leaves the
mark to a later write; a run's rows are what makes a resume free).

Files written before :class:`TaskRow` existed (the same version 1, with a
field or two missing) load unchanged; keys this version does not know are kept.

``state`` is ``CREATING`` (written, create not confirmed), ``REJECTED`` (the
service refused the create: nothing was created), or a Braket task state
(``CREATED, QUEUED, RUNNING, COMPLETED, FAILED, CANCELLING, CANCELLED``).
Rows are keyed by ``(run_key, device, task_index, attempt)``; an update
re-reads the file and merges only its row, so a ``cancel`` from another
process is not lost.

Example:
    >>> ledger = Ledger(tmp_path / "ledger.json")                  # doctest: +SKIP
    >>> row = ledger.upsert(TaskRow(run_key="r1", device="iqm-garnet", ...))  # doctest: +SKIP
    >>> [r.state for r in ledger.rows(run_key="r1")]                # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import hashlib
import json
import os
from dataclasses import dataclass, field
from datetime import datetime, timezone
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping

from qml_ops import project
from qml_ops.errors import HardwareError
from qml_ops.io import write_json

LEDGER_VERSION = 1
DEFAULT_LEDGER = project.QPU_LEDGER
#: The recorded run approvals, beside the ledger file.
APPROVALS_FILE = "approvals.json"

#: Tags put on every task (the run and the task index, plus the client token so
#: a task found by ``search_quantum_tasks`` can be matched to its ledger row).
TAG_RUN, TAG_TASK, TAG_TOKEN, TAG_MODEL = "qml-ops-run", "qml-ops-task", "qml-ops-token", "qml-ops-model"

CREATING, REJECTED = "CREATING", "REJECTED"
TERMINAL_STATES = frozenset({"COMPLETED", "FAILED", "CANCELLED"})
FAILED_STATES = frozenset({"FAILED", "CANCELLED"})
ACTIVE_STATES = frozenset({"CREATED", "QUEUED", "RUNNING", "CANCELLING"})

Counts = tuple[int, int]


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


# ------------------------------------------------------------------ rows


def parse_utc(text: str | None) -> datetime | None:
    """An ISO 8601 time (``Z`` or an offset; naive means UTC) as timezone-aware UTC, or ``None``."""
    if not text:
        return None
    try:
        when = datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=timezone.utc)


@dataclass(frozen=True)
class TaskRow:
    """One QPU task (one attempt) as the ledger records it.

    Identity and plan (set when the row is first written): ``run_key``,
    ``model_version``, ``device`` (catalogue id), ``device_arn``, ``task_index``,
    ``attempt`` (0, then 1, 2... for paid resubmissions), ``sample_indices`` (dataset
    index of each executable), ``shots`` (per executable), ``shots_total``,
    ``n_executables``, ``program_sets``, ``program_hash`` (sha256 of the exact
    action and device parameters), ``client_token``, ``tags``, ``s3_bucket``,
    ``s3_prefix``, ``cost_usd`` (committed: the price-table cost, exact),
    ``price_per_task_usd``/``price_per_shot_usd`` (the prices it was committed
    at) and ``approval_id`` (the recorded approval that paid for it).

    Progress (updated as the task moves): ``state``, ``arn`` (set once the
    task exists: from then on it may be billed), ``created_at``/``updated_at`` (UTC
    ISO text), ``failure_reason``, ``output_s3_bucket``/``output_s3_directory``,
    ``queue_position``, ``running_at`` (when a poll first saw it RUNNING),
    ``queue_s``/``execution_s``/``total_s`` (seconds), ``num_successful_shots``
    (``GetQuantumTask``), ``spent_usd`` (what Braket bills for it, once final) and
    ``counts`` (per executable ``(n0, n1)`` of the readout qubit, ``None`` for a
    failed executable; ``None`` until read).

    ``extra`` holds keys of the file this version does not know (kept on write).
    """

    run_key: str
    model_version: str
    device: str
    device_arn: str
    task_index: int
    attempt: int
    sample_indices: tuple[int, ...]
    shots: int
    shots_total: int
    n_executables: int
    program_sets: bool
    program_hash: str
    client_token: str
    tags: Mapping[str, str]
    s3_bucket: str | None
    s3_prefix: str | None
    cost_usd: Decimal
    price_per_task_usd: Decimal | None = None
    price_per_shot_usd: Decimal | None = None
    approval_id: str | None = None
    state: str = CREATING
    arn: str | None = None
    created_at: str | None = None
    updated_at: str | None = None
    failure_reason: str | None = None
    output_s3_bucket: str | None = None
    output_s3_directory: str | None = None
    queue_position: str | None = None
    running_at: str | None = None
    queue_s: float | None = None
    execution_s: float | None = None
    total_s: float | None = None
    num_successful_shots: int | None = None
    spent_usd: Decimal | None = None
    counts: tuple[Counts | None, ...] | None = None
    extra: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def key(self) -> tuple[str, str, int, int]:
        """``(run_key, device, task_index, attempt)``: what identifies the row."""
        return (self.run_key, self.device, self.task_index, self.attempt)

    @property
    def created_time(self) -> datetime | None:
        """``created_at`` as a timezone-aware UTC time (``None`` when unknown or unreadable)."""
        return parse_utc(self.created_at)

    @property
    def is_created(self) -> bool:
        """True once the task exists on Braket (it has an ARN): it is billed."""
        return bool(self.arn)

    @property
    def awaiting_results(self) -> bool:
        """Created, and not terminal yet or completed with its counts not read yet."""
        return self.is_created and (self.state not in TERMINAL_STATES
                                    or (self.state == "COMPLETED" and self.counts is None))

    def with_changes(self, **changes: Any) -> "TaskRow":
        """A copy with some fields changed (``dataclasses.replace``)."""
        return dataclasses.replace(self, **changes)

    # ------------------------------------------------------------ JSON

    def to_json(self) -> dict[str, Any]:
        """The row as stored in the file (version 1 keys, money as a string)."""
        doc: dict[str, Any] = dict(self.extra)
        for f in dataclasses.fields(self):
            if f.name != "extra":
                doc[f.name] = getattr(self, f.name)
        doc["sample_indices"] = list(self.sample_indices)
        doc["tags"] = dict(self.tags)
        doc["cost_usd"] = str(self.cost_usd)
        for name in _OPTIONAL_MONEY:
            value = getattr(self, name)
            doc[name] = None if value is None else str(value)
        doc["counts"] = None if self.counts is None else [
            None if c is None else list(c) for c in self.counts]
        return doc

    @classmethod
    def from_json(cls, doc: Mapping[str, Any], where: str = "ledger row") -> "TaskRow":
        """Read a stored row (any version-1 row, also one written as a plain dict).

        Raises:
            HardwareError: a required field is missing or has the wrong type.
        """
        if not isinstance(doc, Mapping):
            raise HardwareError(f"{where}: expected a JSON object, but got {type(doc).__name__}")
        known = {f.name for f in dataclasses.fields(cls)} - {"extra"}
        missing = [name for name in _REQUIRED if name not in doc]
        if missing:
            raise HardwareError(f"{where}: missing field(s) {', '.join(missing)}")
        try:
            values = {name: doc[name] for name in known if name in doc}
            values.update(
                task_index=int(doc["task_index"]), attempt=int(doc.get("attempt", 0)),
                sample_indices=tuple(int(i) for i in doc["sample_indices"]),
                shots=int(doc["shots"]), shots_total=int(doc["shots_total"]),
                n_executables=int(doc["n_executables"]), program_sets=bool(doc["program_sets"]),
                tags={str(k): str(v) for k, v in (doc.get("tags") or {}).items()},
                s3_bucket=doc.get("s3_bucket"), s3_prefix=doc.get("s3_prefix"),
                cost_usd=Decimal(str(doc.get("cost_usd", "0"))),
                counts=_counts(doc.get("counts")),
                num_successful_shots=_optional_int(doc.get("num_successful_shots")),
                **{name: _optional_money(doc.get(name)) for name in _OPTIONAL_MONEY},
            )
        except (TypeError, ValueError, InvalidOperation, AttributeError) as exc:
            raise HardwareError(f"{where}: malformed field ({exc})") from None
        return cls(**values, extra={k: v for k, v in doc.items() if k not in known})


_REQUIRED = ("run_key", "model_version", "device", "device_arn", "task_index", "sample_indices",
             "shots", "shots_total", "n_executables", "program_sets", "program_hash", "client_token")


#: Optional money fields (a decimal string on disk, or null).
_OPTIONAL_MONEY = ("price_per_task_usd", "price_per_shot_usd", "spent_usd")


def _optional_money(value) -> Decimal | None:
    return None if value is None else Decimal(str(value))


def _optional_int(value) -> int | None:
    return None if value is None else int(value)


def _counts(value) -> tuple[Counts | None, ...] | None:
    if value is None:
        return None
    return tuple(None if c is None else (int(c[0]), int(c[1])) for c in value)


def latest_attempts(rows: Iterable[TaskRow]) -> dict[int, TaskRow]:
    """task index -> the row of its latest attempt."""
    out: dict[int, TaskRow] = {}
    for row in sorted(rows, key=lambda r: r.key):
        out[row.task_index] = row
    return out


def spend(rows: Iterable[TaskRow]) -> Decimal:
    """Committed cost of the rows' created tasks: the price table at creation (exact,
    not rounded). What Braket bills is :func:`qml_ops.hardware.billing.spent`."""
    return sum((r.cost_usd for r in rows if r.is_created), Decimal(0))


def summarize(rows: Iterable[TaskRow]) -> list[dict[str, Any]]:
    """Per (run, device, state): number of tasks, samples and spend (created tasks)."""
    groups: dict[tuple, dict] = {}
    for row in rows:
        key = (row.run_key, row.device, row.state)
        g = groups.setdefault(key, {"run_key": key[0], "device": key[1], "state": key[2],
                                    "tasks": 0, "samples": 0, "spend_usd": Decimal("0")})
        g["tasks"] += 1
        g["samples"] += len(row.sample_indices)
        if row.is_created:
            g["spend_usd"] += row.cost_usd
    return [groups[k] for k in sorted(groups)]


# ------------------------------------------------------------------ the file


def _stored_key(doc: Mapping[str, Any]) -> tuple:
    return (doc["run_key"], doc["device"], int(doc["task_index"]), int(doc.get("attempt", 0)))


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
        return self._read_doc()["tasks"]

    def _read_doc(self) -> dict:
        """The whole file (``{"version": 1, "tasks": []}`` if there is none yet)."""
        if not self.path.exists():
            return {"version": LEDGER_VERSION, "tasks": []}
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
        return doc

    def rows(self, run_key: str | None = None, device: str | None = None) -> list[TaskRow]:
        """All rows, optionally of one run and/or device, by task index and attempt."""
        rows = [
            TaskRow.from_json(doc, f"{self.path}: task {i}") for i, doc in enumerate(self._read())
        ]
        rows = [r for r in rows
                if (run_key is None or r.run_key == run_key) and (device is None or r.device == device)]
        return sorted(rows, key=lambda r: r.key)

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

    def upsert(self, row: TaskRow, use_approval: tuple[str, str] | None = None) -> TaskRow:
        """Insert or update (merge) ``row``, keyed by run, device, task index, attempt.

        The file is re-read under the lock and rewritten atomically, so the row is
        on disk when this returns. Returns the row as stored (``updated_at`` set).

        Args:
            row: the row.
            use_approval: ``(approval id, run key)``: mark that recorded approval
                used by the run, right after the row (the first row an approval
                pays for) is written, under the same lock.

        Raises:
            HardwareError: ``use_approval`` names an approval the file does not hold.
        """
        new = row.with_changes(updated_at=utc_now()).to_json()
        with self._locked():
            approvals = self._read_approvals() if use_approval is not None else None
            if approvals is not None and not any(a.get("id") == use_approval[0] for a in approvals):
                raise HardwareError(f"{self.approvals_path}: no recorded approval {use_approval[0]!r}; "
                                    "nothing was submitted")
            doc = self._read_doc()
            docs = doc["tasks"]
            for i, old in enumerate(docs):
                if _stored_key(old) == row.key:
                    docs[i] = new = {**old, **new}
                    break
            else:
                docs.append(new)
            write_json(self.path, {**doc, "version": LEDGER_VERSION, "tasks": docs})
            if approvals is not None:
                approval_id, run_key = use_approval
                for approval in approvals:
                    if approval.get("id") == approval_id:
                        approval.setdefault("used", {}).setdefault(run_key, utc_now())
                write_json(self.approvals_path, {"version": LEDGER_VERSION, "approvals": approvals})
        return TaskRow.from_json(new)

    # ------------------------------------------------------------ approvals

    @property
    def approvals_path(self) -> Path:
        """``approvals.json`` beside the ledger."""
        return self.path.with_name(APPROVALS_FILE)

    def _read_approvals(self) -> list[dict]:
        path = self.approvals_path
        if not path.exists():
            return []
        try:
            doc = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise HardwareError(f"cannot read the QPU approvals {path}: {exc}") from None
        if not isinstance(doc, dict) or not isinstance(doc.get("approvals"), list):
            raise HardwareError(f"{path} is not a qml-ops approvals file (expected {{'version': 1, 'approvals': [...]}})")
        if doc.get("version") != LEDGER_VERSION:
            raise HardwareError(f"{path}: version {doc.get('version')!r} is not supported (expected {LEDGER_VERSION})")
        return doc["approvals"]

    def approval_docs(self) -> list[dict]:
        """The recorded approvals as stored (see :mod:`qml_ops.hardware.approvals`)."""
        return list(self._read_approvals())

    def add_approval_doc(self, approval: dict) -> None:
        """Append one recorded approval (atomically, under the ledger's lock)."""
        with self._locked():
            approvals = self._read_approvals()
            write_json(self.approvals_path, {"version": LEDGER_VERSION, "approvals": [*approvals, approval]})

    def update(self, row: TaskRow, **changes: Any) -> TaskRow:
        """:meth:`upsert` ``row`` with some fields changed; returns the stored row."""
        return self.upsert(row.with_changes(**changes))

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
