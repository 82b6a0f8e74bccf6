"""Planning: the tasks of a QPU run, exactly as the approved estimate priced them.

A plan is a list of :class:`PlannedTask`: program sets of up to
``estimate.executables_per_task`` consecutive samples where the estimate uses
them (at most 100 executables and, in total, no more shots than both the
program-set limit and the device's shots maximum allow: a larger run is several
program sets, each paying the task fee once), else one task per sample. Each carries the exact OpenQASM action the
Braket SDK would serialise, its device parameters, a hash of both (the ledger
row's ``program_hash``) and its price-table cost. A plan that deviates from the
estimate in any way (device, samples, shots, prices, program sets, number of
tasks, cost to the cent) is refused: the estimate is what was approved.
:func:`plan_digest` is the hash of everything a plan sends (what a recorded
approval is bound to).

Example:
    >>> est = estimate(get_device("iqm-emerald"), 12, 20_000)                # doctest: +SKIP
    >>> [len(t.positions) for t in plan_tasks(device, circuits, 20_000, range(12), est)]  # doctest: +SKIP
    [10, 2]
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Sequence

from qml_ops.cost import Estimate
from qml_ops.cost import estimate as estimate_cost
from qml_ops.errors import HardwareError
from qml_ops.hardware.devices import Device
from qml_ops.hardware.ledger import sha256
from qml_ops.hardware.qpu.device_parameters import device_parameters_json
from qml_ops.money import to_cents

__all__ = ["PlannedTask", "plan_tasks", "plan_digest", "check_estimate_is_this_run"]


@dataclass(frozen=True)
class PlannedTask:
    """One task as it will be sent: ``action`` is the exact OpenQASM JSON."""

    index: int
    positions: tuple[int, ...]  # rows of ``circuits`` in this task
    sample_indices: tuple[int, ...]
    readout_qubits: tuple[int, ...]
    action: str
    device_parameters: str | None
    shots: int  # per executable
    shots_total: int
    program_set: bool
    program_hash: str
    cost_usd: Decimal
    price_per_task_usd: Decimal = Decimal(0)
    price_per_shot_usd: Decimal = Decimal(0)


def plan_digest(plan: Sequence[PlannedTask]) -> str:
    """sha256 of the plan's program hashes in order: the exact actions, device
    parameters and task layout a run sends (what an approval is bound to)."""
    return sha256("\n".join(f"{t.index}:{t.shots}:{t.program_hash}" for t in plan))


def check_estimate_is_this_run(device: Device, n_samples: int, shots: int, estimate: Estimate,
                               one_task_per_inference: bool) -> None:
    """Refuse an approved ``estimate`` that prices another task layout than this run's.

    Raises:
        HardwareError: tasks, program-set use or cost differ from a fresh estimate.
    """
    expected = estimate_cost(device, n_samples, shots, one_task_per_inference)
    if (expected.tasks, expected.program_sets, expected.executables_per_task, expected.cost_usd) != (
            estimate.tasks, estimate.program_sets, estimate.executables_per_task, estimate.cost_usd):
        raise HardwareError(
            f"the approved estimate ({estimate.tasks} tasks, ${estimate.cost_usd}) is not this run's "
            f"({expected.tasks} tasks, ${expected.cost_usd} with one_task_per_inference="
            f"{one_task_per_inference}); estimate and approve this run (nothing was submitted)"
        )


def plan_tasks(device: Device, circuits: Sequence[Any], shots: int, sample_indices: Sequence[int],
               estimate: Estimate) -> list[PlannedTask]:
    """Split the circuits into tasks exactly as ``estimate`` priced them.

    Program sets (``estimate.program_sets``) hold ``estimate.executables_per_task``
    consecutive samples each; otherwise each sample is one task. The action is
    what the Braket SDK would serialise (``ProgramSet.to_ir().json()`` or
    ``Circuit.to_ir(OPENQASM).json()`` plus the SDK's device parameters).

    Raises:
        HardwareError: if the estimate is for another device, sample count or
            shots, or the plan does not have ``estimate.tasks`` tasks.
    """
    from braket.circuits.serialization import IRType
    from braket.program_sets import ProgramSet

    n = len(circuits)
    if estimate.device != device.id or estimate.n_samples != n or estimate.shots != shots:
        raise HardwareError(
            f"the estimate is for {estimate.device}, {estimate.n_samples} samples x "
            f"{estimate.shots} shots, but the run is {device.id}, {n} samples x {shots} shots; "
            "estimate (and approve) this run"
        )
    prices = (device.price_per_task_usd, device.price_per_shot_usd)
    if (estimate.per_task_usd, estimate.per_shot_usd) != prices:
        raise HardwareError(
            f"the estimate's prices (${estimate.per_task_usd}/task, ${estimate.per_shot_usd}/shot) "
            f"differ from device {device.id}'s (${device.price_per_task_usd}, ${device.price_per_shot_usd})"
        )
    if estimate.program_sets and not device.supports_program_sets:
        raise HardwareError(f"the estimate uses program sets, which {device.id} does not support")
    per_task = estimate.executables_per_task if estimate.program_sets else 1
    plan = []
    for index, start in enumerate(range(0, n, per_task)):
        positions = tuple(range(start, min(start + per_task, n)))
        chunk = [circuits[p] for p in positions]
        if estimate.program_sets:
            program_set = ProgramSet([c.circuit for c in chunk], shots_per_executable=shots)
            action, dev_params = program_set.to_ir().json(), None
            shots_total = program_set.total_shots
        else:
            circuit = chunk[0].circuit
            action = circuit.to_ir(IRType.OPENQASM).json()
            dev_params = device_parameters_json(device.arn, circuit.qubit_count)
            shots_total = shots
        program_hash = sha256(action + "\n" + (dev_params or ""))
        cost = device.price_per_task_usd + shots_total * device.price_per_shot_usd
        plan.append(PlannedTask(
            index=index, positions=positions,
            sample_indices=tuple(int(sample_indices[p]) for p in positions),
            readout_qubits=tuple(int(c.readout_qubit) for c in chunk),
            action=action, device_parameters=dev_params, shots=shots, shots_total=shots_total,
            program_set=estimate.program_sets, program_hash=program_hash, cost_usd=cost,
            price_per_task_usd=device.price_per_task_usd, price_per_shot_usd=device.price_per_shot_usd,
        ))
    if len(plan) != estimate.tasks:  # the estimate is what was approved: never deviate
        raise HardwareError(
            f"refusing to submit: the plan has {len(plan)} tasks but the approved estimate "
            f"has {estimate.tasks}"
        )
    planned = to_cents(sum((t.cost_usd for t in plan), Decimal(0)))
    if planned != estimate.cost_usd:
        raise HardwareError(
            f"refusing to submit: the plan costs ${planned} but the approved estimate is ${estimate.cost_usd}"
        )
    return plan
