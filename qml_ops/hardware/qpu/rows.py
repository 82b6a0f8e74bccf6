"""Ledger rows of planned tasks: the row written before a create, and the check
that a row already in the ledger is for the same work.

Example:
    >>> row = new_row(plan[0], device=device, run_key="r1", model_version="qcnn/3",  # doctest: +SKIP
    ...               attempt=0, s3_bucket="amazon-braket-x", s3_prefix="qml-ops")
    >>> row.state, row.client_token == row.tags["qml-ops-token"]                   # doctest: +SKIP
    ('CREATING', True)
"""

from __future__ import annotations

from qml_ops.errors import HardwareError
from qml_ops.hardware.devices import Device
from qml_ops.hardware.ledger import (
    CREATING, TAG_MODEL, TAG_RUN, TAG_TASK, TAG_TOKEN, TaskRow, client_token,
)
from qml_ops.hardware.qpu import clock
from qml_ops.hardware.qpu.planning import PlannedTask

__all__ = ["new_row", "check_row_matches"]


def new_row(task: PlannedTask, *, device: Device, run_key: str, model_version: str,
            attempt: int, s3_bucket: str, s3_prefix: str, approval_id: str | None = None) -> TaskRow:
    """The ``CREATING`` row of one attempt at ``task``, with its deterministic client token,
    the tags (run, task index, token, model) the task will carry, the prices it is
    committed at and the approval that pays for it. Its ``created_at`` is
    :func:`qml_ops.hardware.qpu.clock.utcnow` (the recovery search window starts there)."""
    token = client_token(run_key, device.arn, task.index, task.program_hash, task.shots, attempt)
    return TaskRow(
        run_key=run_key, model_version=model_version, device=device.id, device_arn=device.arn,
        task_index=task.index, attempt=attempt, sample_indices=task.sample_indices,
        shots=task.shots, shots_total=task.shots_total, n_executables=len(task.positions),
        program_sets=task.program_set, program_hash=task.program_hash, client_token=token,
        tags={TAG_RUN: run_key, TAG_TASK: str(task.index), TAG_TOKEN: token, TAG_MODEL: model_version},
        s3_bucket=s3_bucket, s3_prefix=s3_prefix, cost_usd=task.cost_usd,
        price_per_task_usd=task.price_per_task_usd, price_per_shot_usd=task.price_per_shot_usd,
        approval_id=approval_id, state=CREATING, arn=None,
        created_at=clock.utcnow().replace(microsecond=0).isoformat(),
    )


def check_row_matches(row: TaskRow, task: PlannedTask) -> None:
    """Refuse a run key that already holds other circuits, samples or shots at ``task.index``.

    Raises:
        HardwareError: the row's program hash, sample indices or shots differ.
    """
    if (row.program_hash != task.program_hash or row.sample_indices != task.sample_indices
            or row.shots != task.shots):
        raise HardwareError(
            f"run {row.run_key!r} on {row.device} already has a task {task.index} for other "
            "circuits, samples or shots; use a new run_key for a new run (nothing was submitted)"
        )
