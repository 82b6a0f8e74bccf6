"""The reference definition of the QCNN: a PennyLane QNode built from the gate list.

:func:`build_qnode` translates :meth:`QCNNSpec.gates` one gate at a time through
:data:`PL_GATES`; every faster backend is tested against it.

Example:
    >>> import torch
    >>> from qml_ops.circuits.qcnn import QCNNSpec
    >>> spec = QCNNSpec(n_qubits=4, ansatz=1, encoding="angle")
    >>> f = build_qnode(spec)
    >>> z = f(torch.zeros(spec.n_weights, dtype=torch.float64), torch.zeros(2, 4))
    >>> tuple(z.shape)
    (2,)
"""

from __future__ import annotations

from typing import Any, Callable

from qml_ops.circuits.gates import GATE_TABLE, IR_GATES
from qml_ops.circuits.ir import Gate
from qml_ops.circuits.qcnn import QCNNSpec

__all__ = ["PL_GATES", "build_qnode", "draw"]

#: IR gate name -> PennyLane operation name (looked up on ``pennylane`` lazily),
#: from :data:`qml_ops.circuits.gates.GATE_TABLE`.
PL_GATES: dict[str, str] = {name: GATE_TABLE[name].pennylane for name in IR_GATES}


def _bind(ref: tuple[str, float], weights: Any, features: Any) -> Any:
    kind, value = ref
    if kind == "w":
        return weights[int(value)]
    if kind == "x":
        return features[..., int(value)]  # keeps a leading batch dimension
    return value


def apply_gates(gates: list[Gate], weights: Any, features: Any) -> None:
    """Queue ``gates`` as PennyLane operations (inside a QNode or tape).

    Args:
        gates: the IR gate list.
        weights: 1-D array of trainable weights.
        features: ``(n_features,)`` or ``(batch, n_features)`` array (broadcast).
    """
    import pennylane as qml

    for gate in gates:
        op = getattr(qml, PL_GATES[gate.name])
        params = [_bind(ref, weights, features) for ref in gate.params]
        op(*params, wires=list(gate.wires))


def build_qnode(
    spec: QCNNSpec,
    device_name: str = "default.qubit",
    interface: str = "torch",
    diff_method: str = "backprop",
    **device_kwargs: Any,
) -> Callable[[Any, Any], Any]:
    """Build the QNode ``f(weights, features) -> ⟨Z⟩ on spec.readout_wire``.

    Args:
        spec: the circuit.
        device_name: PennyLane device (``"default.qubit"``, ``"lightning.qubit"``, …).
        interface: PennyLane interface (``"torch"``, ``"autograd"``, ``"numpy"``, …).
        diff_method: ``"backprop"`` (default.qubit), ``"adjoint"`` (lightning), …
        **device_kwargs: passed to ``qml.device`` (e.g. ``c_dtype``).

    Returns:
        The QNode. ``weights`` has shape ``(spec.n_weights,)``; ``features`` has shape
        ``(spec.n_features,)`` or ``(batch, spec.n_features)`` — a batch uses
        PennyLane's parameter broadcasting and returns ``(batch,)``. Amplitude
        features are L2-normalised by ``qml.AmplitudeEmbedding(normalize=True)``.

    Example:
        >>> import torch
        >>> spec = QCNNSpec(n_qubits=4, ansatz=9, encoding="amplitude")
        >>> f = build_qnode(spec)
        >>> w = torch.zeros(spec.n_weights, dtype=torch.float64, requires_grad=True)
        >>> f(w, torch.ones(3, 16, dtype=torch.float64)).sum().backward()
    """
    import pennylane as qml

    wires = list(range(spec.n_qubits))
    dev = qml.device(device_name, wires=wires, **device_kwargs)
    encoding, ansatz = spec.encoding_gates(), spec.ansatz_gates()
    amplitude = spec.encoding == "amplitude"

    @qml.qnode(dev, interface=interface, diff_method=diff_method)
    def qcnn(weights, features):
        if amplitude:
            qml.AmplitudeEmbedding(features, wires=wires, normalize=True)
        apply_gates(encoding, weights, features)
        apply_gates(ansatz, weights, features)
        return qml.expval(qml.PauliZ(spec.readout_wire))

    return qcnn


def draw(spec: QCNNSpec, **draw_kwargs: Any):
    """Draw the circuit with ``qml.draw_mpl`` (a run artifact).

    Args:
        spec: the circuit.
        **draw_kwargs: passed to ``qml.draw_mpl`` (e.g. ``decimals``, ``style``).

    Returns:
        The matplotlib ``Figure``.

    Example:
        >>> fig = draw(QCNNSpec(n_qubits=4, ansatz=1))
        >>> fig.savefig("qcnn.png")  # doctest: +SKIP
    """
    import numpy as np
    import pennylane as qml

    qnode = build_qnode(spec, interface="numpy", diff_method=None)
    weights = np.zeros(spec.n_weights)
    features = np.ones(spec.n_features)
    fig, _ = qml.draw_mpl(qnode, **draw_kwargs)(weights, features)
    return fig
