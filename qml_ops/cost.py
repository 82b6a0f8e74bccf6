"""Cost estimates for running inferences on a device, exact to the cent.

Cost = tasks × per-task fee + total shots × per-shot price, the formula and
prices of the Amazon Braket pricing page (https://aws.amazon.com/braket/pricing/),
in :class:`~decimal.Decimal` and rounded half-up to the cent once, at the end
(:func:`qml_ops.money.to_cents`).

Where the device supports program sets, samples are packed into tasks of at
most 100 executables and at most 200,000 shots in total (the program-set action
of the Braket device documents: ``maximumExecutables``, ``maximumTotalShots``)
and, in total, no more than the device's own ``shotsRange`` maximum (20,000 on
IQM Garnet): the Braket SDK checks only the program-set limit, so a plan stays
under both. Each task pays the fee once. Otherwise, or with
``one_task_per_inference=True``, every sample is its own task (how the
reference case study ran, and how ``AwsDevice.run_batch`` bills).
:func:`qml_ops.hardware.qpu.plan_tasks` splits a run exactly as priced here.

Example:
    >>> from qml_ops.cost import estimate
    >>> from qml_ops.hardware.devices import get_device
    >>> e = estimate(get_device("iqm-garnet"), 48, 512, one_task_per_inference=True)
    >>> e.tasks, str(e.cost_usd)
    (48, '50.04')
    >>> estimate(get_device("iqm-garnet"), 48, 512).tasks   # 39 + 9: 20,000 shots at most per set
    2
    >>> estimate(get_device("iqm-emerald"), 48, 512).tasks  # one program set
    1
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from decimal import Decimal

from qml_ops.errors import ConfigError
from qml_ops.hardware.devices import (
    PROGRAM_SET_MAX_EXECUTABLES,
    PROGRAM_SET_MAX_TOTAL_SHOTS,
    Device,
)
from qml_ops.money import to_cents


@dataclass(frozen=True)
class Estimate:
    """What a run of ``n_samples`` inferences of ``shots`` shots will cost.

    ``expected_latency_s`` is ``n_samples`` × the device's observed time per
    inference (``Device.latency_per_inference_s``: the reference case study, one
    task of 512 shots per inference); ``None`` without a basis.
    """

    device: str
    n_samples: int
    shots: int
    tasks: int
    shots_total: int
    cost_usd: Decimal
    per_task_usd: Decimal
    per_shot_usd: Decimal
    program_sets: bool
    executables_per_task: int
    expected_latency_s: float | None = None
    parts: tuple["Estimate", ...] = ()

    def base_run(self) -> "Estimate":
        """The run of the samples alone, without the extra runs in ``parts`` (what
        the backend runs first). Equal to ``self`` when there are no parts."""
        if not self.parts:
            return self
        return replace(self, tasks=self.tasks - sum(p.tasks for p in self.parts),
                       shots_total=self.shots_total - sum(p.shots_total for p in self.parts),
                       cost_usd=self.cost_usd - sum((p.cost_usd for p in self.parts), Decimal(0)), parts=())

    def to_dict(self) -> dict:
        """The JSON form: ``{device, tasks, shots_total, cost_usd, per_task_usd,
        per_shot_usd, program_sets}`` (USD as JSON numbers)."""
        return {
            "device": self.device,
            "tasks": self.tasks,
            "shots_total": self.shots_total,
            "cost_usd": float(self.cost_usd),
            "per_task_usd": float(self.per_task_usd),
            "per_shot_usd": float(self.per_shot_usd),
            "program_sets": self.program_sets,
            **({"parts": [{"n_samples": p.n_samples, "shots": p.shots, **p.to_dict()} for p in self.parts]}
               if self.parts else {}),
        }


def with_parts(base: Estimate, parts: "list[Estimate] | tuple[Estimate, ...]") -> Estimate:
    """``base`` plus extra runs on the same device (error mitigation: calibration
    circuits, zero-noise extrapolation's folded circuits), priced separately.

    ``tasks``, ``shots_total`` and ``cost_usd`` become the totals (what the spend
    gate, approvals and budgets see); ``n_samples`` and ``shots`` stay the base
    run's; :meth:`Estimate.base_run` recovers the base.
    """
    parts = tuple(parts)
    if not parts:
        return base
    return replace(base, tasks=base.tasks + sum(p.tasks for p in parts),
                   shots_total=base.shots_total + sum(p.shots_total for p in parts),
                   cost_usd=base.cost_usd + sum((p.cost_usd for p in parts), Decimal(0)), parts=parts)


def _check_int(value: object, name: str, device: Device) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(
            f"{name} for device {device.id!r} must be an integer, but got {value!r}"
        )
    return value


def check_shots(device: Device, shots: int) -> None:
    """Raise :class:`ConfigError` if ``shots`` is outside the device's range."""
    _check_int(shots, "shots", device)
    too_many = device.max_shots is not None and shots > device.max_shots
    if shots < device.min_shots or too_many:
        raise ConfigError(
            f"shots={shots} is outside the range of device {device.id!r} "
            f"({device.name}): allowed {device.shots_range_text}"
        )


def max_program_set_shots(device: Device) -> int:
    """The most shots one program set on ``device`` may hold in total: the
    program-set limit, and no more than the device's shots maximum."""
    if device.max_shots is None:
        return PROGRAM_SET_MAX_TOTAL_SHOTS
    return min(PROGRAM_SET_MAX_TOTAL_SHOTS, device.max_shots)


def executables_per_task(device: Device, shots: int) -> int:
    """How many samples one task holds: a program set's worth (at most 100
    executables and :func:`max_program_set_shots` shots), or 1."""
    if not device.supports_program_sets or shots > max_program_set_shots(device):
        return 1
    if shots == 0:  # exact simulation: only the executable limit applies
        return PROGRAM_SET_MAX_EXECUTABLES
    return max(1, min(PROGRAM_SET_MAX_EXECUTABLES, max_program_set_shots(device) // shots))


def estimate(
    device: Device,
    n_samples: int,
    shots: int,
    one_task_per_inference: bool = False,
) -> Estimate:
    """Estimate tasks, shots and cost of ``n_samples`` inferences on ``device``.

    Args:
        device: a catalogue entry (see :func:`qml_ops.hardware.devices.get_device`,
            :func:`~qml_ops.hardware.devices.with_prices` for price overrides).
        n_samples: number of inferences (circuits), >= 1.
        shots: shots per inference, within the device's range.
        one_task_per_inference: one task (and one fee) per sample even where
            program sets are available.

    Raises:
        ConfigError: for ``n_samples`` < 1 or shots outside the device's range.
    """
    _check_int(n_samples, "samples", device)
    if n_samples < 1:
        raise ConfigError(
            f"samples for device {device.id!r} must be >= 1, but got {n_samples}"
        )
    check_shots(device, shots)
    per_task = executables_per_task(device, shots)
    use_sets = per_task > 1 and not one_task_per_inference
    if not use_sets:
        per_task = 1
    tasks = math.ceil(n_samples / per_task)
    shots_total = n_samples * shots
    cost = tasks * device.price_per_task_usd + shots_total * device.price_per_shot_usd
    latency = (
        None
        if device.latency_per_inference_s is None
        else round(n_samples * device.latency_per_inference_s, 3)
    )
    return Estimate(
        device=device.id,
        n_samples=n_samples,
        shots=shots,
        tasks=tasks,
        shots_total=shots_total,
        cost_usd=to_cents(cost),
        per_task_usd=device.price_per_task_usd,
        per_shot_usd=device.price_per_shot_usd,
        program_sets=use_sets,
        executables_per_task=per_task,
        expected_latency_s=latency,
    )
