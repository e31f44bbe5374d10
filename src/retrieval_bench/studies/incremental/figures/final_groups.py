"""Recall@1 of each row's final model on every class group, and the reference's."""

from __future__ import annotations

import pandas as pd

from retrieval_bench.studies.incremental import plan
from retrieval_bench.studies.incremental.figures.base import (
    REFERENCE_OPTION,
    RunFigure,
    group_names,
    groups_of,
    pyplot,
    reference_label,
    reference_run,
    row_runs,
    run_columns,
)


def _draw(config, spec, runs):
    """Fig. 6.8: Recall@1 of each row's final model on every class group, and the reference's."""
    plt = pyplot()
    names = group_names(config, spec["protocol"])
    shown = row_runs(runs) + [r for r in [reference_run(runs)] if r is not None]
    records = [{**run_columns(run), "group": g, "classes": names[g], "metric": "recall@1", "value": 100 * v["recall@1"]}
               for run in shown for g, v in sorted(groups_of(config, run).items())]
    data = pd.DataFrame(records)
    fig, ax = plt.subplots(figsize=(max(7, 1.6 * len(names)), 4))
    width = 0.8 / len(shown)
    for i, run in enumerate(shown):
        mine = data[data["row"] == run.row]
        style = {"color": "0.75", "edgecolor": "black", "hatch": "//"} if run.row == plan.REFERENCE else {}
        ax.bar(mine["group"] + (i - (len(shown) - 1) / 2) * width, mine["value"], width,
               label=reference_label(run) if run.row == plan.REFERENCE else run.row, **style)
    ax.set(xticks=range(len(names)), xticklabels=names, ylabel="Recall@1 (%)",
           xlabel=f"class group (final model after task {plan.last_task(config, spec['protocol'])})")
    ax.grid(alpha=0.3, axis="y")
    ax.legend(fontsize=7, ncol=2)
    return fig, data


class FinalGroups(RunFigure):
    name = "final_groups"
    label = "Final model per group"
    caption = "Recall@1 of each row's final model on every class group, and the reference's"
    options = REFERENCE_OPTION

    def paths(self, config, figure):
        return [plan.metrics_path(config, run) for run in self.runs(config, figure)]

    def draw(self, config, spec, runs):
        return _draw(config, spec, runs)


KIND = FinalGroups()
