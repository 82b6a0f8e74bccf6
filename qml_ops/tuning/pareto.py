"""The Pareto front of a tuning study, and the rule that picks one trial from it (``tune.select``).

Pure functions on :class:`TrialPoint` records (what a completed trial
measured), so they are tested with a handful of points; :mod:`qml_ops.tuning.study`
builds the points from Optuna's trials.

* :func:`pareto_front`: the completed trials no other trial dominates (a trial
  dominates another when it is at least as good on every objective and better
  on one, each objective in its own direction).
* :func:`select`: the trial ``train.use_tuned`` takes, by ``tune.select.rule``
  (:class:`qml_ops.config.TuneSelect`), with a sentence saying why, and the
  accuracy-only pick (the highest validation accuracy, ties to the lower
  validation loss: what a single-objective study picks) beside it.

Example:
    >>> a = TrialPoint(0, {"ansatz": 9}, {"val_accuracy": 1.0, "two_qubit_gates": 56}, 1.0, 0.10, 56)
    >>> b = TrialPoint(1, {"ansatz": 2}, {"val_accuracy": 0.99, "two_qubit_gates": 31}, 0.99, 0.20, 31)
    >>> c = TrialPoint(2, {"ansatz": 6}, {"val_accuracy": 0.95, "two_qubit_gates": 44}, 0.95, 0.30, 44)
    >>> directions = {"val_accuracy": "maximize", "two_qubit_gates": "minimize"}
    >>> [p.number for p in pareto_front([a, b, c], directions)]
    [0, 1]
    >>> pick = select([a, b, c], directions, rule="min_two_qubit_gates", tolerance=0.02)
    >>> pick.trial.number, pick.accuracy_only.number
    (1, 0)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

__all__ = ["TrialPoint", "Selection", "dominates", "pareto_front", "accuracy_only", "select", "front_document"]


@dataclass(frozen=True)
class TrialPoint:
    """What one completed trial measured.

    Attributes:
        number: the Optuna trial number.
        params: its suggested params (``device`` among them when the device is tuned).
        values: its objective values, by objective name.
        val_accuracy, val_loss: its best epoch's validation accuracy and loss (always measured).
        two_qubit_gates: native two-qubit gates on its device (None without a target device).
        device: the target device it was measured on.
        emulated_accuracy: on its device's emulator, when that is an objective.
    """

    number: int
    params: dict[str, Any]
    values: dict[str, float]
    val_accuracy: float
    val_loss: float
    two_qubit_gates: int | None = None
    device: str | None = None
    emulated_accuracy: float | None = None


@dataclass(frozen=True)
class Selection:
    """The trial a rule picked, why, and the accuracy-only pick for comparison."""

    trial: TrialPoint
    rule: str
    tolerance: float
    reason: str
    accuracy_only: TrialPoint
    candidates: list[int] = field(default_factory=list)

    def numbers(self) -> dict[str, Any]:
        """The selection as numbers (and the rule's name), for metrics files and MLflow."""
        out: dict[str, Any] = {"trial": self.trial.number, "rule": self.rule, "tolerance": self.tolerance,
                               "val_accuracy": self.trial.val_accuracy}
        pick = self.accuracy_only
        out["accuracy_only_trial"] = pick.number
        out["accuracy_only_val_accuracy"] = pick.val_accuracy
        if self.trial.two_qubit_gates is not None:
            out["two_qubit_gates"] = self.trial.two_qubit_gates
        if pick.two_qubit_gates is not None:
            out["accuracy_only_two_qubit_gates"] = pick.two_qubit_gates
        if self.trial.emulated_accuracy is not None:
            out["emulated_accuracy"] = self.trial.emulated_accuracy
        if pick.emulated_accuracy is not None:
            out["accuracy_only_emulated_accuracy"] = pick.emulated_accuracy
        return out


def _oriented(point: TrialPoint, directions: dict[str, str]) -> list[float]:
    """Objective values turned so that larger is better."""
    return [point.values[k] if d == "maximize" else -point.values[k] for k, d in directions.items()]


def dominates(a: TrialPoint, b: TrialPoint, directions: dict[str, str]) -> bool:
    """``a`` is at least as good as ``b`` on every objective and better on one."""
    va, vb = _oriented(a, directions), _oriented(b, directions)
    return all(x >= y for x, y in zip(va, vb)) and any(x > y for x, y in zip(va, vb))


def pareto_front(points: Sequence[TrialPoint], directions: dict[str, str]) -> list[TrialPoint]:
    """The points no other point dominates, by trial number (equal points all stay)."""
    return sorted((p for p in points if not any(dominates(q, p, directions) for q in points)),
                  key=lambda p: p.number)


def accuracy_only(points: Sequence[TrialPoint]) -> TrialPoint:
    """The highest validation accuracy; ties to the lower validation loss, then the earlier trial."""
    return min(points, key=lambda p: (-p.val_accuracy, p.val_loss, p.number))


def _gates(point: TrialPoint) -> float:
    return float("inf") if point.two_qubit_gates is None else point.two_qubit_gates


def _where(point: TrialPoint) -> str:
    return f" on {point.device}" if point.device else ""


def select(points: Sequence[TrialPoint], directions: dict[str, str], rule: str, tolerance: float) -> Selection:
    """Pick one trial from the Pareto front of ``points`` by ``rule`` (see :class:`qml_ops.config.TuneSelect`).

    Raises:
        ValueError: no points, or an unknown rule.
    """
    if not points:
        raise ValueError("no completed trial to select from")
    front = pareto_front(points, directions)
    pick = accuracy_only(points)
    if rule == "min_two_qubit_gates":
        best = max(p.val_accuracy for p in front)
        candidates = [p for p in front if p.val_accuracy >= best - tolerance - 1e-12]
        chosen = min(candidates, key=lambda p: (_gates(p), -p.val_accuracy, p.val_loss, p.number))
        reason = (f"rule min_two_qubit_gates: trial {chosen.number} has the fewest two-qubit gates "
                  f"({chosen.two_qubit_gates}{_where(chosen)}) of the {len(candidates)} Pareto-front trial(s) whose "
                  f"validation accuracy is within {tolerance:g} of the best ({best:.4f}); it reaches "
                  f"{chosen.val_accuracy:.4f}")
    elif rule == "max_val_accuracy":
        chosen, candidates = accuracy_only(front), list(front)
        reason = (f"rule max_val_accuracy: trial {chosen.number} has the highest validation accuracy "
                  f"({chosen.val_accuracy:.4f}; ties to the lower validation loss)")
    elif rule == "max_emulated_accuracy":
        candidates = list(front)
        chosen = min(candidates, key=lambda p: (-(p.emulated_accuracy or 0.0), _gates(p), -p.val_accuracy,
                                                 p.val_loss, p.number))
        reason = (f"rule max_emulated_accuracy: trial {chosen.number} has the highest emulated accuracy "
                  f"({chosen.emulated_accuracy:.4f}{_where(chosen)}; ties to fewer two-qubit gates)")
    else:
        raise ValueError(f"unknown selection rule {rule!r}")
    if chosen.number == pick.number:
        reason += "; it is also the accuracy-only pick"
    else:
        gates = "" if pick.two_qubit_gates is None else f", {pick.two_qubit_gates} two-qubit gates{_where(pick)}"
        reason += f"; the accuracy-only pick would be trial {pick.number} ({pick.val_accuracy:.4f}{gates})"
    return Selection(chosen, rule, tolerance, reason, pick, [p.number for p in candidates])


def front_document(front: Sequence[TrialPoint]) -> list[dict[str, Any]]:
    """The front as ``metrics/tune.json`` keeps it: each trial's number, params and objective values."""
    return [{"trial": p.number, "params": dict(p.params), "values": dict(p.values)} for p in front]


def _axes(objectives: Sequence[str]) -> tuple[str, str]:
    """(x, y) objectives of the front plot: gates (or the first other objective) against an accuracy."""
    accuracies = [o for o in objectives if o.endswith("accuracy")] or list(objectives[:1])
    y = accuracies[0]
    others = [o for o in objectives if o != y]
    x = "two_qubit_gates" if "two_qubit_gates" in others else (others[0] if others else y)
    return x, y


def front_figure(points: Sequence[TrialPoint], front: Sequence[int], selected: int, accuracy_pick: int,
                 objectives: Sequence[str]):
    """Every completed trial, the front, the selected trial and the accuracy-only pick, in two of the
    objectives (two-qubit gates against validation accuracy when both are objectives)."""
    from qml_ops import plots

    x, y = _axes(objectives)
    fig, ax = plots.plt.subplots(figsize=(6.4, 4.2))
    ax.scatter([p.values[x] for p in points], [p.values[y] for p in points], s=22, color="0.7",
               label="completed trials")
    on_front = sorted((p for p in points if p.number in set(front)), key=lambda p: (p.values[x], p.values[y]))
    ax.plot([p.values[x] for p in on_front], [p.values[y] for p in on_front], "o-", color="C0", ms=6,
            label="Pareto front")
    marks = ((accuracy_pick, "s", "C3", "accuracy-only pick"), (selected, "*", "C2", "selected (tune.select)"))
    for number, marker, color, label in marks:
        point = next(p for p in points if p.number == number)
        ax.plot([point.values[x]], [point.values[y]], marker, color=color, ms=14 if marker == "*" else 10,
                mfc="none" if marker == "s" else color, mew=2, label=f"{label}: trial {number}")
    ax.set_xlabel(x)
    ax.set_ylabel(y)
    if len(objectives) > 2:
        ax.set_title(f"projection on {x} and {y} ({len(objectives)} objectives)", fontsize=9)
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    return fig
