"""Recall@1 on each new class group right after the task that adds it."""

from __future__ import annotations

import pandas as pd

from retrieval_bench.studies.incremental.figures.base import (
    CurveFigure,
    accuracy,
    configuration_of,
    group_names,
    pyplot,
    row_ids,
)


def _draw(config, spec, runs):
    """Fig. 6.9: Recall@1 of class group t by the model right after task t (group 0: the base model)."""
    plt = pyplot()
    names = group_names(config, spec["protocol"])
    records = []
    for row in row_ids(runs):
        a = accuracy(config, runs, row, "recall@1")
        records += [{"row": row, "configuration": configuration_of(runs, row), "task": t, "group": t,
                     "classes": names[t], "metric": "recall@1", "value": a[t, t]} for t in range(len(a))]
    data = pd.DataFrame(records)
    fig, ax = plt.subplots(figsize=(max(6, 1.3 * len(names)), 4))
    for row in row_ids(runs):
        mine = data[data["row"] == row]
        ax.plot(mine["task"], mine["value"], marker="o", label=row)
    ax.set(xticks=range(len(names)), xticklabels=names, ylabel="Recall@1 on the new group (%)",
           xlabel="class group, tested right after the task that adds it")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, ncol=2)
    return fig, data


class NewGroupCurve(CurveFigure):
    name = "new_group_curve"
    label = "New groups"
    caption = "Recall@1 on each new class group right after the task that adds it"

    def draw(self, config, spec, runs):
        return _draw(config, spec, runs)


KIND = NewGroupCurve()
