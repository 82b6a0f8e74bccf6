"""Static execution plan of the QCNN for the batched simulator (no tensors here).

The plan splits the circuit into three parts (see :mod:`qml_ops.simulation.engine`):

* **front**: the convolution units that can act while the encoded product
  state is still a set of small clusters (≤ 4 qubits, angle encodings only):
  the first units in circuit order, and later ones that commute with the units
  left out;
* **body**: the remaining units of layers ``1..split`` on the full state vector,
  fused into **blocks**: consecutive units (in an order that respects the
  circuit) acting on at most ``max_block`` qubits become one ``2**k × 2**k``
  matrix, applied to the ``k`` most significant qubit axes of the state; a
  :class:`Permute` step brings a block's qubits there first;
* **tail**: the units of layers ``split+1..L``. They only touch the ≤ 4 wires
  kept after layer ``split``, so they are folded into one small observable
  ``O = V† Z V`` built once per forward from the weights.

Unit matrices are indexed ``layer`` (convolution) and ``n_layers + layer`` (pooling).

Example:
    >>> from qml_ops.circuits.qcnn import QCNNSpec
    >>> p = build_plan(QCNNSpec(8, 9, "angle"), max_block=4)
    >>> [u.wires for u in p.front]
    [(0, 7), (0, 1), (2, 3), (4, 5), (6, 7), (3, 4)]
    >>> p.clusters
    [[6, 0, 7, 1], [2, 3, 4, 5]]
    >>> [(s.wires, len(s.units)) for s in p.steps if isinstance(s, Block)]
    [((6, 7, 4, 5), 3), ((0, 1, 2, 3), 3)]
    >>> p.split, sorted(p.kept_order)
    (1, [0, 2, 4, 6])
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

from qml_ops.circuits.qcnn import QCNNSpec

__all__ = ["Unit", "Block", "Permute", "Plan", "build_plan", "BLOCK_COST"]

#: Largest kept register folded into the observable, and largest front cluster.
MAX_SMALL = 4

#: Relative cost of applying a ``2**k × 2**k`` block to the state, and of a
#: permutation (one row gather), from complex64 products on a cache-sized
#: state on the CPU (a 16×16 block costs ~1.7 times a 4×4; the profile notes
#: are in :mod:`qml_ops.simulation.engine`). The scheduler picks, step by step,
#: the window with the most units per unit of cost.
BLOCK_COST = {1: 0.8, 2: 1.0, 3: 1.3, 4: 1.7, 5: 3.0, 6: 5.5}
PERMUTE_COST = 1.0


@dataclass(frozen=True)
class Unit:
    """One two-qubit block: matrix index ``mat`` on ``wires`` (first = high bit)."""

    mat: int
    wires: tuple[int, int]


@dataclass(frozen=True)
class Block:
    """Apply the product of ``units`` to the top ``len(wires)`` qubit axes, which
    hold ``wires`` (most significant first)."""

    wires: tuple[int, ...]
    units: tuple[Unit, ...]


@dataclass(frozen=True)
class Permute:
    """Reorder the qubit axes: the new layout (most significant first)."""

    layout: tuple[int, ...]


@dataclass
class Plan:
    n_qubits: int
    n_layers: int
    split: int
    front: list[Unit] = field(default_factory=list)
    clusters: list[list[int]] = field(default_factory=list)  # in layout order
    layout: list[int] = field(default_factory=list)  # wire order entering the body
    steps: list[Block | Permute] = field(default_factory=list)
    final_layout: list[int] = field(default_factory=list)
    kept_order: list[int] = field(default_factory=list)  # observable's wires: the top axes
    tail: list[Unit] = field(default_factory=list)
    readout: int = 0

    @property
    def blocks(self) -> list[Block]:
        return [s for s in self.steps if isinstance(s, Block)]


def _units(spec: QCNNSpec) -> list[list[Unit]]:
    n_layers = spec.n_layers
    out = []
    for layer, (conv, pools) in enumerate(spec.layers):
        units = [Unit(layer, pair) for pair in conv]
        units += [Unit(n_layers + layer, pair) for pair in pools]
        out.append(units)
    return out


def _runnable(pending: Sequence[Unit], window: set[int]) -> list[int]:
    """Indices of the pending units that can run inside ``window`` now: in
    circuit order, skipping units that wait on a skipped unit's wires."""
    blocked: set[int] = set()
    take = []
    for i, unit in enumerate(pending):
        wires = set(unit.wires)
        if wires <= window and not wires & blocked:
            take.append(i)
        else:
            blocked |= wires
    return take


def _grow(pending: Sequence[Unit], start: int, max_block: int) -> set[int]:
    """A window grown from ``pending[start]`` by the next units that fit."""
    blocked: set[int] = set()
    window: set[int] = set()
    for i, unit in enumerate(pending):
        wires = set(unit.wires)
        if i < start or wires & blocked:
            blocked |= wires
            continue
        if len(window | wires) <= max_block:
            window |= wires
        else:
            blocked |= wires
    return window


def _schedule(units: list[Unit], layout: list[int], max_block: int) -> tuple[list[Block | Permute], list[int]]:
    """Fuse ``units`` into blocks; returns the steps and the final layout.

    Greedy: among windows grown from each of the first ready units, and the
    current top axes (no permutation needed), take the one with the most units
    per unit of cost (:data:`BLOCK_COST`, :data:`PERMUTE_COST`).
    """
    steps: list[Block | Permute] = []
    pending = list(units)
    while pending:
        candidates: list[tuple[float, int, set[int], bool]] = []
        for k in range(2, max_block + 1):
            window = set(layout[:k])
            take = _runnable(pending, window)
            if take and set().union(*(pending[i].wires for i in take)) == window:
                candidates.append((len(take) / BLOCK_COST[k], -len(candidates), window, False))
        ready = _runnable(pending, set(layout))[:8]  # the units with nothing before them
        for start in ready:
            if any(set(pending[start].wires) & set(pending[j].wires) for j in ready if j < start):
                continue
            window = _grow(pending, start, max_block)
            take = _runnable(pending, window)
            cost = BLOCK_COST[len(window)] + PERMUTE_COST
            candidates.append((len(take) / cost, -len(candidates), window, True))
        _, _, window, permute = max(candidates, key=lambda c: (c[0], c[1]))
        if permute:
            top = [w for w in layout if w in window]
            layout = top + [w for w in layout if w not in window]
            steps.append(Permute(tuple(layout)))
        take = _runnable(pending, window)
        wires = tuple(layout[: len(window)])
        steps.append(Block(wires, tuple(pending[i] for i in take)))
        pending = [u for i, u in enumerate(pending) if i not in set(take)]
    return steps, layout


def build_plan(spec: QCNNSpec, max_block: int = 4) -> Plan:
    """Split ``spec`` into front, body and tail, and fuse the body into blocks.

    Args:
        spec: the circuit.
        max_block: largest fused block, in qubits (2..6).
    """
    if not 2 <= max_block <= 6:
        raise ValueError(f"max_block must be 2..6, but got max_block={max_block}.")
    n = spec.n_qubits
    kept, active = [], list(range(n))  # active wires after each layer (a pooling discards its first wire)
    for _, pools in spec.layers:
        discarded = {c for c, _ in pools}
        active = [w for w in active if w not in discarded]
        kept.append(active)
    split = next(i + 1 for i, k in enumerate(kept) if len(k) <= MAX_SMALL)
    layers = _units(spec)
    body_units = [u for units in layers[:split] for u in units]
    plan = Plan(n_qubits=n, n_layers=spec.n_layers, split=split, readout=spec.readout_wire)
    plan.tail = [u for units in layers[split:] for u in units]

    # Front: grow clusters of the product state while they stay small. A unit that
    # would make a cluster too big stays in the body, and so does every later unit
    # sharing a wire with it; later units on other wires commute with it and may
    # still join the front.
    cluster = {w: [w] for w in range(n)}
    if spec.encoding != "amplitude":
        blocked: set[int] = set()
        rest = []
        for unit in body_units:
            a, b = unit.wires
            merged = cluster[a] if b in cluster[a] else cluster[a] + cluster[b]
            if blocked & {a, b} or len(merged) > MAX_SMALL or len(merged) >= n:
                blocked |= {a, b}
                rest.append(unit)
                continue
            for w in merged:
                cluster[w] = merged
            plan.front.append(unit)
        body_units = rest
    unique = {id(c): c for c in cluster.values()}
    plan.clusters = sorted(unique.values(), key=min)
    layout = [w for c in plan.clusters for w in c]
    plan.layout = list(layout)

    steps, layout = _schedule(body_units, layout, min(max_block, n))
    # The observable acts on the kept wires: bring them to the top.
    kept_set = set(kept[split - 1])
    if set(layout[: len(kept_set)]) != kept_set:
        layout = [w for w in layout if w in kept_set] + [w for w in layout if w not in kept_set]
        steps.append(Permute(tuple(layout)))
    plan.steps = steps
    plan.final_layout = layout
    plan.kept_order = layout[: len(kept_set)]
    return plan
