"""Where a study stands: trials per state, and per worker (``qml-ops tune status``).

A worker is the process recorded on each trial (:mod:`qml_ops.tuning.workers`):
its Slurm array task when it ran under Slurm, else ``host:pid``. A trial failed
because its worker died (stale heartbeat) is shown as ``RETRIED``: it does not
count toward ``tune.n_trials``, a new trial takes its place.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

import optuna

from qml_ops.tuning.study import StudyRef, counts_toward_budget, n_finished, redact
from qml_ops.tuning.workers import WORKER_ATTR, label

COLUMNS = ("COMPLETE", "PRUNED", "FAIL", "RETRIED", "RUNNING", "WAITING")


def state_name(trial: optuna.trial.FrozenTrial) -> str:
    if trial.state == optuna.trial.TrialState.FAIL and not counts_toward_budget(trial):
        return "RETRIED"
    return trial.state.name


def study_status(study: optuna.Study, ref: StudyRef, n_trials: int) -> dict[str, Any]:
    """Counts per state and per worker, as plain data (``--json`` prints it)."""
    trials = study.get_trials(deepcopy=False)
    per_worker: dict[str, Counter] = defaultdict(Counter)
    for trial in trials:
        if trial.state == optuna.trial.TrialState.WAITING:
            continue  # not picked up by a worker yet
        per_worker[label(trial.user_attrs.get(WORKER_ATTR))][state_name(trial)] += 1
    return {
        "study": ref.name,
        "storage": redact(ref.storage_url),
        "n_trials": n_trials,
        "n_finished": n_finished(study),
        "states": dict(Counter(state_name(t) for t in trials)),
        "workers": {name: dict(counts) for name, counts in sorted(per_worker.items())},
    }


def format_status(status: dict[str, Any]) -> str:
    """A table a person reads: one line per worker, one column per state."""
    states = status["states"]
    lines = [
        f"study {status['study']!r} in {status['storage']}",
        f"finished: {status['n_finished']}/{status['n_trials']} counted trials; "
        + ", ".join(f"{name} {states.get(name, 0)}" for name in COLUMNS),
    ]
    if not status["workers"]:
        lines.append("no trial has started yet")
        return "\n".join(lines)
    width = max(len("worker"), *(len(name) for name in status["workers"]))
    lines.append(f"{'worker':<{width}}  " + "  ".join(f"{c:>8}" for c in COLUMNS[:-1]))
    for name, counts in status["workers"].items():
        lines.append(f"{name:<{width}}  " + "  ".join(f"{counts.get(c, 0):>8}" for c in COLUMNS[:-1]))
    return "\n".join(lines)
