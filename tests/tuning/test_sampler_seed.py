"""Parallel workers and resumed studies do not repeat each other's random start-up trials."""

import optuna

from qml_ops.config import parse_params
from qml_ops.tuning.study import StudyRef, WORKER_INDEX_ENV, load_study, sampler_seed, worker_index


def first_lr(study: optuna.Study) -> float:
    trial = study.ask({"lr": optuna.distributions.FloatDistribution(1e-3, 1e-1, log=True)})
    return trial.params["lr"]


def test_workers_and_resumes_get_their_own_seed(tmp_path, monkeypatch):
    params = parse_params({"tune": {"seed": 3}})
    url = f"sqlite:///{tmp_path / 'study.db'}"
    optuna.create_study(study_name="s", storage=url)
    ref = StudyRef("s", url)
    monkeypatch.delenv("SLURM_ARRAY_TASK_ID", raising=False)

    monkeypatch.delenv(WORKER_INDEX_ENV, raising=False)
    alone = first_lr(load_study(params, ref))  # a fresh study, one process: tune.seed itself
    assert alone == first_lr(optuna.load_study(study_name="s", storage=url,
                                                sampler=optuna.samplers.TPESampler(seed=3)))
    draws = []
    for index in ("0", "1"):
        monkeypatch.setenv(WORKER_INDEX_ENV, index)
        draws.append(first_lr(load_study(params, ref)))
    assert len({alone, *draws}) == 3, "parallel workers drew the same start-up trial"


def test_sampler_seed_rules():
    assert sampler_seed(7, 0, None) == 7
    assert len({sampler_seed(7, 0, 0), sampler_seed(7, 0, 1), sampler_seed(7, 5, None), 7}) == 4
    assert worker_index({"SLURM_ARRAY_TASK_ID": "4"}) == 4
    assert worker_index({WORKER_INDEX_ENV: "2", "SLURM_ARRAY_TASK_ID": "4"}) == 2
    assert worker_index({}) is None
