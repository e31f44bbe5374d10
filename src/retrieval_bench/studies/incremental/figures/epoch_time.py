"""Training time per epoch of the incremental task (joint: on all classes)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from retrieval_bench.studies.incremental import plan
from retrieval_bench.studies.incremental.figures.base import RunFigure, checkpoint, pyplot, run_columns


def _draw(config, spec, runs):
    """Figs. 5.3/5.4 (d): mean training time per epoch (joint: on all classes)."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6, 4))
    seconds = [np.mean([h["seconds"] for h in checkpoint(config, run)["history"] if "seconds" in h])
               for run in runs]
    ax.bar([run.row for run in runs], seconds, color="tab:blue")
    ax.set(ylabel="seconds per epoch")
    ax.tick_params(axis="x", rotation=30)
    return fig, pd.DataFrame([{**run_columns(run), "seconds_per_epoch": s} for run, s in zip(runs, seconds)])


class EpochTime(RunFigure):
    name = "epoch_time"
    label = "Time per epoch"
    caption = "Training time per epoch of the incremental task (joint: on all classes)"

    def paths(self, config, figure):
        return [plan.trained_model(config, run) for run in self.runs(config, figure)]

    def draw(self, config, spec, runs):
        return _draw(config, spec, runs)


KIND = EpochTime()
