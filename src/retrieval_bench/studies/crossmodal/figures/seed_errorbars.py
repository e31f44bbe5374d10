"""Fig. 4.7: R@1, R@5 and R@10 of both directions as bars with mean ± std over the figure's seeds ("error bar
calculation based on three times running", L1503): the figure's `seeds` are run whatever `seeds` says."""

from __future__ import annotations

import numpy as np
import pandas as pd

from retrieval_bench.studies.crossmodal.figures import pyplot
from retrieval_bench.studies.crossmodal.figures.base import DIRECTION_NAMES, SentenceFigure

METRICS = ("recall@1", "recall@5", "recall@10")


class SeedErrorbars(SentenceFigure):
    name = "seed_errorbars"
    label = "Error bars"
    caption = "R@1/5/10 per direction, mean ± std over the figure's seeds (bars), each seed a dot"
    options = {"seeds": {"type": "array", "items": {"type": "integer", "minimum": 0}, "minItems": 2,
                         "description": "seed_errorbars: the seeds the bars are over (run for the figure)"}}

    def draw(self, config, spec, runs):
        plt = pyplot()
        data = pd.DataFrame([{"configuration": run.row, "direction": d, "metric": m, "seed": run.seed,
                              "value": 100.0 * self.metrics(config, run)["groups"][self.group(config, run)][d][m]}
                             for run in runs for d in DIRECTION_NAMES for m in METRICS])
        fig, ax = plt.subplots(figsize=(7, 3.8))
        labels = [f"{d} {m.replace('recall@', 'R@')}" for d in DIRECTION_NAMES for m in METRICS]
        x = np.arange(len(labels))
        rows = list(dict.fromkeys(data["configuration"]))
        width = 0.8 / len(rows)
        for i, row in enumerate(rows):
            mine = data[data["configuration"] == row]
            stats = mine.groupby(["direction", "metric"], sort=False)["value"].agg(["mean", "std"])
            means = [stats.loc[(d, m), "mean"] for d in DIRECTION_NAMES for m in METRICS]
            stds = [stats.loc[(d, m), "std"] for d in DIRECTION_NAMES for m in METRICS]
            ax.bar(x + i * width, means, width, yerr=stds, capsize=3, label=row, alpha=0.8)
            for j, (d, m) in enumerate((d, m) for d in DIRECTION_NAMES for m in METRICS):
                points = mine[(mine["direction"] == d) & (mine["metric"] == m)]["value"]
                ax.scatter(np.full(len(points), x[j] + i * width), points, color="black", s=8, zorder=3)
        ax.set_xticks(x + width * (len(rows) - 1) / 2, labels, fontsize=8)
        ax.set(ylabel="%", title=f"mean ± std over seeds {sorted(set(data['seed']))}")
        ax.grid(alpha=0.3, axis="y")
        ax.legend(fontsize=7)
        return fig, data


KIND = SeedErrorbars()
