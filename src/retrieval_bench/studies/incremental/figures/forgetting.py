"""Average forgetting (Eq. 6.12, mAP) after every task, a bar per row."""

from __future__ import annotations

import pandas as pd

from retrieval_bench.studies.incremental import plan
from retrieval_bench.studies.incremental.figures.base import CurveFigure, accuracy, configuration_of, pyplot, row_ids
from retrieval_bench.studies.incremental.measures import average_forgetting


def _draw(config, spec, runs):
    """Fig. 6.7: average forgetting (Eq. 6.12 on mAP) after every task, a bar per row."""
    plt = pyplot()
    rows = row_ids(runs)
    last = plan.last_task(config, spec["protocol"])
    records = []
    for row in rows:
        a = accuracy(config, runs, row, "map")
        records += [{"row": row, "configuration": configuration_of(runs, row), "task": t, "metric": "forgetting_map",
                     "value": average_forgetting(a, t)} for t in range(1, last + 1)]
    data = pd.DataFrame(records)
    fig, ax = plt.subplots(figsize=(max(6, 1.2 * last + 0.4 * len(rows)), 4))
    width = 0.8 / len(rows)
    for i, row in enumerate(rows):
        mine = data[data["row"] == row]
        ax.bar(mine["task"] + (i - (len(rows) - 1) / 2) * width, mine["value"], width, label=row)
    ax.set(xlabel="task t", ylabel="average forgetting on mAP (points)", xticks=range(1, last + 1))
    ax.grid(alpha=0.3, axis="y")
    ax.legend(fontsize=7, ncol=2)
    return fig, data


class Forgetting(CurveFigure):
    name = "forgetting"
    label = "Forgetting"
    caption = "Average forgetting (Eq. 6.12, mAP) after every task, a bar per row"

    def draw(self, config, spec, runs):
        return _draw(config, spec, runs)


KIND = Forgetting()
