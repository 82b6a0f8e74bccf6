"""The task ledger: typed rows over the version-1 JSON file, old files included."""

import json
from decimal import Decimal

import pytest

from qml_ops.errors import HardwareError
from qml_ops.hardware.ledger import Ledger, TaskRow, latest_attempts, spend, summarize

ARN = "arn:aws:braket:eu-north-1::device/qpu/iqm/Garnet"
TASK_ARN = "arn:aws:braket:eu-north-1:123456789012:quantum-task/0b6c"


def _old_row(index, attempt=0, **update):
    """A row exactly as the dict-based submitter wrote it (its ``_new_row`` plus the
    keys its ``upsert``/``_poll`` added): no queue_position/queue_s/execution_s
    unless reported, counts as lists."""
    token = f"{index}{attempt}".ljust(64, "a")
    row = {
        "run_key": "qcnn-v3-6x100-0123456789", "model_version": "3", "device": "iqm-garnet",
        "device_arn": ARN, "task_index": index, "attempt": attempt,
        "sample_indices": [3 * index, 3 * index + 1, 3 * index + 2], "shots": 100,
        "shots_total": 300, "n_executables": 3, "program_sets": True, "program_hash": "f" * 64,
        "client_token": token,
        "tags": {"qml-ops-run": "qcnn-v3-6x100-0123456789", "qml-ops-task": str(index),
                 "qml-ops-token": token, "qml-ops-model": "3"},
        "state": "CREATING", "arn": None, "cost_usd": "0.735", "created_at": "2026-05-06T12:00:00+00:00",
        "failure_reason": None, "counts": None, "s3_bucket": "amazon-braket-qml-ops-test",
        "s3_prefix": "qml-ops/tasks", "updated_at": "2026-05-06T12:00:01+00:00",
    }
    row.update(update)
    return row


V1_FILE = {"version": 1, "tasks": [
    _old_row(0, state="COMPLETED", arn=TASK_ARN, output_s3_bucket="amazon-braket-qml-ops-test",
             output_s3_directory="qml-ops/tasks/0b6c", total_s=30.0, queue_position="5",
             counts=[[60, 40], None, [12, 88]]),
    _old_row(1),
    _old_row(2, state="FAILED", arn=TASK_ARN + "2", failure_reason="Device calibration in progress",
             total_s=31.0),
    _old_row(2, attempt=1, state="QUEUED", arn=TASK_ARN + "3", total_s=None),
]}


@pytest.fixture
def v1_ledger(tmp_path):
    path = tmp_path / "hardware" / "ledger.json"
    path.parent.mkdir()
    path.write_text(json.dumps(V1_FILE, indent=2, sort_keys=True) + "\n")
    return Ledger(path)


def test_loads_a_version_1_file_written_the_old_way(v1_ledger):
    rows = v1_ledger.rows()
    assert [r.key for r in rows] == [("qcnn-v3-6x100-0123456789", "iqm-garnet", 0, 0),
                                     ("qcnn-v3-6x100-0123456789", "iqm-garnet", 1, 0),
                                     ("qcnn-v3-6x100-0123456789", "iqm-garnet", 2, 0),
                                     ("qcnn-v3-6x100-0123456789", "iqm-garnet", 2, 1)]
    done = rows[0]
    assert isinstance(done, TaskRow) and done.state == "COMPLETED" and done.arn == TASK_ARN
    assert done.counts == ((60, 40), None, (12, 88)) and done.sample_indices == (0, 1, 2)
    assert done.cost_usd == Decimal("0.735") and done.queue_position == "5" and done.total_s == 30.0
    assert done.queue_s is None and done.execution_s is None  # never written by the old submitter
    assert done.tags["qml-ops-task"] == "0" and done.is_created and not done.awaiting_results
    assert not rows[1].is_created and rows[1].counts is None
    assert rows[3].awaiting_results and rows[2].failure_reason == "Device calibration in progress"
    assert latest_attempts(rows)[2].attempt == 1
    assert spend(rows) == Decimal("0.735") * 3  # created rows only, exact
    groups = summarize(rows)
    assert [(g["state"], g["tasks"], g["samples"], g["spend_usd"]) for g in groups] == [
        ("COMPLETED", 1, 3, Decimal("0.735")), ("CREATING", 1, 3, Decimal("0")),
        ("FAILED", 1, 3, Decimal("0.735")), ("QUEUED", 1, 3, Decimal("0.735"))]


def test_an_update_keeps_the_file_version_1_and_every_other_row(v1_ledger):
    doc = json.loads(v1_ledger.path.read_text())
    doc["tasks"][1]["note_from_a_later_version"] = "kept"
    v1_ledger.path.write_text(json.dumps(doc))
    creating = v1_ledger.rows()[1]
    stored = v1_ledger.update(creating, arn=TASK_ARN + "1", state="CREATED")
    assert stored.state == "CREATED" and stored.arn == TASK_ARN + "1"
    assert stored.updated_at and stored.updated_at != creating.updated_at  # stamped now, not 2026
    after = json.loads(v1_ledger.path.read_text())
    assert after["version"] == 1 and len(after["tasks"]) == 4
    row = after["tasks"][1]
    assert row["arn"] == TASK_ARN + "1" and row["cost_usd"] == "0.735" and row["counts"] is None
    assert row["note_from_a_later_version"] == "kept"
    assert set(V1_FILE["tasks"][1]) <= set(row)  # every old key is still written
    assert after["tasks"][0]["counts"] == [[60, 40], None, [12, 88]]
    assert [t for i, t in enumerate(after["tasks"]) if i != 1] == [
        t for i, t in enumerate(V1_FILE["tasks"]) if i != 1]  # other rows untouched
    # a row round-trips through its JSON form
    for r in v1_ledger.rows():
        assert TaskRow.from_json(r.to_json()) == r


def test_bad_files_and_rows_are_refused_with_the_path(tmp_path):
    path = tmp_path / "ledger.json"
    path.write_text(json.dumps({"version": 2, "tasks": []}))
    with pytest.raises(HardwareError, match="ledger version 2 is not supported"):
        Ledger(path).rows()
    path.write_text(json.dumps({"version": 1, "tasks": [{"run_key": "r", "device": "d"}]}))
    with pytest.raises(HardwareError, match=r"ledger.json: task 0: missing field\(s\) model_version"):
        Ledger(path).rows()
    path.write_text(json.dumps({"version": 1, "tasks": [_old_row(0, shots="many")]}))
    with pytest.raises(HardwareError, match="task 0: malformed field"):
        Ledger(path).rows()
