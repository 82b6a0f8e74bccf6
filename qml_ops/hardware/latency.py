"""Where the time of a device run went: per task queue and execution, per inference.

Shared by every backend (:mod:`qml_ops.hardware.backends`) and by the QPU
submitter (:mod:`qml_ops.hardware.qpu`). On a QPU the figures come from the
task's own metadata (``GetQuantumTask``): ``total_s`` is ``endedAt - createdAt``;
``execution_s`` is the simulator's reported duration where a result has one,
else ``endedAt`` minus when a poll first saw the task ``RUNNING`` (so it is as
fine as the poll interval); ``queue_s`` is the rest. The time per inference is
the task turnaround per sample, as the reference case study reports it (one
task per inference there: PennyLane simulator 0.147 s, Ankaa-3 0.495 s, Emerald
1.294 s, Garnet 1.166 s, Forte 371.405 s).
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
    executables: int = 1

    @property
    def per_inference_s(self) -> float | None:
        """Turnaround per sample of this task."""
        return None if self.total_s is None else round(self.total_s / max(self.executables, 1), 3)


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

    def summary(self) -> dict[str, float | None]:
        """Means over the tasks that report them: ``task_queue_s``,
        ``task_execution_s``, ``task_total_s`` (``None`` where no task does)."""
        def mean(values):
            values = [v for v in values if v is not None]
            return round(sum(values) / len(values), 3) if values else None

        return {"task_queue_s": mean(t.queue_s for t in self.tasks),
                "task_execution_s": mean(t.execution_s for t in self.tasks),
                "task_total_s": mean(t.total_s for t in self.tasks)}
