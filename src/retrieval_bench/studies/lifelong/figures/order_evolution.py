"""The first dataset's seen Recall@1 after every task for two training orders (mean over seeds)."""

from __future__ import annotations

import pandas as pd

from retrieval_bench.core.config import rows_of, scale_block
from retrieval_bench.core.io import read_json
from retrieval_bench.studies.incremental import plan
from retrieval_bench.studies.incremental.figures.base import RunFigure, pyplot


def _sequence(config, protocol: str) -> list[dict]:
    return scale_block(config)["protocols"][protocol]["sequence"]


def _draw(config, spec, runs):
    """Fig. 7.8(d): the first dataset's seen Recall@1 after every task for two
    training orders, mean over seeds (the CSV has every seed; `order` names the
    sequence, e.g. cub_dogs_cars)."""
    plt = pyplot()
    records = []
    for run in runs:
        order = "_".join(e["name"] for e in _sequence(config, run.protocol))
        groups = read_json(plan.metrics_path(config, run))["groups"]
        configuration = next(r["configuration"] for r in rows_of(spec) if r["id"] == run.row)
        records.append({"row": run.row, "order": order, "configuration": configuration, "task": run.task,
                        "seed": run.seed, "value": 100 * groups["s0"]["recall@1"]})
    data = pd.DataFrame(records)
    fig, ax = plt.subplots(figsize=(6, 4))
    for (order, configuration), part in data.groupby(["order", "configuration"], sort=False):
        line = part.groupby("task")["value"].mean()
        ax.plot(line.index, line.values, marker="o", label=f"{configuration}: {order.replace('_', ' -> ')}")
    first = _sequence(config, spec["protocol"])[0]["name"]
    ax.set(xlabel="task", ylabel=f"{first} seen Recall@1 (%)", xticks=sorted(data["task"].unique()),
           title="(d) two training orders")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    return fig, data


class OrderEvolution(RunFigure):
    name = "order_evolution"
    label = "Training orders"
    caption = "The first dataset's seen Recall@1 after every task for two training orders (mean over seeds)"
    claim_data = (["order", "configuration", "task"], "value")

    def runs(self, config, figure):
        """The base model, then every task of each row's chain (every seed); the reference's final model."""
        spec = config["figures"][figure]
        seeds = config["seeds"]
        runs = [plan.Run(row["id"], row["protocol"], s, "base" if t == 0 else row["configuration"], t)
                for s in seeds for row in rows_of(spec) for t in range(plan.last_task(config, row["protocol"]) + 1)]
        return runs + self.reference_runs(config, spec, seeds)

    def paths(self, config, figure):
        return [plan.metrics_path(config, run) for run in self.runs(config, figure)]

    def draw(self, config, spec, runs):
        return _draw(config, spec, runs)


KIND = OrderEvolution()
