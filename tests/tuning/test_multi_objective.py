"""Multi-objective, hardware-aware studies on real storage (SQLite) and MLflow (SQLite): the front, the
selection rule, resuming, the child runs' objective metrics, dominance pruning."""

import optuna
import pytest

from qml_ops import io, tracking
from qml_ops.config import load_params
from qml_ops.cost import estimate
from qml_ops.hardware.devices import get_device
from qml_ops.training_data import load_encoded
from qml_ops.tuning.runner import run_study, study_ref
from qml_ops.tuning.study import create_or_load, n_finished
from project_fixtures import make_project, run_stage_main, small_params, use_project

MO_TUNE = """
tune:
  n_trials: {n_trials}
  seed: 3
  objectives: [{objectives}]
  target_devices: [{devices}]
  emulation_samples: 12
  select: {{rule: min_two_qubit_gates, tolerance: 0.05}}
  space: {{ansatz: [1, 2, 6, 9], lr: {{low: 0.02, high: 0.1, log: true}}, batch_size: [16], epochs: [{epochs}],
          optimizer: [adam], loss: [mse]}}
"""


def params_text(n_trials=5, objectives="val_accuracy, two_qubit_gates", devices="iqm-garnet", epochs="2",
                pruner="median") -> str:
    base = small_params().split("tune:")[0]
    return (base + MO_TUNE.format(n_trials=n_trials, objectives=objectives, devices=devices, epochs=epochs)
            + f"  pruner: {pruner}\ntracking: {{experiment: test}}\n")


def child_runs(parent_run_id: str):
    client = tracking.client()
    exp = client.get_experiment_by_name("test")
    return client.search_runs([exp.experiment_id], f"tags.mlflow.parentRunId = '{parent_run_id}'", max_results=1000)


def stored_trials(params):
    ref = study_ref(params, load_encoded())
    return optuna.load_study(study_name=ref.name, storage=ref.storage_url).trials


def dominated(a: dict, b: dict) -> bool:
    """``b`` dominates ``a`` (accuracy up, gates down): the plain definition."""
    no_worse = b["val_accuracy"] >= a["val_accuracy"] and b["two_qubit_gates"] <= a["two_qubit_gates"]
    better = b["val_accuracy"] > a["val_accuracy"] or b["two_qubit_gates"] < a["two_qubit_gates"]
    return no_worse and better


@pytest.fixture
def project(tmp_path, monkeypatch):
    root = make_project(tmp_path / "proj", params_text=params_text())
    use_project(monkeypatch, root)
    return root


def test_front_selection_child_runs_and_resume(project):
    params = load_params("params.yaml")
    run_stage_main("tune")
    metrics = io.read_json(project / "metrics/tune.json")
    report = io.read_json(project / "reports/tune.json")
    document = io.read_json(project / "tune/best_params.json")
    assert report["objectives"] == ["val_accuracy", "two_qubit_gates"] and metrics["n_finished"] == 5
    assert report["pareto"] == metrics["pareto"]

    # the front in metrics/tune.json is exactly the non-dominated completed trials (from the study's storage)
    complete = [t for t in stored_trials(params) if t.state == optuna.trial.TrialState.COMPLETE]
    values = {t.number: dict(zip(["val_accuracy", "two_qubit_gates"], t.values)) for t in complete}
    front = {row["trial"]: row for row in metrics["pareto"]}
    assert front, "a completed study has a front"
    for number, v in values.items():
        beaten = any(dominated(v, other) for n, other in values.items() if n != number)
        assert (number in front) == (not beaten)
    for number, row in front.items():
        assert row["values"] == values[number]
        assert set(row["params"]) == {"ansatz", "lr", "batch_size", "epochs", "optimizer", "loss"}
    assert len({v["two_qubit_gates"] for v in values.values()}) > 1, "the ansätze differ in gates on the device"

    # the selection follows the rule: the fewest gates within 0.05 of the best accuracy, on the front
    best = max(v["val_accuracy"] for v in values.values())
    allowed = {n: v for n, v in values.items() if v["val_accuracy"] >= best - 0.05 and n in front}
    fewest = min(v["two_qubit_gates"] for v in allowed.values())
    selected = report["selection"]["trial"]
    assert values[selected]["two_qubit_gates"] == fewest and selected in allowed
    assert document["selected_trial"] == selected == metrics["best_trial"]
    assert document["best_params"] == {k: v for k, v in complete[[t.number for t in complete].index(selected)]
                                       .params.items()}
    assert document["selection"]["rule"] == "min_two_qubit_gates"
    assert document["selection"]["reason"].startswith(f"rule min_two_qubit_gates: trial {selected} has the fewest")
    assert "selection_reason" not in metrics and "rule" not in metrics["selection"]  # words are not metrics
    assert metrics["best_trial"] == selected and metrics["best_value"] == report["selection"]["val_accuracy"]
    assert report["selection_reason"] == document["selection"]["reason"]
    pick = max(complete, key=lambda t: (t.values[0], -t.user_attrs["val_loss"]))
    assert metrics["selection"]["accuracy_only_trial"] == pick.number

    # every child run carries its objective values; the study run the selection, its reason and the front plot
    tracking.configure("test")
    runs = child_runs(report["mlflow_parent_run_id"])
    assert len(runs) == 5
    for run in runs:
        assert "two_qubit_gates" in run.data.metrics
        if run.data.tags["optuna.state"] == "COMPLETE":
            number = int(run.data.tags["optuna.trial_number"])
            assert run.data.metrics["objective.val_accuracy"] == values[number]["val_accuracy"]
            assert run.data.metrics["objective.two_qubit_gates"] == values[number]["two_qubit_gates"]
            assert run.data.tags["tune.device"] == "iqm-garnet"
    parent = tracking.client().get_run(report["mlflow_parent_run_id"])
    assert parent.data.tags["tune.selected_trial"] == str(selected)
    assert parent.data.tags["tune.select.reason"] == document["selection"]["reason"]
    artifacts = {a.path for a in tracking.client().list_artifacts(parent.info.run_id)}
    assert {"pareto_front.png", "pareto_front.json", "optimization_history.png"} <= artifacts

    # resuming runs only the missing trials, each once, under the same parent run
    more = params.model_copy(update={"tune": params.tune.model_copy(update={"n_trials": 7})})
    again = run_study(more, progress=False)
    trials = stored_trials(more)
    assert again["n_finished"] == 7 and len(trials) == 7
    assert sorted(t.number for t in trials) == list(range(7))
    assert len(child_runs(report["mlflow_parent_run_id"])) == 7
    assert sorted(int(r.data.tags["optuna.trial_number"]) for r in child_runs(report["mlflow_parent_run_id"])) \
        == list(range(7))
    assert run_study(more, progress=False)["n_finished"] == 7  # budget reached: nothing added


def test_emulated_accuracy_and_cost_on_two_devices(tmp_path, monkeypatch):
    text = params_text(n_trials=3, objectives="val_accuracy, emulated_accuracy, cost_per_inference_usd",
                       devices="iqm-garnet, ionq-forte-enterprise-1").replace(
        "tune:", "hardware: {devices: [iqm-garnet], shots: 200, n_samples: 10}\ntune:")
    root = make_project(tmp_path / "proj", params_text=text)
    use_project(monkeypatch, root)
    params = load_params("params.yaml")
    summary = run_study(params, progress=False)
    assert summary["objectives"] == ["val_accuracy", "emulated_accuracy", "cost_per_inference_usd"]
    complete = [t for t in stored_trials(params) if t.state == optuna.trial.TrialState.COMPLETE]
    assert complete
    for t in complete:
        device = t.params["device"]
        assert device in ("iqm-garnet", "ionq-forte-enterprise-1")
        acc, emulated, cost = t.values
        assert 0.0 <= emulated <= 1.0 and emulated * 12 == round(emulated * 12)  # 12 emulated samples
        expected = estimate(get_device(device), 10, 200)
        assert cost == pytest.approx(float(expected.cost_usd) / 10)
        assert t.user_attrs["two_qubit_gates"] > 0 and t.user_attrs["device"] == device
    for row in summary["pareto"]:
        assert set(row["values"]) == {"val_accuracy", "emulated_accuracy", "cost_per_inference_usd"}
        assert "device" in row["params"]


def test_dominance_pruning_stops_a_trial_beaten_at_no_more_gates(tmp_path, monkeypatch):
    root = make_project(tmp_path / "proj", params_text=params_text(n_trials=4, epochs="5"))
    use_project(monkeypatch, root)
    params = load_params("params.yaml")
    ref = study_ref(params, load_encoded())
    study = create_or_load(params, ref)
    good = {"ansatz": 2, "lr": 0.1, "batch_size": 16, "epochs": 5, "optimizer": "adam", "loss": "mse"}
    for _ in range(3):
        study.enqueue_trial(good)
    study.enqueue_trial({**good, "ansatz": 9, "lr": 0.02})  # more gates and a slower start
    summary = run_study(params, progress=False)
    trials = stored_trials(params)
    assert n_finished(study) == 4 and summary["n_pruned"] == 1
    pruned = [t for t in trials if t.state == optuna.trial.TrialState.PRUNED]
    assert [t.number for t in pruned] == [3]
    tracking.configure("test")
    run = next(r for r in child_runs(summary["mlflow_parent_run_id"]) if r.data.tags["optuna.state"] == "PRUNED")
    assert "higher validation accuracy by then" in run.data.tags["optuna.prune_reason"]
    assert run.data.metrics["two_qubit_gates"] > 11  # its count on generic weights, logged though unfinished

    # tune.pruner: none turns it off
    root2 = make_project(tmp_path / "proj2", params_text=params_text(n_trials=4, epochs="5", pruner="none"))
    use_project(monkeypatch, root2)
    params2 = load_params("params.yaml")
    study2 = create_or_load(params2, study_ref(params2, load_encoded()))
    for trial in (good, good, good, {**good, "ansatz": 9, "lr": 0.02}):
        study2.enqueue_trial(trial)
    assert run_study(params2, progress=False)["n_pruned"] == 0


def test_objectives_of_an_existing_study_cannot_change(project):
    from qml_ops.errors import ConfigError

    params = load_params("params.yaml")
    named = params.model_copy(update={"tune": params.tune.model_copy(update={"study": "mine", "n_trials": 1})})
    run_study(named, progress=False)
    single = named.model_copy(update={"tune": named.tune.model_copy(update={"objectives": ["val_accuracy"]})})
    with pytest.raises(ConfigError, match="tune.objectives = \\['val_accuracy'\\]: study 'mine'"):
        run_study(single, progress=False)
