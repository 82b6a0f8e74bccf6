"""Static execution plan of the QCNN for the batched simulator (no tensors here).

The plan splits the circuit into three parts (see :mod:`qml_ops.simulation.engine`):

* **front**: the first convolution units, applied while the encoded product
  state is still a set of small clusters (≤ 4 qubits, angle encodings only);
* **body**: the remaining units of layers ``1..split`` on the full state vector,
  as a list of steps (apply a 4×4 on two adjacent axes, or permute the axes);
* **tail**: the units of layers ``split+1..L``. They only touch the ≤ 4 wires
  kept after layer ``split``, so they are folded into one small observable
  ``O = V† Z V`` built once per forward from the weights.

Unit matrices are indexed ``layer`` (convolution) and ``n_layers + layer`` (pooling).

Example:
    >>> from qml_ops.circuits.qcnn import QCNNSpec
    >>> p = build_plan(QCNNSpec(8, 9, "angle"))
    >>> [u.wires for u in p.front]
    [(0, 7), (0, 1), (2, 3), (4, 5), (6, 7)]
    >>> p.split, p.kept_order
    (1, [0, 2, 4, 6])
"""

from __future__ import annotations

from dataclasses import dataclass, field

from qml_ops.circuits.qcnn import QCNNSpec

__all__ = ["Unit", "GateStep", "PermStep", "Plan", "build_plan"]

#: Largest kept register folded into the observable, and largest front cluster.
MAX_SMALL = 4


@dataclass(frozen=True)
class Unit:
    """One two-qubit block: matrix index ``mat`` on ``wires`` (first = high bit)."""

    mat: int
    wires: tuple[int, int]


@dataclass(frozen=True)
class GateStep:
    """Apply matrix ``mat`` (``swapped``: with its wires exchanged) to the state
    viewed as ``(X, 4, Y)``, batch axis last."""

    mat: int
    swapped: bool
    x: int
    y_qubits: int  # Y = 2**y_qubits * batch


@dataclass(frozen=True)
class PermStep:
    """Permute the qubit axes: new axis ``i`` is old axis ``perm[i]`` (batch stays last)."""

    perm: tuple[int, ...]


@dataclass
class Plan:
    n_qubits: int
    n_layers: int
    split: int
    front: list[Unit] = field(default_factory=list)
    clusters: list[list[int]] = field(default_factory=list)
    body: list[GateStep | PermStep] = field(default_factory=list)
    layout: list[int] = field(default_factory=list)  # wire order entering the body
    final_layout: list[int] = field(default_factory=list)
    kept_order: list[int] = field(default_factory=list)  # observable's wire order
    kept_pos: int = 0  # axis where the kept block starts in final_layout
    tail: list[Unit] = field(default_factory=list)
    readout: int = 0


def _units(spec: QCNNSpec) -> list[list[Unit]]:
    n_layers = spec.n_layers
    out = []
    for layer, (conv, pools) in enumerate(spec.layers):
        units = [Unit(layer, pair) for pair in conv]
        units += [Unit(n_layers + layer, pair) for pair in pools]
        out.append(units)
    return out


def _arrange(pairs: list[tuple[int, int]], layout: list[int]) -> list[int]:
    """A wire order making as many of ``pairs`` (in order) adjacent as possible.

    Greedy: link pairs into chains (paths) while that keeps every wire at degree
    ≤ 2 and makes no cycle; then lay the chains out in order of where they start
    in the current ``layout``, leftover wires keeping their relative order.
    """
    nxt: dict[int, list[int]] = {w: [] for w in layout}
    chain_of = {w: w for w in layout}  # union-find root

    def root(w: int) -> int:
        while chain_of[w] != w:
            w = chain_of[w]
        return w

    for a, b in pairs:
        if len(nxt[a]) < 2 and len(nxt[b]) < 2 and root(a) != root(b):
            nxt[a].append(b)
            nxt[b].append(a)
            chain_of[root(a)] = root(b)
    pos = {w: i for i, w in enumerate(layout)}
    seen: set[int] = set()
    chains = []
    for w in layout:
        if w in seen or len(nxt[w]) == 2:
            continue
        chain, prev, cur = [], None, w  # walk from an end
        while cur is not None:
            chain.append(cur)
            seen.add(cur)
            step = [v for v in nxt[cur] if v != prev]
            prev, cur = cur, (step[0] if step else None)
        chains.append(chain)
    chains.sort(key=lambda c: min(pos[w] for w in c))
    return [w for c in chains for w in c]


def build_plan(spec: QCNNSpec) -> Plan:
    """Split ``spec`` into front, body and tail, and schedule the body's steps."""
    n = spec.n_qubits
    kept = spec.kept_wires
    split = next(i + 1 for i, k in enumerate(kept) if len(k) <= MAX_SMALL)
    layers = _units(spec)
    body_units = [u for units in layers[:split] for u in units]
    plan = Plan(n_qubits=n, n_layers=spec.n_layers, split=split, readout=spec.readout_wire)
    plan.tail = [u for units in layers[split:] for u in units]

    # Front: grow clusters of the product state while they stay small.
    if spec.encoding != "amplitude":
        cluster = {w: [w] for w in range(n)}
        while body_units:
            a, b = body_units[0].wires
            merged = cluster[a] if b in cluster[a] else cluster[a] + cluster[b]
            if len(merged) > MAX_SMALL or len(merged) >= n:
                break
            for w in merged:
                cluster[w] = merged
            plan.front.append(body_units.pop(0))
        unique = {id(c): c for c in cluster.values()}
        plan.clusters = sorted(unique.values(), key=min)

    # Body: adjacent pairs are applied in place, otherwise permute first.
    layout = list(range(n))
    plan.layout = list(layout)
    for i, unit in enumerate(body_units):
        a, b = unit.wires
        if abs(layout.index(a) - layout.index(b)) != 1:
            upcoming = [u.wires for u in body_units[i:]]
            new = _arrange(upcoming, layout)
            plan.body.append(PermStep(tuple(layout.index(w) for w in new)))
            layout = new
        ia, ib = layout.index(a), layout.index(b)
        lo = min(ia, ib)
        plan.body.append(GateStep(unit.mat, ib < ia, 2**lo, n - lo - 2))

    # Observable on the kept wires: use them where they already sit if contiguous.
    kept_set = set(kept[split - 1])
    positions = sorted(layout.index(w) for w in kept_set)
    if positions[-1] - positions[0] + 1 != len(positions):
        new = [w for w in layout if w in kept_set] + [w for w in layout if w not in kept_set]
        plan.body.append(PermStep(tuple(layout.index(w) for w in new)))
        layout = new
        positions = list(range(len(kept_set)))
    plan.kept_pos = positions[0]
    plan.kept_order = layout[positions[0] : positions[0] + len(kept_set)]
    plan.final_layout = layout
    return plan
