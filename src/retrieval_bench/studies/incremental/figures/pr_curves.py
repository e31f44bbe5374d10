"""Precision-recall curves of the old and of the new classes after the incremental task."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from retrieval_bench.retrieval.metrics import precision_recall_curve, same_label
from retrieval_bench.studies.incremental import plan
from retrieval_bench.studies.incremental.figures.base import RunFigure, pyplot, run_columns
from retrieval_bench.vision.extract import load_features


def _draw(config, spec, runs):
    """Figs. 5.3/5.4 (a, b): precision-recall on the old and on the new classes."""
    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    records = []
    for run in runs:
        folder = Path(plan.features_dir(config, run))
        for ax, group in zip(axes, (0, run.task)):
            data = load_features(folder / f"group{group}.npz")
            recall, precision = precision_recall_curve(data["features"], relevance=same_label(data["labels"]))
            ax.plot(recall, precision, label=run.row)
            records += [{**run_columns(run), "group": group, "recall": r, "precision": p}
                        for r, p in zip(recall, precision)]
    for ax, title in zip(axes, ("old classes", "new classes")):
        ax.set(title=title, xlabel="recall", ylabel="precision", xlim=(0, 1), ylim=(0, 1.02))
        ax.grid(alpha=0.3)
    axes[1].legend(fontsize=8)
    return fig, pd.DataFrame(records)


class PRCurves(RunFigure):
    name = "pr_curves"
    label = "Precision-recall"
    caption = "Precision-recall curves of the old and of the new classes after the incremental task"

    def draw(self, config, spec, runs):
        return _draw(config, spec, runs)


KIND = PRCurves()
