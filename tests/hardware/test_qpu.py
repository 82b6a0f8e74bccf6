"""QPU submission offline: Stubber-checked Braket calls, moto S3, emulator results.

Every scenario asserts the number of CreateQuantumTask calls and the cost.
Crashes are simulated by making an internal step raise at the right moment.
"""

from __future__ import annotations

import io
import json
import logging
import math
from datetime import datetime, timezone
from decimal import Decimal

import boto3
import numpy as np
import pytest
from moto import mock_aws

from qml_ops.circuits.qcnn import QCNNSpec
from qml_ops.cli import main
from qml_ops.cost import estimate
from qml_ops.errors import BudgetError, HardwareError
from qml_ops.hardware import qpu, qpu_commands
from qml_ops.hardware.qpu import aws as qpu_aws, clock, submit
from qml_ops.hardware.compile import compile_spec
from qml_ops.hardware.devices import get_device
from qml_ops.hardware.ledger import Ledger, client_token
from qml_ops.hardware.profiles import load_profile
from tests.hardware.qpu_fixtures import (
    BUCKET, FAKE_KEY, FAKE_SECRET, FAKE_TOKEN, PREFIX, FakeBraket, has_approval, record_approval,
)

GARNET, IONQ = "iqm-garnet", "ionq-forte-enterprise-1"
SETUP = {GARNET: (8, 6, 100), IONQ: (4, 3, 100)}  # qubits, samples, shots


class Crash(Exception):
    """A simulated process death."""


@pytest.fixture(scope="module")
def compiled():
    out = {}
    rng = np.random.default_rng(3)
    for device_id, (n_qubits, n, _) in SETUP.items():
        spec = QCNNSpec(n_qubits, 1, "angle")
        profile = load_profile(device_id)
        weights = rng.uniform(-math.pi, math.pi, spec.n_weights)
        features = rng.uniform(0, math.pi, (n, spec.n_features))
        out[device_id] = (profile, compile_spec(spec, weights, profile).bind_batch(features))
    return out


@pytest.fixture
def aws(monkeypatch, tmp_path):
    """Fake credentials in the environment, moto S3 (in-process), no sleeping."""
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
                 "AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_WEB_IDENTITY_TOKEN_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", FAKE_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", FAKE_SECRET)
    monkeypatch.setenv("AWS_SESSION_TOKEN", FAKE_TOKEN)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-north-1")
    sleeps = []
    monkeypatch.setattr(clock, "sleep", sleeps.append)
    monkeypatch.setattr(clock, "utcnow", lambda: datetime(2026, 5, 6, 12, 0, tzinfo=timezone.utc))
    with mock_aws(config={"core": {"mock_credentials": False}}):
        yield {"sleeps": sleeps, "ledger": tmp_path / "hardware" / "ledger.json"}


def _s3(region):
    s3 = boto3.client("s3", region_name=region)
    config = {} if region == "us-east-1" else {
        "CreateBucketConfiguration": {"LocationConstraint": region}}
    s3.create_bucket(Bucket=BUCKET, **config)
    return s3


def setup(compiled, device_id, one_task_per_inference=False, **fake_kwargs):
    device = get_device(device_id)
    profile, circuits = compiled[device_id]
    shots = SETUP[device_id][2]
    est = estimate(device, len(circuits), shots, one_task_per_inference)
    fake = FakeBraket(device, circuits, shots, profile,
                      per_task=est.executables_per_task if est.program_sets else 1,
                      program_set=est.program_sets, s3=_s3(device.region), **fake_kwargs)
    return device, circuits, shots, est, fake


def run(fake, device, circuits, shots, est, ledger, *, approve=None, budget=None, total=None,
        approved=True, **kwargs):
    """``run_on_qpu`` of the fake's run; unless ``approved=False``, with a recorded
    approval of exactly this run (as ``qml-ops hardware approve`` leaves one)."""
    kwargs.setdefault("poll_timeout_s", 60)
    kwargs.setdefault("poll_interval_s", 0)
    if approved and not has_approval(ledger, device.id, fake.run_key):
        record_approval(ledger, device, circuits, shots, est, fake.run_key, fake.model_version)
    return qpu.run_on_qpu(
        device, circuits, shots, sample_indices=[100 + i for i in range(len(circuits))],
        estimate=est, approve_usd=est.cost_usd if approve is None else approve,
        max_budget_usd=Decimal("5000") if budget is None else budget, ledger_path=ledger,
        total_budget_usd=Decimal("5000") if total is None else total,
        run_key=fake.run_key, model_version=fake.model_version, s3_bucket=BUCKET, s3_prefix=PREFIX,
        braket_client=fake.client, **kwargs,
    )


def assert_no_secrets(*texts):
    for text in texts:
        for secret in (FAKE_KEY, FAKE_SECRET, FAKE_TOKEN):
            assert secret not in text


# --------------------------------------------------------------- full runs


def test_full_run_program_set_garnet(compiled, aws, caplog, capsys):
    device, circuits, shots, est, fake = setup(compiled, GARNET)
    assert (est.tasks, est.program_sets, est.cost_usd) == (1, True, Decimal("1.17"))
    fake.expect_get_device()
    fake.expect_create(0)
    fake.expect_get_task(0, "COMPLETED")
    with caplog.at_level(logging.INFO, logger="qml_ops"):
        result = run(fake, device, circuits, shots, est, aws["ledger"])
    fake.done()
    assert len(fake.creates) == 1
    assert result.cost_usd == Decimal("1.17") == est.cost_usd
    assert not result.pending and result.failed_samples == []
    np.testing.assert_array_equal(result.counts, fake.expected_counts)
    assert result.sample_indices == [100, 101, 102, 103, 104, 105]
    assert result.latency.tasks[0].total_s == 30.0
    assert result.latency.per_inference_s == 5.0
    # one program set of 6 executables, total shots 600, no deviceParameters (as the SDK)
    create = fake.creates[0]
    assert create["shots"] == 600 and "deviceParameters" not in create
    assert json.loads(create["action"])["braketSchemaHeader"]["name"] == "braket.ir.openqasm.program_set"
    (row,) = Ledger(aws["ledger"]).rows()
    assert row.arn == fake.arn(0) and row.state == "COMPLETED"
    assert row.client_token == create["clientToken"] == create["tags"]["qml-ops-token"]
    assert row.tags["qml-ops-run"] == "run-1" and row.tags["qml-ops-task"] == "0"
    assert "queue depth: QUANTUM_TASKS_QUEUE/Normal=17" in caplog.text
    assert_no_secrets(aws["ledger"].read_text(), caplog.text, *capsys.readouterr())
    # a re-run finds everything done in the ledger: no AWS call at all
    again = run(fake, device, circuits, shots, est, aws["ledger"])
    # 4 calls of the first run: GetDevice, SearchSpendingLimits (issue 12), CreateQuantumTask, GetQuantumTask
    assert len(fake.calls) == 4 and again.cost_usd == Decimal("1.17")
    np.testing.assert_array_equal(again.counts, fake.expected_counts)


def test_full_run_per_sample_ionq(compiled, aws, caplog, capsys):
    device, circuits, shots, est, fake = setup(compiled, IONQ)
    assert (est.tasks, est.program_sets, est.cost_usd) == (3, False, Decimal("24.90"))
    fake.expect_get_device()
    for i in range(3):
        fake.expect_create(i)
    for i in range(3):
        fake.expect_get_task(i, "COMPLETED")
    with caplog.at_level(logging.INFO, logger="qml_ops"):
        result = run(fake, device, circuits, shots, est, aws["ledger"])
    fake.done()
    assert len(fake.creates) == 3
    assert result.cost_usd == Decimal("24.90") and not result.pending
    np.testing.assert_array_equal(result.counts, fake.expected_counts)
    # each create is what the SDK sends for one circuit, deviceParameters included
    assert all(json.loads(c["deviceParameters"])["braketSchemaHeader"]["name"]
               == "braket.device_schema.ionq.ionq_device_parameters" for c in fake.creates)
    assert len({c["clientToken"] for c in fake.creates}) == 3
    assert_no_secrets(aws["ledger"].read_text(), caplog.text, *capsys.readouterr())


def test_program_set_results_with_relative_paths_and_sdk_agrees(compiled, aws):
    """Program-set results stored as relative S3 paths; the SDK's own parser agrees."""
    from braket.schema_common import BraketSchemaBase
    from braket.tasks import ProgramSetQuantumTaskResult

    device, circuits, shots, est, fake = setup(compiled, GARNET, relative_results=True)
    fake.expect_get_device()
    fake.expect_create(0)
    fake.expect_get_task(0, "COMPLETED")
    result = run(fake, device, circuits, shots, est, aws["ledger"])
    assert len(fake.creates) == 1 and result.cost_usd == Decimal("1.17")
    np.testing.assert_array_equal(result.counts, fake.expected_counts)
    body = fake.s3.get_object(Bucket=BUCKET, Key=f"{fake.directory(0)}/results.json")["Body"].read()
    sdk = ProgramSetQuantumTaskResult.from_object(BraketSchemaBase.parse_raw_schema(body))
    sdk_ones = [entry.entries[0].counts.get("1", 0) for entry in sdk.entries]
    np.testing.assert_array_equal(sdk_ones, fake.expected_counts[:, 1])


def test_program_sets_split_like_the_estimate(compiled):
    # issue 12: a program set holds no more shots than the device takes (Garnet: 20,000), so the
    # 200,000-shot split of this case is shown on Emerald (shots range up to 200,000)
    device = get_device("iqm-emerald")
    profile, circuits = compiled[GARNET]
    many = (circuits * 2)[:12]
    est = estimate(device, 12, 20_000)  # 10 executables per task -> 2 tasks
    plan = qpu.plan_tasks(device, many, 20_000, list(range(12)), est)
    assert [len(t.positions) for t in plan] == [10, 2] and est.tasks == 2
    assert [t.shots_total for t in plan] == [200_000, 40_000]
    assert sum(t.cost_usd for t in plan) == Decimal("384.60") == est.cost_usd  # 2 x 0.30 + 240,000 x 0.0016
    garnet = get_device(GARNET)  # the same run on Garnet: one sample per task
    garnet_est = estimate(garnet, 12, 20_000)
    garnet_plan = qpu.plan_tasks(garnet, many, 20_000, list(range(12)), garnet_est)
    assert len(garnet_plan) == garnet_est.tasks == 12 and not garnet_est.program_sets
    assert sum(t.cost_usd for t in garnet_plan) == Decimal("351.60") == garnet_est.cost_usd  # 12 x 0.30 + 240,000 x 0.00145
    wrong = estimate(device, 12, 20_000, one_task_per_inference=True)
    with pytest.raises(HardwareError, match="not this run's"):
        qpu.run_on_qpu(device, many, 20_000, sample_indices=list(range(12)), estimate=wrong,
                       approve_usd=10_000, max_budget_usd=10_000, ledger_path="unused.json",
                       run_key="r", model_version="m", s3_bucket=BUCKET, s3_prefix=PREFIX)


# --------------------------------------------------------------- crashes


def test_crash_after_create_before_results(compiled, aws, monkeypatch):
    device, circuits, shots, est, fake = setup(compiled, IONQ)
    fake.expect_get_device()
    for i in range(3):
        fake.expect_create(i)

    def crash(*args, **kwargs):
        raise Crash("killed while polling")

    original = submit._poll
    monkeypatch.setattr(submit, "_poll", crash)
    with pytest.raises(Crash):
        run(fake, device, circuits, shots, est, aws["ledger"])
    rows = Ledger(aws["ledger"]).rows()
    assert [r.state for r in rows] == ["CREATED"] * 3 and all(r.arn for r in rows)
    monkeypatch.setattr(submit, "_poll", original)
    # re-run: reconnect by ARN, no GetDevice, no create
    for i in range(3):
        fake.expect_get_task(i, "COMPLETED")
    result = run(fake, device, circuits, shots, est, aws["ledger"])
    fake.done()
    assert len(fake.creates) == 3 and result.cost_usd == Decimal("24.90") == est.cost_usd
    assert not result.pending
    np.testing.assert_array_equal(result.counts, fake.expected_counts)


def test_crash_between_ledger_write_and_create(compiled, aws, monkeypatch):
    """The row is on disk, the create never went out: the re-run searches, finds
    nothing and creates once, with the same client token."""
    device, circuits, shots, est, fake = setup(compiled, GARNET)
    fake.expect_get_device()
    original = submit._create

    def crash(*args, **kwargs):
        raise Crash("killed before CreateQuantumTask")

    monkeypatch.setattr(submit, "_create", crash)
    with pytest.raises(Crash):
        run(fake, device, circuits, shots, est, aws["ledger"])
    (row,) = Ledger(aws["ledger"]).rows()
    assert row.state == "CREATING" and row.arn is None and len(fake.creates) == 0
    monkeypatch.setattr(submit, "_create", original)
    fake.expect_get_device()
    fake.expect_search([])
    fake.expect_create(0)
    fake.expect_get_task(0, "COMPLETED")
    result = run(fake, device, circuits, shots, est, aws["ledger"])
    fake.done()
    assert len(fake.creates) == 1 and result.cost_usd == Decimal("1.17") == est.cost_usd
    assert fake.creates[0]["clientToken"] == row.client_token
    np.testing.assert_array_equal(result.counts, fake.expected_counts)


def test_crash_after_create_returned_before_arn_recorded(compiled, aws, monkeypatch):
    """Task 0 fully recorded, task 1 created but its ARN never written (crash),
    task 2 not created: the re-run finds task 1 by its token tag, creates only 2."""
    device, circuits, shots, est, fake = setup(compiled, IONQ)
    fake.expect_get_device()
    fake.expect_create(0)
    fake.expect_create(1)
    original, calls = submit._create, []

    def create_then_crash(braket, row, task):
        arn = original(braket, row, task)
        calls.append(arn)
        if task.index == 1:
            raise Crash("killed after CreateQuantumTask returned")
        return arn

    monkeypatch.setattr(submit, "_create", create_then_crash)
    with pytest.raises(Crash):
        run(fake, device, circuits, shots, est, aws["ledger"])
    rows = Ledger(aws["ledger"]).rows()
    assert [(r.state, bool(r.arn)) for r in rows] == [("CREATED", True), ("CREATING", False)]
    assert len(fake.creates) == 2
    monkeypatch.setattr(submit, "_create", original)
    fake.expect_get_device()
    fake.expect_search([(0, "QUEUED"), (1, "QUEUED")],
                       tokens={0: rows[0].client_token, 1: rows[1].client_token})
    fake.expect_create(2)
    for i in range(3):
        fake.expect_get_task(i, "COMPLETED")
    result = run(fake, device, circuits, shots, est, aws["ledger"])
    fake.done()
    assert len(fake.creates) == 3  # one per task, in total over both runs
    assert result.cost_usd == Decimal("24.90") == est.cost_usd and not result.pending
    assert [r.arn for r in Ledger(aws["ledger"]).rows()] == [fake.arn(i) for i in range(3)]
    np.testing.assert_array_equal(result.counts, fake.expected_counts)


# --------------------------------------------------------------- failure, timeout


def test_failed_task_recorded_not_resubmitted(compiled, aws):
    device, circuits, shots, est, fake = setup(compiled, IONQ)
    fake.expect_get_device()
    for i in range(3):
        fake.expect_create(i)
    fake.expect_get_task(0, "COMPLETED")
    fake.expect_get_task(1, "FAILED", failure_reason="Device calibration in progress")
    fake.expect_get_task(2, "COMPLETED")
    result = run(fake, device, circuits, shots, est, aws["ledger"])
    fake.done()
    assert len(fake.creates) == 3 and result.cost_usd == Decimal("24.90")
    assert not result.pending and result.failed_samples == [101]
    assert np.isnan(result.counts[1]).all() and result.done.tolist() == [True, False, True]
    failed = Ledger(aws["ledger"]).rows()[1]
    assert failed.state == "FAILED" and failed.failure_reason == "Device calibration in progress"
    # a plain re-run does not resubmit (and makes no call: everything is terminal)
    again = run(fake, device, circuits, shots, est, aws["ledger"])
    # 8 calls: GetDevice, SearchSpendingLimits (issue 12), 3 creates, 3 polls
    assert len(fake.creates) == 3 and again.failed_samples == [101] and len(fake.calls) == 8
    # resubmission needs its own approval: without it, BudgetError and no create
    with pytest.raises(BudgetError, match="resubmitting 1 failed task"):
        run(fake, device, circuits, shots, est, aws["ledger"], resubmit_failed=True)
    with pytest.raises(BudgetError, match="below the estimate"):
        run(fake, device, circuits, shots, est, aws["ledger"], resubmit_failed=True,
            approve_resubmit_usd="8.29")
    # approved, but the budget is one cent short of what was spent plus the resubmission
    # (issue 12: what was spent, $16.60: the failed task is not billed; it was $24.90 committed)
    with pytest.raises(BudgetError, match=r"exceeds hardware.max_budget_usd \$8.29"):
        run(fake, device, circuits, shots, est, aws["ledger"], budget="24.89",
            resubmit_failed=True, approve_resubmit_usd="8.30")
    assert len(fake.creates) == 3
    # with a new approval of its cost ($8.30) it is created once more (new attempt, new token)
    fake.expect_get_device()
    fake.expect_create(1, attempt=1)
    fake.expect_get_task(1, "COMPLETED", attempt=1)
    final = run(fake, device, circuits, shots, est, aws["ledger"], resubmit_failed=True,
                approve_resubmit_usd="8.30")
    fake.done()
    assert len(fake.creates) == 4 and final.cost_usd == Decimal("33.20")
    assert final.spent_usd == Decimal("24.90")  # committed $33.20, the failed attempt billed $0
    assert final.failed_samples == [] and not final.pending
    np.testing.assert_array_equal(final.counts, fake.expected_counts)
    rows = Ledger(aws["ledger"]).rows()
    assert [(r.task_index, r.attempt, r.state) for r in rows] == [
        (0, 0, "COMPLETED"), (1, 0, "FAILED"), (1, 1, "COMPLETED"), (2, 0, "COMPLETED")]
    assert rows[1].client_token != rows[2].client_token == fake.creates[-1]["clientToken"]


def test_poll_timeout_is_pending_then_completes(compiled, aws):
    device, circuits, shots, est, fake = setup(compiled, GARNET)
    fake.expect_get_device()
    fake.expect_create(0)
    fake.expect_get_task(0, "QUEUED")
    result = run(fake, device, circuits, shots, est, aws["ledger"], poll_timeout_s=0)
    assert result.pending and np.isnan(result.counts).all() and result.failed_samples == []
    assert result.cost_usd == Decimal("1.17")
    (row,) = Ledger(aws["ledger"]).rows()
    assert row.state == "QUEUED" and row.queue_position == "5"
    # later: reconnect, still running, then completed; no create
    fake.expect_get_task(0, "RUNNING")
    fake.expect_get_task(0, "COMPLETED")
    result = run(fake, device, circuits, shots, est, aws["ledger"], poll_interval_s=7)
    fake.done()
    assert len(fake.creates) == 1 and result.cost_usd == Decimal("1.17") and not result.pending
    assert aws["sleeps"] == [7]
    np.testing.assert_array_equal(result.counts, fake.expected_counts)


def test_throttled_reads_and_creates_retry_with_the_same_token(compiled, aws):
    device, circuits, shots, est, fake = setup(compiled, GARNET)
    fake.expect_get_device()
    fake.expect_create(0, error="ThrottlingException")
    fake.expect_create(0)
    fake.expect_get_task(0, "RUNNING", error="ThrottlingException")
    fake.expect_get_task(0, "COMPLETED")
    result = run(fake, device, circuits, shots, est, aws["ledger"])
    fake.done()
    assert len(fake.creates) == 2 and fake.creates[0]["clientToken"] == fake.creates[1]["clientToken"]
    assert result.cost_usd == Decimal("1.17") and len(Ledger(aws["ledger"]).rows()) == 1
    assert len(aws["sleeps"]) == 2 and all(0 <= s <= qpu_aws.BACKOFF_CAP_S for s in aws["sleeps"])


def test_rejected_create_is_not_retried(compiled, aws):
    device, circuits, shots, est, fake = setup(compiled, GARNET)
    fake.expect_get_device()
    fake.expect_create(0, error="ValidationException")
    with pytest.raises(HardwareError, match="ValidationException.*nothing was created"):
        run(fake, device, circuits, shots, est, aws["ledger"])
    fake.done()
    assert len(fake.creates) == 1
    assert Ledger(aws["ledger"]).rows()[0].state == "REJECTED"


# --------------------------------------------------------------- refusals (zero creates)


def test_budget_one_cent_short(compiled, aws):
    device, circuits, shots, est, fake = setup(compiled, GARNET)
    with pytest.raises(BudgetError, match=r"exceeds hardware.max_budget_usd \$1.16"):
        run(fake, device, circuits, shots, est, aws["ledger"], budget="1.16")
    with pytest.raises(BudgetError, match=r"\$1.16 is below the estimate \$1.17"):
        run(fake, device, circuits, shots, est, aws["ledger"], approve="1.16")
    assert fake.calls == [] and len(fake.creates) == 0
    assert not aws["ledger"].exists()


def test_missing_credentials(compiled, aws, monkeypatch, tmp_path):
    device = get_device(IONQ)
    profile, circuits = compiled[IONQ]
    est = estimate(device, 3, 100)
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name)
    created = []
    monkeypatch.setattr(submit, "_create", lambda *a, **k: created.append(a))
    record_approval(aws["ledger"], device, circuits, 100, est, "run-1", "qcnn/1")  # approved, budgeted
    with pytest.raises(HardwareError, match="no AWS credentials found") as info:
        qpu.run_on_qpu(device, circuits, 100, sample_indices=[0, 1, 2], estimate=est,
                       approve_usd=est.cost_usd, max_budget_usd=100, total_budget_usd=100,
                       ledger_path=aws["ledger"],
                       run_key="run-1", model_version="qcnn/1", s3_bucket=BUCKET, s3_prefix=PREFIX)
    assert created == [] and not aws["ledger"].exists()
    assert_no_secrets(str(info.value))


def test_device_offline(compiled, aws):
    device, circuits, shots, est, fake = setup(compiled, IONQ)
    fake.expect_get_device(status="OFFLINE")
    with pytest.raises(HardwareError, match="is OFFLINE, not ONLINE: nothing was submitted"):
        run(fake, device, circuits, shots, est, aws["ledger"])
    fake.done()
    assert len(fake.creates) == 0 and not aws["ledger"].exists()


def test_outside_execution_window(compiled, aws, monkeypatch):
    device, circuits, shots, est, fake = setup(compiled, GARNET)
    garnet_windows = [
        {"executionDay": "Weekdays", "windowStartHour": "00:00:00", "windowEndHour": "01:29:59"},
        {"executionDay": "Weekdays", "windowStartHour": "03:15:00", "windowEndHour": "15:29:59"},
        {"executionDay": "Weekdays", "windowStartHour": "17:15:00", "windowEndHour": "23:59:59"},
    ]
    monkeypatch.setattr(clock, "utcnow", lambda: datetime(2026, 5, 9, 12, tzinfo=timezone.utc))
    fake.expect_get_device(windows=garnet_windows, limits=None)  # a Saturday
    # issue 12: refusing is what hardware.refuse_outside_window asks for (the default warns)
    with pytest.raises(HardwareError, match="next window opens Monday 2026-05-11 00:00 UTC"):
        run(fake, device, circuits, shots, est, aws["ledger"], refuse_outside_window=True)
    fake.done()
    assert len(fake.creates) == 0 and not aws["ledger"].exists()


def test_execution_window_status():
    windows = [
        {"executionDay": "Weekdays", "windowStartHour": "03:15:00", "windowEndHour": "15:29:59"},
        {"executionDay": "Friday", "windowStartHour": "22:00:00", "windowEndHour": "02:00:00"},
    ]
    utc = timezone.utc
    assert qpu.execution_window_status(windows, datetime(2026, 5, 6, 12, tzinfo=utc)) == (True, None)
    assert qpu.execution_window_status(windows, datetime(2026, 5, 6, 2, tzinfo=utc)) == (
        False, datetime(2026, 5, 6, 3, 15, tzinfo=utc))
    # Friday's window runs past midnight into Saturday
    assert qpu.execution_window_status(windows, datetime(2026, 5, 9, 1, tzinfo=utc))[0]
    assert qpu.execution_window_status(windows, datetime(2026, 5, 9, 3, tzinfo=utc)) == (
        False, datetime(2026, 5, 11, 3, 15, tzinfo=utc))
    assert qpu.execution_window_status([], datetime(2026, 5, 9, 3, tzinfo=utc)) == (True, None)


def test_invalid_circuit_refused(compiled, aws):
    from dataclasses import replace

    device, circuits, shots, est, fake = setup(compiled, GARNET)
    bad = list(circuits)
    ops = list(bad[2].ops) + [("cz", (1, 20), ())]  # not a Garnet coupler
    bad[2] = replace(bad[2], ops=tuple(ops))
    with pytest.raises(HardwareError, match="circuit 2 does not pass"):
        run(fake, device, bad, shots, est, aws["ledger"])
    assert fake.calls == [] and not aws["ledger"].exists()


def test_run_key_reused_for_other_circuits(compiled, aws):
    device, circuits, shots, est, fake = setup(compiled, GARNET)
    fake.expect_get_device()
    fake.expect_create(0)
    fake.expect_get_task(0, "COMPLETED")
    run(fake, device, circuits, shots, est, aws["ledger"])
    other = list(reversed(circuits))
    with pytest.raises(HardwareError, match="use a new run_key"):
        run(fake, device, other, shots, est, aws["ledger"])
    assert len(fake.creates) == 1


# --------------------------------------------------------------- CLI


def test_status_and_cancel(compiled, aws, monkeypatch, capsys):
    device, circuits, shots, est, fake = setup(compiled, IONQ)
    fake.expect_get_device()
    for i in range(3):
        fake.expect_create(i)
    fake.expect_get_task(0, "COMPLETED")
    fake.expect_get_task(1, "QUEUED")
    fake.expect_get_task(2, "RUNNING")
    result = run(fake, device, circuits, shots, est, aws["ledger"], poll_timeout_s=0)
    assert result.pending and len(fake.creates) == 3
    ledger = str(aws["ledger"])
    assert main(["hardware", "status", "--ledger", ledger]) == 0
    out = capsys.readouterr().out
    assert "ionq-forte-enterprise-1  COMPLETED  1" in out and "QUEUED" in out and "RUNNING" in out
    assert "spend so far: $24.90" in out and "pending: 2 task(s)" in out
    # non-interactive without --yes: refused, nothing cancelled (issue 12: the states are read first)
    monkeypatch.setattr(qpu_commands, "_client", lambda region: fake.client)
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    fake.expect_get_task(1, "QUEUED")
    fake.expect_get_task(2, "RUNNING")
    assert main(["hardware", "cancel", "--run", "run-1", "--ledger", ledger]) == 2
    assert "stdin is not a terminal" in capsys.readouterr().err and not fake.sent("CancelQuantumTask")
    # --yes: the queued task is cancelled with a client token; the running one is not (issue 12:
    # Braket cancels CREATED and, best effort, QUEUED tasks; a RUNNING task completes and is billed)
    fake.expect_get_task(1, "QUEUED")
    fake.expect_get_task(2, "RUNNING")
    fake.expect_cancel(1, status="CANCELLED")
    assert main(["hardware", "cancel", "--run", "run-1", "--ledger", ledger, "--yes"]) == 0
    fake.done()
    assert [c["quantumTaskArn"] for c in fake.sent("CancelQuantumTask")] == [fake.arn(1)]
    assert all(len(c["clientToken"]) == 64 for c in fake.sent("CancelQuantumTask"))
    assert [r.state for r in Ledger(aws["ledger"]).rows()] == ["COMPLETED", "CANCELLED", "RUNNING"]
    out = capsys.readouterr().out
    assert "task 1 on ionq-forte-enterprise-1: CANCELLED" in out
    assert "task 2  RUNNING" in out and "not cancelled" in out
    assert main(["hardware", "status", "--ledger", ledger, "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["spend_usd"] == "24.90" and doc["pending_tasks"] == 1
    assert doc["committed_usd"] == "24.90" and Decimal(doc["spent_usd"]) == Decimal("16.60")  # cancelled: $0
    assert_no_secrets(aws["ledger"].read_text())


def test_cancel_asks_for_confirmation(compiled, aws, monkeypatch, capsys):
    device, circuits, shots, est, fake = setup(compiled, GARNET)
    fake.expect_get_device()
    fake.expect_create(0)
    fake.expect_get_task(0, "QUEUED")
    run(fake, device, circuits, shots, est, aws["ledger"], poll_timeout_s=0)

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    monkeypatch.setattr("sys.stdin", Terminal("n\n"))
    monkeypatch.setattr(qpu_commands, "_client", lambda region: fake.client)
    fake.expect_get_task(0, "QUEUED")  # issue 12: cancel reads the state first
    assert main(["hardware", "cancel", "--run", "run-1", "--ledger", str(aws["ledger"])]) == 1
    assert "not cancelled" in capsys.readouterr().out and not fake.sent("CancelQuantumTask")
    monkeypatch.setattr("sys.stdin", Terminal("yes\n"))
    fake.expect_get_task(0, "QUEUED")
    fake.expect_cancel(0)
    assert main(["hardware", "cancel", "--run", "run-1", "--ledger", str(aws["ledger"])]) == 0
    fake.done()
    assert Ledger(aws["ledger"]).rows()[0].state == "CANCELLING"


def test_second_submitter_is_refused(compiled, aws):
    device, circuits, shots, est, fake = setup(compiled, GARNET)
    with Ledger(aws["ledger"]).submission_lock():
        with pytest.raises(HardwareError, match="another qml-ops process is submitting"):
            run(fake, device, circuits, shots, est, aws["ledger"])
    assert fake.calls == []


def test_client_token_is_deterministic():
    a = client_token("r", "arn:x", 0, "h", 100)
    assert a == client_token("r", "arn:x", 0, "h", 100) and len(a) == 64
    assert len({a, client_token("r", "arn:x", 1, "h", 100), client_token("r", "arn:x", 0, "h2", 100),
                client_token("r", "arn:x", 0, "h", 100, attempt=1)}) == 4
