"""Bad tuning and noise-aware params stop at `qml-ops params check` and before the tune stage does any work;
the hardware measures of a trial (compile cache, gate counts, subsample)."""

import dataclasses
import subprocess
import sys

import numpy as np
import pytest

from qml_ops.circuits.qcnn import QCNNSpec
from qml_ops.config import OBJECTIVES, NOISY_MAX_QUBITS, parse_params
from qml_ops.config_commands import all_checks
from qml_ops.errors import ConfigError
from qml_ops.hardware import devices
from qml_ops.simulation.noisy import MAX_QUBITS
from qml_ops.tuning.objectives import DeviceMeasures, emulation_subsample
from project_fixtures import REPO, files_under, make_project, use_project


@pytest.mark.parametrize(
    "data, key, fragment",
    [
        ({"tune": {"objectives": ["val_accuracy", "fidelity"]}}, "tune.objectives.1 = 'fidelity'",
         "'val_accuracy', 'two_qubit_gates', 'emulated_accuracy' or 'cost_per_inference_usd'"),
        ({"tune": {"objectives": []}}, "tune.objectives", "at least 1 item"),
        ({"tune": {"objectives": ["val_accuracy", "val_accuracy"]}}, "tune.objectives", "listed twice"),
        ({"tune": {"objectives": ["two_qubit_gates"]}}, "tune.objectives = ['two_qubit_gates']",
         "needs val_accuracy or emulated_accuracy"),
        ({"tune": {"target_devices": ["iqm-garnet", "nope"]}}, "tune.target_devices = ['iqm-garnet', 'nope']",
         "unknown device 'nope'; known QPUs:"),
        ({"tune": {"target_devices": ["rigetti-ankaa-3"]}}, "tune.target_devices",
         "retired (since 2026-04); use its successor 'rigetti-cepheus-1-108q'"),
        ({"tune": {"target_devices": ["local"]}}, "tune.target_devices", "'local' is the noiseless simulator"),
        ({"tune": {"objectives": ["val_accuracy", "emulated_accuracy"], "target_devices": []}},
         "tune.target_devices = []", "measured on a target device"),
        ({"tune": {"objectives": ["val_accuracy", "cost_per_inference_usd"]}}, "tune.objectives",
         "needs two or more tune.target_devices"),
        ({"tune": {"select": {"tolerance": 1.5}}}, "tune.select.tolerance = 1.5", "less than or equal to 1"),
        ({"tune": {"select": {"tolerance": -0.1}}}, "tune.select.tolerance = -0.1", "greater than or equal to 0"),
        ({"tune": {"select": {"rule": "fewest"}}}, "tune.select.rule = 'fewest'", "'min_two_qubit_gates'"),
        ({"tune": {"select": {"rule": "max_emulated_accuracy"}}}, "tune.select.rule", "needs emulated_accuracy"),
        ({"tune": {"objectives": ["val_accuracy", "two_qubit_gates"], "sampler": "cmaes"}}, "tune.sampler = 'cmaes'",
         "CMA-ES is single-objective"),
        ({"tune": {"objectives": ["val_accuracy", "emulated_accuracy"]}, "encode": {"n_qubits": 16}},
         "tune.objectives", "encode.n_qubits is 16"),
        ({"train": {"noise_model": "ionq-aria"}}, "train.noise_model = 'ionq-aria'", "unknown device 'ionq-aria'"),
        ({"train": {"noise_model": "iqm-garnet"}, "encode": {"n_qubits": 16}}, "train.noise_model = 'iqm-garnet'",
         "encode.n_qubits <= 8"),
        ({"tune": {"objectives": ["val_accuracy", "cost_per_inference_usd"],
                   "target_devices": ["iqm-garnet", "ionq-forte-enterprise-1"]},
          "hardware": {"devices": ["iqm-garnet"], "shots": 50}}, "hardware.shots = 50",
         "prices ionq-forte-enterprise-1, which accepts 100–5000 shots"),
    ],
)
def test_bad_tuning_params_name_key_value_and_allowed(data, key, fragment):
    with pytest.raises(ConfigError) as info:
        parse_params(data, source="p.yaml", checks=all_checks())
    message = str(info.value)
    assert message.startswith("p.yaml: invalid params")
    assert key in message
    assert fragment in message


def test_a_target_device_too_small_for_the_model(monkeypatch):
    small = dataclasses.replace(devices.DEVICES["iqm-garnet"], n_qubits=6)
    monkeypatch.setitem(devices.DEVICES, "iqm-garnet", small)
    with pytest.raises(ConfigError, match=r"tune.target_devices = \['iqm-garnet'\]: device 'iqm-garnet' has 6 "
                                          r"qubits and cannot host the model's 8 \(encode.n_qubits\)"):
        parse_params({"tune": {"target_devices": ["iqm-garnet"]}}, checks=all_checks())
    with pytest.raises(ConfigError, match="train.noise_model = 'iqm-garnet': device 'iqm-garnet' has 6 qubits"):
        parse_params({"train": {"noise_model": "iqm-garnet"}, "tune": {"target_devices": []}}, checks=all_checks())
    parse_params({"encode": {"n_qubits": 4}, "tune": {"target_devices": ["iqm-garnet"]}}, checks=all_checks())


def test_one_place_for_each_limit_and_objective():
    assert NOISY_MAX_QUBITS == MAX_QUBITS
    assert set(OBJECTIVES) == {"val_accuracy", "two_qubit_gates", "emulated_accuracy", "cost_per_inference_usd"}


def test_params_check_and_the_tune_stage_refuse_before_any_work(tmp_path, monkeypatch):
    root = make_project(tmp_path / "proj")
    use_project(monkeypatch, root)
    text = (root / "params.yaml").read_text().replace("tune:\n", "tune:\n  target_devices: [nope]\n", 1)
    (root / "params.yaml").write_text(text)
    before = files_under(root)
    for command in ([sys.executable, "-m", "qml_ops.cli", "params", "check"],
                    [sys.executable, str(REPO / "pipelines" / "tune.py")],
                    [sys.executable, "-m", "qml_ops.cli", "tune"]):
        proc = subprocess.run(command, cwd=root, capture_output=True, text=True, timeout=300)
        assert proc.returncode == 2, proc.stderr
        assert "tune.target_devices = ['nope']: unknown device 'nope'" in proc.stderr
        assert "Traceback" not in proc.stderr
    assert files_under(root) == before, "nothing was written: no study, no MLflow run, no outputs"


def test_device_measures_compile_once_per_input_and_weights_matter(monkeypatch):
    monkeypatch.setenv("QML_OPS_PROJECT_ROOT", str(REPO))
    params = parse_params({"encode": {"n_qubits": 4}})
    measures = DeviceMeasures(params.tune, params.hardware)
    spec = QCNNSpec(4, 9, "angle")
    sample = np.full(4, 0.3)
    trained = np.random.default_rng(1).uniform(0, 2 * np.pi, spec.n_weights)
    first = measures.count(spec, trained, "iqm-garnet", sample)
    assert measures.count(spec, trained.copy(), "iqm-garnet", sample) == first
    assert len(measures._compiled) == 1  # the same input is compiled once
    assert measures.generic_count(spec, "iqm-garnet", sample).two_qubit_gates == first.two_qubit_gates
    # special angles let the transpiler merge gates: the count is taken on each trial's own weights
    zeros = measures.count(spec, np.zeros(spec.n_weights), "iqm-garnet", sample)
    assert zeros.two_qubit_gates < first.two_qubit_gates
    assert len(measures._compiled) == 3


def test_emulation_subsample_is_fixed_and_bounded():
    assert list(emulation_subsample(5, 10, 0)) == [0, 1, 2, 3, 4]
    a, b = emulation_subsample(100, 12, 3), emulation_subsample(100, 12, 3)
    assert len(a) == 12 and len(set(a)) == 12 and list(a) == list(b) == sorted(a)
