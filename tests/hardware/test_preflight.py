"""``qml-ops hardware approve`` and ``qml-ops hardware preflight`` on a real project: a registered
model, Stubber-checked Braket (the real device document), moto S3 buckets. Neither creates a task."""

from __future__ import annotations

import hashlib
import io
import json
import tempfile
from pathlib import Path

from qml_ops.cli import main
from qml_ops.config import load_params
from qml_ops.hardware import run_commands
from qml_ops.hardware.approvals import recorded
from qml_ops.hardware.compile import compile_spec
from qml_ops.hardware.devices import get_device
from qml_ops.hardware.ledger import Ledger, default_ledger_path
from qml_ops.hardware.profiles import load_profile
from qml_ops.hardware.reporting import load_model, validation_samples
from qml_ops.training import train_and_register
from qml_ops.training_data import load_encoded
from project_fixtures import make_project, use_project
from tests.hardware.qpu_fixtures import BUCKET, FakeBraket
from tests.hardware.test_qpu import _s3, aws  # noqa: F401  (fixture)

QPU_PARAMS = """
hardware:
  mode: qpu
  devices: [iqm-garnet]
  n_samples: 6
  shots: 100
  s3_bucket: {bucket}
  s3_prefix: qml-ops/tasks
  max_budget_usd: 5
  approve_usd: 1.17
  total_budget_usd: {total}
"""


def _write(root: Path, base: str, bucket=BUCKET, total=5) -> None:
    (root / "params.yaml").write_text(base + QPU_PARAMS.format(bucket=bucket, total=total))


def _preflight(capsys, fake, as_json=True, windows=None):
    fake.expect_get_device(windows=windows, limits=[fake.limit("40", total="3.20", queued="1.17")])
    code = main(["hardware", "preflight", *(["--json"] if as_json else [])])
    out = capsys.readouterr().out
    return code, (json.loads(out) if as_json else out)


def _checks(doc):
    return {c["name"]: c for c in doc["devices"]["iqm-garnet"]["checks"]}


def test_approve_then_preflight(tmp_path, monkeypatch, aws, capsys):  # noqa: F811
    root = make_project(tmp_path / "proj")
    use_project(monkeypatch, root)
    train_and_register(load_params("params.yaml"), load_encoded())
    base = (root / "params.yaml").read_text()
    _write(root, base)
    params = load_params("params.yaml")
    with tempfile.TemporaryDirectory() as tmp:
        version, model, encoder = load_model(params, Path(tmp))
    profile = load_profile("iqm-garnet")
    circuits = compile_spec(model.spec, model.weights_, profile, seed=0).bind_batch(
        encoder.transform(validation_samples(6)[0]))
    run_key = f"qcnn-v{version.version}-6x100-" + hashlib.sha256(repr([c.ops for c in circuits]).encode()).hexdigest()[:10]
    s3 = _s3("eu-north-1")
    fake = FakeBraket(get_device("iqm-garnet"), circuits, 100, profile, per_task=6, program_set=True, s3=s3,
                      run_key=run_key, model_version=str(version.version))
    monkeypatch.setattr(run_commands, "_clients", lambda region: (fake.client, s3))

    # before any approval: every AWS check passes, the approval does not
    code, doc = _preflight(capsys, fake)
    assert code == 1 and doc["devices"]["iqm-garnet"]["verdict"] == "not ready"
    assert doc["devices"]["iqm-garnet"]["failed"] == ["approval"]
    checks = _checks(doc)
    assert {n: c["status"] for n, c in checks.items()} == {
        "credentials": "ok", "device": "ok", "window": "ok", "bucket": "ok", "spending limit": "ok",
        "run budget": "ok", "total budget": "ok", "approval": "fail"}
    assert "$40.00 (spent $3.20, queued $1.17, left $35.63)" in checks["spending limit"]["detail"]
    assert "qml-ops hardware approve" in checks["approval"]["detail"]
    assert doc["devices"]["iqm-garnet"]["estimate_usd"] == "1.17"

    # approve: not without a terminal or --yes; not beyond the period's budget
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    assert main(["hardware", "approve"]) == 2
    assert "stdin is not a terminal" in capsys.readouterr().err
    _write(root, base, total="1.16")
    assert main(["hardware", "approve", "--yes"]) == 1
    assert "exceeds hardware.total_budget_usd $1.16" in capsys.readouterr().err
    assert recorded(Ledger(default_ledger_path())) == []
    _write(root, base)
    assert main(["hardware", "approve", "--yes"]) == 0
    out = capsys.readouterr().out
    assert run_key in out and "$1.17" in out and "recorded approval" in out
    (approval,) = recorded(Ledger(default_ledger_path()))
    assert approval.model_version == str(version.version) and approval.for_device("iqm-garnet").run_key == run_key
    assert approval.used == {} and not default_ledger_path().exists()  # no task row, no task

    # now ready, in words too
    code, out = _preflight(capsys, fake, as_json=False)
    assert code == 0 and "verdict: READY" in out and f"approval {approval.id}" in out
    # outside the execution windows (only Sundays, and T0 is a Wednesday): a warning, still ready
    sundays = [{"executionDay": "Sunday", "windowStartHour": "00:00:00", "windowEndHour": "23:59:59"}]
    code, doc = _preflight(capsys, fake, windows=sundays)
    window = _checks(doc)["window"]
    assert code == 0 and window["status"] == "warn" and "next window opens Sunday 2026-05-10 00:00 UTC" in window["detail"]

    # the bucket rule, its region, its existence; credentials
    s3.create_bucket(Bucket="qml-ops-results", CreateBucketConfiguration={"LocationConstraint": "eu-north-1"})
    import boto3

    boto3.client("s3", region_name="us-east-1").create_bucket(Bucket="amazon-braket-in-virginia")
    for bucket, fragment in [("qml-ops-results", "is not named amazon-braket-"),
                             ("amazon-braket-in-virginia", "is in us-east-1, but the device is in eu-north-1"),
                             ("amazon-braket-missing", "is not reachable")]:
        _write(root, base, bucket=bucket)
        code, doc = _preflight(capsys, fake)
        assert code == 1 and "bucket" in doc["devices"]["iqm-garnet"]["failed"]
        assert fragment in _checks(doc)["bucket"]["detail"], bucket
    _write(root, base)
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name)
    assert main(["hardware", "preflight", "--json"]) == 1
    doc = json.loads(capsys.readouterr().out)
    assert _checks(doc)["credentials"]["status"] == "fail" and "no AWS credentials" in _checks(doc)["credentials"]["detail"]
    fake.done()
    assert fake.creates == [] and not default_ledger_path().exists()
    probes = s3.list_objects_v2(Bucket=BUCKET, Prefix="qml-ops/tasks/.qml-ops-preflight/").get("KeyCount", 0)
    assert probes == 0  # the write probe is deleted again
