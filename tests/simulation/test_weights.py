"""The simulator's weights side (numpy) against torch autograd on the one gate table."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from qml_ops.circuits.ansatz import CONV_ANSATZE, POOL_N_PARAMS, pool
from qml_ops.circuits.gates import GATE_TABLE, gate_matrix
from qml_ops.simulation.gates import block_matrix
from qml_ops.simulation.weights import Product, UnitMatrices, embedding, gate_derivatives

PARAMETERISED = sorted(name for name, d in GATE_TABLE.items() if d.n_params)
BLOCKS = {f"conv{a}": (CONV_ANSATZE[a][1](0, 1, 0), CONV_ANSATZE[a][0]) for a in CONV_ANSATZE}
BLOCKS["pool"] = (pool(0, 1, 0), POOL_N_PARAMS)


def _real_view(fn):
    return lambda *a: torch.view_as_real(fn(*a))


@pytest.mark.parametrize("name", PARAMETERISED)
def test_gate_derivatives_match_autograd(name):
    """Exact five-point derivatives for every parameterised gate of the table."""
    rng = np.random.default_rng(len(name))
    n_params = GATE_TABLE[name].n_params
    angles = [rng.uniform(-7, 7, size=4) for _ in range(n_params)]
    g, dg = gate_derivatives(name, angles)
    np.testing.assert_allclose(g, gate_matrix(name, *angles), atol=1e-14)
    for p in range(n_params):
        for s in range(4):
            args = [torch.tensor(a[s], dtype=torch.float64) for a in angles]

            def f(x, p=p, args=args):
                return gate_matrix(name, *[x if q == p else args[q] for q in range(n_params)])

            jac = torch.autograd.functional.jacobian(_real_view(f), args[p])
            np.testing.assert_allclose(dg[s, p], torch.view_as_complex(jac).numpy(), atol=1e-12)


@pytest.mark.parametrize("block", sorted(BLOCKS))
def test_unit_matrices_value_and_gradient(block):
    gates, n_params = BLOCKS[block]
    rng = np.random.default_rng(n_params)
    params = rng.normal(size=(3, n_params)) * 2
    cotangent = rng.normal(size=(3, 4, 4)) + 1j * rng.normal(size=(3, 4, 4))
    units = UnitMatrices(gates, n_params)
    u, ctx = units.forward(params)
    grad = units.backward(ctx, cotangent)

    w = torch.tensor(params, requires_grad=True)
    ref = block_matrix(gates, (0, 1), w, torch.complex128)
    (torch.view_as_real(ref) * torch.view_as_real(torch.from_numpy(cotangent))).sum().backward()
    np.testing.assert_allclose(u, ref.detach().numpy(), atol=1e-13)
    np.testing.assert_allclose(grad, w.grad.numpy(), atol=1e-12)


def test_unit_matrices_reject_feature_angles():
    from qml_ops.circuits.ir import Gate, x

    with pytest.raises(ValueError, match="cannot read features"):
        UnitMatrices([Gate("ry", (0,), (x(0),))], 1)


@pytest.mark.parametrize("k, high, low", [(2, 0, 1), (2, 1, 0), (3, 0, 2), (3, 2, 1), (4, 3, 0)])
def test_embedding_is_kron_with_identity(k, high, low):
    rng = np.random.default_rng(k + high)
    u = rng.normal(size=(4, 4)) + 1j * rng.normal(size=(4, 4))
    dim = 2**k
    e = (u.reshape(-1) @ embedding(k, high, low)).reshape(dim, dim)
    # reference: U on qubits (0, 1) of the k register, then move them to (high, low)
    t = np.kron(u, np.eye(2 ** (k - 2))).reshape((2,) * (2 * k))
    others = [q for q in range(k) if q not in (high, low)]
    order = [high, low] + others
    axes = np.argsort(order)
    ref = t.transpose(list(axes) + [k + a for a in axes]).reshape(dim, dim)
    np.testing.assert_allclose(e, ref, atol=1e-15)


def test_product_value_and_unit_gradients():
    """The chain rule assumes unitary factors (every gate is): random unitaries."""
    rng = np.random.default_rng(3)
    units = np.linalg.qr(rng.normal(size=(3, 4, 4)) + 1j * rng.normal(size=(3, 4, 4)))[0]
    placements = [(0, 0, 2), (2, 1, 0), (0, 2, 1), (1, 0, 1)]
    prod = Product(3, placements)
    p, cache = prod.matrix(units)
    cotangent = rng.normal(size=(8, 8)) + 1j * rng.normal(size=(8, 8))
    acc = np.zeros_like(units)
    prod.unit_grads(cache, cotangent, acc)

    u = torch.tensor(units, requires_grad=True)
    ref = torch.eye(8, dtype=torch.complex128)
    for m, high, low in placements:
        ref = (u[m].reshape(-1) @ torch.tensor(embedding(3, high, low))).reshape(8, 8) @ ref
    (torch.view_as_real(ref) * torch.view_as_real(torch.from_numpy(cotangent))).sum().backward()
    np.testing.assert_allclose(p, ref.detach().numpy(), atol=1e-12)
    np.testing.assert_allclose(acc, u.grad.numpy(), atol=1e-12)  # torch's convention: dL/dRe + i dL/dIm
