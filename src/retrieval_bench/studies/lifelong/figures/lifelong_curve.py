"""The first dataset's seen and unseen Recall@1 after every task, per row, against cumulative epochs."""

from __future__ import annotations

import pandas as pd

from retrieval_bench.core.config import rows_of, scale_block
from retrieval_bench.core.io import read_json
from retrieval_bench.studies.incremental import plan
from retrieval_bench.studies.incremental.figures.base import (
    REFERENCE_OPTION,
    RunFigure,
    pyplot,
    reference_label,
    reference_run,
    run_columns,
)


def _sequence(config, protocol: str) -> list[dict]:
    return scale_block(config)["protocols"][protocol]["sequence"]


def _task_epochs(config, protocol: str) -> list[int]:
    """Cumulative training epochs at the end of every task (Fig. 7.3's x axis)."""
    block, proto = scale_block(config), scale_block(config)["protocols"][protocol]
    base = proto.get("epochs", {}).get("base", block["training"]["base"]["epochs"])
    step = proto.get("epochs", {}).get("incremental", block["training"]["incremental"]["epochs"])
    return [base + t * step for t in range(len(proto["sequence"]))]


def _draw(config, spec, runs):
    """Fig. 7.3: the first dataset's Recall@1 on its seen (a) and unseen (b)
    sets after every task, per row, against cumulative epochs; joint training
    (over every dataset) as the reference line."""
    plt = pyplot()
    epochs = _task_epochs(config, spec["protocol"])
    records = []
    for run in runs:
        groups = read_json(plan.metrics_path(config, run))["groups"]
        records += [{**run_columns(run), "epochs": epochs[run.task], "set": part,
                     "value": 100 * groups[f"{part}0"]["recall@1"]}
                    for part in ("s", "u") if f"{part}0" in groups]
    data = pd.DataFrame(records)
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for ax, part, title in zip(axes, ("s", "u"), ("(a) seen", "(b) unseen")):
        mine = data[data["set"] == part]
        for row in dict.fromkeys(r.row for r in runs if r.row != plan.REFERENCE):
            line = mine[mine["row"] == row].sort_values("epochs")
            ax.plot(line["epochs"], line["value"], marker="o", label=row)
        ref = mine[mine["row"] == plan.REFERENCE]
        if len(ref):
            ax.axhline(ref["value"].iloc[0], color="k", ls="--", label=reference_label(reference_run(runs)))
        for x in epochs[:-1]:
            ax.axvline(x, color="grey", lw=0.5)
        names = " -> ".join(e["name"] for e in _sequence(config, spec["protocol"]))
        ax.set(xlabel=f"training epochs ({names})", ylabel=f"{_sequence(config, spec['protocol'])[0]['name']} "
               f"Recall@1 (%)", title=f"{title} set")
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=7)
    return fig, data


class LifelongCurve(RunFigure):
    name = "lifelong_curve"
    label = "First dataset per task"
    caption = "The first dataset's seen and unseen Recall@1 after every task, per row, against cumulative epochs"
    options = REFERENCE_OPTION

    def runs(self, config, figure):
        """The base model, then every task of each row's chain (first seed); the reference's final model."""
        spec = config["figures"][figure]
        seeds = [config["seeds"][0]]
        runs = [plan.Run(row["id"], row["protocol"], s, "base" if t == 0 else row["configuration"], t)
                for s in seeds for row in rows_of(spec) for t in range(plan.last_task(config, row["protocol"]) + 1)]
        return runs + self.reference_runs(config, spec, seeds)

    def paths(self, config, figure):
        return [plan.metrics_path(config, run) for run in self.runs(config, figure)]

    def draw(self, config, spec, runs):
        return _draw(config, spec, runs)


KIND = LifelongCurve()
