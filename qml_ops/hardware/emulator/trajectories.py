"""Quantum-trajectory emulation: noisy circuits on batched state vectors.

For registers too large for a density matrix (``4**n`` entries), each sample's
noisy circuit is run as ``T`` *trajectories*: state vectors (``2**n``
entries) on which the noise is sampled. The mean over trajectories of any
linear function of the state is unbiased for the density matrix's:

* **Pauli channels** (every channel of today's calibrated model: depolarizing
  after gates; also bit/phase flips, phase damping, Pauli-twirled channels):
  after each gate a Pauli error is drawn from the channel's distribution,
  independently of the state (``E[P|ψ⟩⟨ψ|P] = Σ_P p_P PρP``). Errors are drawn
  upfront for all trajectories (seeded numpy generator), so CPU and CUDA see
  the same errors.
* **Other one-qubit channels** (amplitude damping, …): standard unravelling:
  Kraus operator ``K_i`` is drawn with probability ``‖K_i ψ‖²`` and the state
  becomes ``K_i ψ / ‖K_i ψ‖`` (``E = Σ K_i ρ K_i†``).
* **Readout bit flips** act on the classical outcome and are applied exactly
  to each probability.

Estimator (why ``T`` trajectories with exact probabilities, not one trajectory
per shot): each trajectory ``t`` yields the *exact* probability ``p_t`` of
reading 1 from its final state, the sample's estimate is the mean ``p̂`` over
``T`` trajectories, and the shots are then drawn as ``Binomial(shots, p̂)``.
One trajectory per shot would cost ``shots`` state evolutions per sample (512
by default) to reproduce the finite-shot distribution; with exact
probabilities the trajectory noise is ``Var(p_t)/T``, and since
``p(1-p) = E[p_t(1-p_t)] + Var(p_t)``, ``Var(p_t) <= p(1-p)``: for the same
number of state evolutions the estimate is never worse and usually much
better (the ``E[p_t(1-p_t)]`` term, the shot noise inside each trajectory, is
gone). The price is that counts drawn from ``p̂`` carry ``p̂``'s error on top
of shot noise: it is reported per sample as ``p1_stderr`` (the standard error
of the mean over trajectories, ``std(p_t)/√T``) so that intervals can include
it. Without noise all trajectories coincide and ``p1_stderr`` is 0.

Within one trajectory the Pauli errors are shared by every sample of the batch
(different samples, same error pattern): each sample's estimate stays
unbiased, and the errors then fold into the fused gate matrices, so one matrix
multiplies the whole batch. Kraus branches depend on the state and are drawn
per sample.

Cost, per state: gates are fused into blocks of up to ``fuse_qubits`` qubits
(greedy, by a measured cost model: a memory pass plus ``2**k`` multiply-adds
per amplitude), each a ``2**k × 2**k`` matrix (a trajectory with errors in a
block gets its own), applied as one matrix product on the block's qubits while
they are adjacent in the state's axis order; a planner reorders the axes (one
copy) only when a block's qubits are not, choosing an order in which the next
blocks are adjacent too. A qubit's leading one-qubit gates and channels (the
encoding) become a product state. The batch (trajectories × samples) is
processed in chunks whose size bounds memory (``max_chunk_bytes``; on CPU small
enough to stay in cache, run by parallel worker threads with one thread per
operation, which holds up on shared cores); it runs on CPU or CUDA
(``device``), complex64 by default (rounding ~1e-7, far below the statistical
error). 48 samples × 64 trajectories of a 16-qubit model take 10-25 CPU
seconds per device (benchmarks/results/emulator.json).

Example:
    >>> result = trajectory_p1(compiled, NoiseParams.from_profile(profile), trajectories=64, seed=0)  # doctest: +SKIP
    >>> result.p1[:2], result.p1_stderr[:2]                                                          # doctest: +SKIP
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np
import torch

from qml_ops.errors import HardwareError
from qml_ops.hardware.emulator.density_matrix import torch_threads
from qml_ops.hardware.emulator.noise import NoiseParams, pauli_matrix
from qml_ops.hardware.emulator.program import Group, group_circuits

__all__ = ["TrajectoryResult", "trajectory_p1", "MAX_CHUNK_BYTES", "FUSE_QUBITS"]

#: Default memory bound of one chunk of state vectors on CPU (including the work copies): a few
#: 16-qubit states, so a chunk stays in cache (measured fastest on 2 cores; larger chunks are slower).
MAX_CHUNK_BYTES = 16 * 2**20
#: Up to this many qubits the CPU emulator runs on one thread.
SMALL_QUBITS = 12
#: Default width of fused gate blocks (measured: 4-5 is fastest on CPU, see benchmarks/bench_emulator.py).
FUSE_QUBITS = 5
_LETTERS = "abcdefghijklmnopqrstuvwxyz"


@dataclass(frozen=True)
class TrajectoryResult:
    """Per-sample trajectory estimates.

    Attributes:
        p1: mean over trajectories of the exact probability of reading 1
            (readout error included).
        p1_stderr: standard error of ``p1`` (std over trajectories / √T).
        trajectories: ``T``, trajectories per sample.
    """

    p1: np.ndarray
    p1_stderr: np.ndarray
    trajectories: int


# ------------------------------------------------------------------- program

@dataclass
class _Location:
    """A Pauli channel after a gate: where it acts and its distribution."""

    axes: tuple[int, ...]
    probs: np.ndarray  # over 4**len(axes) Paulis, 0 = identity


@dataclass
class _Block:
    axes: list[int]  # qubit axes, in the block matrix's order (first most significant; set by _plan)
    entries: list[tuple]  # ("g", op index, axes) | ("e", location id, axes), time order
    alive: bool = True

    def locations(self) -> list[int]:
        return [e[1] for e in self.entries if e[0] == "e"]


@dataclass
class _Kraus:
    axis: int
    kraus: torch.Tensor  # (m, 2, 2), on the compute device
    draw: int  # index of its uniform draws


@dataclass
class _Program:
    n: int
    heads: dict[int, list[tuple]] = field(default_factory=dict)  # axis -> ("g", k) | ("e", loc) | ("k", draw, kraus)
    body: list[_Block | _Kraus] = field(default_factory=list)
    locations: list[_Location] = field(default_factory=list)
    n_draws: int = 0


def _block_cost(k: int) -> float:
    """Relative cost of applying a ``k``-qubit block to a state: one memory pass plus
    ``2**k`` multiply-adds per amplitude (measured on CPU, complex64, 16 qubits:
    ~65, 85, 125, 230, 410 µs per state for k = 2..6)."""
    return 9.0 + 2.0**k


def _build_program(group: Group, noise: NoiseParams, fuse_qubits: int, dtype: torch.dtype = torch.complex64,
                   device: torch.device | str = "cpu") -> _Program:
    """Split each qubit's leading one-qubit gates (heads) from the body; fuse the body.

    Fusion is greedy in time order: a gate (or Pauli error location) joins the
    block that already holds all its qubits; otherwise it may merge with the
    latest blocks on its qubits (only blocks that are the latest on all their
    own qubits can move, so the merged block goes last), choosing among
    "merge all", "merge one" and "new block" the cheapest by
    :func:`_block_cost`, within ``fuse_qubits`` qubits.
    """
    axes = group.axes
    prog = _Program(group.n_qubits)
    in_head = {a: True for a in range(prog.n)}
    open_: dict[int, int] = {}  # axis -> index in body of the latest item on it

    def add(entry: tuple, ax: tuple[int, ...]) -> None:
        owners = {open_.get(a) for a in ax}
        if len(owners) == 1 and None not in owners and isinstance(prog.body[next(iter(owners))], _Block):
            prog.body[next(iter(owners))].entries.append(entry)  # every axis already in its open block
            return
        movable = [i for i in owners if i is not None and isinstance(prog.body[i], _Block)
                   and all(open_.get(a) == i for a in prog.body[i].axes)]
        options = [()] + [(i,) for i in movable] + ([tuple(movable)] if len(movable) > 1 else [])
        best, best_cost = (), None
        for merge in options:
            union = set(ax).union(*(prog.body[i].axes for i in merge))
            if len(union) > fuse_qubits:
                continue
            cost = _block_cost(len(union)) - sum(_block_cost(len(prog.body[i].axes)) for i in merge)
            if best_cost is None or cost <= best_cost:
                best, best_cost = merge, cost
        entries = [e for i in sorted(best) for e in prog.body[i].entries]
        for i in best:
            prog.body[i].alive = False
        block = _Block(sorted(set(ax).union(*(prog.body[i].axes for i in best))), entries + [entry])
        prog.body.append(block)
        for a in block.axes:
            open_[a] = len(prog.body) - 1

    for step in noise.steps(group.structure):
        if step[0] == "gate":
            qs = group.structure[step[1]][1]
            ax = tuple(axes[q] for q in qs)
            if len(ax) == 1 and in_head[ax[0]]:
                prog.heads.setdefault(ax[0], []).append(("g", step[1]))
                continue
            for a in ax:
                in_head[a] = False
            add(("g", step[1], ax), ax)
            continue
        _, channel, qs = step
        ax = tuple(axes[q] for q in qs)
        if channel.is_pauli:
            prog.locations.append(_Location(ax, np.asarray(channel.pauli_probs)))
            loc = len(prog.locations) - 1
            if len(ax) == 1 and in_head[ax[0]]:
                prog.heads.setdefault(ax[0], []).append(("e", loc))
            else:
                add(("e", loc, ax), ax)
            continue
        if channel.n_qubits != 1:
            raise HardwareError(f"channel {channel.name}: the trajectory emulator unravels one-qubit non-Pauli "
                                "channels only (use Channel.twirled() for a Pauli approximation)")
        kraus = torch.as_tensor(np.stack(channel.kraus), dtype=dtype, device=device)
        if in_head[ax[0]]:  # the qubit is not entangled yet: draw the branch on its own state
            prog.heads.setdefault(ax[0], []).append(("k", prog.n_draws, kraus))
        else:
            prog.body.append(_Kraus(ax[0], kraus, prog.n_draws))
            open_[ax[0]] = len(prog.body) - 1
        prog.n_draws += 1
    prog.body = [item for item in prog.body if not isinstance(item, _Block) or item.alive]
    return prog


def _sample_paulis(locations: list[_Location], trajectories: int, rng: np.random.Generator) -> np.ndarray:
    """``(L, T)`` Pauli index per location and trajectory (0: no error)."""
    if not locations:
        return np.zeros((0, trajectories), dtype=np.int64)
    width = max(loc.probs.size for loc in locations)
    cum = np.ones((len(locations), width))
    for i, loc in enumerate(locations):
        cum[i, :loc.probs.size] = np.cumsum(loc.probs)
    cum[np.arange(len(locations)), [loc.probs.size - 1 for loc in locations]] = 1.0
    u = rng.random((len(locations), trajectories))
    idx = (u[:, :, None] >= cum[:, None, :]).sum(-1)
    return np.minimum(idx, np.array([loc.probs.size - 1 for loc in locations])[:, None])


# ------------------------------------------------------------ small matrices

class _Mats:
    """Gate and Pauli matrices on the compute device, cached per group."""

    def __init__(self, group: Group, dtype: torch.dtype, device: torch.device):
        self.group, self.dtype, self.device = group, dtype, device
        self._gates: dict[int, torch.Tensor] = {}
        self.pauli = {m: torch.tensor(np.stack([pauli_matrix(i, m) for i in range(4**m)]), dtype=dtype,
                                      device=device) for m in (1, 2)}

    def gate(self, k: int) -> torch.Tensor:
        """``(S or 1, d, d)`` matrices of op ``k``."""
        if k not in self._gates:
            self._gates[k] = self.group.matrices(k, torch.complex128)[0].to(self.device, self.dtype)
        return self._gates[k]


def _apply_local(m: torch.Tensor, g: torch.Tensor, pos: Sequence[int], k: int) -> torch.Tensor:
    """Apply ``g`` (``(B1, B2, dg, dg)``) to row axes ``pos`` of ``m`` (``(B1, B2, 2,…,2 [k], c)``),
    broadcasting the two batch dimensions."""
    b1 = max(m.shape[0], g.shape[0])
    b2 = max(m.shape[1], g.shape[1])
    m = m.expand(b1, b2, *m.shape[2:])
    nq = len(pos)
    g = g.expand(b1, b2, *g.shape[2:]).reshape(b1, b2, *([2] * (2 * nq)))
    rows = list(_LETTERS[:k])
    new = [_LETTERS[k + i].upper() for i in range(nq)]
    out = rows.copy()
    for i, p in enumerate(pos):
        out[p] = new[i]
    eq = f"YZ{''.join(new)}{''.join(rows[p] for p in pos)},YZ{''.join(rows)}x->YZ{''.join(out)}x"
    return torch.einsum(eq, g, m)


def _block_matrix(block: _Block, mats: _Mats, paulis: torch.Tensor | None, traj: torch.Tensor | None) -> torch.Tensor:
    """The block's ``(T' or 1, S or 1, d, d)`` matrix; with ``traj`` (trajectory ids) the
    Pauli errors of those trajectories (``paulis``: ``(L, T)`` on the device) are included."""
    k = len(block.axes)
    d = 2**k
    local = {a: i for i, a in enumerate(block.axes)}
    m = torch.eye(d, dtype=mats.dtype, device=mats.device).reshape(1, 1, *([2] * k), d)
    for kind, ref, ax in block.entries:
        pos = [local[a] for a in ax]
        if kind == "g":
            m = _apply_local(m, mats.gate(ref)[None], pos, k)
        elif traj is not None:
            ids = paulis[ref, traj]
            if bool((ids != 0).any()):
                m = _apply_local(m, mats.pauli[len(ax)][ids][:, None], pos, k)
    return m.reshape(m.shape[0], m.shape[1], d, d)


def _head_vectors(prog: _Program, mats: _Mats, paulis: torch.Tensor, traj: torch.Tensor,
                  uniforms: torch.Tensor) -> dict[int, torch.Tensor]:
    """Axis -> ``(T' or 1, S or 1, 2)`` state of its head (gates, errors and Kraus branches on ``|0⟩``)."""
    out = {}
    for axis, entries in prog.heads.items():
        v = torch.zeros(1, 1, 2, dtype=mats.dtype, device=mats.device)
        v[..., 0] = 1
        for entry in entries:
            kind, ref = entry[0], entry[1]
            if kind == "g":
                v = (mats.gate(ref)[None] @ v[..., None])[..., 0]
            elif kind == "e":
                ids = paulis[ref, traj]
                if bool((ids != 0).any()):
                    v = (mats.pauli[1][ids][:, None] @ v[..., None])[..., 0]
            else:
                u = uniforms[ref, traj]  # (T', S)
                v = v.expand(u.shape[0], u.shape[1], 2)
                m = _kraus_branch(v[..., 0].reshape(-1, 1), v[..., 1].reshape(-1, 1), entry[2], u.reshape(-1))
                v = (m @ v.reshape(-1, 2, 1)).reshape(u.shape[0], u.shape[1], 2)
        out[axis] = v
    return out


# -------------------------------------------------------------------- layout

def _arrangement(body: list, i: int, current: list[int]) -> list[int]:
    """A qubit order in which ``body[i]`` and as many following blocks as possible
    are contiguous (each new block must extend the arrangement at one end); the
    qubits they do not touch keep their order, last."""
    first = body[i]
    arr = [a for a in current if a in first.axes]
    for item in body[i + 1:]:
        if isinstance(item, _Kraus):
            continue
        placed = sorted(arr.index(a) for a in item.axes if a in arr)
        new = [a for a in current if a in item.axes and a not in arr]
        if placed and placed[-1] - placed[0] + 1 != len(placed):
            break
        if not new:
            continue
        if not placed or placed[-1] == len(arr) - 1:
            arr.extend(new)
        elif placed[0] == 0:
            arr[:0] = new
        else:
            break
    return arr + [a for a in current if a not in arr]


@dataclass
class _Step:
    """One step of the evolution: permute the state to ``layout`` first (if set), then
    apply ``item`` (a block's qubits are ``layout[pos:pos + k]``)."""

    item: _Block | _Kraus
    layout: list[int] | None
    pos: int


def _plan(prog: _Program) -> tuple[list[int], list[_Step]]:
    """The initial qubit order and the steps; each block's ``axes`` are set to its layout order."""
    blocks = [i for i, item in enumerate(prog.body) if isinstance(item, _Block)]
    order = _arrangement(prog.body, blocks[0], list(range(prog.n))) if blocks else list(range(prog.n))
    initial, steps = list(order), []
    for i, item in enumerate(prog.body):
        if isinstance(item, _Kraus):
            steps.append(_Step(item, None, order.index(item.axis)))
            continue
        where = sorted(order.index(a) for a in item.axes)
        layout = None
        if where[-1] - where[0] + 1 != len(where):
            layout = order = _arrangement(prog.body, i, order)
            where = sorted(order.index(a) for a in item.axes)
        item.axes = order[where[0]:where[0] + len(where)]
        steps.append(_Step(item, layout, where[0]))
    return initial, steps


# ----------------------------------------------------------------- evolution

def _product_state(order: list[int], heads: dict[int, torch.Tensor], tc: int, sc: int, s0: int,
                   dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """``(tc·sc, 2**n)`` product state, qubits in ``order`` (first most significant)."""
    psi = torch.ones(tc, sc, 1, dtype=dtype, device=device)
    zero = torch.tensor([1, 0], dtype=dtype, device=device).reshape(1, 1, 2)
    for a in order:
        v = heads.get(a, zero)
        v = v[:, s0:s0 + sc] if v.shape[1] > 1 else v
        psi = (psi[..., :, None] * v[..., None, :]).reshape(tc, sc, -1)
    return psi.reshape(tc * sc, -1)


def _permute(x: torch.Tensor, order: list[int], layout: list[int]) -> torch.Tensor:
    rows, n = x.shape[0], len(order)
    src = [order.index(a) for a in layout]
    return x.reshape(rows, *([2] * n)).permute(0, *[1 + p for p in src]).reshape(rows, -1)


def _matmul_at(x: torch.Tensor, pos: int, k: int, u: torch.Tensor) -> torch.Tensor:
    """Rows of ``x`` (``(R, 2**n)``) times ``u`` (``(d, d)``) on the contiguous qubits ``pos..pos+k-1``."""
    rows, size = x.shape
    d = 2**k
    after = size // (2**pos * d)
    if after <= 2:  # at the end (or one qubit before it): one matrix product, ``u ⊗ I`` for the latter
        if after == 2:
            u = torch.kron(u, torch.eye(2, dtype=u.dtype, device=u.device))
        return (x.reshape(-1, d * after) @ u.transpose(0, 1)).reshape(rows, size)
    return torch.matmul(u, x.reshape(-1, d, after)).reshape(rows, size)


def _apply_block(x: torch.Tensor, step: _Step, u: torch.Tensor, sc: int) -> torch.Tensor:
    """``u``: ``(1, d, d)`` shared or ``(S, d, d)`` per sample (this chunk's samples)."""
    k = len(step.item.axes)
    if u.shape[0] == 1:
        return _matmul_at(x, step.pos, k, u[0])
    out = torch.empty_like(x)
    xv, ov = x.view(-1, sc, x.shape[1]), out.view(-1, sc, x.shape[1])
    for s in range(sc):
        ov[:, s] = _matmul_at(xv[:, s].contiguous(), step.pos, k, u[s])
    return out


def _apply_block_rows(x: torch.Tensor, step: _Step, ideal: torch.Tensor, own: tuple | None, tc: int,
                      s0: int, s1: int) -> torch.Tensor:
    """A block on a chunk of ``tc`` trajectories x samples ``s0:s1``: the error-free matrix,
    and for trajectories with errors in the block their own matrix (on their rows)."""
    width = s1 - s0

    def samples(u: torch.Tensor) -> torch.Tensor:
        return u if u.shape[0] == 1 else u[s0:s1]

    if own is None:
        return _apply_block(x, step, samples(ideal), width)
    local, mats = own
    if tc == 1:  # one trajectory per chunk (large states): its own matrix, nothing wasted
        return _apply_block(x, step, samples(mats[0]), width)
    out = _apply_block(x, step, samples(ideal), width)
    for j, t in enumerate(local):
        rows = slice(t * width, (t + 1) * width)
        out[rows] = _apply_block(x[rows], step, samples(mats[j]), width)
    return out


def _kraus_branch(a: torch.Tensor, b: torch.Tensor, kraus: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
    """Per row, the Kraus operator drawn with probability ``‖K_i ψ‖²``, divided by its norm.

    Args:
        a, b: ``(R, …)`` amplitudes with the qubit in 0 and in 1.
        kraus: ``(m, 2, 2)`` operators.
        u: ``(R,)`` uniforms.

    Returns:
        ``(R, 2, 2)`` operators to apply.
    """
    dims = tuple(range(1, a.dim()))
    r00 = (a.real**2 + a.imag**2).sum(dims)
    r11 = (b.real**2 + b.imag**2).sum(dims)
    r01 = (a * b.conj()).sum(dims)  # ρ_01
    effects = kraus.conj().transpose(-1, -2) @ kraus  # (m, 2, 2), Hermitian
    # Tr(E ρ) = E00 ρ00 + E11 ρ11 + 2 Re(E10 ρ01)
    probs = (effects[:, 0, 0].real[None] * r00[:, None] + effects[:, 1, 1].real[None] * r11[:, None]
             + 2 * (effects[:, 1, 0][None] * r01[:, None]).real).clamp_min(0)
    cum = probs.cumsum(-1)
    pick = (u[:, None].to(cum.dtype) * cum[:, -1:] >= cum).sum(-1).clamp_max(len(kraus) - 1)
    scale = probs.gather(-1, pick[:, None]).clamp_min(1e-30).rsqrt()
    return kraus[pick] * scale[..., None].to(kraus.dtype)


def _apply_kraus(x: torch.Tensor, step: _Step, u: torch.Tensor) -> torch.Tensor:
    """Draw a Kraus branch per row with probability ``‖K_i ψ‖²`` (``u``: one uniform per row)."""
    rows, size = x.shape
    xv = x.reshape(rows, 2**step.pos, 2, size // 2 ** (step.pos + 1))
    a, b = xv[:, :, 0], xv[:, :, 1]
    m = _kraus_branch(a, b, step.item.kraus, u)[:, :, :, None, None]
    return torch.stack([m[:, 0, 0] * a + m[:, 0, 1] * b, m[:, 1, 0] * a + m[:, 1, 1] * b], dim=2).reshape(rows, size)


def _readout_p1(x: torch.Tensor, pos: int) -> torch.Tensor:
    rows, size = x.shape
    prob = (x.real**2 + x.imag**2).reshape(rows, 2**pos, 2, size // 2 ** (pos + 1))
    return (prob[:, :, 1].sum((-1, -2)) / prob.sum((-1, -2, -3))).double()


def _chunks(n_traj: int, n_samples: int, rows: int) -> tuple[int, int]:
    """Trajectories and samples per chunk for at most ``rows`` states (balanced)."""
    n_sc = -(-n_samples // max(1, rows))
    sc = -(-n_samples // n_sc)
    tc = max(1, min(n_traj, rows // sc))
    tc = -(-n_traj // -(-n_traj // tc))
    return tc, sc


def _group_trajectories(group: Group, noise: NoiseParams, trajectories: int, rng: np.random.Generator,
                        device: torch.device, dtype: torch.dtype, max_chunk_bytes: int,
                        fuse_qubits: int, workers: int) -> np.ndarray:
    """``(T, S)`` exact P(1) (before readout error) of every trajectory and sample of a group."""
    prog = _build_program(group, noise, fuse_qubits, dtype, device)
    initial, steps = _plan(prog)
    n, ns, nt = prog.n, len(group.indices), trajectories
    paulis = torch.as_tensor(_sample_paulis(prog.locations, nt, rng), device=device)
    uniforms = torch.as_tensor(rng.random((prog.n_draws, nt, ns)), device=device)
    mats = _Mats(group, dtype, device)
    blocks = [step.item for step in steps if isinstance(step.item, _Block)]
    everyone = torch.arange(nt, device=device)
    with torch_threads(1):  # small matrices: one thread (more only wait, on shared cores)
        ideal = {id(b): _block_matrix(b, mats, None, None)[0] for b in blocks}
        heads_all = _head_vectors(prog, mats, paulis, everyone, uniforms)
        own_all = {}  # block -> (trajectory ids with errors in it, their (n_e, 1 or S, d, d) matrices)
        for b in blocks:
            if b.locations():
                ids = torch.nonzero((paulis[b.locations()] != 0).any(0)).flatten()
                if len(ids):
                    own_all[id(b)] = (ids, _block_matrix(b, mats, paulis, ids))
    itemsize = torch.empty((), dtype=dtype).element_size()
    tc, sc = _chunks(nt, ns, max_chunk_bytes // (3 * itemsize * 2**n * max(1, workers)))
    out = torch.empty(nt, ns, dtype=torch.float64, device=device)
    order = list(initial)
    for step in steps:
        order = step.layout or order
    readout_pos = order.index(group.axes[group.readout])

    def run_chunk(t0: int, t1: int, s0: int, s1: int) -> None:
        traj = torch.arange(t0, t1, device=device)
        width = s1 - s0
        heads = {a: (v[t0:t1] if v.shape[0] > 1 else v) for a, v in heads_all.items()}
        own = {}  # block -> (chunk-local trajectory indices, their matrices)
        for key, (ids, matrices) in own_all.items():
            inside = (ids >= t0) & (ids < t1)
            if bool(inside.any()):
                own[key] = ((ids[inside] - t0).tolist(), matrices[inside])
        x = _product_state(initial, heads, t1 - t0, width, s0, dtype, device)
        order = list(initial)
        for step in steps:
            if isinstance(step.item, _Kraus):
                u = uniforms[step.item.draw, t0:t1, s0:s1].reshape(-1).to(x.real.dtype)
                x = _apply_kraus(x, step, u)
                continue
            if step.layout is not None:
                x = _permute(x, order, step.layout)
                order = step.layout
            x = _apply_block_rows(x, step, ideal[id(step.item)], own.get(id(step.item)), t1 - t0, s0, s1)
        out[t0:t1, s0:s1] = _readout_p1(x, readout_pos).reshape(t1 - t0, width)

    chunks = [(t0, min(nt, t0 + tc), s0, min(ns, s0 + sc)) for t0 in range(0, nt, tc) for s0 in range(0, ns, sc)]
    if workers <= 1 or len(chunks) == 1:
        for chunk in chunks:
            run_chunk(*chunk)
    else:  # independent chunks in parallel threads (torch releases the GIL inside its kernels)
        with torch_threads(1), ThreadPoolExecutor(workers) as pool:
            for future in [pool.submit(run_chunk, *chunk) for chunk in chunks]:
                future.result()
    return out.cpu().numpy()


def trajectory_p1(
    circuits: Sequence[Any],
    noise: NoiseParams,
    *,
    trajectories: int = 64,
    seed: int | np.random.Generator | None = None,
    device: str | torch.device | None = None,
    dtype: torch.dtype = torch.complex64,
    max_chunk_bytes: int | None = None,
    fuse_qubits: int = FUSE_QUBITS,
    num_threads: int | None = None,
) -> TrajectoryResult:
    """Trajectory estimate of the probability of reading 1 on each circuit's readout qubit.

    Args:
        circuits: :class:`~qml_ops.hardware.compile.CompiledCircuit` objects or
            verbatim Braket circuits measuring one qubit.
        noise: the channels (:class:`~qml_ops.hardware.emulator.noise.NoiseParams`).
        trajectories: ``T`` per sample (>= 2, for a standard error).
        seed: seed (or numpy generator) of the error and branch draws (same seed, same
            errors on any device).
        device: torch device (``"cpu"``, ``"cuda"``; None: CPU).
        dtype: complex64 (default) or complex128 state vectors.
        max_chunk_bytes: memory bound of one chunk of states (at least one state
            is always processed); None: :data:`MAX_CHUNK_BYTES` on CPU, a quarter of
            the free memory on CUDA.
        fuse_qubits: most qubits of a fused gate block (2..8).
        num_threads: CPU threads (None: torch's setting). Chunks of states run in that
            many worker threads, each operation on one thread; circuits up to
            :data:`SMALL_QUBITS` qubits run on one thread.

    Raises:
        HardwareError: bad arguments, or a multi-qubit non-Pauli channel.
    """
    if isinstance(trajectories, bool) or not isinstance(trajectories, (int, np.integer)) or trajectories < 2:
        raise HardwareError(f"trajectories must be an integer >= 2, but got trajectories={trajectories!r}")
    if not 2 <= fuse_qubits <= 8:
        raise HardwareError(f"fuse_qubits must be in 2..8, but got fuse_qubits={fuse_qubits!r}")
    if dtype not in (torch.complex64, torch.complex128):
        raise HardwareError(f"dtype must be torch.complex64 or torch.complex128, but got {dtype}")
    device = torch.device(device or "cpu")
    if max_chunk_bytes is None:
        max_chunk_bytes = torch.cuda.mem_get_info(device)[0] // 4 if device.type == "cuda" else MAX_CHUNK_BYTES
    rng = np.random.default_rng(seed)
    groups = group_circuits(circuits)
    threads = torch.get_num_threads() if num_threads is None else int(num_threads)
    small = max(g.n_qubits for g in groups) <= SMALL_QUBITS
    # CPU: chunks run in parallel threads, each op on one thread (robust on shared cores,
    # where intra-op threads wait for each other); small states on one thread only
    workers = 1 if device.type != "cpu" or small else max(1, threads)
    n_circuits = len(circuits)
    p1 = np.empty(n_circuits)
    stderr = np.empty(n_circuits)
    with torch_threads(1 if device.type == "cpu" else None), torch.no_grad():
        for group in groups:
            per_traj = _group_trajectories(group, noise, int(trajectories), rng, device, dtype,
                                           max_chunk_bytes, fuse_qubits, workers)
            flip = noise.readout.get(group.readout, 0.0)
            per_traj = (1 - flip) * per_traj + flip * (1 - per_traj)
            p1[group.indices] = per_traj.mean(0)
            stderr[group.indices] = per_traj.std(0, ddof=1) / np.sqrt(trajectories)
    return TrajectoryResult(np.clip(p1, 0.0, 1.0), stderr, int(trajectories))
