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
* Objectives (``tune.objectives``, :mod:`qml_ops.tuning.objectives`): one makes
  a single-objective study (direction maximize, Optuna's pruners on the
  per-epoch validation accuracy); several make a multi-objective study (the
  same samplers: TPE is multi-objective TPE; pruning by
  :class:`~qml_ops.tuning.pruning.DominancePruner`, since Optuna prunes only
  single-objective studies). Every trial is measured on its target device
  (two-qubit gates always); the summary holds the Pareto front and the trial
  ``tune.select`` picks from it (:mod:`qml_ops.tuning.pareto`).
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
from qml_ops.config import Params, TuneParams, TuneSelect
from qml_ops.errors import ConfigError, HardwareError, ModelError
from qml_ops.project import OPTUNA_DIR, find_root
from qml_ops.redact import redact_url
from qml_ops.tuning import workers
from qml_ops.tuning.objectives import DeviceMeasures, directions
from qml_ops.tuning.pareto import TrialPoint, front_document, select
from qml_ops.tuning.pruning import CURVE_ATTR, Competitor, DominancePruner

FINISHED = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED, optuna.trial.TrialState.FAIL)
PARENT_ATTR = "mlflow_parent_run_id"
EXPERIMENT_ATTR = "mlflow_experiment"
OBJECTIVES_ATTR = "objectives"  # the study's objective names, in Optuna's value order
DEVICE_PARAM = "device"  # the suggested target device, when several are listed
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
    """``tune.study``, or for ``auto`` a name from the task, space and data (and, for
    anything but the single ``val_accuracy`` objective, the objectives and what they are
    measured with: a study's objectives cannot change once it exists)."""
    if params.tune.study != "auto":
        return params.tune.study
    tune = params.tune
    digest = hashlib.sha256()
    digest.update(json.dumps(tune.space.model_dump(), sort_keys=True).encode())
    if tune.objectives != ["val_accuracy"]:
        hw = params.hardware
        measured = {"objectives": tune.objectives, "target_devices": tune.target_devices, "compile_seed": hw.seed}
        if "emulated_accuracy" in tune.objectives:
            measured["emulation_samples"] = tune.emulation_samples
        if "cost_per_inference_usd" in tune.objectives:
            measured["cost"] = [hw.shots, hw.n_samples, hw.one_task_per_inference,
                                {k: v.model_dump() for k, v in sorted(hw.prices.items())}]
        digest.update(json.dumps(measured, sort_keys=True).encode())
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


def _pruner(tune: TuneParams) -> optuna.pruners.BasePruner:
    """Optuna's pruner for one objective; none for several (Optuna cannot prune them: see
    :class:`~qml_ops.tuning.pruning.DominancePruner`)."""
    if tune.multi_objective:
        return optuna.pruners.NopPruner()
    return make_pruner(tune, max(tune.space.epochs))


def create_or_load(params: Params, ref: StudyRef) -> optuna.Study:
    """Create the study (or load it to resume), with its MLflow experiment and parent run.

    Raises:
        ConfigError: the study exists with other objectives (e.g. ``tune.study`` names a
            single-objective study and ``tune.objectives`` lists several).
    """
    tune = params.tune
    try:
        study = optuna.create_study(
            study_name=ref.name,
            storage=open_storage(ref.storage_url),
            directions=directions(tune.objectives),
            sampler=make_sampler(tune),
            pruner=_pruner(tune),
            load_if_exists=True,
        )
    except ValueError as exc:  # Optuna: the directions differ from the stored study's
        raise ConfigError(f"tune.objectives = {tune.objectives!r}: study {ref.name!r} already exists in "
                          f"{redact(ref.storage_url)} with other objectives ({exc}); name a new study "
                          f"(tune.study) or use 'auto'") from None
    stored = study.user_attrs.get(OBJECTIVES_ATTR)
    if stored is not None and stored != tune.objectives:
        raise ConfigError(f"tune.objectives = {tune.objectives!r}: study {ref.name!r} was created with objectives "
                          f"{stored!r}; name a new study (tune.study) or use 'auto'")
    if stored is None:
        study.set_user_attr(OBJECTIVES_ATTR, list(tune.objectives))
        with experimental_features():
            study.set_metric_names(list(tune.objectives))
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
            study_name=ref.name, storage=storage, sampler=make_sampler(tune), pruner=_pruner(tune),
        )
    except KeyError:
        raise ConfigError(
            f"study {ref.name!r} does not exist in {redact(ref.storage_url)}; create it with `qml-ops tune` first"
        ) from None
    n_existing = len(study.get_trials(deepcopy=False))
    study.sampler = make_sampler(tune, sampler_seed(tune.seed, n_existing, worker_index()))
    return study


def objective_names(study: optuna.Study) -> list[str]:
    """The study's objectives, in the order of its trials' values (``val_accuracy`` for studies
    created before objectives were recorded)."""
    return list(study.user_attrs.get(OBJECTIVES_ATTR) or ["val_accuracy"])


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
    """Train one QCNN per trial on the encoded data; measure it by ``tune.objectives``.

    Validation accuracy is reported per epoch (single objective: for Optuna's
    pruner; several: for :class:`~qml_ops.tuning.pruning.DominancePruner`). Each
    trial's objective values are metrics of its MLflow run (``objective.<name>``),
    and so are its two-qubit gates on its target device (``two_qubit_gates``) whatever
    the objectives.
    """

    def __init__(self, params: Params, splits: dict[str, tuple[np.ndarray, np.ndarray]], parent_run_id: str,
                 experiment: str):
        self.params = params
        self.splits = splits
        self.parent_run_id = parent_run_id
        self.experiment = experiment
        self.measures = DeviceMeasures(params.tune, params.hardware)
        for device in params.tune.target_devices:  # a missing calibration profile stops here, before any trial
            self.measures.profile(device)
        tune = params.tune
        self.dominance = (DominancePruner() if tune.multi_objective and tune.pruner != "none"
                          and "val_accuracy" in tune.objectives and "emulated_accuracy" not in tune.objectives
                          else None)

    def suggest(self, trial: optuna.Trial) -> dict[str, Any]:
        space = self.params.tune.space
        chosen = {
            "ansatz": trial.suggest_categorical("ansatz", space.ansatz),
            "lr": trial.suggest_float("lr", space.lr.low, space.lr.high, log=space.lr.log),
            "batch_size": trial.suggest_categorical("batch_size", space.batch_size),
            "epochs": trial.suggest_categorical("epochs", space.epochs),
            "optimizer": trial.suggest_categorical("optimizer", space.optimizer),
            "loss": trial.suggest_categorical("loss", space.loss),
        }
        targets = self.params.tune.target_devices
        if len(targets) > 1:  # the device is part of what is tuned
            chosen[DEVICE_PARAM] = trial.suggest_categorical(DEVICE_PARAM, targets)
        return chosen

    def _device(self, chosen: dict[str, Any]) -> str | None:
        targets = self.params.tune.target_devices
        return chosen.get(DEVICE_PARAM) or (targets[0] if targets else None)

    def _known_costs(self, gates: int | None, device: str | None) -> tuple[float, ...]:
        """This trial's objectives other than accuracy that are known before training ends (lower is better)."""
        costs = []
        for name in self.params.tune.objectives:
            if name == "two_qubit_gates":
                costs.append(float(gates))
            elif name == "cost_per_inference_usd":
                costs.append(self.measures.cost_per_inference_usd(device))
        return tuple(costs)

    def _competitors(self, study: optuna.Study) -> list[Competitor]:
        names = objective_names(study)
        out = []
        for t in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,)):
            curve = t.user_attrs.get(CURVE_ATTR)
            if not curve:
                continue
            values = dict(zip(names, t.values))
            costs = tuple(float(values[n]) for n in names if n in ("two_qubit_gates", "cost_per_inference_usd"))
            out.append(Competitor(t.number, tuple(curve), costs))
        return out

    def measure(self, model: Any, device: str | None) -> dict[str, float]:
        """The fitted model's objective values, and its two-qubit gates and depth on ``device``."""
        X_val, y_val = self.splits["val"]
        best_epoch = max(model.history_, key=lambda r: (r.val_accuracy, -r.val_loss))
        out: dict[str, float] = {"val_accuracy": best_epoch.val_accuracy}
        if device is not None:
            count = self.measures.count(model.spec, model.weights_, device, X_val[0])
            out.update(two_qubit_gates=count.two_qubit_gates, depth=count.depth)
            if "emulated_accuracy" in self.params.tune.objectives:
                out["emulated_accuracy"] = self.measures.emulated_accuracy(model, device, X_val, y_val)
            if "cost_per_inference_usd" in self.params.tune.objectives:
                out["cost_per_inference_usd"] = self.measures.cost_per_inference_usd(device)
        return out

    def __call__(self, trial: optuna.Trial) -> float | list[float]:
        from qml_ops.training import apply_tuned, model_from_params

        tune = self.params.tune
        chosen = self.suggest(trial)
        device = self._device(chosen)
        params = apply_tuned(self.params, {k: v for k, v in chosen.items() if k != DEVICE_PARAM})
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
        if device is not None:
            tags["tune.device"] = device
            trial.set_user_attr("device", device)
        best = {"val": -math.inf}
        curve: list[float] = []
        known: dict[str, Any] = {"generic": None, "costs": ()}

        def on_epoch(epoch: int, metrics: dict[str, float]) -> None:
            tracking.log_metrics(metrics, step=epoch)
            value = metrics["val_accuracy"]
            best["val"] = max(best["val"], value)
            curve.append(value)
            if not tune.multi_objective:
                trial.report(value, epoch)
                if trial.should_prune():
                    raise optuna.TrialPruned(f"pruned at epoch {epoch} (val_accuracy {value:.4f})")
            elif self.dominance is not None:
                reason = self.dominance.reason(epoch, curve, known["costs"], self._competitors(trial.study))
                if reason:
                    raise optuna.TrialPruned(reason)

        with tracking.start_run(f"trial-{trial.number}", tags=tags, parent_run_id=self.parent_run_id):
            tracking.log_params({**chosen, "trial_number": trial.number, "study": study_name})
            started = time.perf_counter()
            try:
                if device is not None:  # known before training: the count on generic weights (cached per ansatz)
                    known["generic"] = self.measures.generic_count(model.spec, device, X_val[0])
                    if self.dominance is not None:
                        known["costs"] = self._known_costs(known["generic"].two_qubit_gates, device)
                model.fit(X, y, X_val, y_val, callback=on_epoch)
                measured = self.measure(model, device)
            except optuna.TrialPruned as pruned:
                tracking.set_tags({"optuna.state": "PRUNED", "optuna.prune_reason": str(pruned)[:500]})
                unfinished = {"best_val_accuracy": best["val"], "trial_seconds": time.perf_counter() - started}
                if known["generic"] is not None:  # the count it would have compiled to (generic weights)
                    unfinished["two_qubit_gates"] = known["generic"].two_qubit_gates
                tracking.log_metrics(unfinished)
                raise
            except Exception as exc:
                reason = str(exc).splitlines()[0][:500] if str(exc) else type(exc).__name__
                tracking.set_tags({"optuna.state": "FAIL", "optuna.fail_reason": reason})
                trial.set_user_attr("fail_reason", reason)
                raise
            best_epoch = max(model.history_, key=lambda r: (r.val_accuracy, -r.val_loss))
            # validation accuracy saturates on easy tasks: the loss breaks ties between trials
            trial.set_user_attr("val_loss", best_epoch.val_loss)
            trial.set_user_attr("val_accuracy", best_epoch.val_accuracy)
            trial.set_user_attr(CURVE_ATTR, curve)
            for key in ("two_qubit_gates", "depth", "emulated_accuracy"):
                if key in measured:
                    trial.set_user_attr(key, measured[key])
            values = [measured[name] for name in tune.objectives]
            tracking.set_tags({"optuna.state": "COMPLETE"})
            tracking.log_metrics({
                "best_val_accuracy": best_epoch.val_accuracy,
                "trial_seconds": time.perf_counter() - started,
                **{f"objective.{name}": value for name, value in zip(tune.objectives, values)},
                **{k: measured[k] for k in ("two_qubit_gates", "depth") if k in measured},
            })
        return values if tune.multi_objective else values[0]


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
            catch=(ModelError, HardwareError, ValueError, RuntimeError, FloatingPointError),
            callbacks=[StopAtBudget(n_trials)],
            show_progress_bar=progress,
            gc_after_trial=False,
        )


def _rank(trial: optuna.trial.FrozenTrial) -> tuple[float, float]:
    """Best trial of a single-objective study: highest value, then lowest validation loss."""
    return (trial.value, -trial.user_attrs.get("val_loss", math.inf))


#: Columns of the trials table (the study run's ``trials.json``, ``plots/tune/trials.csv``).
TRIAL_COLUMNS = ("trial", "state", "value", "best_so_far", "ansatz", "lr", "batch_size", "epochs", "optimizer",
                 "loss", "two_qubit_gates", "duration_s", "worker")


def trial_rows(study: optuna.Study) -> list[dict[str, Any]]:
    """One row per finished trial, by number (:data:`TRIAL_COLUMNS`).

    ``value`` is the validation accuracy (a pruned trial's: its last reported epoch; a
    failed trial has none); ``best_so_far`` the best completed value up to that trial.
    """
    rows, best = [], None
    for t in sorted(study.get_trials(deepcopy=False, states=FINISHED), key=lambda t: t.number):
        # the validation accuracy (a multi-objective trial has several values: its first objective
        # is not always the accuracy)
        value = t.user_attrs.get("val_accuracy", t.values[0] if t.values else None)
        if t.state == optuna.trial.TrialState.PRUNED and t.intermediate_values:
            value = t.intermediate_values[max(t.intermediate_values)]
        if t.state == optuna.trial.TrialState.COMPLETE and value is not None:
            best = value if best is None else max(best, value)
        duration = (t.datetime_complete - t.datetime_start).total_seconds() \
            if t.datetime_complete and t.datetime_start else None
        worker = t.user_attrs.get(workers.WORKER_ATTR) or {}
        rows.append({"trial": t.number, "state": t.state.name, "value": value, "best_so_far": best,
                     **{k: t.params.get(k) for k in TRIAL_COLUMNS[4:10]},
                     "two_qubit_gates": t.user_attrs.get("two_qubit_gates"),
                     "duration_s": None if duration is None else round(duration, 3),
                     "worker": worker.get(workers.PROCESS_KEY, "") if isinstance(worker, dict) else str(worker)})
    return rows


def trial_point(trial: optuna.trial.FrozenTrial, names: list[str]) -> TrialPoint:
    """What a completed trial measured (trials of studies from before objectives fall back to their value)."""
    values = dict(zip(names, trial.values))
    attrs = trial.user_attrs
    return TrialPoint(
        number=trial.number, params=dict(trial.params), values=values,
        val_accuracy=float(attrs.get("val_accuracy", values.get("val_accuracy", math.nan))),
        val_loss=float(attrs.get("val_loss", math.inf)),
        two_qubit_gates=attrs.get("two_qubit_gates"), device=attrs.get("device"),
        emulated_accuracy=attrs.get("emulated_accuracy", values.get("emulated_accuracy")),
    )


def choose(study: optuna.Study, select_params: TuneSelect | None = None):
    """``(front, selection)`` of the completed trials, or ``(None, None)`` without one.

    One objective: the study's best trial (highest value, ties to the lower validation
    loss), as before objectives existed. Several: ``tune.select``'s rule on the front
    (:func:`qml_ops.tuning.pareto.select`).
    """
    from qml_ops.tuning.pareto import Selection, accuracy_only, pareto_front

    select_params = select_params or TuneSelect()
    names = objective_names(study)
    complete = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    if not complete:
        return None, None
    points = [trial_point(t, names) for t in complete]
    dirs = dict(zip(names, directions(names)))
    front = pareto_front(points, dirs)
    if len(names) > 1:
        return front, select(points, dirs, select_params.rule, select_params.tolerance)
    best = max(complete, key=_rank)
    chosen = next(p for p in points if p.number == best.number)
    reason = (f"single objective {names[0]}: trial {chosen.number} has the best value ({best.value:.4f}; ties to "
              f"the lower validation loss)")
    return front, Selection(chosen, f"max_{names[0]}", 0.0, reason, accuracy_only(points), [chosen.number])


def summarise(study: optuna.Study, ref: StudyRef, n_trials: int, select_params: TuneSelect | None = None
              ) -> dict[str, Any]:
    """Counts, the trial ``train.use_tuned`` takes (``best_*``: the selected one), the Pareto front
    (``pareto``: each trial's number, params and objective values) and the selection."""
    trials = study.get_trials(deepcopy=False)
    count = {state: sum(t.state == state and counts_toward_budget(t) for t in trials) for state in FINISHED}
    names = objective_names(study)
    front, chosen = choose(study, select_params)
    best = chosen.trial if chosen else None
    return {
        "study": ref.name,
        "storage": redact(ref.storage_url),
        "n_trials": n_trials,
        "n_finished": sum(count.values()),
        "n_complete": count[optuna.trial.TrialState.COMPLETE],
        "n_pruned": count[optuna.trial.TrialState.PRUNED],
        "n_failed": count[optuna.trial.TrialState.FAIL],
        # the selected trial; its value: the objective of a single-objective study, else its validation accuracy
        "best_value": (best.values[names[0]] if len(names) == 1 else best.val_accuracy) if best else None,
        "best_val_loss": best.val_loss if best else None,
        "best_trial": best.number if best else None,
        "best_params": best.params if best else None,
        "objectives": names,
        "pareto": front_document(front) if front else [],
        "selection": chosen.numbers() if chosen else None,
        "selection_reason": chosen.reason if chosen else None,
        "mlflow_experiment": study.user_attrs.get(EXPERIMENT_ATTR),
        "mlflow_parent_run_id": study.user_attrs.get(PARENT_ATTR),
        "trials": trial_rows(study),
    }


def log_study_summary(study: optuna.Study, summary: dict[str, Any]) -> None:
    """Best trial, params, value, the trials table and the history/importance plots on the parent run;
    with several objectives also the selection (tags ``tune.selected_trial``, ``tune.select.rule``,
    ``tune.select.reason``) and the Pareto-front plot."""
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
        names = summary.get("objectives") or ["val_accuracy"]
        if len(names) > 1:
            _log_selection(study, summary)
        from optuna.visualization import matplotlib as ovm

        history, importances = {}, {}  # several objectives: both for the validation accuracy
        if len(names) > 1:
            history = {"target": lambda t: t.user_attrs.get("val_accuracy", math.nan), "target_name": "val_accuracy"}
            # Optuna's importance evaluator ranks params by how they lower a target: hence the minus
            importances = {"target": lambda t: -t.user_attrs.get("val_accuracy", math.nan),
                           "target_name": "val_accuracy"}
        figures = [("optimization_history.png", ovm.plot_optimization_history, history)]
        if summary["n_complete"] >= 2:
            figures.append(("param_importances.png", ovm.plot_param_importances, importances))
        for name, plot, options in figures:
            try:
                with experimental_features(), warnings.catch_warnings():
                    warnings.filterwarnings("ignore", message=".*computes the importances of params to achieve low")
                    ax = plot(study, **options)
            except (ValueError, RuntimeError) as exc:  # e.g. one distinct value per param
                print(f"tune: skipped {name}: {exc}")
                continue
            fig = ax.figure if hasattr(ax, "figure") else ax
            fig.set_size_inches(7, 4)
            fig.tight_layout()
            tracking.log_figure(fig, name)
            plots.close(fig)


def _log_selection(study: optuna.Study, summary: dict[str, Any]) -> None:
    """The selected trial and why, the front and its plot, on the (active) study run."""
    from qml_ops import plots
    from qml_ops.tuning.pareto import front_figure

    selection = summary["selection"]
    tracking.set_tags({"tune.selected_trial": selection["trial"], "tune.select.rule": selection["rule"],
                       "tune.select.reason": summary["selection_reason"]})
    tracking.log_metrics({f"selection.{k}": v for k, v in selection.items() if isinstance(v, (int, float))})
    tracking.log_dict({"pareto": summary["pareto"], "selection": selection, "reason": summary["selection_reason"]},
                      "pareto_front.json")
    names = summary["objectives"]
    complete = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    points = [trial_point(t, names) for t in complete]
    fig = front_figure(points, [p["trial"] for p in summary["pareto"]], selection["trial"],
                       selection["accuracy_only_trial"], names)
    tracking.log_figure(fig, "pareto_front.png")
    plots.close(fig)
