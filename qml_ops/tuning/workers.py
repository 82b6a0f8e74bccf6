"""Who ran a trial: the worker process, and its Slurm job and array task if any.

Each trial records :func:`identity` twice: as the Optuna trial user attribute
``worker`` and as tags on the trial's MLflow run, so ``qml-ops tune status``
can count trials per worker from the study alone, and the MLflow UI can filter
trial runs by ``tags."slurm.array_task_id"``.

Example:
    >>> identity({"SLURM_ARRAY_JOB_ID": "41", "SLURM_ARRAY_TASK_ID": "1"})["slurm.array_task_id"]
    '1'
"""

from __future__ import annotations

import os
import socket
from typing import Mapping

WORKER_ATTR = "worker"  # the Optuna trial user attribute holding identity()
PROCESS_KEY = "qml_ops.worker"
#: tag/attribute name -> the variable Slurm sets in a job's environment
SLURM_VARIABLES = {
    "slurm.job_id": "SLURM_JOB_ID",
    "slurm.array_job_id": "SLURM_ARRAY_JOB_ID",
    "slurm.array_task_id": "SLURM_ARRAY_TASK_ID",
}


def identity(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """``{"qml_ops.worker": "host:pid"}`` plus the Slurm ids set in ``environ``."""
    environ = os.environ if environ is None else environ
    found = {key: environ[var] for key, var in SLURM_VARIABLES.items() if environ.get(var)}
    return {PROCESS_KEY: f"{socket.gethostname()}:{os.getpid()}", **found}


def label(worker: Mapping[str, str] | None) -> str:
    """A short name for a worker: its Slurm array task (``slurm 41_1``), else ``host:pid``.

    Example:
        >>> label({"qml_ops.worker": "n1:7", "slurm.array_job_id": "41", "slurm.array_task_id": "1"})
        'slurm 41_1 (n1:7)'
    """
    if not worker:
        return "unknown"
    process = worker.get(PROCESS_KEY, "?")
    if "slurm.array_task_id" in worker:
        return f"slurm {worker.get('slurm.array_job_id', '?')}_{worker['slurm.array_task_id']} ({process})"
    if "slurm.job_id" in worker:
        return f"slurm {worker['slurm.job_id']} ({process})"
    return process
