"""Calibration drift: snapshots compared, the model's accuracy under each, the profile's age."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from dataclasses import replace
from pathlib import Path

import pytest

from qml_ops.cli import main
from qml_ops.config import load_params, parse_params
from qml_ops.errors import ConfigError
from qml_ops.hardware import drift
from qml_ops.hardware.drift_commands import drift_text
from qml_ops.hardware.profiles import SNAPSHOTS_DIR, snapshot_profiles
from qml_ops.intervals import wilson_interval
from project_fixtures import make_project, run_stage_main, use_project

REPO = Path(__file__).resolve().parents[2]
GARNET_OLD = REPO / SNAPSHOTS_DIR / "iqm-garnet_2025-07-06.json"
GARNET_NEW = REPO / SNAPSHOTS_DIR / "iqm-garnet_2026-05-05.json"


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def document_value(path: Path, qubit: int, kind: str) -> float:
    """A qubit's fidelity of ``kind`` read straight from a Braket device document (JSON, maybe encoded twice)."""
    doc = json.loads(path.read_text())
    while isinstance(doc, str):
        doc = json.loads(doc)
    entries = doc["standardized"]["oneQubitProperties"][str(qubit)]["oneQubitFidelity"]
    return next(e["fidelity"] for e in entries if e["fidelityType"]["name"] == kind)


@pytest.fixture
def no_model_project(tmp_path, monkeypatch):
    """A project with the repository's profiles and params, and no MLflow store (a fresh clone)."""
    root = tmp_path / "proj"
    root.mkdir()
    (root / "dvc.yaml").write_text("stages: {}\n")
    (root / "params.yaml").write_text((REPO / "params.yaml").read_text())
    shutil.copytree(REPO / "profiles", root / "profiles")
    use_project(monkeypatch, root)
    return root


def test_garnet_snapshots_compared_against_the_documents():
    snaps = snapshot_profiles("iqm-garnet", root=REPO)
    assert [p.snapshot_date for p in snaps] == ["2025-07-06", "2026-05-05"]
    old, new = drift.pick_snapshots(snaps)
    d = drift.compare_profiles(old, new)
    assert d.old.snapshot_date == "2025-07-06" and d.new.snapshot_date == "2026-05-05"
    assert len(d.qubits) == 20 and len(d.couplers) == 30 and not d.qubits_only_old and not d.couplers_only_new
    q12 = next(q for q in d.qubits if q.qubit == 12)
    before, after = document_value(GARNET_OLD, 12, "READOUT"), document_value(GARNET_NEW, 12, "READOUT")
    assert (q12.figures["readout_fidelity"].old, q12.figures["readout_fidelity"].new) == (before, after)
    assert q12.figures["readout_fidelity"].delta == pytest.approx(after - before)
    # largest changes first
    ranks = [q.largest_change for q in d.qubits]
    assert ranks == sorted(ranks, reverse=True) and d.qubits[0].qubit == 12
    changes = [abs(c.fidelity.delta) for c in d.couplers]
    assert changes == sorted(changes, reverse=True) and d.couplers[0].gate == "cz"
    s = d.summary()
    assert s["days"] == 303 and s["largest_qubit_change"]["qubit"] == 12
    assert s["largest_coupler_change"]["coupler"] == d.couplers[0].coupler


def test_one_sided_qubits_and_couplers_are_listed():
    old, new = snapshot_profiles("iqm-garnet", root=REPO)
    fewer = replace(new, qubits=[q for q in new.qubits if q != 20],
                    two_qubit_fidelity={e: g for e, g in new.two_qubit_fidelity.items() if "20" not in e.split("-")})
    d = drift.compare_profiles(old, fewer)
    assert d.qubits_only_old == [20] and d.couplers_only_old == ["16-20", "19-20"] and not d.qubits_only_new
    text = drift_text(d, top=5)
    assert "qubits only in the 2025-07-06 snapshot: 20" in text
    assert "couplers only in the 2025-07-06 snapshot: 16-20, 19-20" in text
    assert "5 of 19" in text and "5 of 28" in text and "--top 0" in text
    with pytest.raises(Exception, match="not the same device"):
        drift.compare_profiles(old, replace(new, device_id="iqm-emerald"))


def test_cli_without_a_model_shows_the_drift_and_exits_0(no_model_project, capsys):
    code, out, err = run(capsys, "devices", "drift", "iqm-garnet")
    assert code == 0, err
    assert "2025-07-06 → 2026-05-05" in out and "summary: 20 qubits, 30 couplers" in out
    assert "0.9810 → 0.9229 (-0.0581)" in out  # qubit 12's readout
    assert "predicted accuracy needs a registered model" in out and "dvc repro train" in out
    assert "Traceback" not in out + err
    assert not (no_model_project / "mlruns").exists()  # nothing created by looking


def test_cli_json_keys(no_model_project, capsys):
    code, out, _ = run(capsys, "devices", "drift", "iqm-garnet", "--json", "--no-model")
    assert code == 0
    doc = json.loads(out)
    assert set(doc) == {"device", "old", "new", "summary", "qubits", "couplers", "qubits_only_old",
                        "qubits_only_new", "couplers_only_old", "couplers_only_new", "snapshot_dates",
                        "predicted_accuracy", "predicted_accuracy_note"}
    assert doc["snapshot_dates"] == ["2025-07-06", "2026-05-05"] and doc["predicted_accuracy"] is None
    assert "--no-model" in doc["predicted_accuracy_note"]
    assert len(doc["qubits"]) == 20  # JSON holds every qubit, not only --top
    q = doc["qubits"][0]
    assert set(q) == {"qubit", "readout_fidelity", "one_qubit_fidelity", "t1_s", "t2_s"}
    assert set(q["t1_s"]) == {"old", "new", "change"}
    assert set(doc["couplers"][0]) == {"coupler", "gate", "two_qubit_fidelity"}


def test_cli_errors(no_model_project, capsys):
    code, _, err = run(capsys, "devices", "drift", "ibm-eagle")
    assert code == 1 and "unknown device 'ibm-eagle'" in err and "iqm-garnet" in err
    code, _, err = run(capsys, "devices", "drift", "iqm-emerald", "--no-model")
    assert code == 1 and "one snapshot (2025-11-06)" in err and "nothing to compare" in err
    code, _, err = run(capsys, "devices", "drift", "iqm-garnet", "--from", "2024-01-01", "--no-model")
    assert code == 1 and "2024-01-01" in err and "2025-07-06, 2026-05-05" in err
    code, _, err = run(capsys, "devices", "drift", "local")
    assert code == 1 and "no calibration" in err
    assert "Traceback" not in err


def test_ankaa_3_dates_chosen_explicitly(no_model_project, capsys):
    code, out, _ = run(capsys, "devices", "drift", "rigetti-ankaa-3", "--from", "2025-06-30",
                       "--to", "2026-04-01", "--no-model", "--top", "3")
    assert code == 0 and "rigetti-ankaa-3: calibration 2025-06-30 → 2026-04-01" in out
    assert "3 of " in out


def test_max_profile_age_days_is_validated():
    assert parse_params({}).hardware.max_profile_age_days == 90
    with pytest.raises(ConfigError) as exc:
        parse_params({"hardware": {"max_profile_age_days": 0}})
    assert "hardware.max_profile_age_days" in str(exc.value) and "0" in str(exc.value)


def test_stale_profile_warning(monkeypatch):
    monkeypatch.chdir(REPO)
    on = dt.date(2026, 12, 1)
    warnings = drift.stale_profile_warnings(["iqm-garnet", "rigetti-cepheus-1-108q"], 90, on=on)
    assert len(warnings) == 2
    assert "iqm-garnet is from 2026-05-05, 210 days old on 2026-12-01" in warnings[0]
    assert "hardware.max_profile_age_days = 90" in warnings[0]
    assert drift.stale_profile_warnings(["iqm-garnet"], 90, on=dt.date(2026, 6, 1)) == []
    assert drift.stale_profile_warnings(["iqm-garnet"], 300, on=on) == []


QPU_SKIPPED = """
hardware:
  mode: qpu
  devices: [iqm-garnet]
  n_samples: 6
  shots: 200
  s3_bucket: amazon-braket-test
  max_profile_age_days: {age}
"""


@pytest.mark.parametrize("today, age, warned", [(dt.date(2026, 12, 1), 90, True), (dt.date(2026, 6, 1), 90, False),
                                                (dt.date(2026, 12, 1), 365, False)])
def test_stage_names_the_profile_date_and_warns_when_old(tmp_path, monkeypatch, capsys, no_aws, today, age, warned):
    """A qpu run with no budget is skipped after the estimate: the estimate and the warning print first."""
    root = make_project(tmp_path / "proj")
    use_project(monkeypatch, root)
    with (root / "params.yaml").open("a") as f:
        f.write(QPU_SKIPPED.format(age=age))
    monkeypatch.setattr(drift, "today", lambda: today)
    run_stage_main("hardware")
    out = capsys.readouterr().out
    estimate_line = next(line for line in out.splitlines() if line.strip().startswith("iqm-garnet"))
    assert "profile date" in out and estimate_line.rstrip().endswith("2026-05-05")
    assert ("warning: the calibration profile of iqm-garnet is from 2026-05-05" in out) is warned
    assert "skipped, no task created" in out


def test_estimate_command_names_the_profile_date(capsys, monkeypatch):
    monkeypatch.chdir(REPO)
    code, out, _ = run(capsys, "hardware", "estimate", "--device", "iqm-garnet", "--device", "rigetti-ankaa-3",
                       "--samples", "10", "--shots", "100")
    assert code == 0 and "profile date" in out
    garnet = next(line for line in out.splitlines() if line.startswith("iqm-garnet"))
    ankaa = next(line for line in out.splitlines() if line.startswith("rigetti-ankaa-3"))
    assert garnet.rstrip().endswith("2026-05-05") and ankaa.rstrip().endswith("2026-04-01")


HW_SMALL = """
hardware:
  devices: [iqm-garnet]
  n_samples: 8
  shots: 200
"""


def test_predicted_accuracy_under_each_snapshot(tmp_path, monkeypatch, capsys):
    from qml_ops.training import train_and_register
    from qml_ops.training_data import load_encoded

    root = make_project(tmp_path / "proj")
    use_project(monkeypatch, root)
    with (root / "params.yaml").open("a") as f:
        f.write(HW_SMALL)
    params = load_params("params.yaml")
    train_and_register(params, load_encoded())
    code, out, err = run(capsys, "devices", "drift", "iqm-garnet", "--json")
    assert code == 0, err
    pred = json.loads(out)["predicted_accuracy"]
    assert pred["model"].startswith("models:/") and pred["n_samples"] == 8 and pred["shots"] == 200
    assert set(pred["snapshots"]) == {"2025-07-06", "2026-05-05"}
    for date, r in pred["snapshots"].items():
        assert r["status"] == "ok" and r["source"] == f"iqm-garnet_{date}.json"
        assert 0 <= r["accuracy_ci_low"] <= r["accuracy"] <= r["accuracy_ci_high"] <= 1
        correct = round(r["accuracy"] * 8)
        low, high = wilson_interval(correct, 8)  # the exact density matrix adds no error of its own
        assert (r["accuracy_ci_low"], r["accuracy_ci_high"]) == pytest.approx((low, high))
        assert r["sim2real_gap"] == pytest.approx(r["sim_accuracy"] - r["accuracy"])
        assert r["expval_mae"] > 0 and len(r["physical_qubits"]) >= 4
    code, out, _ = run(capsys, "devices", "drift", "iqm-garnet")
    assert code == 0 and "predicted accuracy of models:/" in out
    assert "2025-07-06" in out.split("predicted accuracy")[1] and "95% interval" in out
