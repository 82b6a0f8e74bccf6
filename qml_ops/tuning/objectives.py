"""What a tuning trial is measured by on a target device: compiled gates, emulated accuracy, price.

``tune.objectives`` draws from :data:`qml_ops.config.OBJECTIVES`; all but
``val_accuracy`` are measured on a target device (``tune.target_devices``) by
:class:`DeviceMeasures`:

* ``two_qubit_gates``: native two-qubit gates of the trial's trained model
  compiled for the device (:func:`qml_ops.hardware.compile.compile_spec`, the
  compiler and seed the hardware stage uses: ``hardware.seed``). Measured on
  every trial, whatever the objectives, since compiling is cheap (0.1–0.5 s at
  8 qubits).
* ``emulated_accuracy``: the device's calibrated emulator
  (:func:`qml_ops.hardware.emulator.exact_p1`: LocalEmulator's channels,
  readout error included) on at most ``tune.emulation_samples`` samples of the
  validation split, at the cheapest setting: exact probabilities (the
  infinite-shot limit, no shot noise; the hardware stage adds shots).
* ``cost_per_inference_usd``: the device's price of one inference of the run
  the hardware stage would make (``hardware.shots``, ``hardware.n_samples``,
  program sets or not, ``hardware.prices``; :func:`qml_ops.cost.estimate`). It
  depends on the device only, so it needs several target devices.

Cost stays small: profiles, the Qiskit target of each device and the emulator's
channels are built once per device, and compiled models are cached per distinct
input (circuit, device, weights): the transpiler merges gates at special angles
(all-zero weights compile to fewer two-qubit gates than generic ones), so the
count is taken on the trial's trained weights, and the one compile serves both
its gate count and its emulation. The count on generic weights, cached per
(ansatz, device), is known before training (for pruning, and for trials that
do not finish).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import numpy as np

from qml_ops.circuits.qcnn import QCNNSpec
from qml_ops.config import DEVICE_OBJECTIVES, OBJECTIVES, HardwareParams, TuneParams

__all__ = ["OBJECTIVES", "DEVICE_OBJECTIVES", "CompiledCount", "DeviceMeasures", "directions", "emulation_subsample"]


def directions(objectives: list[str]) -> list[str]:
    """Optuna's direction of each objective (``maximize`` / ``minimize``)."""
    return [OBJECTIVES[name] for name in objectives]


def emulation_subsample(n: int, size: int, seed: int) -> np.ndarray:
    """Indices of the validation samples the emulator runs (all of them when ``n <= size``; sorted)."""
    if n <= size:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, size=size, replace=False))


@dataclass(frozen=True)
class CompiledCount:
    """A model compiled for one device: its native two-qubit gates and depth (one sample's circuit)."""

    device: str
    two_qubit_gates: int
    depth: int


class DeviceMeasures:
    """Compile, emulate and price a trial's model on target devices, with caches (see the module docstring).

    Args:
        tune: the ``tune`` section (target devices, emulation subsample).
        hardware: the ``hardware`` section (compiler seed, shots, prices).
    """

    def __init__(self, tune: TuneParams, hardware: HardwareParams):
        self.tune, self.hardware = tune, hardware
        self._profiles: dict[str, Any] = {}
        self._devices: dict[str, Any] = {}
        self._noise: dict[str, Any] = {}
        self._compiled: dict[tuple, Any] = {}

    # -- per device, once
    def profile(self, device_id: str):
        if device_id not in self._profiles:
            from qml_ops.hardware.compile import DeviceModel
            from qml_ops.hardware.profiles import load_profile

            self._profiles[device_id] = load_profile(device_id)
            self._devices[device_id] = DeviceModel.from_profile(self._profiles[device_id])  # its Qiskit target, once
        return self._profiles[device_id]

    def _noise_params(self, device_id: str):
        if device_id not in self._noise:
            from qml_ops.hardware.emulator import NoiseParams

            self._noise[device_id] = NoiseParams.from_profile(self.profile(device_id))
        return self._noise[device_id]

    # -- per distinct input, once
    def compiled(self, spec: QCNNSpec, weights: np.ndarray, device_id: str):
        """The model compiled for the device (cached per circuit, device and weights)."""
        weights = np.ascontiguousarray(weights, dtype=np.float64)
        key = (spec, device_id, hashlib.sha256(weights.tobytes()).hexdigest())
        if key not in self._compiled:
            from qml_ops.hardware.compile import compile_spec

            self.profile(device_id)
            self._compiled[key] = compile_spec(spec, weights, self._devices[device_id], seed=self.hardware.seed)
        return self._compiled[key]

    def count(self, spec: QCNNSpec, weights: np.ndarray, device_id: str, sample: np.ndarray) -> CompiledCount:
        """Two-qubit gates and depth of one sample's circuit (angle encodings: the same for every sample)."""
        circuit = self.compiled(spec, weights, device_id).bind(np.asarray(sample, dtype=float))
        return CompiledCount(device_id, int(circuit.two_qubit_gate_count), int(circuit.depth))

    def generic_count(self, spec: QCNNSpec, device_id: str, sample: np.ndarray) -> CompiledCount:
        """The count on generic weights: known before training, cached per (circuit, device)."""
        from qml_ops.hardware.noise_aware import generic_weights

        return self.count(spec, generic_weights(spec), device_id, sample)

    def emulated_accuracy(self, model: Any, device_id: str, X: np.ndarray, y: np.ndarray) -> float:
        """Accuracy of the fitted ``model`` on the device's emulator, exact probabilities, on a subsample."""
        from qml_ops.hardware.emulator import exact_p1

        idx = emulation_subsample(len(X), self.tune.emulation_samples, self.tune.seed)
        circuits = self.compiled(model.spec, model.weights_, device_id).bind_batch(X[idx])
        p1 = exact_p1(circuits, self._noise_params(device_id))
        predicted = model.classes_[(p1 > 0.5).astype(np.int64)]
        return float(np.mean(predicted == np.asarray(y)[idx]))

    def cost_per_inference_usd(self, device_id: str) -> float:
        """The price of one inference on the device, as the hardware stage would run it."""
        from qml_ops.cost import estimate
        from qml_ops.hardware.devices import get_device, with_prices

        hw = self.hardware
        device = get_device(device_id)
        override = hw.prices.get(device_id)  # hardware.prices, as the hardware stage applies them
        if override is not None:
            device = with_prices(device, per_task=override.per_task, per_shot=override.per_shot)
        est = estimate(device, hw.n_samples, hw.shots, one_task_per_inference=hw.one_task_per_inference)
        return float(est.cost_usd) / hw.n_samples
