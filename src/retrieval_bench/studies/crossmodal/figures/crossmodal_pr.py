"""Fig. 4.4: precision against recall, interpolated at 11 recall levels (best precision at any recall at least
the level, mean over queries), a panel per direction and a curve per row (mean over seeds); the area under each
curve (the mean of its 11 precisions) is what claims read, per seed."""

from __future__ import annotations

import numpy as np
import pandas as pd

from retrieval_bench.studies.crossmodal.figures import pyplot
from retrieval_bench.studies.crossmodal.figures.base import DIRECTION_NAMES, SentenceFigure


class CrossmodalPr(SentenceFigure):
    name = "crossmodal_pr"
    label = "Precision-recall"
    caption = ("Interpolated precision at recall 0, 0.1, ..., 1 per direction (mean over queries, then over seeds); "
               "the legend gives each curve's area (the mean of its 11 precisions)")
    claim_data = (["configuration", "direction"], "auc")

    def draw(self, config, spec, runs):
        plt = pyplot()
        records = []
        for run in runs:
            group = self.metrics(config, run)["groups"][self.group(config, run)]
            for direction in DIRECTION_NAMES:
                precision = np.asarray(group[direction]["pr"])
                records.append(pd.DataFrame({
                    "configuration": run.row, "backbone": run.backbone, "direction": direction, "seed": run.seed,
                    "recall": np.linspace(0, 1, len(precision)), "precision": precision,
                    "auc": float(precision.mean())}))
        data = pd.concat(records, ignore_index=True)
        fig, axes = plt.subplots(1, 2, figsize=(9, 3.8), squeeze=False)
        for ax, direction in zip(axes[0], DIRECTION_NAMES):
            mine = data[data["direction"] == direction]
            for row, line in mine.groupby("configuration", sort=False):
                mean = line.groupby("recall")[["precision", "auc"]].mean()
                ax.plot(mean.index, mean["precision"], marker=".", label=f"{row} (area {mean['auc'].iloc[0]:.3f})")
            ax.set(xlabel="recall", ylabel="precision", title=DIRECTION_NAMES[direction], xlim=(0, 1.02))
            ax.grid(alpha=0.3)
            ax.legend(fontsize=7)
        return fig, data


KIND = CrossmodalPr()
