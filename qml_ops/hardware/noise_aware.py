"""A device's calibrated noise placed on the logical QCNN, for noise-aware training.

``train.noise_model: <device id>`` trains through the noise the device's
calibrated emulator applies (:mod:`qml_ops.hardware.emulator`: the channels of
Braket's ``LocalEmulator``: depolarizing after every native gate from the
randomized-benchmarking fidelities, a readout bit flip). Training needs
gradients with respect to the weights, and the compiled circuit has none: its
native angles come out of the Qiskit transpiler (two-qubit block re-synthesis,
virtual-Z frames), a non-differentiable function of the weights whose very
structure changes at special angles. So the noise is applied to the **logical**
circuit, in the differentiable simulator :class:`~qml_ops.simulation.noisy.NoisySimulator`,
with strengths derived from the **compiled** one:

1. The model is compiled for the device once (generic weights; the two-qubit
   gate count is the same for generic weights), which fixes its layout,
   routing and native gates (:func:`qml_ops.hardware.compile.compile_spec`).
2. Each native gate's channel is the emulator's (``λ`` per qubit and coupler,
   :meth:`~qml_ops.hardware.emulator.NoiseParams.from_profile`). In the log
   domain the shrink factors add: ``L₂ = Σ -ln λ₂`` over the native two-qubit
   gates (routing swaps included), ``L₁[q] = Σ -ln λ₁[q]`` over the one-qubit
   gates on physical qubit ``q``.
3. ``L₂`` is spread over the logical units (convolution blocks and pooling
   units) in proportion to the native two-qubit gates each needs as written
   (CNOT/CZ 1, CRZ/CRX 2): unit ``u`` gets two-qubit depolarizing
   ``λ₂[u] = exp(-L₂ · c_u / Σ c)``.
4. A logical wire takes ``L₁`` of the physical qubit it starts on (the initial
   layout); qubits no wire starts on (used by routing) share theirs evenly; a
   wire's budget is spread over its ``k + 1`` one-qubit channels (after the
   encoding and after each of its ``k`` units).
5. The readout flip is the compiled readout qubit's.

So the logical model carries the compiled circuit's total depolarizing strength
and its readout error, placed where the logical circuit entangles; it is an
approximation (routing moves logical qubits across physical ones, and local
channels inside a unit do not commute with its gates), and
``benchmarks/bench_noise_aware.py`` measures what it buys.

Example:
    >>> from qml_ops.circuits.qcnn import QCNNSpec
    >>> noise = device_noise(QCNNSpec(8, 9, "angle"), "rigetti-cepheus-1-108q")   # doctest: +SKIP
    >>> noise.readout_flip, min(noise.two_qubit)                                  # doctest: +SKIP
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Any

import numpy as np

from qml_ops.circuits.qcnn import QCNNSpec
from qml_ops.errors import HardwareError
from qml_ops.simulation.noisy import MAX_QUBITS, UnitNoise, units

__all__ = ["GENERIC_WEIGHTS_SEED", "generic_weights", "logical_noise", "device_noise"]

#: Seed of the generic weight vector the model is compiled with to fix its layout and gates.
GENERIC_WEIGHTS_SEED = 0
_FLOOR = 1e-12  # a λ of 0 (fidelity 1/4) would be an infinite log budget


def generic_weights(spec: QCNNSpec) -> np.ndarray:
    """A fixed weight vector, uniform in [0, 2π): no angle is special, so the transpiler
    merges nothing that trained weights would not let it merge."""
    return np.random.default_rng(GENERIC_WEIGHTS_SEED).uniform(0.0, 2 * math.pi, spec.n_weights)


def logical_noise(spec: QCNNSpec, profile: Any, seed: int = 7) -> UnitNoise:
    """The device's noise on ``spec``'s logical circuit (see the module docstring).

    Args:
        spec: the circuit (at most :data:`~qml_ops.simulation.noisy.MAX_QUBITS` qubits).
        profile: the device's :class:`~qml_ops.hardware.profiles.Profile`.
        seed: the compiler's seed (as the hardware stage's ``hardware.seed`` default).

    Raises:
        HardwareError: a circuit too large, or a device the compiler does not support.
    """
    from qml_ops.hardware.compile import compile_spec
    from qml_ops.hardware.emulator import NoiseParams

    if spec.n_qubits > MAX_QUBITS:
        raise HardwareError(f"noise-aware training supports at most {MAX_QUBITS} qubits, not {spec.n_qubits}")
    compiled = compile_spec(spec, generic_weights(spec), profile, seed=seed)
    circuit = compiled.bind_batch(np.zeros((1, spec.n_features)) + 0.5)[0]
    noise = NoiseParams.from_profile(profile)

    def log_shrink(lam: float) -> float:
        return -math.log(max(lam, _FLOOR))

    two_budget = 0.0
    one_budget: dict[int, float] = {}
    for name, qubits, _ in circuit.ops:
        if len(qubits) == 2:
            two_budget += log_shrink(noise.two_qubit.get((name, *qubits), 1.0))
        else:
            q = qubits[0]
            one_budget[q] = one_budget.get(q, 0.0) + log_shrink(noise.one_qubit.get(q, 1.0))

    unit_list = units(spec)
    costs = [u.two_qubit_cost for u in unit_list]
    two_qubit = tuple(math.exp(-two_budget * c / sum(costs)) for c in costs)

    start = {w: circuit.initial_layout[w] for w in range(spec.n_qubits)}
    routing = sum(v for q, v in one_budget.items() if q not in start.values()) / spec.n_qubits
    one_qubit = []
    for w in range(spec.n_qubits):
        applications = 1 + sum(w in u.wires for u in unit_list)
        one_qubit.append(math.exp(-(one_budget.get(start[w], 0.0) + routing) / applications))

    flip = float(noise.readout.get(circuit.readout_qubit, 0.0))
    source = f"{getattr(profile, 'device_id', 'device')}@{getattr(profile, 'snapshot_date', '?')}"
    return UnitNoise(two_qubit, tuple(one_qubit), min(max(flip, 0.0), 0.5), source)


@lru_cache(maxsize=32)
def _cached(spec: QCNNSpec, device_id: str, profile_path: str, mtime: float) -> UnitNoise:
    from qml_ops.hardware.profiles import load_profile

    return logical_noise(spec, load_profile(profile_path))


def device_noise(spec: QCNNSpec, device_id: str) -> UnitNoise:
    """:func:`logical_noise` from the device's profile (``profiles/<device_id>.json``), cached
    per circuit and profile file.

    Raises:
        HardwareError: no profile for the device, or see :func:`logical_noise`.
    """
    from qml_ops.hardware.profiles import default_profile_path

    path = default_profile_path(device_id)
    if not path.is_file():
        raise HardwareError(f"train.noise_model = {device_id!r}: no calibration profile at {path}")
    return _cached(spec, device_id, str(path), path.stat().st_mtime)
