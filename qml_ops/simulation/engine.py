"""Fast batched state-vector simulator of the QCNN in torch (CPU or CUDA).

:class:`BatchedSimulator` computes ⟨Z⟩ on the readout wire for a batch of
samples, differentiable with respect to the weights, and agrees with the
PennyLane reference (:func:`qml_ops.circuits.reference.build_qnode`) to 1e-6
in complex128 (``tests/simulation/test_engine.py``).

How it is fast (measured by ``benchmarks/bench_sim.py``, results in
``benchmarks/results/sim.json``):

1. **Fused blocks.** Each layer's convolution block and pooling unit become one
   4×4 matrix each, built from the weights once per forward (for all layers at
   once), not per sample and not per pair.
2. **Product-state front** (angle encodings). The encoded state is a product of
   one-qubit states; the first convolution units are applied to small clusters
   (≤ 4 qubits, e.g. wires {0, 1, 6, 7}, {2, 3}, {4, 5} at 8 qubits) and the full
   state is then built once as a Kronecker product.
3. **Folded tail.** After the layer whose kept register has ≤ 4 wires, the rest
   of the circuit only touches those wires: it is folded into a 16×16 observable
   ``O = V† Z V`` (built once per forward), and ⟨Z⟩ = Σ_d ψ_d† O ψ_d over the
   discarded wires ``d``. At 8 qubits, only 7 of 20 blocks touch the full state.
4. **Body on the full state**: state stored as ``(2,)*n + (batch,)`` (batch last,
   so every 4×4 on adjacent axes is one matmul over a ``(X, 4, Y)`` view with
   large ``Y``); axes are permuted only when a pair is not adjacent (a greedy
   lookahead layout, :mod:`qml_ops.simulation.plan`); two ping-pong buffers are
   reused across calls (fresh large allocations are slow on these VMs).
5. **Adjoint backward** (custom autograd function): no per-gate states are
   stored; the backward pass un-computes ψ with G† while propagating the
   cotangent, both stacked in one matmul per block, and accumulates each
   block's 4×4 gradient. Memory: about 4 state vectors, independent of depth.

Where the time goes (measured on the 2-core VM, one thread, SU(4), angle):

* 8 qubits, batch 256: ~10 ms per forward + backward (~25k samples/s); ~3.5 ms of
  it builds the block matrices and the observable from the weights (a few hundred
  tiny ops, forward + backward, independent of the batch), the rest is the front
  (small clusters), 7 full-state matmuls forward and 7 stacked ones backward.
* 16 qubits, batch 64: ~1.5–2.3 s per step (36–62 samples/s; the faster figure
  with the ``GLIBC_TUNABLES`` of the ``qml-ops+glibc`` rows in
  ``benchmarks/results/sim.json``). Memory-bandwidth bound: each block or
  permute is one pass over the state (33 MB, complex64). The profile splits
  about evenly between batched matmuls and copies (axis permutes, and the
  conjugate-transposed operand of the per-block gradient contraction
  ``Σ λ ψ†``, which torch materialises); blocks on the last qubit axes (small
  ``Y``, many tiny matmuls) are the slowest.
* CUDA (H200, complex64): 8 qubits ~69k samples/s at batch 1024, 253k/s at 4096;
  16 qubits only ~450–475 samples/s at batch 64–1024: the same many-tiny-matmul
  shapes and the ``Σ λ ψ†`` contraction (batched GEMMs with M = N = 4) are
  latency bound there. Correct on CUDA (agrees with CPU to 1e-14 in complex128),
  not yet tuned for it.

``torch.compile`` is not used: it cannot generate code for complex tensors (it
falls back to eager speed), and a real-arithmetic formulation that does compile
took minutes per batch shape on 2 cores; eager complex64 is the default.

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

from typing import Optional

import torch

from qml_ops.circuits.ansatz import CONV_ANSATZE, pool
from qml_ops.circuits.gates import GATE_TABLE
from qml_ops.circuits.qcnn import QCNNSpec
from qml_ops.errors import ModelError
from qml_ops.simulation.gates import (
    apply_small,
    block_matrix,
    gate_matrix,
    real_dtype,
    swap_pair,
)
from qml_ops.simulation.plan import GateStep, Plan, PermStep, build_plan

__all__ = ["BatchedSimulator"]


class _Buffers:
    """Two reusable flat complex buffers, grown on demand."""

    def __init__(self) -> None:
        self.bufs: list[torch.Tensor] = []

    def get(self, numel: int, dtype: torch.dtype, device: torch.device) -> list[torch.Tensor]:
        if (
            not self.bufs
            or self.bufs[0].numel() < numel
            or self.bufs[0].dtype != dtype
            or self.bufs[0].device != device
        ):
            self.bufs = [torch.empty(numel, dtype=dtype, device=device) for _ in range(2)]
        return [b[:numel] for b in self.bufs]


def _perm_shape(n: int, lead: tuple[int, ...], batch: int) -> tuple[int, ...]:
    return lead + (2,) * n + (batch,)


class _Body(torch.autograd.Function):
    """Body steps + folded observable: ``(psi, mats, O) -> z`` with an adjoint backward."""

    @staticmethod
    def forward(ctx, psi, mats, obs, plan: Plan, buffers: _Buffers):
        n, batch = plan.n_qubits, psi.shape[-1]
        numel = psi.numel()
        grad = any(ctx.needs_input_grad[:3])
        a, b = buffers.get(2 * numel, psi.dtype, psi.device)
        cur = psi.reshape(-1)
        mats_used = {}
        for i, step in enumerate(plan.body):
            last = i == len(plan.body) - 1
            out = torch.empty_like(cur) if last else a[:numel]
            if isinstance(step, PermStep):
                out.view((2,) * n + (batch,)).copy_(
                    cur.view((2,) * n + (batch,)).permute(*step.perm, n)
                )
            else:
                key = (step.mat, step.swapped)
                if key not in mats_used:
                    g = mats[step.mat]
                    mats_used[key] = swap_pair(g) if step.swapped else g
                y = (2**step.y_qubits) * batch
                torch.matmul(mats_used[key], cur.view(step.x, 4, y), out=out.view(step.x, 4, y))
            cur = out
            a, b = b, a
        d = obs.shape[0]
        x, y = 2**plan.kept_pos, numel // (2**plan.kept_pos * d)
        psi_v = cur.view(x, d, y)
        t = torch.matmul(obs, psi_v)
        z = (torch.view_as_real(psi_v) * torch.view_as_real(t)).reshape(-1, batch, 2).sum((0, 2))
        if grad:
            ctx.save_for_backward(cur if plan.body else cur.clone(), mats, obs)
        ctx.plan, ctx.buffers, ctx.batch, ctx.psi_shape = plan, buffers, batch, psi.shape
        return z

    @staticmethod
    def backward(ctx, gz):
        psi_final, mats, obs = ctx.saved_tensors
        plan, batch = ctx.plan, ctx.batch
        n, numel = plan.n_qubits, psi_final.numel()
        d = obs.shape[0]
        x, y = 2**plan.kept_pos, numel // (2**plan.kept_pos * d)
        a, b = ctx.buffers.get(2 * numel, psi_final.dtype, psi_final.device)
        a = a.view(2, numel)
        a[0].copy_(psi_final)
        psi_v = a[0].view(x, d, y)
        gz_c = gz.to(psi_final.dtype)
        weighted = (psi_v.view(x, d, -1, batch) * gz_c).view(x, d, y)  # batch is last
        grad_obs = torch.matmul(weighted, psi_v.mH).sum(0)
        torch.matmul(obs, weighted, out=a[1].view(x, d, y))
        a[1].mul_(2)
        grad_mats = torch.zeros_like(mats)
        for step in reversed(plan.body):
            b2 = b.view(2, numel)
            if isinstance(step, PermStep):
                inv = [0] * n
                for i, p in enumerate(step.perm):
                    inv[p] = i
                shape = (2,) + (2,) * n + (batch,)
                b2.view(shape).copy_(a.view(shape).permute(0, *[i + 1 for i in inv], n + 1))
            else:
                g = mats[step.mat]
                g = swap_pair(g) if step.swapped else g
                y = (2**step.y_qubits) * batch
                torch.matmul(g.mH, a.view(2 * step.x, 4, y), out=b2.view(2 * step.x, 4, y))
                # dL/dG = sum_x lambda_out[x] @ psi_in[x]^H
                lam_out = a[1].view(step.x, 4, y)
                psi_in = b2[0].view(step.x, 4, y)
                gg = torch.matmul(lam_out, psi_in.mH)
                gg = gg.sum(0) if step.x > 1 else gg[0]
                grad_mats[step.mat] += swap_pair(gg) if step.swapped else gg
            a, b = b2, a.view(-1)
        a = a.view(2, numel)
        grad_psi = a[1].clone().view(ctx.psi_shape) if ctx.needs_input_grad[0] else None
        return grad_psi, grad_mats, grad_obs, None, None


class BatchedSimulator:
    """Batched, differentiable ⟨Z_readout⟩ of a :class:`QCNNSpec` in torch.

    Args:
        spec: the circuit.
        device: torch device (``"cpu"``, ``"cuda"``, ``"cuda:1"``, …).
        dtype: ``torch.complex64`` (default, fast) or ``torch.complex128`` (exact
            comparisons).

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
        self, spec: QCNNSpec, device: str | torch.device = "cpu", dtype: torch.dtype = torch.complex64
    ) -> None:
        if dtype not in (torch.complex64, torch.complex128):
            raise ModelError(
                f"simulator dtype must be torch.complex64 or torch.complex128, but got dtype={dtype}."
            )
        self.spec = spec
        self.device = torch.device(device)
        self.dtype = dtype
        self.real_dtype = real_dtype(dtype)
        self.plan = build_plan(spec)
        n_params, block = CONV_ANSATZE[spec.ansatz]
        self._conv_gates = block(0, 1, 0)
        self._pool_gates = pool(0, 1, 0)
        self._n_conv = n_params
        self._buffers = _Buffers()
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
        self._stages = [(s[0].name, [[int(r[1]) for r in g.params] for g in s]) for s in stages]

    # ------------------------------------------------------------ weights side
    def block_matrices(self, weights: torch.Tensor) -> torch.Tensor:
        """The 4×4 of each layer's convolution then pooling block: ``(2L, 4, 4)``."""
        n_layers, k = self.plan.n_layers, self._n_conv
        conv = block_matrix(self._conv_gates, (0, 1), weights[: n_layers * k].view(n_layers, k), self.dtype)
        pools = block_matrix(self._pool_gates, (0, 1), weights[n_layers * k :].view(n_layers, 2), self.dtype)
        return torch.cat([conv, pools])

    def observable(self, mats: torch.Tensor) -> torch.Tensor:
        """The tail folded into ``O = V† Z_readout V`` on ``plan.kept_order``: ``(D, D)``."""
        order = self.plan.kept_order
        m, dim = len(order), 2 ** len(order)
        state = torch.eye(dim, dtype=self.dtype, device=self.device).reshape((dim,) + (2,) * m)
        for unit in self.plan.tail:
            a, b = unit.wires
            state = apply_small(state, mats[unit.mat], (1 + order.index(a), 1 + order.index(b)))
        rows = state.reshape(dim, dim)  # row i = V e_i, i.e. rows = V^T
        bit = m - 1 - order.index(self.plan.readout)
        signs = 1 - 2 * ((torch.arange(dim, device=self.device) >> bit) & 1)
        return (rows.conj() * signs.to(self.dtype)) @ rows.T

    # ------------------------------------------------------------ sample side
    def _front(self, features: torch.Tensor, mats: torch.Tensor) -> torch.Tensor:
        """Encoded product state, front units on clusters, then the Kronecker product."""
        n, batch = self.spec.n_qubits, features.shape[0]
        feats = features.to(self.real_dtype)
        qubits = torch.zeros(batch, n, 2, dtype=self.dtype, device=self.device)
        qubits[:, :, 0] = 1
        for name, cols in self._stages:
            angles = [feats[:, [c[k] for c in cols]] for k in range(len(cols[0]))]
            gate = gate_matrix(name, angles, self.dtype)  # (B, n, 2, 2)
            qubits = (gate @ qubits.unsqueeze(-1)).squeeze(-1)
        clusters: dict[int, tuple[list[int], torch.Tensor]] = {
            w: ([w], qubits[:, w]) for w in range(n)
        }
        for unit in self.plan.front:
            a, b = unit.wires
            wa, ta = clusters[a]
            if b not in wa:
                wb, tb = clusters[b]
                ta = (ta.reshape(batch, -1, 1) * tb.reshape(batch, 1, -1)).reshape(
                    (batch,) + (2,) * (len(wa) + len(wb))
                )
                wa = wa + wb
            ta = apply_small(ta.reshape((batch,) + (2,) * len(wa)), mats[unit.mat], (1 + wa.index(a), 1 + wa.index(b)))
            for w in wa:
                clusters[w] = (wa, ta)
        unique = {id(t): (ws, t) for ws, t in clusters.values()}.values()
        psi = None
        for ws, t in sorted(unique, key=lambda c: len(c[0])):
            order = sorted(range(len(ws)), key=lambda i: ws[i])
            t = t.reshape((batch,) + (2,) * len(ws)).permute(*[1 + i for i in order], 0)
            shape = [1] * n + [batch]
            for w in ws:
                shape[w] = 2
            t = t.reshape(shape)
            psi = t if psi is None else psi * t
        return psi.reshape(2**n, batch)

    def _amplitude(self, features: torch.Tensor) -> torch.Tensor:
        feats = features.to(self.real_dtype)
        norm = feats.norm(dim=1, keepdim=True)
        if bool((norm == 0).any()):
            raise ModelError("amplitude encoding needs non-zero feature vectors, got an all-zero row.")
        return (feats / norm).T.to(self.dtype).contiguous()

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
        weights = weights.to(device=self.device, dtype=self.real_dtype)
        features = features.detach().to(self.device)
        mats = self.block_matrices(weights)
        obs = self.observable(mats)
        if self.spec.encoding == "amplitude":
            psi = self._amplitude(features)
        else:
            psi = self._front(features, mats)
        z = _Body.apply(psi, mats, obs, self.plan, self._buffers)
        return z[0] if single else z

    __call__ = expval

    def probabilities(self, weights: torch.Tensor, features: torch.Tensor) -> torch.Tensor:
        """Readout probabilities ``((1 + z) / 2, (1 - z) / 2)``: shape ``(batch, 2)``."""
        z = self.expval(weights, features)
        return torch.stack([(1 + z) / 2, (1 - z) / 2], dim=-1)

    def __repr__(self) -> str:
        return f"BatchedSimulator({self.spec!r}, device={str(self.device)!r}, dtype={self.dtype})"
