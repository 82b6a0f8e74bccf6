"""Stopping hopeless trials of a multi-objective study early.

Optuna prunes single-objective studies only: ``Trial.report`` and
``Trial.should_prune`` raise ``NotImplementedError`` when a study has several
objectives. qml-ops keeps Optuna's pruners (median, Hyperband) for one
objective, and for several uses :class:`DominancePruner`, the median rule's
idea carried over to a Pareto front:

    after ``n_warmup_steps`` epochs, once ``n_startup_trials`` trials have
    completed, a trial stops (state PRUNED) when a completed trial had a
    strictly higher best validation accuracy by the same epoch and is no worse
    on every other objective known before training ends (its two-qubit gates
    against this trial's count on generic weights, its price per inference).

Such a trial is on its way to being dominated. The rule needs every objective
but validation accuracy to be known during training, so it is off when
``emulated_accuracy`` is an objective (that is measured after training), and
with ``tune.pruner: none``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

__all__ = ["CURVE_ATTR", "Competitor", "DominancePruner", "best_so_far"]

#: Trial user attribute with the per-epoch validation accuracies of a completed trial.
CURVE_ATTR = "val_curve"


def best_so_far(curve: Sequence[float], epoch: int) -> float:
    """The best of ``curve``'s first ``epoch`` values (all of them for a shorter curve)."""
    return max(curve[:epoch]) if curve else float("-inf")


@dataclass(frozen=True)
class Competitor:
    """A completed trial as the pruner sees it: its learning curve and its known costs (lower is better)."""

    number: int
    curve: tuple[float, ...]
    costs: tuple[float, ...]


@dataclass(frozen=True)
class DominancePruner:
    """See the module docstring.

    Args:
        n_startup_trials: completed trials needed before anything is pruned.
        n_warmup_steps: epochs a trial always runs.
    """

    n_startup_trials: int = 3
    n_warmup_steps: int = 3

    def __post_init__(self) -> None:
        if self.n_startup_trials < 0 or self.n_warmup_steps < 0:
            raise ValueError(f"n_startup_trials and n_warmup_steps cannot be negative, but got "
                             f"n_startup_trials={self.n_startup_trials}, n_warmup_steps={self.n_warmup_steps}.")

    def reason(self, epoch: int, curve: Sequence[float], costs: Sequence[float],
               completed: Sequence[Competitor]) -> str | None:
        """Why the trial should stop at ``epoch`` (1-based), or None to go on.

        Args:
            curve: this trial's validation accuracies so far (``curve[epoch - 1]`` is the latest).
            costs: this trial's known costs, in the competitors' order.
            completed: the study's completed trials.
        """
        if epoch <= self.n_warmup_steps or len(completed) < self.n_startup_trials:
            return None
        mine = best_so_far(curve, epoch)
        for other in completed:
            if best_so_far(other.curve, epoch) > mine and all(c <= m for c, m in zip(other.costs, costs)):
                return (f"pruned at epoch {epoch}: trial {other.number} had a higher validation accuracy by then "
                        f"({best_so_far(other.curve, epoch):.4f} > {mine:.4f}) at no higher hardware cost")
        return None
