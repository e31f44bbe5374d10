"""Figs. 3.5 and 3.6: hash-lookup precision-recall curves (Hamming radius 0..min(50, K), pooled over
queries as DCMH's code does), a panel per data set and direction, a curve per row; first seed."""

from __future__ import annotations

import numpy as np
import pandas as pd

from retrieval_bench.core.figures import FigureKind
from retrieval_bench.studies.crossmodal import plan
from retrieval_bench.studies.crossmodal.figures import pyplot

DIRECTIONS = {"image_to_text": "image-to-text", "text_to_image": "text-to-image"}


def pr_auc(recall: np.ndarray, precision: np.ndarray) -> float:
    """Area under the lookup PR curve: trapezoids over recall, with (0, precision at radius 0) first
    (spec chapter3.md 7.2)."""
    r = np.concatenate([[0.0], recall])
    p = np.concatenate([[precision[0]], precision])
    return float(((r[1:] - r[:-1]) * (p[1:] + p[:-1]) / 2).sum())


class HashPr(FigureKind):
    name = "hash_pr"
    label = "Hash-lookup PR"
    caption = ("Precision against recall of hash lookup within Hamming radius 0 to min(50, K), pooled over "
               "queries, per data set and direction (first seed); the legend gives each curve's area")
    options = {"bits": {"type": "integer", "minimum": 1, "description": "hash_pr: the code length of the runs "
                        "plotted"}}

    def check(self, config, where, spec):
        if "bits" not in spec:
            raise ValueError(f"{where}.bits: missing; the code length of the runs plotted")

    def runs(self, config, figure):
        spec = config["figures"][figure]
        return plan.table_runs(config, {**spec, "bits": [spec["bits"]]}, seeds=[config["seeds"][0]])

    def inputs(self, config, figure):
        return sorted({f"{plan.run_dir(config, run)}/pr.csv" for run in self.runs(config, figure)})

    def draw(self, config, spec, runs):
        plt = pyplot()
        records = []
        for run in runs:
            curve = pd.read_csv(f"{plan.run_dir(config, run)}/pr.csv")
            name = plan.paired_block(config, run.protocol)["name"]
            for direction, part in curve.groupby("direction", sort=False):
                records.append(part.assign(row=run.row, dataset=name, seed=run.seed,
                                           auc=pr_auc(part["recall"].to_numpy(), part["precision"].to_numpy())))
        data = pd.concat(records, ignore_index=True)
        panels = list(dict.fromkeys(zip(data["dataset"], data["direction"])))
        fig, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 3.8), squeeze=False)
        for ax, (dataset, direction) in zip(axes[0], panels):
            mine = data[(data["dataset"] == dataset) & (data["direction"] == direction)]
            for row, line in mine.groupby("row", sort=False):
                ax.plot(line["recall"], line["precision"], marker=".", label=f"{row} (area {line['auc'].iloc[0]:.3f})")
            ax.set(xlabel="recall", ylabel="precision", title=f"{dataset}, {DIRECTIONS[direction]}",
                   xlim=(0, 1.02))
            ax.grid(alpha=0.3)
            ax.legend(fontsize=7)
        return fig, data[["row", "dataset", "direction", "seed", "radius", "precision", "recall", "retrieved", "auc"]]


KIND = HashPr()
