"""The QPU path against the real Braket API model (issue 12): recovery the service accepts,
collection never blocked, AWS spending limits, billing from what ran, program-set limits and
validation failures, latency from task metadata, approvals that buy one run, the period's budget.

Every case asserts the CreateQuantumTask calls and the money (committed / spent). Braket is a
Stubber on a real client (every request and response checked against the service model; every
SearchQuantumTasks request also against the model's documented filter names and operators),
S3 is moto, results are the torch emulator's counts.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from types import SimpleNamespace

import numpy as np
import pytest

from qml_ops.cli import main
from qml_ops.cost import estimate
from qml_ops.errors import BudgetError, HardwareError
from qml_ops.hardware import billing
from qml_ops.hardware.approvals import recorded
from qml_ops.hardware.devices import get_device
from qml_ops.hardware.ledger import Ledger
from qml_ops.hardware.qpu import clock, preflight, submit
from qml_ops.hardware.qpu.recovery import search_filters
from tests.hardware.qpu_fixtures import (
    LIMIT_ARN, MONTH_END, T0, FakeBraket, device_document, record_approval, search_request_problems,
    search_rules,
)
from tests.hardware.test_qpu import GARNET, IONQ, Crash, _s3, aws, compiled, run, setup  # noqa: F401


def money(result):
    return result.cost_usd, result.spent_usd


# --------------------------------------------------------------- 1. recovery


def test_search_filters_are_the_ones_the_service_model_documents():
    rules = search_rules()
    assert rules["names"] == {"quantumTaskArn", "deviceArn", "jobArn", "status", "createdAt"}
    assert rules["operators"] == {"LT", "LTE", "EQUAL", "GT", "GTE", "BETWEEN"}
    assert (rules["max_filters"], rules["max_values"], rules["max_results"]) == (10, 10, 100)
    device = get_device(GARNET)
    window = (T0 - timedelta(minutes=15), T0 + timedelta(minutes=15))
    for filters in (search_filters(device, window), search_filters(device, None)):
        assert search_request_problems({"filters": filters, "maxResults": 100}, rules) == []
    assert search_filters(device, window)[1] == {
        "name": "createdAt", "operator": "BETWEEN", "values": ["2026-05-06T11:45:00Z", "2026-05-06T12:15:00Z"]}
    # the check is not vacuous: the old tag filter (which Stubber accepts) is refused
    old = {"filters": [{"name": "tags:qml-ops-run", "operator": "EQUAL", "values": ["run-1"]}], "maxResults": 500}
    problems = search_request_problems(old, rules)
    assert any("'tags:qml-ops-run' is not one of" in p for p in problems) and any("maxResults" in p for p in problems)


def test_recovery_by_device_and_time_window_finds_the_orphan_and_creates_nothing(compiled, aws, monkeypatch):
    """The create went out and returned, the process died before the ARN was recorded. The
    re-run pages through the device's tasks of the window (other runs' tasks, one without tags
    in the result: ListTagsForResource), finds its own by the token tag, creates nothing."""
    device, circuits, shots, est, fake = setup(compiled, GARNET)
    fake.expect_get_device()
    fake.expect_create(0)
    original = submit._create

    def create_then_crash(braket, row, task):
        original(braket, row, task)
        raise Crash("killed after CreateQuantumTask returned")

    monkeypatch.setattr(submit, "_create", create_then_crash)
    with pytest.raises(Crash):
        run(fake, device, circuits, shots, est, aws["ledger"])
    (row,) = Ledger(aws["ledger"]).rows()
    assert row.state == "CREATING" and row.arn is None and len(fake.creates) == 1
    monkeypatch.setattr(submit, "_create", original)

    other_arn = fake.arn(0).replace("quantum-task/", "quantum-task/other-")
    untagged_arn = fake.arn(0).replace("quantum-task/", "quantum-task/untagged-")
    fake.expect_get_device()
    fake.expect_search(summaries=[fake.summary(0, "COMPLETED", "t" * 64, arn=other_arn, run_key="someone-else"),
                                  fake.summary(0, "QUEUED", None, with_tags=False, arn=untagged_arn)],
                       next_token="page-2")
    fake.expect_list_tags(untagged_arn, {"qml-ops-run": "run-1", "qml-ops-token": "0" * 64})
    fake.expect_search(found=[(0, "QUEUED")], tokens={0: row.client_token}, page_token="page-2")
    fake.expect_get_task(0, "COMPLETED")
    result = run(fake, device, circuits, shots, est, aws["ledger"])
    fake.done()  # every search checked against the service model's filters
    assert len(fake.creates) == 1  # the re-run created nothing
    assert money(result) == (Decimal("1.17"), Decimal("1.17")) and not result.pending
    assert [r.arn for r in Ledger(aws["ledger"]).rows()] == [fake.arn(0)]
    searches = fake.sent("SearchQuantumTasks")
    assert len(searches) == 2 and searches[1]["nextToken"] == "page-2"
    assert all("tags" not in f["name"] for s in searches for f in s["filters"])
    np.testing.assert_array_equal(result.counts, fake.expected_counts)


def test_a_transiently_failing_create_then_a_crash_resumes_with_the_same_token(compiled, aws):
    """Every try of the create failed with a 5xx (did the service create it?), then the process
    ended. The re-run searches, finds nothing, creates once more with the same client token."""
    device, circuits, shots, est, fake = setup(compiled, GARNET)
    fake.expect_get_device()
    for _ in range(4):  # aws.CREATE_ATTEMPTS
        fake.expect_create(0, error="InternalServiceException")
    with pytest.raises(HardwareError, match="may or may not exist: run again to reconcile"):
        run(fake, device, circuits, shots, est, aws["ledger"])
    (row,) = Ledger(aws["ledger"]).rows()
    assert row.state == "CREATING" and row.arn is None and len(fake.creates) == 4
    fake.expect_get_device()
    fake.expect_search([])
    fake.expect_create(0)
    fake.expect_get_task(0, "COMPLETED")
    result = run(fake, device, circuits, shots, est, aws["ledger"])
    fake.done()
    assert len(fake.creates) == 5 and {c["clientToken"] for c in fake.creates} == {row.client_token}
    assert money(result) == (Decimal("1.17"), Decimal("1.17"))
    assert len(Ledger(aws["ledger"]).rows()) == 1


# --------------------------------------------------------------- 2. never block collecting


def test_polling_runs_when_the_device_is_offline_and_outside_a_window(compiled, aws, monkeypatch):
    device, circuits, shots, est, fake = setup(compiled, IONQ)
    fake.expect_get_device()
    fake.expect_create(0)
    fake.expect_create(1)
    original = submit._create

    def crash_before_task_2(braket, row, task):
        if task.index == 2:
            raise Crash("killed before CreateQuantumTask 2")
        return original(braket, row, task)

    monkeypatch.setattr(submit, "_create", crash_before_task_2)
    with pytest.raises(Crash):
        run(fake, device, circuits, shots, est, aws["ledger"])
    monkeypatch.setattr(submit, "_create", original)
    assert [r.state for r in Ledger(aws["ledger"]).rows()] == ["CREATED", "CREATED", "CREATING"]
    # the device goes offline: no create, but the orphan is searched and the created tasks collected
    fake.expect_get_device(status="OFFLINE")
    fake.expect_search([])
    fake.expect_get_task(0, "COMPLETED")
    fake.expect_get_task(1, "COMPLETED")
    with pytest.raises(HardwareError, match="is OFFLINE, not ONLINE.*2 task\\(s\\) of run run-1 that exist were polled"):
        run(fake, device, circuits, shots, est, aws["ledger"])
    rows = Ledger(aws["ledger"]).rows()
    assert [r.state for r in rows] == ["COMPLETED", "COMPLETED", "CREATING"] and rows[0].counts is not None
    assert len(fake.creates) == 2 and billing.spent(rows) == Decimal("16.60")
    # outside its execution windows (a Saturday): warned with the next window, then created
    monkeypatch.setattr(clock, "utcnow", lambda: datetime(2026, 5, 9, 12, tzinfo=timezone.utc))
    weekdays = [{"executionDay": "Weekdays", "windowStartHour": "08:00:00", "windowEndHour": "17:00:00"}]
    fake.expect_get_device(windows=weekdays)
    # the window runs from the orphan row's time (T0) to now, each with 15 minutes to spare
    fake.expect_search([], window=(T0 - timedelta(minutes=15), datetime(2026, 5, 9, 12, 15, tzinfo=timezone.utc)))
    fake.expect_create(2)
    fake.expect_get_task(2, "COMPLETED")
    result = run(fake, device, circuits, shots, est, aws["ledger"])
    fake.done()
    assert len(fake.creates) == 3 and money(result) == (Decimal("24.90"), Decimal("24.90"))
    assert any("next window opens Monday 2026-05-11 08:00 UTC (in 1 d 20 h)" in n for n in result.notes)
    np.testing.assert_array_equal(result.counts, fake.expected_counts)


# --------------------------------------------------------------- 3. AWS spending limits


def test_spending_limit_is_created_and_read_back(compiled, aws):
    device, circuits, shots, est, fake = setup(compiled, GARNET)
    fake.expect_get_device(limits=[])
    fake.expect_create_limit("1.17")
    fake.expect_search_limits([fake.limit("1.17", start=T0)])
    fake.expect_create(0)
    fake.expect_get_task(0, "COMPLETED")
    result = run(fake, device, circuits, shots, est, aws["ledger"], enforce_spending_limit=True)
    fake.done()
    (created,) = fake.sent("CreateSpendingLimit")
    assert created["spendingLimit"] == "1.17" and created["deviceArn"] == device.arn
    assert created["timePeriod"] == {"startAt": T0, "endAt": MONTH_END} and created["tags"] == {"qml-ops-run": "run-1"}
    assert len(fake.creates) == 1 and money(result) == (Decimal("1.17"), Decimal("1.17"))
    assert any(n.startswith("AWS spending limit created: $1.17 (spent $0.00, queued $0.00, left $1.17)")
               for n in result.notes)


def test_a_looser_spending_limit_is_lowered_to_the_approval(compiled, aws):
    device, circuits, shots, est, fake = setup(compiled, GARNET)
    fake.expect_get_device(limits=[fake.limit("100", total="10", queued="2")])
    fake.expect_update_limit("13.17")  # spent 10 + queued 2 + this run's 1.17
    fake.expect_search_limits([fake.limit("13.17", total="10", queued="2")])
    fake.expect_create(0)
    fake.expect_get_task(0, "COMPLETED")
    result = run(fake, device, circuits, shots, est, aws["ledger"], enforce_spending_limit=True)
    fake.done()
    assert fake.sent("UpdateSpendingLimit")[0]["spendingLimit"] == "13.17" and not fake.sent("CreateSpendingLimit")
    assert len(fake.creates) == 1 and money(result) == (Decimal("1.17"), Decimal("1.17"))
    assert any("AWS spending limit lowered: $13.17" in n and "(was $100.00)" in n for n in result.notes)


@pytest.mark.parametrize("limit, enforce, expected", [
    ({"amount": "5", "total": "4"}, True, "leaves \\$1.00 .* needs \\$1.17"),   # stricter: never raised
    ({"amount": "5", "total": "4"}, False, "leaves \\$1.00 .* needs \\$1.17"),  # read even without enforcing
    ({"amount": "500", "end": T0 - timedelta(days=1)}, True, "not now: Braket rejects every task outside it"),
])
def test_a_stricter_or_expired_spending_limit_is_never_raised_and_stops_the_run(compiled, aws, limit, enforce,
                                                                                expected):
    device, circuits, shots, est, fake = setup(compiled, GARNET)
    end = limit.get("end", MONTH_END)
    fake.expect_get_device(limits=[fake.limit(limit["amount"], total=limit.get("total", "0"),
                                              start=T0 - timedelta(days=30), end=end)])
    with pytest.raises(HardwareError, match=expected):
        run(fake, device, circuits, shots, est, aws["ledger"], enforce_spending_limit=enforce)
    fake.done()
    assert len(fake.creates) == 0 and not fake.sent("UpdateSpendingLimit") and not fake.sent("CreateSpendingLimit")
    assert not aws["ledger"].exists()


def test_an_equal_spending_limit_is_kept(compiled, aws):
    device, circuits, shots, est, fake = setup(compiled, GARNET)
    fake.expect_get_device(limits=[fake.limit("20", total="18.83")])  # leaves exactly $1.17
    fake.expect_create(0)
    fake.expect_get_task(0, "COMPLETED")
    result = run(fake, device, circuits, shots, est, aws["ledger"], enforce_spending_limit=True)
    fake.done()
    assert not fake.sent("UpdateSpendingLimit") and len(fake.creates) == 1
    assert any(n.startswith("AWS spending limit kept: $20.00") for n in result.notes)


# --------------------------------------------------------------- 4. spent = what ran


def test_spent_is_what_ran_for_failed_cancelled_and_partial_tasks(compiled, aws):
    device, circuits, shots, est, fake = setup(compiled, IONQ)
    fake.expect_get_device()
    for i in range(3):
        fake.expect_create(i)
    fake.expect_get_task(0, "COMPLETED", num_successful_shots=60)  # 40 of 100 shots did not succeed
    fake.expect_get_task(1, "FAILED", failure_reason="Device calibration in progress")
    fake.expect_get_task(2, "CANCELLING")
    fake.expect_get_task(2, "COMPLETED")  # a cancel that came too late: collected and billed
    result = run(fake, device, circuits, shots, est, aws["ledger"])
    fake.done()
    rows = Ledger(aws["ledger"]).rows()
    assert len(fake.creates) == 3
    assert [r.spent_usd for r in rows] == [Decimal("5.10"), Decimal("0"), Decimal("8.30")]  # 0.30 + 60 x 0.08
    assert [r.num_successful_shots for r in rows] == [60, None, 100]
    assert money(result) == (Decimal("24.90"), Decimal("13.40"))
    assert result.failed_samples == [101] and not np.isnan(result.counts[2]).any()
    # a task not final yet counts at its committed cost; an unconfirmed create may exist
    queued = rows[0].with_changes(state="QUEUED", spent_usd=None)
    creating = rows[1].with_changes(state="CREATING", arn=None)
    assert billing.spent([queued]) == Decimal("8.30") and billing.exposure([queued, creating]) == Decimal("16.60")


# --------------------------------------------------------------- 5. program sets


def test_a_run_over_the_shot_limit_is_split_into_program_sets_one_fee_each(compiled, aws):
    """45 samples x 512 shots on Garnet: 23,040 shots, more than the 20,000 Garnet takes: two
    program sets (39 + 6 executables), each paying the $0.30 fee once."""
    device = get_device(GARNET)
    profile, six = compiled[GARNET]
    circuits = (six * 8)[:45]
    est = estimate(device, 45, 512)
    assert (est.tasks, est.executables_per_task, est.cost_usd) == (2, 39, Decimal("34.01"))
    fake = FakeBraket(device, circuits, 512, profile, per_task=39, program_set=True, s3=_s3(device.region))
    fake.expect_get_device()
    fake.expect_create(0)
    fake.expect_create(1)
    fake.expect_get_task(0, "COMPLETED")
    fake.expect_get_task(1, "COMPLETED")
    result = run(fake, device, circuits, 512, est, aws["ledger"])
    fake.done()
    assert len(fake.creates) == 2 and [c["shots"] for c in fake.creates] == [39 * 512, 6 * 512]
    assert all(json.loads(c["action"])["braketSchemaHeader"]["name"] == "braket.ir.openqasm.program_set"
               for c in fake.creates)
    assert [len(json.loads(c["action"])["programs"]) for c in fake.creates] == [39, 6]
    assert [r.cost_usd for r in Ledger(aws["ledger"]).rows()] == [Decimal("0.30") + 19968 * Decimal("0.00145"),
                                                                   Decimal("0.30") + 3072 * Decimal("0.00145")]
    assert money(result) == (Decimal("34.008"), Decimal("34.008"))
    np.testing.assert_array_equal(result.counts, fake.expected_counts)


def test_a_run_over_the_executable_limit_is_split(compiled):
    from qml_ops.hardware.qpu import plan_tasks

    device = get_device("iqm-emerald")
    _, six = compiled[GARNET]
    circuits = (six * 18)[:105]
    est = estimate(device, 105, 10)
    plan = plan_tasks(device, circuits, 10, list(range(105)), est)
    assert [len(t.positions) for t in plan] == [100, 5] and est.tasks == 2
    assert sum(t.cost_usd for t in plan) == Decimal("0.60") + 1050 * Decimal("0.0016") == Decimal("2.28")


def test_program_set_validation_failures_are_reported_by_executable(compiled, aws):
    device, circuits, shots, est, fake = setup(compiled, GARNET)
    fake.expect_get_device()
    fake.expect_create(0, error="ValidationException", modeled_fields={
        "reason": "ProgramSetValidationFailed",
        "programSetValidationFailures": [
            {"programIndex": 2, "errors": ["qubit 21 does not exist on the device"]},
            {"programIndex": 4, "inputsIndex": 0, "errors": ["gate 'h' is not native", "no verbatim box"]},
        ]})
    with pytest.raises(HardwareError) as info:
        run(fake, device, circuits, shots, est, aws["ledger"])
    fake.done()
    message = str(info.value)
    assert "program 2 (sample 102): qubit 21 does not exist on the device" in message
    assert "program 4 (sample 104 inputs 0): gate 'h' is not native; no verbatim box" in message
    assert "nothing was created" in message
    (row,) = Ledger(aws["ledger"]).rows()
    assert row.state == "REJECTED" and "program 2 (sample 102)" in row.failure_reason
    assert len(fake.creates) == 1 and billing.committed([row]) == billing.spent([row]) == 0


# --------------------------------------------------------------- 6. latency


def test_latency_from_task_metadata(compiled, aws, monkeypatch):
    device, circuits, shots, est, fake = setup(compiled, GARNET)
    now = [T0]
    monkeypatch.setattr(clock, "utcnow", lambda: now[0])

    def sleep(seconds):
        aws["sleeps"].append(seconds)
        now[0] += timedelta(seconds=seconds)

    monkeypatch.setattr(clock, "sleep", sleep)
    fake.expect_get_device()
    fake.expect_create(0)
    fake.expect_get_task(0, "QUEUED")
    fake.expect_get_task(0, "RUNNING")    # first seen running at T0 + 10 s
    fake.expect_get_task(0, "COMPLETED")  # endedAt T0 + 30 s
    result = run(fake, device, circuits, shots, est, aws["ledger"], poll_interval_s=10)
    fake.done()
    (task,) = result.latency.tasks
    assert (task.queue_s, task.execution_s, task.total_s, task.executables) == (10.0, 20.0, 30.0, 6)
    assert task.per_inference_s == result.latency.per_inference_s == 5.0
    assert result.latency.summary() == {"task_queue_s": 10.0, "task_execution_s": 20.0, "task_total_s": 30.0}
    assert len(fake.creates) == 1 and money(result) == (Decimal("1.17"), Decimal("1.17"))


# --------------------------------------------------------------- 8. the real device documents


def test_get_device_answers_with_the_real_document_and_the_circuits_meet_it(compiled, aws):
    device, circuits, shots, est, fake = setup(compiled, IONQ)
    fake.expect_get_device(limits=None)
    check = preflight.check_device(fake.client, device, shots, False, circuits=circuits)
    real = device_document(IONQ)
    program = real["action"]["braket.ir.openqasm.program"]
    # what a document rebuilt from the profile got wrong: no partial verbatim boxes, action
    # version "1", native gates only in paradigm.nativeGateSet
    assert program["supportsPartialVerbatimBox"] is False and program["version"] == ["1"]
    assert "gpi" not in program["supportedOperations"] and real["paradigm"]["nativeGateSet"] == ["GPI", "GPI2", "ZZ"]
    assert check.status == "ONLINE" and check.inside_window
    # a circuit the live document does not take (H is not an IonQ native gate) is refused
    from braket.circuits import Circuit

    bad = SimpleNamespace(circuit=Circuit().add_verbatim_box(Circuit().h(0)))
    fake.expect_get_device(limits=None)
    with pytest.raises(HardwareError, match="circuit 0 does not pass ionq-forte-enterprise-1's live device document"):
        preflight.check_device(fake.client, device, shots, False, circuits=[bad])
    fake.done()


# --------------------------------------------------------------- 10. an approval buys one run


def test_a_second_run_under_a_used_approval_creates_nothing(compiled, aws, capsys):
    device, circuits, shots, est, fake = setup(compiled, GARNET)
    fake.expect_get_device()
    fake.expect_create(0)
    fake.expect_get_task(0, "COMPLETED")
    run(fake, device, circuits, shots, est, aws["ledger"])
    (approval,) = recorded(Ledger(aws["ledger"]))
    assert list(approval.used) == ["run-1"] and Ledger(aws["ledger"]).rows()[0].approval_id == approval.id
    # a retrained model is a new version, so a new run key: the used approval does not pay for it
    profile, _ = compiled[GARNET]
    other = FakeBraket(device, circuits, shots, profile, per_task=6, program_set=True, s3=fake.s3,
                       run_key="run-2", model_version="qcnn/2")
    with pytest.raises(BudgetError, match="no recorded approval for run 'run-2'.*qml-ops hardware approve"):
        run(other, device, circuits, shots, est, aws["ledger"], approved=False)
    # an approval of other circuits under that key does not pay for it either
    record_approval(aws["ledger"], device, list(reversed(circuits)), shots, est, "run-2", "qcnn/2")
    with pytest.raises(BudgetError, match="differs in compiled circuits"):
        run(other, device, circuits, shots, est, aws["ledger"], approved=False)
    assert other.calls == [] and len(fake.creates) == 1
    # the same run again is a resume: free, no new approval, no call
    again = run(fake, device, circuits, shots, est, aws["ledger"], approved=False)
    assert money(again) == (Decimal("1.17"), Decimal("1.17")) and len(fake.calls) == 4
    assert main(["hardware", "status", "--ledger", str(aws["ledger"])]) == 0
    out = capsys.readouterr().out
    assert "spend so far: $1.17" in out and "spent (billed): $1.17" in out
    assert f"approval {approval.id}" in out and "used by run-1" in out and "not used yet" in out  # run-2's
    # a ledger that lost the run's tasks: the used approval does not pay again
    aws["ledger"].unlink()
    with pytest.raises(BudgetError, match="paid for run run-1 on .* holds none of its tasks"):
        run(fake, device, circuits, shots, est, aws["ledger"], approved=False)
    assert len(fake.creates) == 1


def test_the_total_budget_stops_a_run_that_fits_its_own_approval(compiled, aws, monkeypatch):
    device, circuits, shots, est, fake = setup(compiled, GARNET)
    monkeypatch.setattr(clock, "utcnow", lambda: datetime(2026, 4, 30, 12, tzinfo=timezone.utc))
    fake.expect_get_device(windows=[{"executionDay": "Everyday", "windowStartHour": "00:00:00",
                                     "windowEndHour": "23:59:59"}])
    fake.expect_create(0)
    fake.expect_get_task(0, "COMPLETED")
    run(fake, device, circuits, shots, est, aws["ledger"], total="1.17")  # April: $1.17 spent
    monkeypatch.setattr(clock, "utcnow", lambda: T0)                       # May
    profile, _ = compiled[GARNET]
    second = FakeBraket(device, circuits, shots, profile, per_task=6, program_set=True, s3=fake.s3,
                        run_key="run-2", model_version="qcnn/2")
    third = FakeBraket(device, circuits, shots, profile, per_task=6, program_set=True, s3=fake.s3,
                       run_key="run-3", model_version="qcnn/3")
    second.expect_get_device()
    second.expect_create(0)
    second.expect_get_task(0, "COMPLETED")
    result = run(second, device, circuits, shots, est, aws["ledger"], total="1.17")  # April's spend is not May's
    assert money(result) == (Decimal("1.17"), Decimal("1.17")) and len(second.creates) == 1
    # run-3 is approved and within its own ceilings, but May has $1.17 spent of a $2.00 total
    with pytest.raises(BudgetError, match=r"QPU spend of 2026-05 \(\$1.17\) plus this run \(\$1.17\) exceeds "
                                          r"hardware.total_budget_usd \$2.00"):
        run(third, device, circuits, shots, est, aws["ledger"], total="2.00")
    assert third.calls == [] and len(Ledger(aws["ledger"]).rows()) == 2
    third.expect_get_device()
    third.expect_create(0)
    third.expect_get_task(0, "COMPLETED")
    assert money(run(third, device, circuits, shots, est, aws["ledger"], total="2.34")) == (
        Decimal("1.17"), Decimal("1.17"))
    for f in (fake, second, third):
        f.done()
    assert len(fake.creates) + len(second.creates) + len(third.creates) == 3


def test_the_total_budget_counts_spent_not_committed(compiled, aws):
    """A failed task is not billed: the period's budget has room again."""
    device, circuits, shots, est, fake = setup(compiled, GARNET)
    fake.expect_get_device()
    fake.expect_create(0)
    fake.expect_get_task(0, "FAILED", failure_reason="calibration")
    run(fake, device, circuits, shots, est, aws["ledger"], total="1.17")
    profile, _ = compiled[GARNET]
    second = FakeBraket(device, circuits, shots, profile, per_task=6, program_set=True, s3=fake.s3,
                        run_key="run-2", model_version="qcnn/2")
    second.expect_get_device()
    second.expect_create(0)
    second.expect_get_task(0, "COMPLETED")
    result = run(second, device, circuits, shots, est, aws["ledger"], total="1.17")
    fake.done()
    second.done()
    rows = Ledger(aws["ledger"]).rows()
    assert billing.committed(rows) == Decimal("2.34") and billing.spent(rows) == Decimal("1.17")
    assert money(result) == (Decimal("1.17"), Decimal("1.17")) and len(fake.creates) + len(second.creates) == 2


def test_spending_limit_arn_is_of_the_service_pattern():
    import re

    pattern = r"arn:aws[a-z\-]*:braket:[a-z0-9\-]+:[0-9]{12}:spending-limit/.*"
    assert re.fullmatch(pattern, LIMIT_ARN)


def test_budget_periods_and_the_total_budget_gate():
    from qml_ops.hardware.gate import check_total_budget

    may = datetime(2026, 5, 31, 23, 59, tzinfo=timezone.utc)
    assert billing.period_window("month", may) == (datetime(2026, 5, 1, tzinfo=timezone.utc),
                                                   datetime(2026, 6, 1, tzinfo=timezone.utc))
    assert billing.period_window("month", datetime(2026, 12, 3, tzinfo=timezone.utc))[1] == datetime(
        2027, 1, 1, tzinfo=timezone.utc)
    assert billing.period_window("year", may)[0] == datetime(2026, 1, 1, tzinfo=timezone.utc)
    assert billing.period_window("all", may) == (None, None)
    with pytest.raises(ValueError, match="budget period must be one of"):
        billing.period_window("week", may)
    # one cent short, rounded against spending; nothing to create is always allowed
    assert not check_total_budget("0.011", "99.99", "100.00", "2026-05").allowed  # $100.001 rounds up to $100.01
    assert check_total_budget("0.01", "99.99", "100.00", "2026-05").allowed
    assert not check_total_budget("0.01", "99.99", "99.999", "2026-05").allowed  # budget rounds down to $99.99
    assert check_total_budget("0", "500", 0, "2026-05").allowed
    assert "not set" in check_total_budget("1", "0", None, "2026-05").reason
