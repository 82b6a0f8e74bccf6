"""``qml-ops devices …`` and ``qml-ops hardware estimate`` through the CLI."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from qml_ops.cli import main
from qml_ops.hardware import commands
from qml_ops.hardware.profiles import SNAPSHOTS_DIR

REPO = Path(__file__).resolve().parents[2]
CALIBRATION = REPO / SNAPSHOTS_DIR  # the project's own copy of the Braket device documents
GARNET = CALIBRATION / "iqm-garnet_2026-05-05.json"
GARNET_OLD = CALIBRATION / "iqm-garnet_2025-07-06.json"
FAKE_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYFAKESECRET"


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def project(tmp_path, monkeypatch):
    monkeypatch.setenv("QML_OPS_PROJECT_ROOT", str(tmp_path))
    return tmp_path


@pytest.fixture
def no_aws(tmp_path, monkeypatch):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
                 "AWS_DEFAULT_PROFILE", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
                 "AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_WEB_IDENTITY_TOKEN_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


# ------------------------------------------------------------------ devices

def test_devices_table(capsys):
    code, out, _ = run(capsys, "devices")
    assert code == 0
    for device_id in ("rigetti-ankaa-3", "rigetti-cepheus-1-108q", "iqm-garnet", "iqm-emerald",
                      "ionq-forte-enterprise-1", "local"):
        assert device_id in out
    ankaa = next(line for line in out.splitlines() if line.startswith("rigetti-ankaa-3"))
    assert "RETIRED" in ankaa and "rigetti-cepheus-1-108q" in ankaa and "$0.0009" in ankaa
    assert "100–5000" in out and "prx,cz" in out


def test_devices_json(capsys):
    code, out, _ = run(capsys, "devices", "--json")
    assert code == 0
    docs = {d["id"]: d for d in json.loads(out)}
    assert docs["iqm-garnet"]["price_per_shot_usd"] == 0.00145
    assert docs["iqm-garnet"]["region"] == "eu-north-1"
    assert docs["ionq-forte-enterprise-1"]["supports_program_sets"] is False
    assert docs["rigetti-ankaa-3"]["successor"] == "rigetti-cepheus-1-108q"


def test_devices_profile_from_repository(capsys, monkeypatch):
    monkeypatch.setenv("QML_OPS_PROJECT_ROOT", str(REPO))
    code, out, _ = run(capsys, "devices", "profile", "iqm-garnet", "--json")
    assert code == 0
    summary = json.loads(out)
    assert summary["snapshot_date"] == "2026-05-05"
    assert summary["n_qubits"] == 20 and summary["qubit_labels"] == [1, 20]
    assert 0.99 < summary["median_two_qubit_fidelity"] < 1
    code, out, _ = run(capsys, "devices", "profile", "rigetti-ankaa-3")
    assert code == 0
    assert "median 1q fidelity" in out and "uncalibrated qubits: 10, 17, 53, 79" in out


def test_devices_profile_missing(capsys, project):
    code, _, err = run(capsys, "devices", "profile", "iqm-emerald")
    assert code == 1
    assert "no calibration profile" in err and "devices derive" in err


def test_derive_to_default_path_then_profile(capsys, project):
    code, out, _ = run(capsys, "devices", "derive", str(GARNET))
    assert code == 0 and "iqm-garnet" in out
    path = project / "profiles" / "iqm-garnet.json"
    assert json.loads(path.read_text())["format"] == "qml-ops-profile/1"
    code, out, _ = run(capsys, "devices", "profile", "iqm-garnet")
    assert code == 0 and "2026-05-05" in out
    # an older snapshot over a newer profile: warned
    code, _, err = run(capsys, "devices", "derive", str(GARNET_OLD))
    assert code == 0 and "older snapshot" in err


def test_derive_with_out_and_device(capsys, tmp_path):
    out_path = tmp_path / "sub" / "g.json"
    code, _, _ = run(capsys, "devices", "derive", str(GARNET), "--device", "iqm-garnet",
                     "--out", str(out_path))
    assert code == 0 and out_path.is_file()
    code, _, err = run(capsys, "devices", "derive", str(GARNET), "--device", "nope")
    assert code == 1 and "unknown device 'nope'" in err
    code, _, err = run(capsys, "devices", "derive", str(GARNET), "--device",
                       "ionq-forte-enterprise-1", "--out", str(tmp_path / "x.json"))
    assert code == 1 and "iqm snapshot cannot be a profile of ionq-forte-enterprise-1" in err
    code, _, err = run(capsys, "devices", "derive", str(tmp_path / "missing.json"))
    assert code == 1 and "cannot read snapshot" in err


def test_derive_defaults_to_the_snapshot_folder(capsys, project):
    """Without SNAPSHOT, every profile is re-derived from its newest document,
    byte for byte what the repository holds."""
    code, _, err = run(capsys, "devices", "derive")
    assert code == 1 and "no device documents in" in err and "profiles/snapshots" in err
    shutil.copytree(CALIBRATION, project / SNAPSHOTS_DIR)
    code, out, _ = run(capsys, "devices", "derive", "--device", "iqm-garnet")
    assert code == 0 and out.count("wrote") == 1 and "2026-05-05" in out
    code, _, err = run(capsys, "devices", "derive", "--out", str(project / "x.json"))
    assert code == 1 and "--out names one file" in err
    code, out, _ = run(capsys, "devices", "derive")
    assert code == 0 and out.count("wrote") == 5
    for path in sorted((REPO / "profiles").glob("*.json")):
        assert (project / "profiles" / path.name).read_bytes() == path.read_bytes(), path.name
    code, _, err = run(capsys, "devices", "derive", "--device", "ionq-forte-enterprise-1")
    assert code == 0
    (project / SNAPSHOTS_DIR / "ionq-forte-enterprise-1_2026-05-03.json").unlink()
    code, _, err = run(capsys, "devices", "derive", "--device", "ionq-forte-enterprise-1")
    assert code == 1 and "no snapshot of ionq-forte-enterprise-1" in err


def test_json_output_into_a_closed_pipe_is_quiet():
    """``qml-ops devices --json | head -c 10``: no BrokenPipeError traceback."""
    proc = subprocess.run(
        f"'{sys.executable}' -m qml_ops.cli devices --json | head -c 10",
        shell=True, capture_output=True, text=True, cwd=REPO, timeout=120,
        executable="/bin/bash",
    )
    assert proc.stdout == "[\n  {\n    "
    assert "Traceback" not in proc.stderr and "BrokenPipe" not in proc.stderr, proc.stderr
    assert proc.stderr == ""


def test_output_into_a_pipe_closed_before_writing_exits_141_quietly():
    """The reader is gone before the first write: the deterministic form of the case above."""
    proc = subprocess.Popen([sys.executable, "-m", "qml_ops.cli", "devices", "--json"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=REPO)
    proc.stdout.close()
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 141
    assert err == ""


def test_snapshot_without_credentials(capsys, project, no_aws):
    code, out, err = run(capsys, "devices", "snapshot", "iqm-garnet")
    assert code == 1
    assert "no AWS credentials" in err and out == ""


def test_snapshot_refuses_local_and_retired(capsys, project):
    code, _, err = run(capsys, "devices", "snapshot", "local")
    assert code == 1 and "no calibration" in err
    code, _, err = run(capsys, "devices", "snapshot", "rigetti-ankaa-3")
    assert code == 1 and "rigetti-cepheus-1-108q" in err


def test_snapshot_saves_live_properties(capsys, project, monkeypatch):
    seen = []

    def fake_fetch(device):
        seen.append(device.arn)
        return GARNET.read_text()

    monkeypatch.setattr(commands, "fetch_properties_json", fake_fetch)
    code, out, _ = run(capsys, "devices", "snapshot", "iqm-garnet")
    assert code == 0 and seen == ["arn:aws:braket:eu-north-1::device/qpu/iqm/Garnet"]
    saved = json.loads((project / "profiles" / "iqm-garnet.json").read_text())
    assert saved["source"] == "iqm-garnet_live.json" and saved["snapshot_date"] == "2026-05-05"


def test_snapshot_access_denied_never_prints_secrets(capsys, project, no_aws, monkeypatch):
    aws = pytest.importorskip("braket.aws")
    from botocore.exceptions import ClientError

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAFAKEFAKEFAKE0000")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", FAKE_SECRET)

    class DeniedDevice:
        def __init__(self, arn, aws_session=None):
            raise ClientError(
                {"Error": {"Code": "AccessDeniedException", "Message": "not authorized"}},
                "GetDevice",
            )

    monkeypatch.setattr(aws, "AwsDevice", DeniedDevice)
    code, out, err = run(capsys, "devices", "snapshot", "iqm-garnet")
    assert code == 1
    assert "AccessDeniedException" in err and "not authorized" in err
    assert FAKE_SECRET not in out + err and "AKIAFAKE" not in out + err


# ----------------------------------------------------------------- hardware

def test_estimate_json_one_device(capsys):
    code, out, err = run(capsys, "hardware", "estimate", "--device", "iqm-garnet",
                         "--samples", "48", "--shots", "512", "--one-task-per-inference", "--json")
    assert code == 0 and err == ""
    assert json.loads(out) == {
        "device": "iqm-garnet", "tasks": 48, "shots_total": 24576, "cost_usd": 50.04,
        "per_task_usd": 0.3, "per_shot_usd": 0.00145, "program_sets": False,
    }


def test_estimate_json_several_devices_and_retired_warning(capsys):
    code, out, err = run(capsys, "hardware", "estimate", "--device", "rigetti-ankaa-3",
                         "--device", "ionq-forte-enterprise-1", "--device", "iqm-emerald",
                         "--samples", "48", "--shots", "1024", "--json")
    assert code == 0
    docs = json.loads(out)
    assert [d["device"] for d in docs] == ["rigetti-ankaa-3", "ionq-forte-enterprise-1",
                                           "iqm-emerald"]
    assert docs[1]["cost_usd"] == 3946.56 and docs[1]["tasks"] == 48
    assert docs[0]["program_sets"] is True and docs[0]["tasks"] == 1
    assert "retired" in err and "rigetti-cepheus-1-108q" in err


def test_estimate_table(capsys):
    code, out, _ = run(capsys, "hardware", "estimate", "--device", "rigetti-ankaa-3",
                       "--device", "ionq-forte-enterprise-1", "--samples", "48",
                       "--shots", "512", "--one-task-per-inference")
    assert code == 0
    assert "$36.52" in out and "$1,980.48" in out
    assert "23.8 s" in out and "5.0 h" in out  # 48 x 0.495 s, 48 x 371.405 s


def test_estimate_errors(capsys):
    code, _, err = run(capsys, "hardware", "estimate", "--device", "ionq-forte-enterprise-1",
                       "--samples", "48", "--shots", "50")
    assert code == 2 and "shots=50" in err and "100–5000" in err
    code, _, err = run(capsys, "hardware", "estimate", "--device", "ibm-eagle",
                       "--samples", "1", "--shots", "100")
    assert code == 1 and "unknown device 'ibm-eagle'" in err
    with pytest.raises(SystemExit):
        main(["hardware", "estimate", "--samples", "1", "--shots", "1"])  # --device required


def test_hardware_without_subcommand_prints_help(capsys):
    code, out, _ = run(capsys, "hardware")
    assert code == 2 and "estimate" in out
