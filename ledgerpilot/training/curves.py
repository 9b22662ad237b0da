"""The loss curve of a training run, from the trainer's log history, as a PNG."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt


def loss_points(
    log_history: Iterable[Mapping[str, Any]], key: str = "loss"
) -> list[tuple[int, float]]:
    """``(step, value)`` of every log record that has ``key`` (``loss`` or ``eval_loss``)."""
    points: dict[int, float] = {}
    for record in log_history:
        if key in record and "step" in record:
            points[int(record["step"])] = float(record[key])  # a resumed run logs a step once
    return sorted(points.items())


def plot_loss_curve(
    log_history: Iterable[Mapping[str, Any]], path: str | Path, title: str = "training loss"
) -> Path:
    """Draw the train loss (and the eval loss, where logged) against the step; save at ``path``."""
    records = list(log_history)
    train = loss_points(records, "loss")
    held_out = loss_points(records, "eval_loss")
    figure, axes = plt.subplots(figsize=(7, 4), dpi=100)
    try:
        if train:
            axes.plot(*zip(*train, strict=True), label="train loss", color="#1f5fa8")
        if held_out:
            axes.plot(
                *zip(*held_out, strict=True), "o-", label="eval loss (test set)", color="#c8702a"
            )
        axes.set_xlabel("optimizer step")
        axes.set_ylabel("cross-entropy (nats per token)")
        axes.set_title(title)
        axes.grid(alpha=0.3)
        if train or held_out:
            axes.legend()
        out = Path(path)
        out.parent.mkdir(parents=True, exist_ok=True)
        figure.tight_layout()
        figure.savefig(out)
    finally:
        plt.close(figure)
    return out
