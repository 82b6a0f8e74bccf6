"""Fast batched state-vector simulator of the QCNN in torch (CPU or CUDA).

:class:`BatchedSimulator` computes ⟨Z⟩ on the readout wire for a batch of
samples, differentiable with respect to the weights, and agrees with the
PennyLane reference (:func:`qml_ops.circuits.reference.build_qnode`) to 1e-6
in complex128 (``tests/simulation/test_engine.py``).

How it is fast (measured by ``benchmarks/bench_sim.py``, results in
``benchmarks/results/sim.json``):

1. **Weights side in numpy** (:mod:`qml_ops.simulation.weights`). Everything
   that depends on the weights only (the 4×4 of every layer's convolution and
   pooling unit, the fused blocks, the front clusters, the folded observable)
   is built once per forward in float64 numpy, and its backward is the exact
   chain rule written out (gate derivatives from five shifted evaluations of
   the one gate table). No autograd graph, a few hundred microseconds.
2. **Product-state front** (angle encodings). The encoded state is a product of
   one-qubit states; the first convolution units act on small clusters
   (≤ 4 qubits, e.g. wires {6, 0, 7, 1}, {2, 3}, {4, 5} at 8 qubits) and the
   full state is then built once as a Kronecker product.
3. **Fused blocks** (:mod:`qml_ops.simulation.plan`). The remaining units of the
   layers that act on the full state are fused into blocks of up to
   ``max_block`` qubits (default 4 on CPU, 5 on CUDA): one ``2**k × 2**k``
   matrix per block instead of one pass over the state per unit.
4. **Layout: basis index major, batch minor.** The state is a ``(2**n, batch)``
   matrix whose rows follow a wire order (the layout). A block always acts on
   the ``k`` most significant qubits, so it is one plain matrix product
   ``B @ psi.view(2**k, -1)``; a block whose wires are elsewhere is preceded by
   a permutation of the rows (``index_select``: a gather of whole batch rows,
   about the cost of a copy, where an axis ``permute`` of ``(2,)*n`` costs up to
   20× that).
5. **Folded tail.** After the layer whose kept register has ≤ 4 wires, the rest
   of the circuit only touches those wires: it is folded into a 16×16
   observable ``O = V† Z V``, and ⟨Z⟩ = Σ_d ψ_d† O ψ_d over the other wires.
6. **Adjoint backward** (custom autograd function): the cotangent λ is
   propagated with B† and each block's gradient is one Gram matrix ``Σ λ ψ†``
   (a 2-D matrix product, which torch hands to BLAS with the conjugate
   transpose flag; a batched one would copy). Small problems keep every
   intermediate state from the forward (``store_amplitudes``, e.g. 8 qubits);
   large ones keep only the final state and un-compute ψ with B† alongside λ
   (memory: a few state vectors, independent of depth).
7. **Chunks and reused buffers.** The batch is processed in chunks of about
   ``chunk_amplitudes`` amplitudes (2**18 on CPU: the working set stays in
   cache at 16 qubits), in preallocated buffers; the states kept for the
   backward come from a pool, so a training step allocates nothing large
   (no page faults; the ``GLIBC_TUNABLES`` malloc tuning earlier versions
   needed is unnecessary).

Where the time goes (torch.profiler and cProfile, one thread, SU(4), angle, on
the shared 2-core AMD EPYC VM; figures move by 2× with its load):

* 8 qubits, batch 256: ~4.5 ms per forward + backward. About 1 ms is the
  numpy weights side (forward and chain rule), ~0.5 ms the front, ~2 ms the
  block products and Gram matrices (3 blocks of 16×16 on a 512 KB state: in
  cache and compute bound, 50–70 GFLOP/s in complex64), ~0.3 ms the row
  gathers. At batch 32 (training) the fixed costs dominate: ~2 ms a step.
* 16 qubits, batch 64: ~0.6 s. About 60 % block products and Gram matrices,
  25 % row gathers (11 permutations a pass, 2 MB chunks), 10 % element-wise
  work (Kronecker front, ⟨Z⟩); the weights side is ~2 ms.
* The earlier engine spent at 8 qubits ~3.5 ms of ~10 ms on a few hundred tiny
  torch ops (and their autograd) building the matrices; at 16 qubits most of
  ~2 s in the backward's per-gate ``Σ λ ψ†`` (a batched product that copies the
  conjugate transpose into a fresh 33 MB buffer: page faults), in axis
  permutations of a ``(2,)*16 + (batch,)`` tensor, and in fresh 33 MB
  temporaries (hence its ``GLIBC_TUNABLES`` speed-up).
* CUDA: not measured for this version (no GPU was lent while it was written);
  ``benchmarks/gpu_sim.sh`` is the prepared check. The CUDA defaults fuse
  5-qubit blocks (fewer, larger products) and take the whole batch as one
  chunk, so a step is a few dozen large kernels at 16+ qubits.

The simulator is not thread-safe (it reuses buffers); use one per thread.

Example:
    >>> import torch
    >>> from qml_ops.circuits.qcnn import QCNNSpec
    >>> sim = BatchedSimulator(QCNNSpec(n_qubits=8, ansatz=9, encoding="angle"))
    >>> w = torch.randn(51, requires_grad=True)
    >>> z = sim.expval(w, torch.rand(32, 8))
    >>> z.shape
    torch.Size([32])
    >>> z.sum().backward()
"""

from __future__ import annotations

from typing import Any, Optional

import numpy as np
import torch
from torch.autograd.function import once_differentiable

from qml_ops.circuits.gates import GATE_TABLE
from qml_ops.circuits.qcnn import QCNNSpec
from qml_ops.errors import ModelError
from qml_ops.simulation.gates import gate_matrix, real_dtype
from qml_ops.simulation.plan import Block, Permute, Plan, build_plan
from qml_ops.simulation.weights import CircuitMatrices, single_threaded_blas

__all__ = ["BatchedSimulator"]

#: Default chunk size (amplitudes per chunk: 2**n * samples) and block size per device type.
CHUNK_AMPLITUDES = {"cpu": 2**18, "cuda": 2**28}
MAX_BLOCK = {"cpu": 4, "cuda": 5}
#: Default limit (amplitudes) on the intermediate states a forward keeps for its backward.
STORE_AMPLITUDES = {"cpu": 2**23, "cuda": 2**30}
#: Largest permutation (rows) whose gather indices are kept between calls.
CACHED_INDEX = 2**22


class _Workspace:
    """One flat complex buffer, grown on demand and reused across calls."""

    def __init__(self) -> None:
        self.buf: Optional[torch.Tensor] = None

    def get(self, numel: int, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
        buf = self.buf
        if buf is None or buf.numel() < numel or buf.dtype != dtype or buf.device != device:
            self.buf = buf = None  # free the old one first
            self.buf = buf = torch.empty(numel, dtype=dtype, device=device)
        return buf[:numel]


class _Lease:
    """A buffer from a :class:`_StatePool`; returned to the pool when dropped."""

    def __init__(self, pool: "_StatePool", tensor: torch.Tensor) -> None:
        self.pool, self.tensor = pool, tensor

    def __del__(self) -> None:
        self.pool.release(self.tensor)


class _StatePool:
    """Buffers for the states a forward keeps for its backward (reused, so a
    training step does not page in fresh memory)."""

    def __init__(self, keep: int = 2) -> None:
        self.free: list[torch.Tensor] = []
        self.keep = keep

    def take(self, numel: int, dtype: torch.dtype, device: torch.device) -> _Lease:
        for i, t in enumerate(self.free):
            if t.numel() >= numel and t.dtype == dtype and t.device == device:
                return _Lease(self, self.free.pop(i))
        return _Lease(self, torch.empty(numel, dtype=dtype, device=device))

    def release(self, tensor: torch.Tensor) -> None:
        self.free.append(tensor)
        self.free.sort(key=lambda t: -t.numel())
        del self.free[self.keep :]


class _Circuit(torch.autograd.Function):
    """``(weights, features) -> z`` with the adjoint backward of :class:`BatchedSimulator`."""

    @staticmethod
    def forward(ctx, weights, features, sim):
        z, saved = sim._forward(weights, features, keep=True)
        ctx.sim, ctx.saved = sim, saved
        ctx.weights_meta = (weights.dtype, weights.device)
        return z

    @staticmethod
    @once_differentiable
    def backward(ctx, gz):
        # The kept states go back to the pool with the graph (retain_graph keeps them).
        grad = ctx.sim._backward(ctx.saved, gz)
        dtype, device = ctx.weights_meta
        return torch.from_numpy(grad).to(device=device, dtype=dtype), None, None


def _as_index(values: list[int]):
    """A slice for an arithmetic progression (a view, no gather), else a list."""
    step = values[1] - values[0] if len(values) > 1 else 1
    if step > 0 and values == list(range(values[0], values[0] + step * len(values), step)):
        return slice(values[0], values[0] + step * len(values), step)
    return values


def _kron_into(parts: list[torch.Tensor], out: torch.Tensor, scratch: torch.Tensor) -> torch.Tensor:
    """``out[(i1, i2, …), b] = Π_j parts[j][i_j, b]`` (each part ``(d_j, c)``).

    Intermediate products go to ``scratch`` and ``out`` alternately so that the
    last lands in ``out`` (both at least the final size; they must not overlap).
    """
    c = parts[0].shape[1]
    if len(parts) == 1:
        return out.view(-1, c).copy_(parts[0])
    bufs = [out, scratch] if len(parts) % 2 == 0 else [scratch, out]
    acc, size = parts[0], parts[0].shape[0]
    for j, part in enumerate(parts[1:]):
        d = part.shape[0]
        target = bufs[j % 2][: size * d * c].view(size, d, c)
        torch.mul(acc.unsqueeze(1), part.unsqueeze(0), out=target)
        acc, size = target.view(size * d, c), size * d
    return acc


def _cotangents(grad: torch.Tensor, parts: list[torch.Tensor], scratch: torch.Tensor) -> list[torch.Tensor]:
    """Cotangent of each factor of a Kronecker product ``ψ = ⊗_j parts[j]``.

    ``grad`` is the cotangent of ψ, ``(Π d_j, c)``; returns, for each ``j``,
    ``Σ_{others} grad · conj(⊗_{i≠j} parts[i])`` of shape ``(d_j, c)``: a
    binary tree of contractions, two passes over ``grad`` at the top, whose
    products go to ``scratch`` (at least ``grad``'s size; no fresh large buffer).
    """
    if len(parts) == 1:
        return [grad]
    half = len(parts) // 2
    left, right = parts[:half], parts[half:]
    c = grad.shape[-1]

    def kron(ps):
        out = ps[0]
        for p in ps[1:]:
            out = (out.unsqueeze(1) * p.unsqueeze(0)).reshape(-1, c)
        return out.conj()

    d_left = int(np.prod([p.shape[0] for p in left]))
    g = grad.view(d_left, -1, c)
    prod = scratch[: grad.numel()].view(g.shape)
    g_left = torch.mul(g, kron(right).unsqueeze(0), out=prod).sum(1)
    g_right = torch.mul(g, kron(left).unsqueeze(1), out=prod).sum(0)
    return _cotangents(g_left, left, scratch) + _cotangents(g_right, right, scratch)


class BatchedSimulator:
    """Batched, differentiable ⟨Z_readout⟩ of a :class:`QCNNSpec` in torch.

    Args:
        spec: the circuit.
        device: torch device (``"cpu"``, ``"cuda"``, ``"cuda:1"``, …).
        dtype: ``torch.complex64`` (default, fast) or ``torch.complex128`` (exact
            comparisons).
        max_block: largest fused block in qubits (2..6; default 4 on CPU, 5 on CUDA).
        chunk_amplitudes: amplitudes per chunk of the batch (default 2**18 on
            CPU, 2**28 on CUDA); a chunk holds at least one sample.
        store_amplitudes: a forward that will be differentiated keeps every
            intermediate state when they hold at most this many amplitudes
            (default 2**23 on CPU, 2**30 on CUDA), so the backward only
            propagates the cotangent; above it, the backward un-computes ψ.

    Example:
        >>> import torch
        >>> from qml_ops.circuits.qcnn import QCNNSpec
        >>> spec = QCNNSpec(n_qubits=4, ansatz=1, encoding="angle")
        >>> sim = BatchedSimulator(spec, dtype=torch.complex128)
        >>> p = sim.probabilities(torch.zeros(spec.n_weights), torch.zeros(2, 4))
        >>> p.shape
        torch.Size([2, 2])
    """

    def __init__(
        self,
        spec: QCNNSpec,
        device: str | torch.device = "cpu",
        dtype: torch.dtype = torch.complex64,
        max_block: Optional[int] = None,
        chunk_amplitudes: Optional[int] = None,
        store_amplitudes: Optional[int] = None,
    ) -> None:
        if dtype not in (torch.complex64, torch.complex128):
            raise ModelError(
                f"simulator dtype must be torch.complex64 or torch.complex128, but got dtype={dtype}."
            )
        self.spec = spec
        self.device = torch.device(device)
        self.dtype = dtype
        self.real_dtype = real_dtype(dtype)
        kind = "cuda" if self.device.type == "cuda" else "cpu"
        max_block = MAX_BLOCK[kind] if max_block is None else max_block
        if isinstance(max_block, bool) or not isinstance(max_block, int) or not 2 <= max_block <= 6:
            raise ModelError(f"simulator max_block must be an integer 2..6, but got max_block={max_block!r}.")
        self.chunk_amplitudes = CHUNK_AMPLITUDES[kind] if chunk_amplitudes is None else int(chunk_amplitudes)
        if self.chunk_amplitudes < 1:
            raise ModelError(f"simulator chunk_amplitudes must be positive, but got {chunk_amplitudes!r}.")
        self.store_amplitudes = STORE_AMPLITUDES[kind] if store_amplitudes is None else int(store_amplitudes)
        if self.store_amplitudes < 0:
            raise ModelError(f"simulator store_amplitudes must be >= 0, but got {store_amplitudes!r}.")
        self.plan: Plan = build_plan(spec, max_block=max_block)
        self._matrices = CircuitMatrices(spec, self.plan)
        self._workspace = _Workspace()
        self._pool = _StatePool()
        self._index: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}
        self._layouts = [self.plan.layout]  # the layout before each step, and at the end
        for step in self.plan.steps:
            self._layouts.append(list(step.layout) if isinstance(step, Permute) else self._layouts[-1])
        blocks = [i for i, step in enumerate(self.plan.steps) if isinstance(step, Block)]
        self._block_of_step = {i: j for j, i in enumerate(blocks)}
        self._check_encoding()

    def _check_encoding(self) -> None:
        # The front applies encoding gates wire by wire, in "stages" of one gate per wire.
        per_wire: dict[int, list] = {w: [] for w in range(self.spec.n_qubits)}
        for g in self.spec.encoding_gates():
            if len(g.wires) != 1 or GATE_TABLE[g.name].n_params == 0:
                raise ModelError(f"simulator needs one-qubit rotation encodings, got {g}.")
            per_wire[g.wires[0]].append(g)
        stages = [list(s) for s in zip(*per_wire.values())]
        if any(len(v) != len(stages) for v in per_wire.values()):
            raise ModelError("simulator needs the same encoding gates on every wire.")
        for stage in stages:
            if len({g.name for g in stage}) != 1:
                raise ModelError("simulator needs the same encoding gates on every wire.")
        self._stages = []
        for stage in stages:  # per angle of the stage's gate: which feature each wire reads
            columns = [[int(g.params[k][1]) for g in stage] for k in range(len(stage[0].params))]
            self._stages.append((stage[0].name, [_as_index(c) for c in columns]))

    # ------------------------------------------------------------ helpers
    def _permutation(self, step_index: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Row gather indices of :class:`Permute` step ``step_index``, and of its
        inverse (built on the device; kept up to :data:`CACHED_INDEX` rows, rebuilt
        per use above)."""
        cached = self._index.get(step_index)
        if cached is not None:
            return cached
        n = self.spec.n_qubits
        before, after = self._layouts[step_index], self._layouts[step_index + 1]

        def gather(axes: list[int]) -> torch.Tensor:
            rows = torch.arange(2**n, dtype=torch.int32, device=self.device)
            return rows.view((2,) * n).permute(*axes).reshape(-1)

        pair = (gather([before.index(w) for w in after]), gather([after.index(w) for w in before]))
        if 2**n <= CACHED_INDEX:
            self._index[step_index] = pair
        return pair

    def _device_matrices(self, host: dict[str, Any]) -> dict[str, Any]:
        """Move the numpy matrices to the device in one transfer."""
        arrays = host["blocks"] + host["clusters"] + [host["observable"]]
        flat = np.concatenate([a.reshape(-1) for a in arrays])
        dev = torch.from_numpy(flat).to(device=self.device, dtype=self.dtype)
        out, pos = [], 0
        for a in arrays:
            out.append(dev[pos : pos + a.size].view(a.shape))
            pos += a.size
        n_blocks, n_clusters = len(host["blocks"]), len(host["clusters"])
        return {"blocks": out[:n_blocks], "clusters": out[n_blocks : n_blocks + n_clusters], "observable": out[-1]}

    def _qubit_states(self, features: torch.Tensor) -> torch.Tensor:
        """Encoded one-qubit states ``(n, 2, batch)``."""
        n, batch = self.spec.n_qubits, features.shape[0]
        feats = features.to(self.real_dtype).T  # (n_features, batch)
        qubits = torch.zeros(n, 2, batch, dtype=self.dtype, device=self.device)
        qubits[:, 0] = 1
        for name, columns in self._stages:
            angles = [feats[c] for c in columns]
            gate = gate_matrix(name, angles, self.dtype)  # (n, batch, 2, 2)
            qubits = torch.einsum("nbij,njb->nib", gate, qubits)
        return qubits

    def _initial_states(self, features: torch.Tensor, mats: dict[str, Any]) -> dict[str, Any]:
        """The front: cluster states before and after their units, or amplitude states."""
        if self.spec.encoding == "amplitude":
            feats = features.to(self.real_dtype)
            norm = feats.norm(dim=1, keepdim=True)
            if bool((norm == 0).any()):
                raise ModelError("amplitude encoding needs non-zero feature vectors, got an all-zero row.")
            return {"amplitude": (feats / norm).T}
        qubits = self._qubit_states(features)
        inputs, outputs = [], []
        for cluster, mat in zip(self.plan.clusters, mats["clusters"]):
            state = qubits[cluster[0]]
            for w in cluster[1:]:
                state = (state.unsqueeze(1) * qubits[w].unsqueeze(0)).reshape(-1, state.shape[-1])
            inputs.append(state)
            outputs.append(mat @ state)
        return {"inputs": inputs, "outputs": outputs}

    # ------------------------------------------------------------ forward
    def _chunks(self, batch: int) -> list[tuple[int, int]]:
        size = max(1, min(batch, self.chunk_amplitudes // 2**self.spec.n_qubits))
        return [(b, min(batch, b + size)) for b in range(0, batch, size)]

    def _forward(self, weights: torch.Tensor, features: torch.Tensor, keep: bool):
        """Run the circuit; returns ``z`` and (if ``keep``) what the backward needs."""
        plan, n = self.plan, self.spec.n_qubits
        dim, batch = 2**n, features.shape[0]
        theta = weights.detach().to("cpu", torch.float64).numpy()
        with single_threaded_blas():
            host, wctx = self._matrices.forward(theta)
        mats = self._device_matrices(host)
        front = self._initial_states(features, mats)
        chunks = self._chunks(batch)
        width = chunks[0][1] - chunks[0][0]
        work = self._workspace.get(4 * dim * width, self.dtype, self.device)
        z = torch.empty(batch, dtype=self.real_dtype, device=self.device)
        # Keep every intermediate state (the backward then skips un-computing ψ) when they fit.
        store = keep and (len(plan.steps) + 1) * dim * batch <= self.store_amplitudes
        slots = len(plan.steps) + 1 if store else 1
        lease = self._pool.take(slots * dim * batch, self.dtype, self.device) if keep else None
        obs, d_obs = mats["observable"], mats["observable"].shape[0]
        for b0, b1 in chunks:
            c = b1 - b0
            cur, nxt = work[: dim * c], work[dim * c : 2 * dim * c]
            if store:
                states = lease.tensor[slots * dim * b0 : slots * dim * b1].view(slots, dim * c)
                cur = states[0]
            if "amplitude" in front:
                cur.view(dim, c).copy_(front["amplitude"][:, b0:b1])
            else:
                parts = [o[:, b0:b1] for o in front["outputs"]]
                _kron_into(parts, cur, nxt)
            for i, step in enumerate(plan.steps):
                target = states[i + 1] if store else nxt
                if isinstance(step, Permute):
                    idx, _ = self._permutation(i)
                    torch.index_select(cur.view(dim, c), 0, idx, out=target.view(dim, c))
                else:
                    k = 2 ** len(step.wires)
                    torch.mm(mats["blocks"][self._block_of_step[i]], cur.view(k, -1), out=target.view(k, -1))
                cur, nxt = (target, nxt) if store else (nxt, cur)
            t = torch.mm(obs, cur.view(d_obs, -1), out=nxt.view(d_obs, -1))
            prod = torch.view_as_real(work[2 * dim * c : 3 * dim * c]).view(dim, 2 * c)
            torch.mul(torch.view_as_real(cur).view(dim, 2 * c), torch.view_as_real(t).view(dim, 2 * c), out=prod)
            z[b0:b1] = prod.sum(0).view(c, 2).sum(1)
            if keep and not store:
                lease.tensor[dim * b0 : dim * b1].copy_(cur)
        saved = None
        if keep:
            saved = {"wctx": wctx, "mats": mats, "front": front, "lease": lease, "chunks": chunks, "store": store}
        return z, saved

    # ------------------------------------------------------------ backward
    def _backward(self, saved: dict[str, Any], gz: torch.Tensor) -> np.ndarray:
        plan, n = self.plan, self.spec.n_qubits
        dim = 2**n
        mats, front, lease, chunks = saved["mats"], saved["front"], saved["lease"], saved["chunks"]
        width = chunks[0][1] - chunks[0][0]
        work = self._workspace.get(4 * dim * width, self.dtype, self.device)
        gz = gz.to(device=self.device, dtype=self.real_dtype)
        # All Gram accumulators in one tensor: one transfer to the host at the end.
        shapes = [b.shape for b in mats["blocks"]] + [m.shape for m in mats["clusters"]] + [mats["observable"].shape]
        grams_flat = torch.zeros(sum(a * b for a, b in shapes), dtype=self.dtype, device=self.device)
        grams, pos = [], 0
        for a, b in shapes:
            grams.append(grams_flat[pos : pos + a * b].view(a, b))
            pos += a * b
        n_blocks = len(mats["blocks"])
        block_grams, cluster_grams, obs_gram = grams[:n_blocks], grams[n_blocks:-1], grams[-1]
        adjoint = [b.mH for b in mats["blocks"]]
        for b0, b1 in chunks:
            c = b1 - b0
            if saved["store"]:
                slots = len(plan.steps) + 1
                states = lease.tensor[slots * dim * b0 : slots * dim * b1].view(slots, dim * c)
                lam, scratch = self._adjoint_stored(states, work, c, gz[b0:b1], mats, adjoint, block_grams,
                                                    obs_gram)
            else:
                lam, scratch = self._adjoint_uncomputed(lease.tensor[dim * b0 : dim * b1], work, c, gz[b0:b1],
                                                        mats, adjoint, block_grams, obs_gram)
            if "inputs" in front:
                parts = [o[:, b0:b1] for o in front["outputs"]]
                cotangents = _cotangents(lam.view(dim, c), parts, scratch)
                for gram, g, inp in zip(cluster_grams, cotangents, front["inputs"]):
                    gram.addmm_(g, inp[:, b0:b1].mH)
        flat = grams_flat.to("cpu", torch.complex128).numpy()
        host, pos = [], 0
        for a, b in shapes:
            host.append(flat[pos : pos + a * b].reshape(a, b))
            pos += a * b
        with single_threaded_blas():
            return self._matrices.backward(saved["wctx"], host[:n_blocks], host[n_blocks:-1], host[-1])

    def _observable_cotangent(self, psi, lam, c, gz, obs, obs_gram) -> None:
        """``λ = 2 gz O ψ`` at the end of the body, and ``Σ λ ψ†`` for the observable."""
        d_obs = obs.shape[0]
        torch.mm(obs, psi.view(d_obs, -1), out=lam.view(d_obs, -1))
        lam.view(-1, c).mul_(2 * gz)
        obs_gram.addmm_(lam.view(d_obs, -1), psi.view(d_obs, -1).mH)

    def _adjoint_stored(self, states, work, c, gz, mats, adjoint, block_grams, obs_gram):
        """Backward through the body with every intermediate state kept: only λ moves.
        Returns ``(λ at the start of the body, a free buffer)``."""
        dim = 2**self.spec.n_qubits
        lam, other = work[: dim * c], work[dim * c : 2 * dim * c]
        self._observable_cotangent(states[-1], lam, c, gz, mats["observable"], obs_gram)
        for i in range(len(self.plan.steps) - 1, -1, -1):
            step = self.plan.steps[i]
            if isinstance(step, Permute):
                _, inv = self._permutation(i)
                torch.index_select(lam.view(dim, c), 0, inv, out=other.view(dim, c))
            else:
                j = self._block_of_step[i]
                k = adjoint[j].shape[0]
                torch.mm(adjoint[j], lam.view(k, -1), out=other.view(k, -1))
                block_grams[j].addmm_(other.view(k, -1), states[i].view(k, -1).mH)  # Σ λ_in ψ_in†
            lam, other = other, lam
        return lam, other

    def _adjoint_uncomputed(self, final, work, c, gz, mats, adjoint, block_grams, obs_gram):
        """Backward through the body from the final state: ψ is un-computed with B†
        alongside λ (both in one ``(2, …)`` buffer). Returns ``(λ, a free buffer)``."""
        dim = 2**self.spec.n_qubits
        cur = work[: 2 * dim * c].view(2, dim * c)  # rows: psi, lambda
        nxt = work[2 * dim * c : 4 * dim * c].view(2, dim * c)
        cur[0].copy_(final)
        self._observable_cotangent(cur[0], cur[1], c, gz, mats["observable"], obs_gram)
        for i in range(len(self.plan.steps) - 1, -1, -1):
            step = self.plan.steps[i]
            if isinstance(step, Permute):
                _, inv = self._permutation(i)
                torch.index_select(cur.view(2, dim, c), 1, inv, out=nxt.view(2, dim, c))
            else:
                j = self._block_of_step[i]
                k = adjoint[j].shape[0]
                for p in range(2):
                    torch.mm(adjoint[j], cur[p].view(k, -1), out=nxt[p].view(k, -1))
                block_grams[j].addmm_(nxt[1].view(k, -1), nxt[0].view(k, -1).mH)  # Σ λ_in ψ_in†
            cur, nxt = nxt, cur
        return cur[1], nxt.view(-1)

    # ------------------------------------------------------------ public API
    def _check(self, weights: torch.Tensor, features: torch.Tensor) -> None:
        if weights.shape != (self.spec.n_weights,):
            raise ModelError(
                f"weights must have shape ({self.spec.n_weights},) for {self.spec}, "
                f"but got {tuple(weights.shape)}."
            )
        if features.dim() != 2 or features.shape[1] != self.spec.n_features:
            raise ModelError(
                f"features must have shape (batch, {self.spec.n_features}) for {self.spec}, "
                f"but got {tuple(features.shape)}."
            )

    def expval(self, weights: torch.Tensor, features: torch.Tensor) -> torch.Tensor:
        """⟨Z⟩ on ``spec.readout_wire`` for each sample.

        Args:
            weights: ``(n_weights,)`` real tensor (may require grad).
            features: ``(batch, n_features)`` real tensor (or ``(n_features,)``
                for one sample); not differentiated.

        Returns:
            ``(batch,)`` real tensor (``()`` for one sample), dtype float32 for
            complex64 and float64 for complex128.

        Raises:
            ModelError: on wrong shapes or an all-zero amplitude vector.
        """
        single = features.dim() == 1
        if single:
            features = features.unsqueeze(0)
        self._check(weights, features)
        features = features.detach().to(self.device)
        if torch.is_grad_enabled() and weights.requires_grad:
            z = _Circuit.apply(weights, features, self)
        else:
            z, _ = self._forward(weights, features, keep=False)
        return z[0] if single else z

    __call__ = expval

    def probabilities(self, weights: torch.Tensor, features: torch.Tensor) -> torch.Tensor:
        """Readout probabilities ``((1 + z) / 2, (1 - z) / 2)``: shape ``(batch, 2)``."""
        z = self.expval(weights, features)
        return torch.stack([(1 + z) / 2, (1 - z) / 2], dim=-1)

    def __repr__(self) -> str:
        return f"BatchedSimulator({self.spec!r}, device={str(self.device)!r}, dtype={self.dtype})"
