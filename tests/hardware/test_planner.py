"""The run planner: cheapest samples x shots for a target half-width, the CLI, hardware.plan: auto."""

from __future__ import annotations

import json
import math
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest

from qml_ops.cli import main as cli_main
from qml_ops.config import load_params
from qml_ops.cost import estimate, max_program_set_shots
from qml_ops.errors import ConfigError, QmlOpsError
from qml_ops.hardware.devices import PROGRAM_SET_MAX_EXECUTABLES, get_device
from qml_ops.hardware.planner import (
    PlanError, TestMargins, TestSplitTooSmallError, achieved, apply_plan, pareto_front, plan_device, plan_run,
)
from qml_ops.hardware.validation import estimates
from qml_ops.intervals import wilson_interval
from qml_ops.stage import run_stage
from qml_ops.training import train_and_register
from qml_ops.training_data import load_encoded
from project_fixtures import make_project, use_project

REPO = Path(__file__).resolve().parents[2]
QPUS = ("iqm-garnet", "iqm-emerald", "rigetti-ankaa-3", "rigetti-cepheus-1-108q", "ionq-forte-enterprise-1")


def margins(n: int = 120, wrong: int = 3, near: int | None = None, seed: int = 0) -> TestMargins:
    """A model's exact <Z> on n test samples: most far from the boundary, ``near`` (n/6) near it, a few wrong."""
    rng = np.random.default_rng(seed)
    near = n // 6 if near is None else near
    magnitude = np.concatenate([rng.uniform(0.4, 0.9, n - near), rng.uniform(0.02, 0.2, near)])
    z = magnitude * rng.choice([-1.0, 1.0], n)
    y = (z < 0).astype(int)
    y[:wrong] = 1 - y[:wrong]
    return TestMargins(z=z, y=y)


def device(device_id: str):
    return get_device(device_id, allow_retired=True)


# ---------------------------------------------------------------- the model


def test_misread_matches_how_the_stage_reads_counts():
    """The misread probability is the chance that counts read as validation.compare reads them
    (class 1 where 1 - 2 #1/shots < 0) disagree with the sign of the exact <Z>."""
    z = np.array([0.6, -0.3, 0.05, -0.02, 0.0, 0.9])
    m = TestMargins(z=z, y=(z < 0).astype(int))
    rng = np.random.default_rng(1)
    for shots in (1, 2, 7, 40):
        ones = rng.binomial(shots, (1 - z) / 2, size=(200_000, z.size))
        z_hw = 1 - 2 * ones / shots
        observed = np.mean((z_hw < 0) != (z < 0), axis=0)
        assert np.allclose(observed, m.misread(shots), atol=0.004), shots
    assert np.all(m.misread(0) == 0)  # exact simulation


def test_achieved_halfwidth_is_wilson_plus_misreads():
    m = margins()
    assert achieved(m, 48, 20_000) == pytest.approx(
        (lambda lo_hi: (lo_hi[1] - lo_hi[0]) / 2)(wilson_interval(round(48 * m.accuracy), 48)), abs=0.01)
    assert achieved(m, 48, 16) > achieved(m, 48, 512) > achieved(m, 96, 512)  # fewer shots / samples: wider


@pytest.mark.parametrize("device_id", QPUS)
def test_plan_reaches_the_target_within_the_device_limits(device_id):
    dev, m = device(device_id), margins()
    for width in (0.06, 0.08, 0.12):
        plan = plan_device(dev, m, width)
        assert plan.meets_target and plan.halfwidth <= width
        assert achieved(m, plan.n_samples, plan.shots) == pytest.approx(plan.halfwidth)
        assert dev.min_shots <= plan.shots <= dev.max_shots and 1 <= plan.n_samples <= m.n
        e = plan.estimate
        assert e == estimate(dev, plan.n_samples, plan.shots)  # priced as the stage prices it
        assert e.executables_per_task <= (PROGRAM_SET_MAX_EXECUTABLES if dev.supports_program_sets else 1)
        if e.program_sets:
            assert e.executables_per_task * plan.shots <= max_program_set_shots(dev)
        assert e.tasks == math.ceil(plan.n_samples / e.executables_per_task)
        # nothing cheaper reaches the target: one sample fewer, or one shot fewer, misses it
        if plan.n_samples > 1:
            assert achieved(m, plan.n_samples - 1, plan.shots) > width
        if plan.shots > dev.min_shots:
            cheaper_shots = achieved(m, plan.n_samples, plan.shots - 1)
            assert cheaper_shots > width or estimate(dev, plan.n_samples, plan.shots - 1).cost_usd >= e.cost_usd


@pytest.mark.parametrize("device_id", ("iqm-garnet", "rigetti-cepheus-1-108q", "ionq-forte-enterprise-1"))
def test_smaller_halfwidth_is_never_cheaper(device_id):
    dev, m = device(device_id), margins()
    costs = [plan_device(dev, m, w).cost_usd for w in (0.2, 0.15, 0.1, 0.08, 0.07, 0.06, 0.055)]
    assert costs == sorted(costs) and costs[0] < costs[-1]


def test_more_budget_never_buys_less_precision():
    dev, m = device("iqm-garnet"), margins()
    target = plan_device(dev, m, 0.06)
    budgets = [Decimal("0.32"), Decimal("0.5"), Decimal("1"), Decimal("2"), Decimal("4"), target.cost_usd,
               Decimal("100")]
    plans = [plan_device(dev, m, 0.06, budget=b) for b in budgets]
    widths = [p.halfwidth for p in plans]
    assert widths == sorted(widths, reverse=True) and widths[0] > widths[-1]
    for b, p in zip(budgets, plans):
        assert p.cost_usd <= b
    assert [p.meets_target for p in plans][-2:] == [True, True] and not plans[0].meets_target
    assert plans[-1].cost_usd == target.cost_usd  # a budget above the plan changes nothing


def test_executable_cap_splits_program_sets():
    dev, m = device("iqm-emerald"), margins()
    free = plan_device(dev, m, 0.08)
    capped = plan_device(dev, m, 0.08, max_executables=10)
    assert capped.estimate.executables_per_task <= 10
    assert capped.estimate.tasks == math.ceil(capped.n_samples / capped.estimate.executables_per_task)
    assert capped.cost_usd >= free.cost_usd


def test_one_task_per_inference_pays_a_fee_per_sample():
    dev, m = device("iqm-garnet"), margins()
    plan = plan_device(dev, m, 0.08, one_task_per_inference=True)
    assert plan.estimate.tasks == plan.n_samples and not plan.estimate.program_sets


def test_common_plan_for_several_devices_fits_every_shots_range():
    devs, m = [device("iqm-garnet"), device("ionq-forte-enterprise-1")], margins()
    plans = plan_run(devs, m, 0.08)
    assert {(p.n_samples, p.shots) for p in plans} == {(plans[0].n_samples, plans[0].shots)}
    assert plans[0].shots >= 100  # IonQ's minimum
    assert all(p.halfwidth <= 0.08 for p in plans)


def test_pareto_front_marks_dominated_plans():
    m = margins()
    plans = [plan_device(device(d), m, 0.08) for d in ("iqm-garnet", "iqm-emerald", "rigetti-cepheus-1-108q")]
    front = pareto_front(plans)
    # Emerald costs more than Garnet for the same plan and is slower: dominated
    assert plans[1].cost_usd > plans[0].cost_usd and front[1] is False
    assert front[2] is True


def test_seed_configuration_costs_at_least_five_times_the_plan():
    m = margins(72, wrong=0, near=3)  # a confident model, as the default one (benchmarks/bench_planner.py)
    dev = device("iqm-garnet")
    seed = estimate(dev, 48, 512, one_task_per_inference=True)
    plan = plan_device(dev, m, achieved(m, 48, 512))
    assert str(seed.cost_usd) == "50.04" and plan.cost_usd * 5 <= seed.cost_usd


# ---------------------------------------------------------------- bad input


@pytest.mark.parametrize("width", [0, -0.1, 0.5, 0.7, True])
def test_halfwidth_out_of_range(width):
    with pytest.raises(PlanError, match=r"half-width = .*allowed 0 < half-width < 0.5"):
        plan_device(device("iqm-garnet"), margins(), width)


def test_budget_below_the_cheapest_run():
    with pytest.raises(PlanError, match=r"budget = '0.29' USD for device 'iqm-garnet': allowed >= \$0.30"):
        plan_device(device("iqm-garnet"), margins(), 0.08, budget="0.29")  # $0.30 fee + one shot
    with pytest.raises(PlanError, match="budget = 'lots'"):
        plan_device(device("iqm-garnet"), margins(), 0.08, budget="lots")


def test_executables_beyond_the_device():
    with pytest.raises(PlanError, match=r"max executables per task = 2 for device 'ionq-forte-enterprise-1': "
                                        r"allowed 1–1 .*no program sets"):
        plan_device(device("ionq-forte-enterprise-1"), margins(), 0.08, max_executables=2)
    with pytest.raises(PlanError, match=r"= 101 .*allowed 1–100"):
        plan_device(device("iqm-garnet"), margins(), 0.08, max_executables=101)


def test_test_split_too_small():
    with pytest.raises(TestSplitTooSmallError, match=r"half-width = 0.02: the test split has only 120 samples"):
        plan_device(device("iqm-garnet"), margins(), 0.02)
    assert issubclass(TestSplitTooSmallError, ConfigError) and issubclass(PlanError, QmlOpsError)


# ---------------------------------------------------------------- CLI and stage (a real registered model)


@pytest.fixture
def trained_project(tmp_path, monkeypatch):
    root = make_project(tmp_path / "proj")
    use_project(monkeypatch, root)
    train_and_register(load_params("params.yaml"), load_encoded())
    return root


def run_cli(capsys, *argv):
    code = cli_main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_plan_json_table_plot_and_errors(trained_project, capsys):
    root = trained_project
    code, out, err = run_cli(capsys, "hardware", "plan", "--devices", "iqm-garnet", "--target-halfwidth", "0.2",
                             "--json")
    assert code == 0, err
    doc = json.loads(out)
    for key in ("device", "n_samples", "shots", "tasks", "cost_usd", "expected_qpu_time_s", "halfwidth",
                "gap_halfwidth", "meets_target", "pareto"):
        assert key in doc, key
    assert doc["device"] == "iqm-garnet" and doc["halfwidth"] <= 0.2 and doc["cost_usd"] > 0
    code, out, err = run_cli(capsys, "hardware", "plan", "--devices", "iqm-garnet", "ionq-forte-enterprise-1",
                             "--target-halfwidth", "0.2", "--json")
    assert code == 0 and [d["device"] for d in json.loads(out)] == ["iqm-garnet", "ionq-forte-enterprise-1"]
    code, out, err = run_cli(capsys, "hardware", "plan", "--devices", "iqm-garnet", "rigetti-cepheus-1-108q",
                             "--target-halfwidth", "0.2", "--plot", "plan.png")
    assert code == 0 and "pareto" in out and "iqm-garnet" in out and (root / "plan.png").stat().st_size > 0
    code, out, err = run_cli(capsys, "hardware", "plan", "--devices", "iqm-garnet", "--target-halfwidth", "0.6")
    assert code == 2 and "half-width = 0.6" in err and "Traceback" not in err
    code, out, err = run_cli(capsys, "hardware", "plan", "--devices", "iqm-garnet", "--target-halfwidth", "0.01")
    assert code == 2 and "the test split has only" in err
    code, out, err = run_cli(capsys, "hardware", "plan", "--devices", "ionq-forte-enterprise-1",
                             "--target-halfwidth", "0.2", "--max-executables", "5")
    assert code == 2 and "allowed 1–1" in err


HW_AUTO = """
hardware:
  mode: {mode}
  devices: [iqm-garnet]
  n_samples: 6
  shots: 200
  plan: auto
  plan_halfwidth: 0.25
  s3_bucket: my-bucket
  gate: {{max_gap: 0.5, min_accuracy: 0.5, max_cost_per_inference_usd: 2.0}}
"""


def _stage():
    import importlib.util

    spec = importlib.util.spec_from_file_location("pipelines_hardware_plan", REPO / "pipelines" / "hardware.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_stage_plan_auto_runs_the_plan_after_printing_the_estimate(trained_project, capsys):
    root = trained_project
    (root / "params.yaml").write_text((root / "params.yaml").read_text() + HW_AUTO.format(mode="emulate"))
    params = load_params("params.yaml")
    planned = apply_plan(params, progress=lambda _: None).hardware
    assert (planned.n_samples, planned.shots) != (6, 200)
    assert run_stage("hardware", _stage().main, []) == 0
    out = capsys.readouterr().out
    assert out.index("plan auto") < out.index("cost estimate") < out.index("compiled")
    report = json.loads((root / "reports/hardware.json").read_text())
    m = report["devices"]["iqm-garnet"]
    assert (m["n_samples"], m["shots"]) == (planned.n_samples, planned.shots)
    assert report["estimates"]["iqm-garnet"]["cost_usd"] == float(estimates(planned)["iqm-garnet"].cost_usd)


def test_stage_plan_auto_keeps_the_spend_gate(trained_project, monkeypatch, capsys):
    import boto3

    def forbidden(*args, **kwargs):
        raise AssertionError("an AWS client was created")

    monkeypatch.setattr(boto3, "client", forbidden)
    monkeypatch.setattr(boto3, "Session", forbidden)
    root = trained_project
    (root / "params.yaml").write_text((root / "params.yaml").read_text() + HW_AUTO.format(mode="qpu"))
    planned = apply_plan(load_params("params.yaml"), progress=lambda _: None).hardware
    assert run_stage("hardware", _stage().main, []) == 0  # skipped: max_budget_usd is 0
    out = capsys.readouterr().out
    assert out.index("plan auto") < out.index("cost estimate") < out.index("skipped, no task created")
    report = json.loads((root / "reports/hardware.json").read_text())
    assert report["status"] == "skipped" and "exceeds hardware.max_budget_usd" in report["reason"]
    assert report["estimate_usd"] == float(estimates(planned)["iqm-garnet"].cost_usd) > 0
