"""The batched torch simulator against the PennyLane reference (the licence for the fast path)."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
import pytest
import torch

from qml_ops.circuits.qcnn import QCNNSpec
from qml_ops.circuits.reference import build_qnode
from qml_ops.errors import ModelError
from qml_ops.simulation.engine import BatchedSimulator

ENCODINGS = ("angle", "dense_angle", "amplitude")
SIXTEEN = [(9, "angle"), (2, "dense_angle"), (7, "amplitude"), (4, "angle")]


def _inputs(spec: QCNNSpec, seed: int, batch: int = 3):
    gen = torch.Generator().manual_seed(seed)
    w = 2 * torch.randn(spec.n_weights, dtype=torch.float64, generator=gen)
    x = torch.pi * torch.rand(batch, spec.n_features, dtype=torch.float64, generator=gen)
    return w, x


def _value_and_grad(f, w, x):
    w = w.clone().requires_grad_(True)
    z = f(w, x)
    (z * torch.arange(1, len(z) + 1, dtype=z.dtype, device=z.device)).sum().backward()  # distinct cotangents
    return z.detach(), w.grad


def _compare_with_pennylane(spec: QCNNSpec, seed: int, configs=({},), batch: int = 3) -> None:
    """Outputs and gradients of the simulator, in each configuration (block size,
    chunking), against PennyLane's default.qubit (backprop)."""
    w, x = _inputs(spec, seed, batch)
    z_ref, g_ref = _value_and_grad(build_qnode(spec), w, x)
    for config in configs:
        sim = BatchedSimulator(spec, dtype=torch.complex128, **config)
        z, g = _value_and_grad(sim.expval, w, x)
        torch.testing.assert_close(z, z_ref, atol=1e-6, rtol=0, msg=lambda m: f"{config}: {m}")
        torch.testing.assert_close(g, g_ref, atol=1e-6, rtol=0, msg=lambda m: f"{config}: {m}")


@pytest.mark.parametrize(
    "n_qubits, ansatz, encoding", list(itertools.product((4, 8), range(1, 10), ENCODINGS))
)
def test_matches_pennylane(n_qubits, ansatz, encoding):
    _compare_with_pennylane(QCNNSpec(n_qubits, ansatz, encoding), seed=100 * ansatz + n_qubits)


@pytest.mark.parametrize("ansatz, encoding", SIXTEEN)
def test_matches_pennylane_16_qubits(ansatz, encoding):
    # default (4-qubit blocks, 4 samples a chunk, ψ un-computed), the CUDA defaults (5-qubit blocks,
    # one chunk, intermediates kept), and one sample a chunk
    configs = ({}, {"max_block": 5, "chunk_amplitudes": 2**28, "store_amplitudes": 2**30},
               {"max_block": 3, "chunk_amplitudes": 2**16})
    _compare_with_pennylane(QCNNSpec(16, ansatz, encoding), seed=ansatz, configs=configs)


#: Block sizes and chunkings beyond the default: every block size, one sample
#: per chunk, and chunks that leave a shorter last one (batch 5 in chunks of 2).
PATHS = [{"max_block": m} for m in (2, 3, 5, 6)] + [{"chunk_amplitudes": 2**8}, {"chunk_amplitudes": 2**9}]
#: The backward from the final state (ψ un-computed) as well as from the kept intermediates.
PATHS += [{"store_amplitudes": 0}, {"store_amplitudes": 0, "chunk_amplitudes": 2**9, "max_block": 3}]


@pytest.mark.parametrize(
    "n_qubits, ansatz, encoding",
    [(4, 6, "angle"), (8, 9, "angle"), (8, 4, "dense_angle"), (8, 7, "amplitude"), (8, 1, "angle")],
)
def test_every_block_size_and_chunking_matches_pennylane(n_qubits, ansatz, encoding):
    _compare_with_pennylane(QCNNSpec(n_qubits, ansatz, encoding), seed=ansatz, configs=PATHS, batch=5)


@dataclass(frozen=True)
class _AnySizeQCNN(QCNNSpec):
    """The QCNN layout rule on any register size (the product accepts 4, 8, 16; the
    GPU benchmark runs 20+ qubits this way): one layer per halving, rounded up."""

    def __post_init__(self) -> None:
        assert self.n_qubits >= 3

    @property
    def n_layers(self) -> int:
        return len(self.layers)


@pytest.mark.parametrize("n_qubits, encoding", [(6, "angle"), (10, "angle"), (10, "amplitude"), (12, "dense_angle")])
def test_other_register_sizes_match_pennylane(n_qubits, encoding):
    spec = _AnySizeQCNN(n_qubits, 9, encoding)
    _compare_with_pennylane(spec, seed=n_qubits, configs=({}, {"max_block": 5, "chunk_amplitudes": 2**n_qubits}))


# ------------------------------------------------- an independent dense reference (numpy)
_ONE = {
    "h": lambda: np.array([[1, 1], [1, -1]]) / np.sqrt(2),
    "x": lambda: np.array([[0, 1], [1, 0]]),
    "rx": lambda t: np.array([[np.cos(t / 2), -1j * np.sin(t / 2)], [-1j * np.sin(t / 2), np.cos(t / 2)]]),
    "ry": lambda t: np.array([[np.cos(t / 2), -np.sin(t / 2)], [np.sin(t / 2), np.cos(t / 2)]]),
    "rz": lambda t: np.diag([np.exp(-0.5j * t), np.exp(0.5j * t)]),
    "u3": lambda t, p, l: np.array(
        [[np.cos(t / 2), -np.exp(1j * l) * np.sin(t / 2)],
         [np.exp(1j * p) * np.sin(t / 2), np.exp(1j * (p + l)) * np.cos(t / 2)]]
    ),
}
_CONTROLLED = {"cnot": lambda: _ONE["x"](), "cz": lambda: np.diag([1, -1]), "crx": _ONE["rx"], "crz": _ONE["rz"]}


def _dense(n, gate, args):
    """Full 2**n matrix of one gate, wire 0 = most significant bit."""
    def op(mats):  # mats: wire -> 2x2
        out = np.array([[1.0]])
        for w in range(n):
            out = np.kron(out, mats.get(w, np.eye(2)))
        return out

    if gate.name in _ONE:
        return op({gate.wires[0]: _ONE[gate.name](*args)})
    c, t = gate.wires
    p0, p1 = np.diag([1, 0]), np.diag([0, 1])
    return op({c: p0}) + op({c: p1, t: _CONTROLLED[gate.name](*args)})


def _dense_expval(spec, w, x):
    n = spec.n_qubits
    out = []
    for sample in x:
        if spec.encoding == "amplitude":
            psi = sample / np.linalg.norm(sample)
        else:
            psi = np.eye(2**n)[0]
        psi = psi.astype(complex)
        for g in spec.gates():
            args = [w[int(v)] if k == "w" else sample[int(v)] if k == "x" else v for k, v in g.params]
            psi = _dense(n, g, args) @ psi
        bit = (np.arange(2**n) >> (n - 1 - spec.readout_wire)) & 1
        out.append(np.sum(np.abs(psi) ** 2 * (1 - 2 * bit)))
    return np.array(out)


@pytest.mark.parametrize("ansatz, encoding", [(1, "angle"), (9, "dense_angle"), (8, "amplitude")])
def test_matches_dense_numpy_reference(ansatz, encoding):
    spec = QCNNSpec(4, ansatz, encoding)
    w, x = _inputs(spec, seed=7)
    z = BatchedSimulator(spec, dtype=torch.complex128).expval(w, x)
    np.testing.assert_allclose(z.numpy(), _dense_expval(spec, w.numpy(), x.numpy()), atol=1e-10)


# ----------------------------------------------------------------------------- behaviour
def test_complex64_close_to_complex128():
    spec = QCNNSpec(8, 9, "angle")
    w, x = _inputs(spec, seed=3, batch=16)
    z64, g64 = _value_and_grad(BatchedSimulator(spec).expval, w, x)
    z128, g128 = _value_and_grad(BatchedSimulator(spec, dtype=torch.complex128).expval, w, x)
    assert z64.dtype == torch.float32 and g64.dtype == torch.float64  # grad in the leaf's dtype
    torch.testing.assert_close(z64.double(), z128, atol=1e-5, rtol=0)
    torch.testing.assert_close(g64, g128, atol=1e-4, rtol=0)


def test_probabilities_and_single_sample():
    spec = QCNNSpec(4, 9, "dense_angle")
    w, x = _inputs(spec, seed=5)
    sim = BatchedSimulator(spec, dtype=torch.complex128)
    z = sim.expval(w, x)
    p = sim.probabilities(w, x)
    torch.testing.assert_close(p.sum(1), torch.ones(3, dtype=torch.float64))
    torch.testing.assert_close(p[:, 0] - p[:, 1], z)
    assert sim.expval(w, x[1]).shape == ()
    torch.testing.assert_close(sim.expval(w, x[1]), z[1])


def test_two_forwards_before_backward():
    """Buffers are reused across calls: gradients must still be right."""
    spec = QCNNSpec(8, 9, "angle")
    sim = BatchedSimulator(spec, dtype=torch.complex128)
    w, x = _inputs(spec, seed=11, batch=4)
    wg = w.clone().requires_grad_(True)
    (sim.expval(wg, x[:2]).sum() + 2 * sim.expval(wg, x[2:]).sum()).backward()
    ref = w.clone().requires_grad_(True)
    (sim.expval(ref, x[:2]).sum()).backward()
    g_a = ref.grad.clone()
    ref.grad = None
    (2 * sim.expval(ref, x[2:]).sum()).backward()
    torch.testing.assert_close(wg.grad, g_a + ref.grad)


def test_training_steps_reuse_their_buffers():
    """After the first step, steps allocate no new state buffers (no page faults)."""
    spec = QCNNSpec(8, 9, "angle")
    sim = BatchedSimulator(spec, chunk_amplitudes=2**12)  # 16 samples a chunk
    w, x = _inputs(spec, seed=1, batch=40)
    w = w.float().requires_grad_(True)
    sim.expval(w, x.float()).sum().backward()
    pointers = (sim._workspace.buf.data_ptr(), sorted(t.data_ptr() for t in sim._pool.free))
    for _ in range(3):
        w.grad = None
        sim.expval(w, x.float()).sum().backward()
        assert (sim._workspace.buf.data_ptr(), sorted(t.data_ptr() for t in sim._pool.free)) == pointers


def test_backward_twice_with_retained_graph():
    spec = QCNNSpec(8, 9, "angle")
    sim = BatchedSimulator(spec, dtype=torch.complex128)
    w, x = _inputs(spec, seed=6, batch=4)
    w = w.requires_grad_(True)
    loss = sim.expval(w, x).sum()
    loss.backward(retain_graph=True)
    first = w.grad.clone()
    loss.backward()
    torch.testing.assert_close(w.grad, 2 * first)


def test_forward_without_backward_returns_its_buffer():
    spec = QCNNSpec(8, 9, "angle")
    sim = BatchedSimulator(spec)
    w, x = _inputs(spec, seed=1, batch=8)
    w = w.float().requires_grad_(True)
    for _ in range(5):
        sim.expval(w, x.float())  # graph dropped: the kept states go back to the pool
    assert len(sim._pool.free) == 1


@pytest.mark.parametrize("kwargs, match", [({"max_block": 7}, "max_block"), ({"max_block": 1.5}, "max_block"),
                                            ({"chunk_amplitudes": 0}, "chunk_amplitudes"),
                                            ({"store_amplitudes": -1}, "store_amplitudes")])
def test_bad_options_rejected(kwargs, match):
    with pytest.raises(ModelError, match=match):
        BatchedSimulator(QCNNSpec(8), **kwargs)


def test_no_grad_inference():
    spec = QCNNSpec(8, 3, "amplitude")
    sim = BatchedSimulator(spec)
    w, x = _inputs(spec, seed=2)
    with torch.no_grad():
        z = sim.expval(w.float(), x.float())
    assert z.shape == (3,) and not z.requires_grad


@pytest.mark.parametrize(
    "w_shape, x_shape, match",
    [((50,), (3, 8), r"weights must have shape \(51,\)"), ((51,), (3, 9), r"features must have shape \(batch, 8\)")],
)
def test_shape_errors(w_shape, x_shape, match):
    sim = BatchedSimulator(QCNNSpec(8, 9, "angle"))
    with pytest.raises(ModelError, match=match):
        sim.expval(torch.zeros(w_shape), torch.zeros(x_shape))


def test_zero_amplitude_vector_rejected():
    spec = QCNNSpec(4, 1, "amplitude")
    with pytest.raises(ModelError, match="non-zero"):
        BatchedSimulator(spec).expval(torch.zeros(spec.n_weights), torch.zeros(2, 16))


def test_bad_dtype_rejected():
    with pytest.raises(ModelError, match="dtype"):
        BatchedSimulator(QCNNSpec(4), dtype=torch.float32)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("n_qubits, ansatz, encoding", [(8, 9, "angle"), (16, 9, "angle"), (16, 7, "amplitude")])
def test_cuda_matches_cpu(n_qubits, ansatz, encoding):
    """The CUDA defaults (5-qubit blocks, one chunk) against the CPU path (which the
    tests above check against PennyLane)."""
    spec = QCNNSpec(n_qubits, ansatz, encoding)
    w, x = _inputs(spec, seed=4, batch=8)
    z_cpu, g_cpu = _value_and_grad(BatchedSimulator(spec, dtype=torch.complex128).expval, w, x)
    sim = BatchedSimulator(spec, device="cuda", dtype=torch.complex128)
    z, g = _value_and_grad(sim.expval, w.cuda(), x.cuda())
    torch.testing.assert_close(z.cpu(), z_cpu, atol=1e-9, rtol=0)
    torch.testing.assert_close(g.cpu(), g_cpu, atol=1e-9, rtol=0)
