"""Figures for MLflow artifacts and reports (matplotlib, headless)."""

from __future__ import annotations

from typing import Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def learning_curves(history: Sequence[dict]) -> plt.Figure:
    """Loss and train/validation accuracy per epoch."""
    epochs = [h["epoch"] for h in history]
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(9, 3.5))
    ax_loss.plot(epochs, [h["loss"] for h in history], label="train loss")
    if history and history[0].get("val_loss") is not None:
        ax_loss.plot(epochs, [h["val_loss"] for h in history], label="val loss")
    ax_loss.set_xlabel("epoch")
    ax_loss.set_ylabel("loss")
    ax_loss.legend()
    ax_acc.plot(epochs, [h["train_accuracy"] for h in history], label="train")
    if history and history[0].get("val_accuracy") is not None:
        ax_acc.plot(epochs, [h["val_accuracy"] for h in history], label="validation")
    ax_acc.set_xlabel("epoch")
    ax_acc.set_ylabel("accuracy")
    ax_acc.set_ylim(0, 1.02)
    ax_acc.legend()
    fig.tight_layout()
    return fig


def confusion_matrix(matrix: np.ndarray, classes: Sequence[str], title: str = "") -> plt.Figure:
    fig, ax = plt.subplots(figsize=(3.6, 3.2))
    ax.imshow(matrix, cmap="Blues")
    for (i, j), value in np.ndenumerate(matrix):
        ax.text(j, i, str(int(value)), ha="center", va="center",
                color="white" if value > matrix.max() / 2 else "black")
    ax.set_xticks(range(len(classes)), classes)
    ax.set_yticks(range(len(classes)), classes)
    ax.set_xlabel("predicted")
    ax.set_ylabel("actual")
    ax.set_title(title or "confusion matrix")
    fig.tight_layout()
    return fig


def bars(labels: Sequence[str], series: dict[str, Sequence[float]], ylabel: str, title: str = "") -> plt.Figure:
    """Grouped bars: one group per label, one bar per series."""
    fig, ax = plt.subplots(figsize=(max(4, 1.6 * len(labels)) + (2.2 if len(series) > 1 else 0), 3.8))
    width = 0.8 / max(1, len(series))
    x = np.arange(len(labels))
    for k, (name, values) in enumerate(series.items()):
        ax.bar(x + k * width - 0.4 + width / 2, values, width, label=name)
    ax.set_xticks(x, labels, rotation=20, ha="right")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    if len(series) > 1:
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8)
    fig.tight_layout()
    return fig


def interval_bars(labels: Sequence[str], estimates: Sequence[float], lows: Sequence[float], highs: Sequence[float],
                  ylabel: str, title: str = "", threshold: tuple[float, str] | None = None) -> plt.Figure:
    """One bar per label with its (asymmetric) interval as an error bar, and an optional
    horizontal threshold line ``(value, label)``."""
    fig, ax = plt.subplots(figsize=(max(4.5, 1.5 * len(labels)), 3.8))
    x = np.arange(len(labels))
    est = np.asarray(estimates, dtype=float)
    err = np.vstack([est - np.asarray(lows, dtype=float), np.asarray(highs, dtype=float) - est])
    ax.bar(x, est, 0.6, yerr=err, capsize=5, color="#4c72b0", ecolor="black")
    for xi, value in zip(x, est):
        ax.annotate(f"{value:.3f}", (xi, value), textcoords="offset points", xytext=(0, -12), ha="center",
                    fontsize=8, color="white")
    if threshold is not None:
        ax.axhline(threshold[0], color="#c44e52", linestyle="--", linewidth=1, label=threshold[1])
        ax.legend(loc="lower left", fontsize=8)
    low = float(min(np.min(lows), threshold[0] if threshold else 1.0))
    ax.set_ylim(max(0.0, low - 0.1), 1.02)
    ax.set_xticks(x, labels, rotation=20, ha="right")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    fig.tight_layout()
    return fig


def scatter(points: dict[str, tuple[float, float]], xlabel: str, ylabel: str, title: str = "") -> plt.Figure:
    fig, ax = plt.subplots(figsize=(4.5, 3.5))
    for name, (x, y) in points.items():
        ax.scatter([x], [y])
        ax.annotate(name, (x, y), textcoords="offset points", xytext=(4, 4), fontsize=8)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    fig.tight_layout()
    return fig


def curves(series: dict[str, tuple[Sequence[float], Sequence[float]]], xlabel: str, ylabel: str, title: str = "",
           log_y: bool = False) -> plt.Figure:
    """One line with markers per named series of (xs, ys)."""
    fig, ax = plt.subplots(figsize=(5, 3.6))
    for name, (xs, ys) in series.items():
        ax.plot(xs, ys, marker="o", label=name)
    if log_y:
        ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    if series:
        ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def close(fig: plt.Figure) -> None:
    plt.close(fig)
