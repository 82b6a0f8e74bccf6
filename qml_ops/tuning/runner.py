"""Run a tuning study: locally with N worker processes, or join one as a worker.

The parent creates the storage schema, the MLflow experiment, the study and
its parent run *once*, then starts the workers (``qml-ops tune worker``), so
workers never race to create them. Each worker runs trials until the study
holds ``tune.n_trials`` counted trials.

:func:`run_study` returns the study's summary; the entry points (the ``tune``
stage, ``qml-ops tune``) write it and :func:`best_params_document`.
"""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

from qml_ops.config import Params
from qml_ops.errors import QmlOpsError
from qml_ops.training_data import load_encoded
from qml_ops.tuning.study import (
    WORKER_INDEX_ENV, StudyRef, create_or_load, load_study, log_study_summary, n_finished, redact, run_worker, storage_url,
    study_name, summarise,
)

STORAGE_ENV = "QML_OPS_TUNE_STORAGE"  # passes an RDB URL (maybe with a password) to workers, not argv


def study_ref(params: Params, splits: dict) -> StudyRef:
    name = study_name(params, splits["train"][0])
    return StudyRef(name, storage_url(params.tune, name))


def run_study(params: Params, params_path: str = "params.yaml", workers: int | None = None,
              progress: bool = True) -> dict[str, Any]:
    """Create or resume the study, run it to ``tune.n_trials``; returns its summary
    (:func:`~qml_ops.tuning.study.summarise`: counts, best trial and params, MLflow run).

    Raises:
        QmlOpsError: the study has no completed trial (nothing to tune from).
    """
    tune = params.tune
    splits = load_encoded()
    ref = study_ref(params, splits)
    study = create_or_load(params, ref)
    workers = workers or tune.workers
    before = n_finished(study)
    print(f"tune: study {ref.name!r} in {redact(ref.storage_url)}: {before}/{tune.n_trials} trials done, "
          f"{workers} worker(s)")
    if before < tune.n_trials:
        if workers == 1:
            run_worker(params, ref, splits, tune.n_trials, tune.timeout_s, progress=progress)
        else:
            spawn_workers(ref, params_path, workers, tune.timeout_s)
    study = load_study(params, ref)
    summary = summarise(study, ref, tune.n_trials, tune.select)
    log_study_summary(study, summary)
    if summary["best_params"] is None:
        raise QmlOpsError(f"tune: study {ref.name!r} has no completed trial ({summary['n_failed']} failed, "
                          f"{summary['n_pruned']} pruned); see the failed runs in MLflow")
    return summary


#: What ``metrics/tune.json`` keeps of the summary (numbers; the rest goes to ``reports/tune.json``).
METRIC_KEYS = ("best_value", "best_trial", "n_finished", "n_complete", "n_pruned", "n_failed")


def metrics_document(summary: dict[str, Any]) -> dict[str, Any]:
    """``metrics/tune.json``: the study's counts and the selected trial's value, the selection's
    figures (``selection``), and the Pareto front (``pareto``: each front trial's number, params
    and objective values; DVC's metrics tables skip lists, so it adds no columns there). The
    study's names, storage, the selection's reason and every trial go to ``reports/tune.json``."""
    doc: dict[str, Any] = {k: summary[k] for k in METRIC_KEYS if summary.get(k) is not None}
    selection = summary.get("selection") or {}
    # the selected trial and its accuracy are best_trial/best_value; the tolerance is a param
    numbers = {k: v for k, v in selection.items() if isinstance(v, (int, float)) and not isinstance(v, bool)
               and k not in ("trial", "val_accuracy", "tolerance")}
    if numbers:
        doc["selection"] = numbers
    doc["pareto"] = list(summary.get("pareto") or [])
    return doc


def trials_csv(summary: dict[str, Any]) -> str:
    """``plots/tune/trials.csv``: the tuning history, one row per finished trial."""
    from qml_ops.tuning.study import TRIAL_COLUMNS

    def cell(value: Any) -> str:
        if value is None:
            return ""
        return f"{value:.6g}" if isinstance(value, float) else str(value).replace(",", ";")

    lines = [",".join(TRIAL_COLUMNS)]
    lines += [",".join(cell(row.get(c)) for c in TRIAL_COLUMNS) for row in summary.get("trials") or []]
    return "\n".join(lines) + "\n"


def outputs(summary: dict[str, Any]) -> dict[Any, Any]:
    """The tune stage's files (path -> JSON document or CSV text), for the entry points to write."""
    from qml_ops import project

    return {
        project.TUNED_PARAMS_FILE: best_params_document(summary),
        project.TUNE_METRICS: metrics_document(summary),
        project.TUNE_REPORT: summary,
        project.TUNE_TRIALS_PLOT: trials_csv(summary),
    }


def best_params_document(summary: dict[str, Any]) -> dict[str, Any]:
    """What ``train.use_tuned`` reads (``tune/best_params.json``): the study, the selected trial's value
    and params (its tunable ones: a tuned target device is kept as ``target_device``), and, with several
    objectives, the selection and its reason."""
    from qml_ops.tuning.study import DEVICE_PARAM

    params = dict(summary["best_params"])
    document = {"study": summary["study"], "best_value": summary["best_value"]}
    if DEVICE_PARAM in params:
        document["target_device"] = params.pop(DEVICE_PARAM)
    document["best_params"] = params
    if len(summary.get("objectives") or ()) > 1:
        document["selected_trial"] = summary["best_trial"]
        document["selection"] = {**summary["selection"], "reason": summary["selection_reason"]}
    return document




def spawn_workers(ref: StudyRef, params_path: str, workers: int, timeout_s: float | None) -> None:
    threads = max(1, (os.cpu_count() or 1) // workers)
    env = {**os.environ, STORAGE_ENV: ref.storage_url, "OMP_NUM_THREADS": str(threads)}
    command = [sys.executable, "-m", "qml_ops.cli", "tune", "worker", "--study", ref.name,
               "--params", params_path, "--threads", str(threads)]
    if timeout_s:
        command += ["--timeout", str(timeout_s)]
    # each worker its own index (and so its own sampler seed: see study.sampler_seed)
    procs = [subprocess.Popen(command, env={**env, WORKER_INDEX_ENV: str(i)}) for i in range(workers)]
    try:
        codes = [p.wait() for p in procs]
    except KeyboardInterrupt:
        for p in procs:
            p.terminate()
        raise
    failed = [c for c in codes if c != 0]
    if failed:
        raise QmlOpsError(f"tune: {len(failed)} of {workers} worker(s) exited with an error (codes {failed})")


def worker(params: Params, study: str, storage: str | None, threads: int = 0, timeout_s: float | None = None) -> int:
    """Join an existing study and run trials until its budget is reached."""
    if threads:
        import torch

        torch.set_num_threads(threads)
    url = storage or os.environ.get(STORAGE_ENV) or storage_url(params.tune, study)
    ref = StudyRef(study, url)
    splits = load_encoded()
    run_worker(params, ref, splits, params.tune.n_trials, timeout_s or params.tune.timeout_s)
    return 0
