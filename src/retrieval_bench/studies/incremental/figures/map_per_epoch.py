"""Old-class mAP after every epoch of the incremental task."""

from __future__ import annotations

import pandas as pd

from retrieval_bench.studies.incremental import plan
from retrieval_bench.studies.incremental.figures.base import RunFigure, checkpoint, pyplot, retrain_error, run_columns


def _draw(config, spec, runs):
    """Figs. 5.3/5.4 (c), 6.6a: old-class mAP after every epoch of the incremental task."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6, 4))
    records = []
    for run in runs:
        points = [(h["epoch"], 100 * h["old_map"]) for h in checkpoint(config, run)["history"] if "old_map" in h]
        if not points:
            raise retrain_error(config, run, "old-class mAP curve")
        ax.plot(*zip(*points), marker=".", label=run.row)
        records += [{**run_columns(run), "epoch": e, "old_map": v} for e, v in points]
    ax.set(xlabel="epoch of incremental training", ylabel="mAP on the old classes (%)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return fig, pd.DataFrame(records)


class MapPerEpoch(RunFigure):
    name = "map_per_epoch"
    label = "mAP per epoch"
    caption = "Old-class mAP after every epoch of the incremental task"
    monitors_training = True

    def paths(self, config, figure):
        return [plan.trained_model(config, run) for run in self.runs(config, figure)]

    def draw(self, config, spec, runs):
        return _draw(config, spec, runs)


KIND = MapPerEpoch()
