"""Optuna studies over the QCNN, every trial a nested MLflow run.

* One MLflow parent run per study (its id is kept in the study's user
  attributes, so a resumed study and every worker log under the same parent);
  each trial is a child run (``parent_run_id``) with its params, per-epoch
  metrics, trial number and final state tag (COMPLETE / PRUNED / FAIL).
* Storage: an RDB URL (``tune.storage``, e.g. PostgreSQL for many machines)
  or, by default, a SQLite file ``optuna/<study>.db`` in the project. Trials
  send heartbeats, so a trial of a killed process is failed on the next start
  and the study resumes; finished trials are never lost.
* A study runs until it holds ``tune.n_trials`` finished trials in total,
  across restarts and workers.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import time
import warnings
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import optuna

from qml_ops import tracking
from qml_ops.config import Params, TuneParams
from qml_ops.errors import ConfigError, ModelError
from qml_ops.project import OPTUNA_DIR, find_root
from qml_ops.redact import redact_url
from qml_ops.tuning import workers

FINISHED = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED, optuna.trial.TrialState.FAIL)
PARENT_ATTR = "mlflow_parent_run_id"
EXPERIMENT_ATTR = "mlflow_experiment"
HEARTBEAT_ENV = "QML_OPS_TUNE_HEARTBEAT_S"  # seconds between trial heartbeats (default 10)


@contextmanager
def experimental_features() -> Iterator[None]:
    """Heartbeats and the matplotlib plots are marked experimental in Optuna; they are
    what we want, so their warnings are silenced (only around those calls)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
        yield


@dataclass
class StudyRef:
    name: str
    storage_url: str


def study_name(params: Params, train_X: np.ndarray) -> str:
    """``tune.study``, or for ``auto`` a name from the task, space and data."""
    if params.tune.study != "auto":
        return params.tune.study
    digest = hashlib.sha256()
    digest.update(json.dumps(params.tune.space.model_dump(), sort_keys=True).encode())
    digest.update(np.ascontiguousarray(train_X).tobytes())
    e = params.encode
    return f"qcnn-{params.prepare.dataset}-{e.method}{e.n_qubits}-{digest.hexdigest()[:8]}"


def storage_url(tune: TuneParams, name: str, root: Path | None = None) -> str:
    if tune.storage:
        return tune.storage
    folder = (root or find_root()) / OPTUNA_DIR
    folder.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{(folder / f'{name}.db').resolve()}"


def redact(url: str) -> str:
    """An RDB URL with any password removed (safe to log); project files relative."""
    root = f"sqlite:///{find_root().resolve()}/"
    if url.startswith(root):
        return "sqlite:///" + url.removeprefix(root)
    return redact_url(url)


def open_storage(url: str) -> optuna.storages.RDBStorage:
    engine_kwargs: dict[str, Any] = {}
    if url.startswith("sqlite"):
        engine_kwargs = {"connect_args": {"timeout": 120}}
    else:
        engine_kwargs = {"pool_pre_ping": True}
    heartbeat = int(os.environ.get(HEARTBEAT_ENV, "10"))
    try:
        with experimental_features():
            return optuna.storages.RDBStorage(
                url, engine_kwargs=engine_kwargs, heartbeat_interval=heartbeat, grace_period=3 * heartbeat,
                heartbeat_stale_trial_callback=optuna.storages.RetryHeartbeatStaleTrialCallback(max_retry=None),
            )
    except Exception as exc:  # sqlalchemy OperationalError, missing driver, ...
        raise ConfigError(f"tune.storage = {redact(url)!r}: cannot open the study storage ({str(exc).splitlines()[0]})") from None


#: Set by `qml-ops tune --workers N` for each worker process (0..N-1); Slurm sets SLURM_ARRAY_TASK_ID.
WORKER_INDEX_ENV = "QML_OPS_TUNE_WORKER_INDEX"


def sampler_seed(seed: int, n_existing_trials: int, worker_index: int | None) -> int:
    """The sampler seed of one worker joining a study.

    A fresh study run by one process uses ``tune.seed`` itself (reproducible). A
    worker that joins a study with trials already in it (a resumed run), or one of
    several parallel workers, gets a seed derived from ``tune.seed``, the number of
    trials in the study and its worker index: with the same seed everywhere,
    parallel workers (and a resumed study) would draw the same random start-up
    trials again.

    Example:
        >>> sampler_seed(0, 0, None)
        0
        >>> sampler_seed(0, 0, 0) != sampler_seed(0, 0, 1)
        True
    """
    if n_existing_trials == 0 and worker_index is None:
        return seed
    digest = hashlib.sha256(f"qml-ops-sampler|{seed}|{n_existing_trials}|{worker_index}".encode()).hexdigest()
    return int(digest[:8], 16)


def worker_index(environ: dict | None = None) -> int | None:
    """This process's worker index: ``$QML_OPS_TUNE_WORKER_INDEX``, else Slurm's array task id."""
    environ = os.environ if environ is None else environ
    for name in (WORKER_INDEX_ENV, "SLURM_ARRAY_TASK_ID"):
        value = environ.get(name)
        if value and value.isdigit():
            return int(value)
    return None


def make_sampler(tune: TuneParams, seed: int | None = None) -> optuna.samplers.BaseSampler:
    seed = tune.seed if seed is None else seed
    samplers = {
        "tpe": lambda: optuna.samplers.TPESampler(seed=seed),
        "random": lambda: optuna.samplers.RandomSampler(seed=seed),
        "cmaes": lambda: optuna.samplers.CmaEsSampler(
            seed=seed, warn_independent_sampling=False,
            independent_sampler=optuna.samplers.TPESampler(seed=seed),
        ),
    }
    return samplers[tune.sampler]()


def make_pruner(tune: TuneParams, max_epochs: int) -> optuna.pruners.BasePruner:
    pruners = {
        "median": lambda: optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=3),
        "hyperband": lambda: optuna.pruners.HyperbandPruner(min_resource=2, max_resource=max_epochs),
        "none": lambda: optuna.pruners.NopPruner(),
    }
    return pruners[tune.pruner]()


def create_or_load(params: Params, ref: StudyRef) -> optuna.Study:
    """Create the study (or load it to resume), with its MLflow experiment and parent run."""
    tune = params.tune
    study = optuna.create_study(
        study_name=ref.name,
        storage=open_storage(ref.storage_url),
        direction="maximize",
        sampler=make_sampler(tune),
        pruner=make_pruner(tune, max(tune.space.epochs)),
        load_if_exists=True,
    )
    if PARENT_ATTR not in study.user_attrs:
        tracking.configure(params.tracking.experiment)
        tags = {**tracking.standard_tags("tune"), "optuna.study": ref.name, "optuna.storage": redact(ref.storage_url)}
        with tracking.start_run(f"tune-{ref.name}", tags=tags) as run:
            tracking.log_params({f"tune.{k}": v for k, v in params.flat().items() if not k.startswith("tune.")})
            tracking.log_params({k: v for k, v in params.flat().items() if k.startswith("tune.") and k != "tune.storage"})
        study.set_user_attr(PARENT_ATTR, run.info.run_id)
        study.set_user_attr(EXPERIMENT_ATTR, params.tracking.experiment)
    return study


def load_study(params: Params, ref: StudyRef) -> optuna.Study:
    """Join an existing study (a worker): it must have been created first."""
    tune = params.tune
    storage = open_storage(ref.storage_url)
    try:
        study = optuna.load_study(
            study_name=ref.name, storage=storage, sampler=make_sampler(tune),
            pruner=make_pruner(tune, max(tune.space.epochs)),
        )
    except KeyError:
        raise ConfigError(
            f"study {ref.name!r} does not exist in {redact(ref.storage_url)}; create it with `qml-ops tune` first"
        ) from None
    n_existing = len(study.get_trials(deepcopy=False))
    study.sampler = make_sampler(tune, sampler_seed(tune.seed, n_existing, worker_index()))
    return study


def counts_toward_budget(trial: optuna.trial.FrozenTrial) -> bool:
    """Finished trials count toward ``tune.n_trials``; a trial failed only because
    its process died (stale heartbeat) does not: it is retried instead."""
    if trial.state in (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED):
        return True
    return trial.state == optuna.trial.TrialState.FAIL and "fail_reason" in trial.user_attrs


def n_finished(study: optuna.Study) -> int:
    return sum(counts_toward_budget(t) for t in study.get_trials(deepcopy=False, states=FINISHED))


class StopAtBudget:
    """Stop optimising once the study holds ``n_trials`` counted trials (all workers)."""

    def __init__(self, n_trials: int):
        self.n_trials = n_trials

    def __call__(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        if n_finished(study) >= self.n_trials:
            study.stop()


class Objective:
    """Train one QCNN per trial on the encoded data; report val accuracy per epoch."""

    def __init__(self, params: Params, splits: dict[str, tuple[np.ndarray, np.ndarray]], parent_run_id: str,
                 experiment: str):
        self.params = params
        self.splits = splits
        self.parent_run_id = parent_run_id
        self.experiment = experiment

    def suggest(self, trial: optuna.Trial) -> dict[str, Any]:
        space = self.params.tune.space
        return {
            "ansatz": trial.suggest_categorical("ansatz", space.ansatz),
            "lr": trial.suggest_float("lr", space.lr.low, space.lr.high, log=space.lr.log),
            "batch_size": trial.suggest_categorical("batch_size", space.batch_size),
            "epochs": trial.suggest_categorical("epochs", space.epochs),
            "optimizer": trial.suggest_categorical("optimizer", space.optimizer),
            "loss": trial.suggest_categorical("loss", space.loss),
        }

    def __call__(self, trial: optuna.Trial) -> float:
        from qml_ops.training import apply_tuned, model_from_params

        chosen = self.suggest(trial)
        params = apply_tuned(self.params, chosen)
        params = params.model_copy(update={"train": params.train.model_copy(update={"patience": 0, "use_tuned": False})})
        model = model_from_params(params)
        (X, y), (X_val, y_val) = self.splits["train"], self.splits["val"]
        study_name = trial.study.study_name
        tracking.configure(self.experiment)
        worker = workers.identity()  # host:pid and the Slurm array task, if any
        trial.set_user_attr(workers.WORKER_ATTR, worker)
        tags = {
            **tracking.standard_tags("tune-trial"),
            "optuna.study": study_name,
            "optuna.trial_number": str(trial.number),
            "optuna.state": "RUNNING",
            **worker,
        }
        best = {"val": -math.inf}

        def on_epoch(epoch: int, metrics: dict[str, float]) -> None:
            tracking.log_metrics(metrics, step=epoch)
            value = metrics["val_accuracy"]
            best["val"] = max(best["val"], value)
            trial.report(value, epoch)
            if trial.should_prune():
                raise optuna.TrialPruned(f"pruned at epoch {epoch} (val_accuracy {value:.4f})")

        with tracking.start_run(f"trial-{trial.number}", tags=tags, parent_run_id=self.parent_run_id):
            tracking.log_params({**chosen, "trial_number": trial.number, "study": study_name})
            started = time.perf_counter()
            try:
                model.fit(X, y, X_val, y_val, callback=on_epoch)
            except optuna.TrialPruned:
                tracking.set_tags({"optuna.state": "PRUNED"})
                tracking.log_metrics({"best_val_accuracy": best["val"], "trial_seconds": time.perf_counter() - started})
                raise
            except Exception as exc:
                reason = str(exc).splitlines()[0][:500] if str(exc) else type(exc).__name__
                tracking.set_tags({"optuna.state": "FAIL", "optuna.fail_reason": reason})
                trial.set_user_attr("fail_reason", reason)
                raise
            best_epoch = max(model.history_, key=lambda r: (r.val_accuracy, -r.val_loss))
            value = best_epoch.val_accuracy
            # validation accuracy saturates on easy tasks: the loss breaks ties between trials
            trial.set_user_attr("val_loss", best_epoch.val_loss)
            tracking.set_tags({"optuna.state": "COMPLETE"})
            tracking.log_metrics({"best_val_accuracy": value, "trial_seconds": time.perf_counter() - started})
        return value


def run_worker(params: Params, ref: StudyRef, splits: dict, n_trials: int, timeout_s: float | None = None,
               progress: bool = False) -> None:
    """Optimise until the study holds ``n_trials`` finished trials (or time runs out)."""
    study = load_study(params, ref)
    objective = Objective(params, splits, study.user_attrs[PARENT_ATTR], study.user_attrs.get(EXPERIMENT_ATTR, params.tracking.experiment))
    remaining = n_trials - n_finished(study)
    if remaining <= 0:
        return
    with experimental_features():  # stale-trial checks run with every trial
        study.optimize(
            objective,
            n_trials=remaining,
            timeout=timeout_s,
            catch=(ModelError, ValueError, RuntimeError, FloatingPointError),
            callbacks=[StopAtBudget(n_trials)],
            show_progress_bar=progress,
            gc_after_trial=False,
        )


def _rank(trial: optuna.trial.FrozenTrial) -> tuple[float, float]:
    """Best trial: highest validation accuracy, then lowest validation loss."""
    return (trial.value, -trial.user_attrs.get("val_loss", math.inf))


#: Columns of the trials table (the study run's ``trials.json``, ``plots/tune/trials.csv``).
TRIAL_COLUMNS = ("trial", "state", "value", "best_so_far", "ansatz", "lr", "batch_size", "epochs", "optimizer",
                 "loss", "duration_s", "worker")


def trial_rows(study: optuna.Study) -> list[dict[str, Any]]:
    """One row per finished trial, by number (:data:`TRIAL_COLUMNS`).

    ``value`` is the validation accuracy (a pruned trial's: its last reported epoch; a
    failed trial has none); ``best_so_far`` the best completed value up to that trial.
    """
    rows, best = [], None
    for t in sorted(study.get_trials(deepcopy=False, states=FINISHED), key=lambda t: t.number):
        value = t.value
        if t.state == optuna.trial.TrialState.PRUNED and t.intermediate_values:
            value = t.intermediate_values[max(t.intermediate_values)]
        if t.state == optuna.trial.TrialState.COMPLETE and value is not None:
            best = value if best is None else max(best, value)
        duration = (t.datetime_complete - t.datetime_start).total_seconds() \
            if t.datetime_complete and t.datetime_start else None
        worker = t.user_attrs.get(workers.WORKER_ATTR) or {}
        rows.append({"trial": t.number, "state": t.state.name, "value": value, "best_so_far": best,
                     **{k: t.params.get(k) for k in TRIAL_COLUMNS[4:10]},
                     "duration_s": None if duration is None else round(duration, 3),
                     "worker": worker.get(workers.PROCESS_KEY, "") if isinstance(worker, dict) else str(worker)})
    return rows


def summarise(study: optuna.Study, ref: StudyRef, n_trials: int) -> dict[str, Any]:
    trials = study.get_trials(deepcopy=False)
    count = {state: sum(t.state == state and counts_toward_budget(t) for t in trials) for state in FINISHED}
    complete = [t for t in trials if t.state == optuna.trial.TrialState.COMPLETE]
    best = max(complete, key=_rank) if complete else None
    return {
        "study": ref.name,
        "storage": redact(ref.storage_url),
        "n_trials": n_trials,
        "n_finished": sum(count.values()),
        "n_complete": count[optuna.trial.TrialState.COMPLETE],
        "n_pruned": count[optuna.trial.TrialState.PRUNED],
        "n_failed": count[optuna.trial.TrialState.FAIL],
        "best_value": best.value if best else None,
        "best_val_loss": best.user_attrs.get("val_loss") if best else None,
        "best_trial": best.number if best else None,
        "best_params": best.params if best else None,
        "mlflow_experiment": study.user_attrs.get(EXPERIMENT_ATTR),
        "mlflow_parent_run_id": study.user_attrs.get(PARENT_ATTR),
        "trials": trial_rows(study),
    }


def log_study_summary(study: optuna.Study, summary: dict[str, Any]) -> None:
    """Best trial, params, value, the trials table and the history/importance plots on the parent run."""
    from qml_ops import plots

    tracking.configure(summary["mlflow_experiment"])
    with tracking.start_run("tune", run_id=summary["mlflow_parent_run_id"]):
        tracking.log_metrics({k: summary[k] for k in ("n_finished", "n_complete", "n_pruned", "n_failed")})
        rows = summary.get("trials") or []
        if rows:  # a table artifact: one row per trial (the run page shows it)
            tracking.log_table({c: [row[c] for row in rows] for c in TRIAL_COLUMNS}, "trials.json")
        if summary["best_params"] is None:
            return
        tracking.log_metrics({"best_value": summary["best_value"], "best_trial": summary["best_trial"]})
        tracking.set_tags({"optuna.best_trial": summary["best_trial"],
                           **{f"best.{k}": v for k, v in summary["best_params"].items()}})
        tracking.log_dict(summary, "tune_summary.json")
        from optuna.visualization import matplotlib as ovm

        figures = [("optimization_history.png", ovm.plot_optimization_history)]
        if summary["n_complete"] >= 2:
            figures.append(("param_importances.png", ovm.plot_param_importances))
        for name, plot in figures:
            try:
                with experimental_features():
                    ax = plot(study)
            except (ValueError, RuntimeError) as exc:  # e.g. one distinct value per param
                print(f"tune: skipped {name}: {exc}")
                continue
            fig = ax.figure if hasattr(ax, "figure") else ax
            fig.set_size_inches(7, 4)
            fig.tight_layout()
            tracking.log_figure(fig, name)
            plots.close(fig)
