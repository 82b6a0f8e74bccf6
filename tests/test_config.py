import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from qml_ops.cli import main
from qml_ops.config import load_params, parse_params
from qml_ops.config_commands import all_checks
from qml_ops.errors import ConfigError

REPO = Path(__file__).resolve().parents[1]


def test_repo_params_are_valid():
    params = load_params(REPO / "params.yaml")
    assert params.prepare.dataset == "digits"
    assert params.encode.n_qubits == 8


def test_defaults_fill_missing_sections():
    params = parse_params({})
    assert params.train.optimizer == "adam"
    assert params.encode.n_features() == 8


@pytest.mark.parametrize(
    "data, key, fragment",
    [
        ({"train": {"lr": -0.1}}, "train.lr = -0.1", "greater than 0"),
        ({"train": {"lrr": 0.1}}, "unknown key 'train.lrr'", "allowed in train"),
        ({"bogus": 1}, "unknown key 'bogus'", "allowed in the top level"),
        ({"train": {"epochs": "ten"}}, "train.epochs = 'ten'", "integer"),
        ({"train": {"epochs": 2.5}}, "train.epochs = 2.5", "integer"),
        ({"encode": {"method": "angel"}}, "encode.method = 'angel'", "'angle', 'dense_angle' or 'amplitude'"),
        ({"encode": {"n_qubits": 6}}, "encode.n_qubits = 6", "[4, 8, 16]"),
        ({"model": {"ansatz": 10}}, "model.ansatz = 10", "less than or equal to 9"),
        ({"prepare": {"classes": [3, 3]}}, "prepare.classes = [3, 3]", "must differ"),
        ({"prepare": {"classes": [0, 1, 2]}}, "prepare.classes", "exactly two"),
        ({"prepare": {"dataset": "file"}}, "prepare", "needs prepare.path"),
        ({"prepare": {"split": {"train": 0.5, "val": 0.1, "test": 0.1}}}, "prepare.split", "sum to 1"),
        ({"hardware": {"devices": ["rigetti-ankaa-3"]}}, "hardware.devices = ['rigetti-ankaa-3']",
         "retired (since 2026-04); use its successor 'rigetti-cepheus-1-108q'"),
        ({"hardware": {"devices": ["iqm-garnet", "nope"]}}, "hardware.devices", "unknown device 'nope'"),
        ({"hardware": {"devices": ["local"]}}, "hardware.devices", "'local' is the noiseless simulator"),
        ({"hardware": {"shots": 20}}, "hardware.shots = 20", "ionq-forte-enterprise-1 accepts 100–5000 shots"),
        ({"hardware": {"mode": "qpu"}}, "hardware.s3_bucket", "needs an S3 bucket"),
        ({"hardware": {"mode": "sim"}}, "hardware.mode = 'sim'", "'emulate', 'qpu' or 'off'"),
        ({"tune": {"space": {"lr": {"low": 0.1, "high": 0.01}}}}, "tune.space.lr", "low must be < high"),
        ({"tune": {"space": {"ansatz": [0, 3]}}}, "tune.space.ansatz = [0, 3]", "in 1..9"),
        ({"tune": {"sampler": "grid"}}, "tune.sampler = 'grid'", "'tpe', 'random' or 'cmaes'"),
        ({"tune": {"storage": "redis://x"}}, "tune.storage = 'redis://x'", "an RDB URL"),
        (
            {"encode": {"method": "amplitude", "amplitude_mode": "pad", "n_qubits": 4}},
            "encode.amplitude_mode = 'pad'",
            "64 features, more than 2^4 = 16",
        ),
    ],
)
def test_bad_values_name_key_value_and_allowed(data, key, fragment):
    with pytest.raises(ConfigError) as info:
        parse_params(data, source="p.yaml", checks=all_checks())
    message = str(info.value)
    assert message.startswith("p.yaml: invalid params")
    assert key in message
    assert fragment in message


def test_missing_and_malformed_files(tmp_path):
    with pytest.raises(ConfigError, match="params file not found"):
        load_params(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("train: {lr: 0.1\n")
    with pytest.raises(ConfigError, match="not valid YAML at line"):
        load_params(bad)


def test_yaml_off_means_mode_off(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text("hardware:\n  mode: off\n")
    assert load_params(path).hardware.mode == "off"


def test_flat_params_use_dotted_keys():
    flat = parse_params({}).flat()
    assert flat["train.lr"] == 0.01
    assert flat["prepare.split.train"] == 0.65


def test_cli_params_check(tmp_path, capsys):
    good = tmp_path / "good.yaml"
    good.write_text((REPO / "params.yaml").read_text())
    assert main(["params", "check", "--params", str(good)]) == 0
    corrupted = yaml.safe_load(good.read_text())
    corrupted["encode"]["n_qubits"] = 7
    good.write_text(yaml.safe_dump(corrupted))
    assert main(["params", "check", "--params", str(good)]) == 2
    err = capsys.readouterr().err
    assert "encode.n_qubits = 7" in err and "Traceback" not in err


def test_console_script_exit_code_without_traceback(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("encode: {method: angle, n_qubits: three}\n")
    proc = subprocess.run(
        [sys.executable, "-m", "qml_ops.cli", "params", "check", "--params", str(bad)],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2
    assert "encode.n_qubits = 'three'" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_qubit_counts_ansatz_ids_and_encodings_come_from_the_circuit():
    from qml_ops import config
    from qml_ops.circuits.ansatz import CONV_ANSATZE
    from qml_ops.circuits.qcnn import ENCODINGS, N_QUBITS, QCNNSpec

    assert config.QUBIT_COUNTS is N_QUBITS and config.ANSATZ_IDS == tuple(sorted(CONV_ANSATZE))
    assert parse_params({}).tune.space.ansatz == sorted(CONV_ANSATZE)
    for ansatz in CONV_ANSATZE:
        assert parse_params({"model": {"ansatz": ansatz}}).model.ansatz == ansatz
    for n_qubits in N_QUBITS:
        for method in ENCODINGS:
            if method != "amplitude" or n_qubits < 16:
                encode = parse_params({"encode": {"n_qubits": n_qubits, "method": method}}).encode
                assert encode.n_features() == QCNNSpec(n_qubits, 1, method).n_features
    with pytest.raises(ConfigError, match=r"model.ansatz = 0: .*greater than or equal to 1"):
        parse_params({"model": {"ansatz": 0}})


def test_catalogue_checks_run_only_where_asked():
    """The schema alone does not know the device catalogue (so stages other than `hardware` do not depend on
    it); `qml-ops params check` and the hardware stage add the catalogue checks."""
    data = {"hardware": {"devices": ["rigetti-cepheus-1-108q", "nope"], "shots": 5}}
    assert parse_params(data).hardware.devices == ["rigetti-cepheus-1-108q", "nope"]
    with pytest.raises(ConfigError) as info:
        parse_params(data, source="p.yaml", checks=all_checks())
    message = str(info.value)
    assert "(2 errors)" in message and "unknown device 'nope'" in message and "hardware.shots = 5" in message


def test_params_check_command_runs_catalogue_checks(tmp_path, capsys):
    path = tmp_path / "p.yaml"
    path.write_text("hardware:\n  devices: [rigetti-ankaa-3]\n")
    assert main(["params", "check", "--params", str(path)]) == 2
    assert "use its successor 'rigetti-cepheus-1-108q'" in capsys.readouterr().err
