"""Compile the logical QCNN into verbatim Braket circuits for one QPU.

The same compiled circuit runs on the QPU, on Braket's ``LocalEmulator`` and on
the batched torch emulator (:mod:`qml_ops.hardware.emulator`). Pipeline:

1. The model's gate list (:mod:`qml_ops.circuits.ir`) is split into the
   *encoding* (leading one-qubit gates that read features) and the *core* (the
   rest, weights bound to numbers).
2. The core is transpiled once per (model, device) with Qiskit (optimisation
   level 3, fixed seeds, best of ``layout_trials`` seeds) against a
   :class:`~qiskit.transpiler.Target` built from the calibration profile:
   generic ``u`` one-qubit gates, the device's entangler (``cz``, or ``iswap``
   on Ankaa) on the profile's edges, errors ``1 - fidelity`` for gates and
   readout so layout and routing prefer good qubits and couplers.
3. Per sample, the encoding is prepended on the initially mapped physical
   qubits and each run of one-qubit gates is re-synthesised into native gates
   with *virtual Z frames* (Z rotations are tracked in software and pushed
   through the diagonal ``cz``/``zz`` gates, swapped by ``iswap``, dropped
   before the Z-basis measurement). The first run on each qubit acts on
   ``|0>`` and is emitted frame-free, so every gate after the encoding is the
   same for all samples (the emulator exploits this).

Native one-qubit forms (``W = Rz(φ)·Ry(θ)·Rz(λ)`` is the run times the
incoming frame):

==========  =====================================================  ===========
family      emitted gates (time order)                             new frame
==========  =====================================================  ===========
rigetti     rz(λ), rx(π/2), rz(θ), rx(-π/2)  (rx only ±π/2)         φ
iqm         prx(θ, π/2 - λ)                                         φ + λ
ionq        gpi2(-λ), gpi2(π - θ - λ)                               φ + θ + λ
==========  =====================================================  ===========

Two-qubit gates: ``cz`` (Cepheus, IQM) keeps frames; ``iswap`` (Ankaa) swaps
them; IonQ's CZ is ``zz(π/2)`` followed by ``Rz(-π/2)`` on both qubits (frame).

Amplitude encoding (an initial state, not gates) is compiled per sample with
Qiskit's ``StatePreparation`` ahead of the core, reusing the core's initial
layout.

Example:
    >>> from qml_ops.circuits.qcnn import QCNNSpec
    >>> from qml_ops.hardware.profiles import load_profile
    >>> spec = QCNNSpec(8, 9, "angle")
    >>> model = compile_spec(spec, weights, load_profile("iqm-garnet"))   # doctest: +SKIP
    >>> compiled = model.bind(features)                                   # doctest: +SKIP
    >>> compiled.two_qubit_gate_count, compiled.readout_qubit             # doctest: +SKIP
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Sequence

import numpy as np

from qml_ops.circuits.gates import GATE_TABLE, gate_matrix
from qml_ops.circuits.ir import GATES, Gate, resolve
from qml_ops.errors import HardwareError

__all__ = [
    "CompiledCircuit",
    "CompiledModel",
    "DeviceModel",
    "NativeOp",
    "compile_model",
    "compile_spec",
    "native_ops_to_braket",
    "zyz_angles",
]

HALF_PI = math.pi / 2
_EPS = 1e-10

#: A native gate on physical qubits: (braket gate name, qubit labels, angles).
NativeOp = tuple[str, tuple[int, ...], tuple[float, ...]]


# ----------------------------------------------------------------- device model

#: native gate set -> (family, qiskit entangler, braket entangler)
_FAMILIES = {
    frozenset({"rx", "rz", "iswap"}): ("rigetti", "iswap", "iswap"),
    frozenset({"rx", "rz", "cz"}): ("rigetti", "cz", "cz"),
    frozenset({"prx", "cz"}): ("iqm", "cz", "cz"),
    frozenset({"gpi", "gpi2", "zz"}): ("ionq", "cz", "zz"),
}
_IGNORED_NATIVE = {"barrier", "cc_prx", "measure_ff", "measure", "reset", "delay"}


@dataclass(frozen=True, eq=False)
class DeviceModel:
    """What the compiler needs from a calibration profile.

    Built by :meth:`from_profile` (a :class:`qml_ops.hardware.profiles.Profile`);
    only edges that carry a fidelity for the native entangler are used, and each
    coupler keeps the orientation the device lists (directed graphs such as
    IQM's are validated that way).
    """

    device_id: str
    family: str
    entangler: str  # braket name of the native 2-qubit gate
    qiskit_entangler: str
    qubits: tuple[int, ...]
    edges: tuple[tuple[int, int], ...]
    one_qubit_error: dict[int, float]
    readout_error: dict[int, float]
    two_qubit_error: dict[tuple[int, int], float]

    @classmethod
    def from_profile(cls, profile: Any) -> "DeviceModel":
        """Derive the compiler's view of ``profile`` (any object with the
        :class:`~qml_ops.hardware.profiles.Profile` attributes).

        Raises:
            HardwareError: for a native gate set the compiler does not know.
        """
        if isinstance(profile, DeviceModel):
            return profile
        native = frozenset(str(g).lower() for g in profile.native_gates) - _IGNORED_NATIVE
        if native not in _FAMILIES:
            raise HardwareError(
                f"device {profile.device_id}: native gate set {sorted(native)} is not supported; "
                f"supported: {[sorted(s) for s in _FAMILIES]}"
            )
        family, qk_2q, bk_2q = _FAMILIES[native]
        edges, errors = [], {}
        for key, gates in profile.two_qubit_fidelity.items():
            if bk_2q not in {str(g).lower() for g in gates}:
                continue
            a, b = (int(v) for v in str(key).split("-"))
            fid = {str(g).lower(): f for g, f in gates.items()}[bk_2q]
            edges.append((a, b))
            errors[(a, b)] = errors[(b, a)] = min(max(1.0 - float(fid), 0.0), 1.0)
        connected = {tuple(sorted((int(a), int(b)))) for a, b in profile.edges}
        edges = [e for e in edges if tuple(sorted(e)) in connected]
        if not edges:
            raise HardwareError(
                f"device {profile.device_id}: no coupler has a {bk_2q} fidelity in the profile"
            )
        return cls(
            device_id=str(profile.device_id),
            family=family,
            entangler=bk_2q,
            qiskit_entangler=qk_2q,
            qubits=tuple(sorted(int(q) for q in profile.qubits)),
            edges=tuple(sorted(edges)),
            one_qubit_error={int(q): 1.0 - float(f) for q, f in profile.one_qubit_fidelity.items()},
            readout_error={int(q): 1.0 - float(f) for q, f in profile.readout_fidelity.items()},
            two_qubit_error=errors,
        )

    @property
    def fully_connected(self) -> bool:
        n = len(self.qubits)
        return len({tuple(sorted(e)) for e in self.edges}) == n * (n - 1) // 2

    def restricted(self, n: int) -> "DeviceModel":
        """The same device cut down to its ``n`` best qubits (1-qubit plus readout
        error, ties by label). Used for all-to-all devices, where every subset is
        connected and a smaller Target keeps the layout search fast."""
        ranked = sorted(
            self.qubits,
            key=lambda q: (self.one_qubit_error.get(q, 0.0) + self.readout_error.get(q, 0.0), q),
        )
        keep = set(ranked[:n])
        edges = tuple(e for e in self.edges if e[0] in keep and e[1] in keep)
        return DeviceModel(
            device_id=self.device_id, family=self.family, entangler=self.entangler,
            qiskit_entangler=self.qiskit_entangler, qubits=tuple(sorted(keep)), edges=edges,
            one_qubit_error={q: v for q, v in self.one_qubit_error.items() if q in keep},
            readout_error={q: v for q, v in self.readout_error.items() if q in keep},
            two_qubit_error={e: v for e, v in self.two_qubit_error.items()
                             if e[0] in keep and e[1] in keep},
        )

    @cached_property
    def target(self):
        """The Qiskit ``Target`` of this device (built on first use, then kept)."""
        return _build_target(self)

    @property
    def edge_orientation(self) -> dict[tuple[int, int], tuple[int, int]]:
        """Either orientation of a coupler -> the orientation the device lists."""
        out = {}
        for a, b in self.edges:
            out.setdefault((b, a), (a, b))
            out[(a, b)] = (a, b)
        return out


def _build_target(device: DeviceModel):
    """A Qiskit Target: ``u`` on every qubit, the entangler on every coupler."""
    from qiskit.circuit import Measure, Parameter
    from qiskit.circuit.library import UGate, get_standard_gate_name_mapping
    from qiskit.transpiler import InstructionProperties, Target

    index = {q: i for i, q in enumerate(device.qubits)}
    target = Target(num_qubits=len(device.qubits))
    target.add_instruction(
        UGate(Parameter("θ"), Parameter("φ"), Parameter("λ")),
        {(index[q],): InstructionProperties(error=max(device.one_qubit_error.get(q, 0.0), 0.0))
         for q in device.qubits},
    )
    gate = get_standard_gate_name_mapping()[GATE_TABLE[device.qiskit_entangler].qiskit]
    props = {}
    for a, b in device.edges:
        err = device.two_qubit_error[(a, b)]
        props[(index[a], index[b])] = InstructionProperties(error=err)
        props[(index[b], index[a])] = InstructionProperties(error=err)
    target.add_instruction(gate, props)
    target.add_instruction(
        Measure(),
        {(index[q],): InstructionProperties(error=max(device.readout_error.get(q, 0.0), 0.0))
         for q in device.qubits},
    )
    return target


# ------------------------------------------------------------- IR -> Qiskit

def _append_ir_gate(qc, gate: Gate, angles: Sequence[float]) -> None:
    """Append one IR gate to a Qiskit circuit: ``qc.<qiskit name>(*angles, *wires)``
    (the gate table pairs each IR gate with the Qiskit gate of the same matrix)."""
    getattr(qc, GATE_TABLE[gate.name].qiskit)(*angles, *gate.wires)


def _split_encoding(gates: Sequence[Gate]) -> tuple[list[Gate], list[Gate]]:
    """(encoding, core): encoding gates read features and come first on their wire.

    Raises:
        HardwareError: if a feature-dependent gate follows another gate on its
            wire (data re-uploading is not supported by the compiler).
    """
    encoding, core, touched = [], [], set()
    for g in gates:
        reads_x = any(ref[0] == "x" for ref in g.params)
        if reads_x:
            if GATES[g.name][0] != 1 or g.wires[0] in touched:
                raise HardwareError(
                    f"gate {g.name} on wires {g.wires} reads features after other gates on its "
                    "wire; only leading one-qubit encoding gates are supported"
                )
            encoding.append(g)
        else:
            core.append(g)
            touched.update(g.wires)
    return encoding, core


# ------------------------------------------------------ 1-qubit linear algebra

def zyz_angles(u: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Angles ``(θ, φ, λ)`` with ``u ≅ Rz(φ)·Ry(θ)·Rz(λ)`` up to a global phase (batched)."""
    u = np.asarray(u, dtype=complex)
    det = u[..., 0, 0] * u[..., 1, 1] - u[..., 0, 1] * u[..., 1, 0]
    v = u / np.sqrt(det)[..., None, None]
    a, b = v[..., 0, 0], v[..., 1, 0]
    theta = 2 * np.arctan2(np.abs(b), np.abs(a))
    s = np.where(np.abs(a) > _EPS, -2 * np.angle(a), 0.0)  # φ + λ
    d = np.where(np.abs(b) > _EPS, 2 * np.angle(b), 0.0)  # φ - λ
    return theta, (s + d) / 2, (s - d) / 2


def _wrap(a):
    """Angle into (-π, π]."""
    return np.pi - np.mod(np.pi - np.asarray(a, dtype=float), 2 * np.pi)


def _is_zero_angle(a) -> bool:
    a = np.asarray(a, dtype=float)
    return bool(np.all(np.abs(_wrap(a)) < 1e-9))


# ------------------------------------------------------ native synthesis rules
# Each rule takes angle arrays (one entry per sample) and returns
# (list of (name, angles-tuple-of-arrays), new frame). ``const`` marks runs
# whose matrix is the same for every sample: only those may drop gates, so all
# samples of a model share one gate sequence.

def _rigetti_run(theta, phi, lam, const):
    if const and _is_zero_angle(theta):
        return [], phi + lam
    ops = [] if const and _is_zero_angle(lam) else [("rz", (lam,))]
    ops += [("rx", (HALF_PI,)), ("rz", (theta,)), ("rx", (-HALF_PI,))]
    return ops, phi


def _rigetti_prep(theta, phi, const):
    if const and _is_zero_angle(theta):
        return [], np.zeros_like(theta)
    ops = [("rx", (HALF_PI,)), ("rz", (theta,)), ("rx", (-HALF_PI,))]
    if not (const and _is_zero_angle(phi)):
        ops.append(("rz", (phi,)))
    return ops, np.zeros_like(theta)


def _iqm_run(theta, phi, lam, const):
    if const and _is_zero_angle(theta):
        return [], phi + lam
    return [("prx", (theta, HALF_PI - lam))], phi + lam


def _iqm_prep(theta, phi, const):
    if const and _is_zero_angle(theta):
        return [], np.zeros_like(theta)
    return [("prx", (theta, phi + HALF_PI))], np.zeros_like(theta)


def _ionq_run(theta, phi, lam, const):
    if const and _is_zero_angle(theta):
        return [], phi + lam
    return [("gpi2", (-lam,)), ("gpi2", (np.pi - theta - lam,))], phi + theta + lam


def _ionq_prep(theta, phi, const):
    if const and _is_zero_angle(theta):
        return [], np.zeros_like(theta)
    return [("gpi2", (phi + theta,)), ("gpi2", (np.pi + phi,))], np.zeros_like(theta)


_RUN_RULES = {"rigetti": _rigetti_run, "iqm": _iqm_run, "ionq": _ionq_run}
_PREP_RULES = {"rigetti": _rigetti_prep, "iqm": _iqm_prep, "ionq": _ionq_prep}


def _entangle(device: DeviceModel, a: int, b: int, frames: dict) -> list[tuple]:
    """Native ops for the Qiskit entangler on (a, b); updates ``frames`` in place."""
    a, b = device.edge_orientation.get((a, b), (a, b))
    if device.qiskit_entangler == "iswap":
        frames[a], frames[b] = frames[b], frames[a]
        return [("iswap", (a, b), ())]
    if device.entangler == "zz":  # CZ = Rz(-π/2)⊗Rz(-π/2) · ZZ(π/2)
        frames[a] = frames[a] - HALF_PI
        frames[b] = frames[b] - HALF_PI
        return [("zz", (a, b), (HALF_PI,))]
    return [("cz", (a, b), ())]


# ----------------------------------------------------------- compiled objects

@dataclass(frozen=True)
class CompiledCircuit:
    """One sample's verbatim circuit for one device.

    Attributes:
        device_id: the profile's device id.
        initial_layout: logical wire -> physical qubit at the start.
        final_layout: logical wire -> physical qubit at the end (after routing).
        readout_qubit: physical qubit measured (holds the logical readout wire).
        two_qubit_gate_count: native two-qubit gates.
        depth: native circuit depth (ASAP layers).
        ops: the native gates as ``(name, qubits, angles)``, in time order.
        circuit: (property, built on first use) the Braket circuit: the native
            gates in one verbatim box on physical qubits, then a measurement of
            ``readout_qubit``.
    """

    device_id: str
    initial_layout: dict[int, int]
    final_layout: dict[int, int]
    readout_qubit: int
    two_qubit_gate_count: int
    depth: int
    ops: tuple[NativeOp, ...] = field(repr=False, default=())

    @cached_property
    def circuit(self):
        """The verbatim Braket circuit (built lazily: the torch emulator needs only ``ops``)."""
        return native_ops_to_braket(self.ops, self.readout_qubit)

    @property
    def qubits(self) -> tuple[int, ...]:
        """Physical qubits the circuit uses, sorted."""
        used = {q for _, qs, _ in self.ops for q in qs} | {self.readout_qubit}
        return tuple(sorted(used))


def _depth(ops: Sequence[NativeOp]) -> int:
    level: dict[int, int] = {}
    for _, qs, _ in ops:
        d = 1 + max(level.get(q, 0) for q in qs)
        for q in qs:
            level[q] = d
    return max(level.values(), default=0)


def native_ops_to_braket(ops: Sequence[NativeOp], readout_qubit: int):
    """Build the verbatim Braket circuit: the native ops in a verbatim box, then
    a measurement of ``readout_qubit``. Each op becomes the Braket gate the gate
    table names for it (``prx`` -> ``braket.circuits.gates.PRx(θ, φ)``)."""
    from braket.circuits import Circuit, Instruction
    from braket.circuits import gates as braket_gates

    inner = Circuit()
    for name, qs, angles in ops:
        gate = getattr(braket_gates, GATE_TABLE[name].braket)(*angles)
        inner.add_instruction(Instruction(gate, list(qs)))
    if not ops:  # an empty verbatim box is not valid: idle readout qubit
        raise HardwareError("the compiled circuit has no gates")
    return Circuit().add_verbatim_box(inner).measure(readout_qubit)


@dataclass
class _CoreProgram:
    """The transpiled core as events on physical qubit labels."""

    events: list  # ("u", q, 2x2 matrix) | ("2q", a, b)
    initial_layout: dict[int, int]
    final_layout: dict[int, int]
    readout_qubit: int
    score: float


class CompiledModel:
    """A model transpiled for one device; :meth:`bind` makes per-sample circuits.

    Build it with :func:`compile_model` or :func:`compile_spec`.
    """

    def __init__(self, device: DeviceModel, n_qubits: int, readout_wire: int,
                 encoding: list[Gate], core: list[Gate], weights: np.ndarray,
                 amplitude: bool, program: _CoreProgram, options: dict):
        self.device = device
        self.n_qubits = n_qubits
        self.readout_wire = readout_wire
        self.encoding = encoding
        self.core = core
        self.weights = weights
        self.amplitude = amplitude
        self.program = program
        self.options = options

    @property
    def device_id(self) -> str:
        return self.device.device_id

    def bind(self, features: Sequence[float]) -> CompiledCircuit:
        """The verbatim circuit for one sample."""
        return self.bind_batch(np.asarray(features, dtype=float)[None, :])[0]

    def bind_batch(self, features: np.ndarray) -> list[CompiledCircuit]:
        """Verbatim circuits for a batch of samples (rows of ``features``)."""
        features = np.atleast_2d(np.asarray(features, dtype=float))
        if self.amplitude:
            return [self._bind_amplitude(row) for row in features]
        ops_per_sample = _synthesise(self.device, self.program, self.encoding, features)
        return [self._wrap(ops, self.program) for ops in ops_per_sample]

    # -- internals
    def _wrap(self, ops: list[NativeOp], program: _CoreProgram) -> CompiledCircuit:
        return CompiledCircuit(
            device_id=self.device.device_id,
            initial_layout=dict(program.initial_layout),
            final_layout=dict(program.final_layout),
            readout_qubit=program.readout_qubit,
            two_qubit_gate_count=sum(1 for _, qs, _ in ops if len(qs) == 2),
            depth=_depth(ops),
            ops=tuple(ops),
        )

    def _bind_amplitude(self, features: np.ndarray) -> CompiledCircuit:
        from qiskit import QuantumCircuit
        from qiskit.circuit.library import StatePreparation

        n = self.n_qubits
        if features.shape != (2**n,):
            raise HardwareError(
                f"amplitude encoding needs {2**n} features, but got {features.shape[0]}"
            )
        norm = np.linalg.norm(features)
        if not norm > 0:
            raise HardwareError("amplitude encoding needs a non-zero feature vector")
        qc = QuantumCircuit(n, 1)
        # wire 0 is the most significant bit (PennyLane); Qiskit's first qarg is the least
        qc.append(StatePreparation(features / norm), list(range(n - 1, -1, -1)))
        _append_core(qc, self.core, self.weights)
        qc.measure(self.readout_wire, 0)
        index = {q: i for i, q in enumerate(self.device.qubits)}
        layout = [index[self.program.initial_layout[i]] for i in range(n)]
        program = _transpile_best(qc, self.device, self.options, initial_layout=layout)
        ops = _synthesise(self.device, program, [], np.zeros((1, 0)))[0]
        return self._wrap(ops, program)


def _append_core(qc, core: Sequence[Gate], weights: np.ndarray) -> None:
    for g in core:
        _append_ir_gate(qc, g, [float(resolve(p, weights, ())) for p in g.params])


def _transpile_best(qc, device: DeviceModel, options: dict, initial_layout=None) -> _CoreProgram:
    """Transpile with several seeds; keep the best estimated success probability."""
    from qiskit.transpiler import generate_preset_pass_manager

    target = device.target
    best = None
    for trial in range(options["layout_trials"]):
        pm = generate_preset_pass_manager(
            optimization_level=options["optimization_level"],
            target=target,
            seed_transpiler=options["seed"] + trial,
            initial_layout=initial_layout,
        )
        out = pm.run(qc)
        program = _to_program(out, device, qc.num_qubits)
        if best is None or program.score > best.score + 1e-12:
            best = program
    return best


def _to_program(out, device: DeviceModel, n_logical: int) -> _CoreProgram:
    """Events on physical labels, layouts, readout qubit and a log-fidelity score."""
    from qiskit.quantum_info import Operator

    labels = device.qubits
    events, score, readout = [], 0.0, None
    for inst in out.data:
        op = inst.operation
        qs = [out.find_bit(q).index for q in inst.qubits]
        name = op.name
        if name == "measure":
            readout = labels[qs[0]]
            score += math.log1p(-min(device.readout_error.get(readout, 0.0), 0.999999))
        elif name == "barrier":
            continue
        elif len(qs) == 1:
            events.append(("u", labels[qs[0]], Operator(op).data))
            score += math.log1p(-min(device.one_qubit_error.get(labels[qs[0]], 0.0), 0.999999))
        elif len(qs) == 2 and name == GATE_TABLE[device.qiskit_entangler].qiskit:
            a, b = labels[qs[0]], labels[qs[1]]
            events.append(("2q", a, b))
            score += math.log1p(-min(device.two_qubit_error[(a, b)], 0.999999))
        else:
            raise HardwareError(f"transpiler left a {name} gate on qubits {qs}")
    if readout is None:
        raise HardwareError("the transpiled circuit measures no qubit")
    layout = out.layout
    init = layout.initial_index_layout(filter_ancillas=True)
    final = layout.final_index_layout(filter_ancillas=True)
    return _CoreProgram(
        events=events,
        initial_layout={i: labels[init[i]] for i in range(n_logical)},
        final_layout={i: labels[final[i]] for i in range(n_logical)},
        readout_qubit=readout,
        score=score,
    )


def _encoding_matrices(encoding: Sequence[Gate], features: np.ndarray) -> dict[int, np.ndarray]:
    """Per logical wire, the (B, 2, 2) product of its encoding gates."""
    mats: dict[int, np.ndarray] = {}
    nb = features.shape[0]
    for g in encoding:
        angles = []
        for kind, value in g.params:
            if kind == "x":
                j = int(value)
                if j >= features.shape[1]:
                    raise HardwareError(
                        f"encoding reads feature {j}, but samples have {features.shape[1]}"
                    )
                angles.append(features[:, j])
            elif kind == "c":
                angles.append(np.full(nb, float(value)))
            else:
                raise HardwareError(f"encoding gate {g.name} reads a weight; not supported")
        m = gate_matrix(g.name, *angles)
        m = np.broadcast_to(m, (nb, 2, 2))
        w = g.wires[0]
        mats[w] = m @ mats[w] if w in mats else m.copy()
    return mats


def _synthesise(device: DeviceModel, program: _CoreProgram, encoding: Sequence[Gate],
                features: np.ndarray) -> list[list[NativeOp]]:
    """Native op lists (one per sample) for the core program with the encoding prepended."""
    nb = features.shape[0]
    run_rule, prep_rule = _RUN_RULES[device.family], _PREP_RULES[device.family]
    enc = _encoding_matrices(encoding, features)
    pending: dict[int, np.ndarray] = {}  # physical qubit -> (B,2,2) run so far
    varying: dict[int, bool] = {}
    for wire, m in enc.items():
        q = program.initial_layout[wire]
        pending[q], varying[q] = m, True
    frames: dict[int, Any] = {}  # physical qubit -> (B,) frame, absent = fresh |0>
    ops: list[tuple] = []  # (name, qubits, tuple of (B,) arrays or floats)

    def flush(q: int) -> None:
        if q not in pending:
            if q not in frames:
                frames[q] = np.zeros(nb)
            return
        u, const = pending.pop(q), not varying.pop(q, False)
        if q not in frames:  # first run: acts on |0>
            theta, phi, _ = zyz_angles(u)
            emitted, frames[q] = prep_rule(theta, phi, const)
        else:
            theta, phi, lam = zyz_angles(u @ gate_matrix("rz", frames[q]))
            emitted, frames[q] = run_rule(theta, phi, lam, const)
        ops.extend((name, (q,), angles) for name, angles in emitted)

    for ev in program.events:
        if ev[0] == "u":
            _, q, m = ev
            pending[q] = m @ pending[q] if q in pending else np.broadcast_to(m, (nb, 2, 2))
        else:
            _, a, b = ev
            flush(a)
            flush(b)
            ops.extend(_entangle(device, a, b, frames))
    # trailing one-qubit runs: only the readout qubit's matters (others are not measured)
    r = program.readout_qubit
    if r in pending:
        flush(r)
    if not ops:  # e.g. a trivial circuit: keep the verbatim box non-empty
        ops.append(_identity_op(device, r))

    out: list[list[NativeOp]] = [[] for _ in range(nb)]
    for name, qs, angles in ops:
        cols = [np.broadcast_to(np.asarray(a, dtype=float), (nb,)) for a in angles]
        cols = [_wrap(c) for c in cols]
        for i in range(nb):
            out[i].append((name, qs, tuple(float(c[i]) for c in cols)))
    return out


def _identity_op(device: DeviceModel, q: int) -> tuple:
    return {"rigetti": ("rz", (q,), (0.0,)), "iqm": ("prx", (q,), (0.0, 0.0)),
            "ionq": ("gpi2", (q,), (0.0,))}[device.family]


# ------------------------------------------------------------------ public API

def compile_model(
    gates: Sequence[Gate],
    weights: Sequence[float],
    profile: Any,
    *,
    n_qubits: int,
    readout_wire: int,
    amplitude: bool = False,
    seed: int = 7,
    optimization_level: int = 3,
    layout_trials: int = 4,
) -> CompiledModel:
    """Transpile a model (IR gates + bound weights) once for one device.

    Args:
        gates: the model's IR gates (encoding gates first, then weights only).
        weights: the trained weight vector.
        profile: a :class:`~qml_ops.hardware.profiles.Profile` (or DeviceModel).
        n_qubits: logical register size.
        readout_wire: the logical wire whose Z is measured.
        amplitude: the features are an amplitude-encoded initial state
            (``2**n_qubits`` values) instead of encoding gates.
        seed: base transpiler seed (trial ``k`` uses ``seed + k``): same inputs,
            same circuits.
        optimization_level: Qiskit preset level (3 by default).
        layout_trials: seeds tried; the layout with the best estimated success
            probability (product of gate and readout fidelities) wins.

    Raises:
        HardwareError: unsupported device or gates, bad readout wire.
    """
    from qiskit import QuantumCircuit

    if not 0 <= readout_wire < n_qubits:
        raise HardwareError(f"readout_wire must be in 0..{n_qubits - 1}, but got {readout_wire}")
    if layout_trials < 1:
        raise HardwareError(f"layout_trials must be >= 1, but got layout_trials={layout_trials}")
    device = DeviceModel.from_profile(profile)
    if n_qubits > len(device.qubits):
        raise HardwareError(
            f"device {device.device_id} has {len(device.qubits)} qubits; the model needs {n_qubits}"
        )
    if device.fully_connected:
        device = device.restricted(n_qubits)
    weights = np.asarray(weights, dtype=float)
    encoding, core = _split_encoding(gates)
    if amplitude and encoding:
        raise HardwareError("amplitude encoding takes no feature-reading gates")
    qc = QuantumCircuit(n_qubits, 1)
    _append_core(qc, core, weights)
    qc.measure(readout_wire, 0)
    options = dict(seed=seed, optimization_level=optimization_level, layout_trials=layout_trials)
    program = _transpile_best(qc, device, options)
    return CompiledModel(device, n_qubits, readout_wire, encoding, core, weights,
                         amplitude, program, options)


def compile_spec(spec: Any, weights: Sequence[float], profile: Any, **options) -> CompiledModel:
    """:func:`compile_model` for a :class:`~qml_ops.circuits.qcnn.QCNNSpec`."""
    return compile_model(
        spec.gates(), weights, profile, n_qubits=spec.n_qubits,
        readout_wire=spec.readout_wire, amplitude=spec.encoding == "amplitude", **options,
    )
