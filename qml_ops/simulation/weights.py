"""The batch-independent side of the simulator, in numpy (complex128).

Everything here depends on the weights only, never on a sample, so it is done
once per forward in float64 numpy (small arrays: numpy's per-call cost is a
fraction of torch's, and no autograd graph is built):

* :func:`gate_derivatives`: a gate of the one gate table
  (:mod:`qml_ops.circuits.gates`) and its exact derivative with respect to each
  angle, for many angle sets at once;
* :class:`UnitMatrices`: the 4×4 of a two-qubit block (a convolution ansatz or
  the pooling unit) for every layer's parameters, and its chain rule;
* :class:`Product`: a product of such 4×4s placed on qubits of a small
  ``k``-qubit register (a fused block, a front cluster, the folded tail), and
  the chain rule from the product's gradient back to each factor.

Derivatives are exact, not finite differences: every angle enters a gate of the
table through ``cos(θ/2)``, ``sin(θ/2)``, ``exp(±iθ/2)`` or ``exp(±iθ)``, so
each entry is a trigonometric polynomial of degree ≤ 2 in ``θ/2``, and five
equispaced samples determine its derivative exactly (:data:`_SHIFT_WEIGHTS`).
``tests/simulation/test_weights.py`` checks this against torch autograd for
every gate of the table.

Gradients follow torch's convention for complex tensors: ``g = ∂L/∂Re(A) +
i ∂L/∂Im(A)``, so ``dL = Re Σ conj(g) · dA``.

Example:
    >>> import numpy as np
    >>> from qml_ops.circuits.ansatz import CONV_ANSATZE
    >>> units = UnitMatrices(CONV_ANSATZE[1][1](0, 1, 0), n_params=2)
    >>> u, ctx = units.forward(np.zeros((3, 2)))       # 3 layers' parameters
    >>> u.shape
    (3, 4, 4)
"""

from __future__ import annotations

import contextlib
from functools import lru_cache
from typing import Sequence

import numpy as np

from qml_ops.circuits.gates import GATE_TABLE, gate_matrix
from qml_ops.circuits.ir import Gate

__all__ = ["gate_derivatives", "UnitMatrices", "Product", "embedding", "CircuitMatrices", "single_threaded_blas"]

#: θ shifts and weights: f'(θ) = Σ_j w_j f(θ + s_j) for any f that is a
#: trigonometric polynomial of degree ≤ 2 in θ/2 (the j = 0 weight is zero).
_SHIFTS = 4 * np.pi * np.arange(1, 5) / 5


def _shift_weights() -> np.ndarray:
    m = np.arange(-2, 3)
    nodes = np.exp(1j * np.outer(m, 2 * np.pi * np.arange(5) / 5))
    w = np.linalg.solve(nodes, 0.5j * m)
    return w.real[1:]


_SHIFT_WEIGHTS = _shift_weights()


@lru_cache(maxsize=1)
def _blas_controller():
    try:  # a dependency of scikit-learn, which qml-ops requires
        from threadpoolctl import ThreadpoolController
    except ImportError:  # pragma: no cover - only without scikit-learn
        return None
    return ThreadpoolController()


def single_threaded_blas():
    """Context in which numpy's BLAS runs on one thread.

    The matrices here are tiny (4×4 to 32×32): a multi-threaded OpenBLAS wakes
    its threads for them and, next to torch's own threads on a small machine,
    turned a 2 µs product into 0.1–2 ms. ``threadpoolctl`` (a dependency of
    scikit-learn) scopes the limit to this code; without it, nothing changes.
    """
    controller = _blas_controller()
    return contextlib.nullcontext() if controller is None else controller.limit(limits=1, user_api="blas")


def _evaluate(name: str, angles: np.ndarray) -> np.ndarray:
    """``gate_matrix(name, *angles)`` for float arrays of one shape, assembled
    directly from the table's entries (the generic path costs ~100 µs a call)."""
    gate = GATE_TABLE[name]
    shape = angles.shape[1:]
    out = np.empty(shape + (gate.dim, gate.dim), dtype=np.complex128)
    for i, row in enumerate(gate.rows(np, *angles)):
        for j, entry in enumerate(row):
            out[..., i, j] = entry
    return out


def gate_derivatives(name: str, angles: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Matrix of table gate ``name`` and its derivative with respect to each angle.

    Args:
        name: a parameterised gate of :data:`~qml_ops.circuits.gates.GATE_TABLE`.
        angles: its ``P`` angles, float arrays of one shape ``(L,)``.

    Returns:
        ``(G, dG)``: ``(L, d, d)`` and ``(L, P, d, d)`` complex128, ``dG[:, p] = ∂G/∂angle_p``.
    """
    base = np.stack([np.asarray(a, dtype=np.float64) for a in angles])  # (P, L)
    n_params, n_sets = base.shape
    # Row 0: the angles; rows 1 + 4p + j: angle p shifted by _SHIFTS[j].
    rows = np.repeat(base[None], 1 + 4 * n_params, axis=0)  # (1 + 4P, P, L)
    for p in range(n_params):
        rows[1 + 4 * p : 5 + 4 * p, p] += _SHIFTS[:, None]
    mats = _evaluate(name, rows.transpose(1, 0, 2))  # (1 + 4P, L, d, d)
    d = mats.shape[-1]
    shifted = mats[1:].reshape(n_params, 4, n_sets, d, d)
    deriv = np.einsum("j,pjlab->lpab", _SHIFT_WEIGHTS, shifted)
    return mats[0], deriv


@lru_cache(maxsize=None)
def _placement(kind: str) -> np.ndarray:
    """0/1 matrix ``M`` with ``E.reshape(-1) = g.reshape(-1) @ M``: a gate ``g`` as
    a 4×4 on a pair, for ``kind`` ``"pair"`` (as is), ``"swapped"`` (wires
    exchanged), ``"high"`` or ``"low"`` (a one-qubit gate on the pair's high or
    low bit). ``gE.reshape(-1) @ M.T`` is the gradient of ``g``."""
    if kind in ("pair", "swapped"):
        out = np.eye(16)
        if kind == "swapped":  # SWAP g SWAP: row (a, b) -> (b, a), same for columns
            perm = np.arange(16).reshape(2, 2, 2, 2).transpose(1, 0, 3, 2).reshape(-1)
            out = out[perm]
        return out.astype(np.complex128)
    eye = np.eye(2)
    basis = np.eye(4).reshape(4, 2, 2)
    if kind == "high":
        mats = np.einsum("kij,ab->kiajb", basis, eye)
    else:
        mats = np.einsum("ab,kij->kaibj", eye, basis)
    return mats.reshape(4, 16).astype(np.complex128)


class UnitMatrices:
    """The 4×4 of a two-wire gate list for ``L`` parameter sets, and its chain rule.

    Gates are evaluated grouped by name and placement (one table evaluation per
    group, its five-point derivative samples included), multiplied in order,
    and differentiated in reverse (the gradient with respect to each gate's
    matrix, then to its angles): a few dozen numpy calls for SU(4).

    Args:
        gates: IR gates on ``wires`` only; ``("w", i)`` reads column ``i`` of
            the parameters, ``("c", v)`` is a constant (features are not allowed).
        n_params: number of parameter columns.
        wires: ``(a, b)``; ``a`` is the most significant bit of the 4×4 basis.

    Raises:
        ValueError: for a gate reading features or a wire outside ``wires``.

    Example:
        >>> import numpy as np
        >>> from qml_ops.circuits.ansatz import CONV_ANSATZE
        >>> fam = UnitMatrices(CONV_ANSATZE[1][1](0, 1, 0), 2)
        >>> u, ctx = fam.forward(np.zeros((3, 2)))
        >>> u.shape, fam.backward(ctx, np.ones((3, 4, 4))).shape
        ((3, 4, 4), (3, 2))
    """

    def __init__(self, gates: Sequence[Gate], n_params: int, wires: tuple[int, int] = (0, 1)) -> None:
        self.n_params = n_params
        self.steps: list[tuple[str, object]] = []  # ("const", 4x4) or ("param", (group, position))
        groups: dict[tuple[str, str], list[list]] = {}
        for gate in gates:
            if not set(gate.wires) <= set(wires):
                raise ValueError(f"gate {gate} is not on wires {wires}")
            if len(gate.wires) == 2:
                kind = "pair" if gate.wires == wires else "swapped"
            else:
                kind = "high" if gate.wires[0] == wires[0] else "low"
            refs = []
            for ref_kind, value in gate.params:
                if ref_kind not in ("w", "c"):
                    raise ValueError(f"block gates cannot read features, got {gate}")
                refs.append((ref_kind, value))
            if not refs:
                g = gate_matrix(gate.name).reshape(-1) @ _placement(kind)
                self.steps.append(("const", g.reshape(4, 4)))
                continue
            members = groups.setdefault((gate.name, kind), [])
            self.steps.append(("param", ((gate.name, kind), len(members))))
            members.append(refs)
        self._steps_of = {
            key: [i for i, (kind, info) in enumerate(self.steps) if kind == "param" and info[0] == key]
            for key in groups
        }
        self.groups = {
            key: (
                np.array([[int(v) if k == "w" else -1 for k, v in refs] for refs in members]),  # columns
                np.array([[0.0 if k == "w" else v for k, v in refs] for refs in members]),  # constants
            )
            for key, members in groups.items()
        }

    def forward(self, params: np.ndarray) -> tuple[np.ndarray, dict]:
        """``(U, ctx)``: ``U`` ``(L, 4, 4)`` for parameters ``(L, n_params)``."""
        params = np.asarray(params, dtype=np.float64)
        n_sets = params.shape[0]
        evaluated = {}
        for (name, kind), (columns, constants) in self.groups.items():
            # angles (P, G, L): parameter p of group member g for set l
            angles = np.where(columns.T[:, :, None] >= 0, params[:, columns.T].transpose(1, 2, 0), constants.T[:, :, None])
            n_angles = angles.shape[0]
            rows = np.repeat(angles[None], 1 + 4 * n_angles, axis=0)  # (1 + 4P, P, G, L)
            for p in range(n_angles):
                rows[1 + 4 * p : 5 + 4 * p, p] += _SHIFTS[:, None, None]
            mats = _evaluate(name, rows.transpose(1, 0, 2, 3))  # (1 + 4P, G, L, d, d)
            d = mats.shape[-1]
            g4 = (mats[0].reshape(mats.shape[1:3] + (d * d,)) @ _placement(kind)).reshape(mats.shape[1:3] + (4, 4))
            evaluated[(name, kind)] = (g4, mats[1:].reshape((n_angles, 4) + mats.shape[1:]))
        u = np.broadcast_to(np.eye(4, dtype=np.complex128), (n_sets, 4, 4))
        prefixes = [u]
        for kind, info in self.steps:
            g = info if kind == "const" else evaluated[info[0]][0][info[1]]
            u = g @ u
            prefixes.append(u)
        return u, {"prefixes": np.stack(prefixes), "evaluated": evaluated, "n_sets": n_sets}

    def backward(self, ctx: dict, grad: np.ndarray) -> np.ndarray:
        """Gradient ``(L, n_params)`` of the parameters given ``grad = dL/dU``."""
        # U = S_k G_k P_{k-1} with P the prefix products; every factor is unitary, so
        # S_k = U P_k^H and dL/dG_k = S_k^H grad P_{k-1}^H = P_k (U^H grad) P_{k-1}^H.
        prefixes = ctx["prefixes"]  # (K + 1, L, 4, 4), prefixes[0] = I, prefixes[K] = U
        inner = prefixes[-1].conj().swapaxes(-1, -2) @ grad
        grads_g = prefixes[1:] @ inner @ prefixes[:-1].conj().swapaxes(-1, -2)  # (K, L, 4, 4)
        out = np.zeros((ctx["n_sets"], self.n_params))
        for (name, kind), (columns, _) in self.groups.items():
            g4 = grads_g[self._steps_of[(name, kind)]]  # (G, L, 4, 4)
            small = g4.reshape(g4.shape[:2] + (16,)) @ _placement(kind).T  # (G, L, d*d)
            shifted = ctx["evaluated"][(name, kind)][1]  # (P, 4, G, L, d, d)
            d_angle = np.einsum("j,gla,pjgla->gpl", _SHIFT_WEIGHTS, small.conj(),
                                shifted.reshape(shifted.shape[:4] + (-1,))).real  # (G, P, L)
            for g, cols in enumerate(columns):
                for p, col in enumerate(cols):
                    if col >= 0:
                        out[:, col] += d_angle[g, p]
        return out


@lru_cache(maxsize=None)
def embedding(k: int, high: int, low: int) -> np.ndarray:
    """0/1 matrix ``T`` (16, 4**k, complex: numpy multiplies mixed types slowly)
    placing a 4×4 on qubits ``high``, ``low`` of ``k``.

    ``E.reshape(-1) = U.reshape(-1) @ T`` is ``U ⊗ I`` with ``U``'s high bit on
    local qubit ``high`` (qubit 0 is the most significant), and
    ``gE.reshape(-1) @ T.T`` traces a gradient ``gE`` back to ``U``'s 4×4.
    """
    dim = 2**k
    r, c = np.meshgrid(np.arange(dim), np.arange(dim), indexing="ij")
    bit = lambda x, q: (x >> (k - 1 - q)) & 1  # noqa: E731
    others = ~((1 << (k - 1 - high)) | (1 << (k - 1 - low))) & (dim - 1)
    valid = (r & others) == (c & others)
    entry = (2 * bit(r, high) + bit(r, low)) * 4 + 2 * bit(c, high) + bit(c, low)
    t = np.zeros((16, dim * dim), dtype=np.complex128)
    t[entry[valid], (r * dim + c)[valid]] = 1.0
    t.setflags(write=False)
    return t


class Product:
    """``P = E_m … E_1``: 4×4 units placed on a ``k``-qubit register, in order.

    Args:
        k: register size (its qubits 0..k-1, qubit 0 the most significant).
        placements: ``(mat, high, low)`` per factor, in application order:
            unit matrix ``mat`` with its high bit on qubit ``high``.

    Example:
        >>> import numpy as np
        >>> prod = Product(3, [(0, 0, 1), (1, 1, 2)])
        >>> u = np.stack([np.eye(4), np.eye(4)]).astype(complex)
        >>> p, cache = prod.matrix(u)
        >>> np.allclose(p, np.eye(8))
        True
    """

    def __init__(self, k: int, placements: Sequence[tuple[int, int, int]]) -> None:
        self.k = k
        self.placements = list(placements)
        self.mats = np.array([m for m, _, _ in self.placements], dtype=np.int64)
        if self.placements:
            self._embed = np.stack([embedding(k, high, low) for _, high, low in self.placements])

    def matrix(self, units: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(P, cache)``: the product for unitary unit matrices ``units`` (``(M, 4, 4)``)."""
        dim = 2**self.k
        out = np.eye(dim, dtype=np.complex128)
        if not self.placements:
            return out, out[None]
        factors = (units[self.mats].reshape(-1, 1, 16) @ self._embed).reshape(-1, dim, dim)
        prefixes = [out]
        for f in factors:
            out = f @ out
            prefixes.append(out)
        return out, np.stack(prefixes)

    def unit_grads(self, cache: np.ndarray, grad: np.ndarray, acc: np.ndarray) -> None:
        """Add each factor's 4×4 gradient to ``acc[mat]`` given ``grad = dL/dP``.

        The factors are unitary, so with prefix products ``Q_i = E_i … E_1``
        (``Q_m = P``), ``dL/dE_i = Q_i (P^H grad) Q_{i-1}^H``: two batched products.
        """
        if not self.placements:
            return
        prefixes = cache
        inner = prefixes[-1].conj().T @ grad
        g = prefixes[1:] @ inner @ prefixes[:-1].conj().swapaxes(-1, -2)
        g_units = (g.reshape(len(g), 1, -1) @ self._embed.swapaxes(1, 2)).reshape(-1, 4, 4)
        np.add.at(acc, self.mats, g_units)


class CircuitMatrices:
    """Every weight-dependent matrix of a plan, and the chain rule back to the weights.

    :meth:`forward` builds, from the weight vector, the matrix of each fused
    block of the body, of each front cluster and the folded observable; the
    engine applies them to the states and measures, for each, the gradient
    statistic :meth:`backward` turns into the weights' gradient.

    Args:
        spec: the circuit (:class:`~qml_ops.circuits.qcnn.QCNNSpec`).
        plan: its :class:`~qml_ops.simulation.plan.Plan`.
    """

    def __init__(self, spec, plan) -> None:
        from qml_ops.circuits.ansatz import CONV_ANSATZE, POOL_N_PARAMS, pool
        from qml_ops.simulation.plan import Block

        self.n_layers = plan.n_layers
        self.conv_params, conv = CONV_ANSATZE[spec.ansatz]
        self.pool_params = POOL_N_PARAMS
        self.conv = UnitMatrices(conv(0, 1, 0), self.conv_params)
        self.pool = UnitMatrices(pool(0, 1, 0), self.pool_params)

        def placed(units, order):
            return [(u.mat, order.index(u.wires[0]), order.index(u.wires[1])) for u in units]

        self.blocks = [Product(len(s.wires), placed(s.units, list(s.wires))) for s in plan.steps if isinstance(s, Block)]
        self.clusters = [
            Product(len(c), placed([u for u in plan.front if u.wires[0] in c], c)) for c in plan.clusters
        ]
        kept = plan.kept_order
        self.tail = Product(len(kept), placed(plan.tail, kept))
        m = len(kept)
        bit = (np.arange(2**m) >> (m - 1 - kept.index(plan.readout))) & 1
        self.z_signs = (1 - 2 * bit).astype(np.float64)

    def forward(self, theta: np.ndarray) -> tuple[dict, dict]:
        """Matrices for weights ``theta``: ``({"blocks", "clusters", "observable"}, ctx)``."""
        n_layers, k = self.n_layers, self.conv_params
        u_conv, conv_ctx = self.conv.forward(theta[: n_layers * k].reshape(n_layers, k))
        u_pool, pool_ctx = self.pool.forward(theta[n_layers * k :].reshape(n_layers, self.pool_params))
        units = np.concatenate([u_conv, u_pool])
        blocks = [b.matrix(units) for b in self.blocks]
        clusters = [c.matrix(units) for c in self.clusters]
        v, v_cache = self.tail.matrix(units)
        obs = (v.conj().T * self.z_signs) @ v
        host = {"blocks": [b[0] for b in blocks], "clusters": [c[0] for c in clusters], "observable": obs}
        ctx = {"units": units, "units_ctx": (conv_ctx, pool_ctx), "blocks": blocks, "clusters": clusters,
               "tail": (v, v_cache), "observable": obs}
        return host, ctx

    def backward(self, ctx: dict, block_grams: list, cluster_grams: list, obs_gram: np.ndarray) -> np.ndarray:
        """Gradient of the loss with respect to the weights.

        Args:
            ctx: from :meth:`forward`.
            block_grams: per block, ``Σ λ_in ψ_in†`` (cotangent and state entering it).
            cluster_grams: per front cluster, ``dL/dF`` of its matrix ``F``.
            obs_gram: ``Σ λ ψ†`` at the observable, where ``λ = 2 (dL/dz) O ψ``.
        """
        acc = np.zeros_like(ctx["units"])
        for prod, (mat, cache), gram in zip(self.blocks, ctx["blocks"], block_grams):
            prod.unit_grads(cache, mat @ gram, acc)  # dL/dB = Σ λ_out ψ_in† = B Σ λ_in ψ_in†
        for prod, (_, cache), grad in zip(self.clusters, ctx["clusters"], cluster_grams):
            prod.unit_grads(cache, grad, acc)
        obs = ctx["observable"]
        p = 0.5 * obs @ obs_gram  # O is unitary and Hermitian: dL/dO = Σ gz ψ ψ† = O Σ λ ψ† / 2
        p = 0.5 * (p + p.conj().T)
        v, v_cache = ctx["tail"]
        self.tail.unit_grads(v_cache, 2 * (self.z_signs[:, None] * v) @ p, acc)  # dL/dV = 2 Z V P
        conv_ctx, pool_ctx = ctx["units_ctx"]
        n_layers = self.n_layers
        g_conv = self.conv.backward(conv_ctx, acc[:n_layers])
        g_pool = self.pool.backward(pool_ctx, acc[n_layers:])
        return np.concatenate([g_conv.reshape(-1), g_pool.reshape(-1)])
