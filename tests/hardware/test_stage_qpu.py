"""The hardware stage in mode `qpu`, end to end against Stubber-checked Braket and moto S3:
with budget and a recorded approval (`qml-ops hardware approve --yes`) it creates exactly the
estimated tasks, a re-run creates none, and a retrained model under the used approval creates none."""

import hashlib
import io
import json
import tempfile
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest

from qml_ops.cli import main
from qml_ops.config import load_params
from qml_ops.hardware.qpu import aws as qpu_aws
from qml_ops.hardware.compile import compile_spec
from qml_ops.hardware.profiles import load_profile
from qml_ops.hardware.devices import get_device
from qml_ops.hardware.reporting import load_model, validation_samples
from qml_ops.hardware.validation import estimates
from qml_ops.stage import run_stage
from qml_ops.training import train_and_register
from qml_ops.training_data import load_encoded
from project_fixtures import make_project, use_project
from tests.hardware.qpu_fixtures import FakeBraket
from tests.hardware.test_qpu import _s3, assert_no_secrets, aws  # noqa: F401  (fixture)
from tests.hardware.test_validation import hardware_stage


def test_qpu_stage_submits_exactly_the_estimate_and_never_twice(tmp_path, monkeypatch, aws, capsys):  # noqa: F811
    root = make_project(tmp_path / "proj")
    use_project(monkeypatch, root)
    train_and_register(load_params("params.yaml"), load_encoded())
    (root / "params.yaml").write_text((root / "params.yaml").read_text() + """
hardware:
  mode: qpu
  devices: [iqm-garnet]
  n_samples: 6
  shots: 100
  s3_bucket: amazon-braket-qml-ops-test
  s3_prefix: qml-ops/tasks
  max_budget_usd: 5
  approve_usd: 1.17
  total_budget_usd: 5
  poll_timeout_s: 30
""")
    params = load_params("params.yaml")
    est = estimates(params.hardware)["iqm-garnet"]
    assert (est.tasks, est.cost_usd) == (1, Decimal("1.17"))

    # the circuits the stage will compile from the registered model, for the fake device's results
    with tempfile.TemporaryDirectory() as tmp:
        version, model, encoder = load_model(params, Path(tmp))
    profile = load_profile("iqm-garnet")
    circuits = compile_spec(model.spec, model.weights_, profile, seed=0).bind_batch(
        encoder.transform(validation_samples(6)[0]))
    fake = FakeBraket(get_device("iqm-garnet"), circuits, 100, profile, per_task=6, program_set=True, s3=_s3("eu-north-1"),
        run_key=f"qcnn-v{version.version}-6x100-"
        + hashlib.sha256(repr([c.ops for c in circuits]).encode()).hexdigest()[:10],
        model_version=str(version.version))
    monkeypatch.setattr(qpu_aws, "braket_clients", lambda region, braket_client=None, s3_client=None: (fake.client, fake.s3))
    fake.expect_get_device()
    fake.expect_create(0)
    fake.expect_get_task(0, "COMPLETED")

    # issue 12: without a recorded approval of this run the stage creates nothing (approve_usd is a ceiling)
    assert run_stage("hardware", hardware_stage.main, []) == 0
    skipped = json.loads((root / "reports/hardware.json").read_text())
    assert skipped["status"] == "skipped" and "qml-ops hardware approve" in skipped["reason"]
    assert fake.calls == []
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    assert main(["hardware", "approve", "--yes"]) == 0
    out = capsys.readouterr().out
    assert "$1.17" in out and fake.run_key in out and "recorded approval" in out
    assert main(["hardware", "approve", "--yes"]) == 0 and "already approved" in capsys.readouterr().out

    assert run_stage("hardware", hardware_stage.main, []) == 0
    assert len(fake.creates) == 1
    report = json.loads((root / "reports/hardware.json").read_text())
    garnet = report["devices"]["iqm-garnet"]
    assert report["status"] == "ok" and garnet["tasks"] == 1 and garnet["cost_usd"] == 1.17
    assert garnet["spent_usd"] == 1.17 and garnet["n_samples"] == 6
    counts = fake.expected_counts
    z_hw = 1 - 2 * counts[:, 1] / counts.sum(axis=1)
    assert np.isclose(garnet["accuracy"], np.mean((z_hw < 0) == validation_samples(6)[1]))
    assert report.get("promoted") is None or report["promoted"]["alias"] == "hardware-validated"
    ledger = root / "hardware" / "ledger.json"
    assert ledger.exists()
    # issue 11: the band predicted before the run, whether the QPU's accuracy fell inside, the coverage record
    low, high = garnet["predicted_accuracy_low"], garnet["predicted_accuracy_high"]
    assert 0 <= low <= high <= 1 and garnet["band_covered"] == int(low <= garnet["accuracy"] <= high)
    coverage = json.loads((root / "hardware" / "band_coverage.json").read_text())["devices"]["iqm-garnet"]
    assert coverage["runs"] == 1 and coverage["covered"] == garnet["band_covered"]
    assert garnet["band_coverage_rate"] == coverage["coverage_rate"]
    assert json.loads((root / "metrics/hardware.json").read_text())["iqm-garnet"]["predicted_accuracy_low"] == low
    assert_no_secrets(ledger.read_text(), (root / "reports/hardware.json").read_text(),
                      (root / "metrics/hardware.json").read_text(), *capsys.readouterr())

    # a second run reconnects through the ledger: no create, same figures
    calls = len(fake.calls)
    assert run_stage("hardware", hardware_stage.main, []) == 0
    assert len(fake.creates) == 1 and len(fake.calls) == calls
    again = json.loads((root / "reports/hardware.json").read_text())["devices"]["iqm-garnet"]
    assert again["accuracy"] == garnet["accuracy"] and again["cost_usd"] == 1.17
    # the same paid run reported again is not counted twice
    assert json.loads((root / "hardware" / "band_coverage.json").read_text())["devices"]["iqm-garnet"]["runs"] == 1

    # a retrained model (a new version) under the used approval: skipped, nothing created
    train_and_register(params, load_encoded())
    assert run_stage("hardware", hardware_stage.main, []) == 0
    report = json.loads((root / "reports/hardware.json").read_text())
    assert report["status"] == "skipped" and "no recorded approval" in report["reason"]
    assert len(fake.creates) == 1 and len(fake.calls) == calls
    fake.done()
