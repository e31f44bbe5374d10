"""Recall@1 (and mAP or forgetting) on the original classes after every task,
the reference's final model as the upper bound."""

from __future__ import annotations

import pandas as pd

from retrieval_bench.studies.incremental import plan
from retrieval_bench.studies.incremental.figures.base import (
    REFERENCE_OPTION,
    CurveFigure,
    accuracy,
    configuration_of,
    gram_records,
    groups_of,
    heat_map,
    old_class_gram,
    pyplot,
    reference_label,
    reference_run,
    row_ids,
    row_runs,
    run_columns,
)
from retrieval_bench.studies.incremental.measures import original_forgetting


def _draw(config, spec, runs):
    """Figs. 6.10/6.11: the original classes (group 0) after every task: (a)
    Recall@1, (b) mAP, or with `panel: forgetting` its Recall@1 forgetting
    max_{l<t} Acc_{l,0} - Acc_{t,0}; the reference's final model as a
    horizontal upper bound; `insets: gram` adds the Gram matrices of the
    final models' old-class sample."""
    plt = pyplot()
    rows, reference = row_ids(runs), reference_run(runs)
    second = spec.get("panel", "map")
    records = []
    for row in rows:
        key = {"row": row, "configuration": configuration_of(runs, row), "group": 0}
        r1 = accuracy(config, runs, row, "recall@1")
        records += [{**key, "task": t, "metric": "recall@1", "value": v} for t, v in enumerate(r1[:, 0])]
        if second == "map":
            ap = accuracy(config, runs, row, "map")[:, 0]
            records += [{**key, "task": t, "metric": "map", "value": v} for t, v in enumerate(ap)]
        else:
            records += [{**key, "task": t, "metric": "forgetting_recall@1", "value": original_forgetting(r1, t)}
                        for t in range(1, len(r1))]
    if reference is not None:
        final = groups_of(config, reference)[0]
        records += [{**run_columns(reference), "group": 0, "metric": m, "value": 100 * final[m]}
                    for m in ("recall@1", "map") if m == "recall@1" or second == "map"]
    finals = []
    if spec.get("insets") == "gram":
        last = plan.last_task(config, spec["protocol"])
        finals = [run for run in row_runs(runs) if run.task == last] + ([reference] if reference else [])
        for run in finals:
            gram, labels = old_class_gram(config, run)
            records += gram_records({**run_columns(run), "group": 0, "metric": "gram"}, gram, labels, value="value")
    data = pd.DataFrame(records)

    fig = plt.figure(figsize=(11, 7.2 if finals else 4.2), layout="constrained")
    top, bottom = fig.subfigures(2, 1, height_ratios=[2.2, 1]) if finals else (fig, None)
    axes = top.subplots(1, 2)
    panels = [("recall@1", "Recall@1 on group 0 (%)"),
              ("map", "mAP on group 0 (%)") if second == "map" else
              ("forgetting_recall@1", "forgetting of group 0 on Recall@1 (points)")]
    curves = data[data["row"] != plan.REFERENCE]
    for ax, (metric, label), letter in zip(axes, panels, "ab"):
        for row in rows:
            mine = curves[(curves["row"] == row) & (curves["metric"] == metric)]
            ax.plot(mine["task"], mine["value"], marker="o", markersize=4, label=row)
        bound = data[(data["row"] == plan.REFERENCE) & (data["metric"] == metric)]
        if len(bound):
            ax.axhline(bound["value"].iloc[0], color="black", linestyle="--", linewidth=1,
                       label=reference_label(reference))
        ax.set(xlabel="task t", ylabel=label, title=f"({letter})")
        ax.set_xticks(sorted(curves.loc[curves["metric"] == metric, "task"].unique()))
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=7)
    if finals:
        grams = data[data["metric"] == "gram"]
        small = bottom.subplots(1, len(finals), squeeze=False)[0]
        for ax, run in zip(small, finals):
            mine = grams[grams["row"] == run.row]
            n = int(mine["i"].max()) + 1
            image = heat_map(ax, mine["value"].to_numpy().reshape(n, n), grams["value"].min(),
                              grams["value"].max(), reference_label(run) if run.row == plan.REFERENCE else run.row)
        bottom.colorbar(image, ax=small.tolist(), shrink=0.8)
        bottom.suptitle("Gram matrices of the final models (old-class sample)", fontsize=9)
    return fig, data


class GroupCurve(CurveFigure):
    name = "group_curve"
    label = "Original classes"
    caption = ("Recall@1 (and mAP or forgetting) on the original classes after every task, the reference's final"
               " model as the upper bound")
    options = {
        **REFERENCE_OPTION,
        "panel": {"enum": ["map", "forgetting"],
                  "description": "the second panel, group-0 mAP per task (Fig. 6.11b, unset) or group-0 Recall@1 "
                                 "forgetting, max over earlier tasks minus now (Fig. 6.10b)"},
        "insets": {"enum": ["gram"], "description": "Gram matrices of the final models' fixed old-class sample "
                                                    "(Fig. 6.11)"},
    }

    def paths(self, config, figure):
        spec, runs = config["figures"][figure], self.runs(config, figure)
        paths = [plan.metrics_path(config, run) for run in runs]
        if spec.get("insets") == "gram":  # Gram matrices of the final models' old-class features
            paths += [plan.features_dir(config, run) for run in runs
                      if run.task == plan.last_task(config, run.protocol)]
        return paths

    def draw(self, config, spec, runs):
        return _draw(config, spec, runs)


KIND = GroupCurve()
