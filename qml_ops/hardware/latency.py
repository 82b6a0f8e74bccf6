"""Where the time of a device run went: per task queue and execution, per inference.

Shared by every backend (:mod:`qml_ops.hardware.backends`) and by the QPU
submitter (:mod:`qml_ops.hardware.qpu`).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["TaskLatency", "Latency"]


@dataclass(frozen=True)
class TaskLatency:
    """One task's timings in seconds (``None`` where not known yet).

    ``total_s`` is endedAt - createdAt of the task, ``execution_s`` the device's
    execution duration where the result reports one, ``queue_s`` their difference.
    """

    task_index: int
    queue_s: float | None = None
    execution_s: float | None = None
    total_s: float | None = None


@dataclass(frozen=True)
class Latency:
    """The timings of one run.

    Attributes:
        tasks: per task (empty for an emulator, which has no tasks).
        wall_s: seconds the run call took here.
        per_inference_s: mean turnaround per sample with results (QPU: task
            turnaround of completed tasks; emulator: wall time / samples);
            ``None`` without a completed sample.
    """

    tasks: tuple[TaskLatency, ...] = ()
    wall_s: float = 0.0
    per_inference_s: float | None = None
