"""Gram matrices of a fixed old-class sample at the start, middle and end of
the incremental task, and the reference's final model."""

from __future__ import annotations

import numpy as np
import pandas as pd

from retrieval_bench.studies.incremental import plan
from retrieval_bench.studies.incremental.figures.base import (
    REFERENCE_OPTION,
    RunFigure,
    checkpoint,
    gram_records,
    heat_map,
    old_class_gram,
    pyplot,
    reference_label,
    reference_run,
    retrain_error,
    row_runs,
    run_columns,
)


def _draw(config, spec, runs):
    """Fig. 6.6b: Gram matrices of the fixed old-class sample at the start,
    middle and end of the incremental task (the rows' monitored snapshots)
    and of the reference's final model, on one colour scale."""
    plt = pyplot()
    rows, reference = row_runs(runs), reference_run(runs)
    snapshots = {}
    for run in rows:
        snap = checkpoint(config, run).get("gram_snapshots")
        if not snap or not snap["epochs"]:
            raise retrain_error(config, run, "Gram snapshots")
        snapshots[run] = snap
    epochs = sorted(int(e) for e in snapshots[rows[0]]["epochs"])
    trained = [e for e in epochs if e > 0] or epochs  # epoch 0 is the base model, the same for every row
    columns = list(dict.fromkeys([trained[0], trained[len(trained) // 2], trained[-1]]))
    records = []
    for run in rows:
        snap = snapshots[run]
        grams = {int(e): np.asarray(g) for e, g in snap["epochs"].items()}
        missing = [e for e in columns if e not in grams]
        if missing:
            raise ValueError(f"{plan.trained_model(config, run)} has no Gram snapshot of epoch(s) {missing}")
        for e in columns:
            records += gram_records({**run_columns(run), "epoch": e}, grams[e], snap["sample"]["labels"])
    if reference is not None:
        gram, labels = old_class_gram(config, reference)
        if list(labels) != list(snapshots[rows[0]]["sample"]["labels"]):
            raise ValueError(f"{plan.features_dir(config, reference)}: its old-class sample differs from the rows'")
        records += gram_records({**run_columns(reference), "epoch": None}, gram, labels)  # its final model
    data = pd.DataFrame(records)

    shown = ([reference] if reference else []) + rows
    fig, axes = plt.subplots(len(shown), len(columns), figsize=(2.6 * len(columns) + 1, 2.5 * len(shown)),
                             squeeze=False, layout="constrained")
    vmin, vmax = data["gram"].min(), data["gram"].max()
    for line, run in zip(axes, shown):
        mine = data[data["row"] == run.row]
        n = int(mine["i"].max()) + 1
        for c, (ax, e) in enumerate(zip(line, columns)):
            if run.row == plan.REFERENCE:
                if c:
                    ax.axis("off")
                    continue
                image = heat_map(ax, mine["gram"].to_numpy().reshape(n, n), vmin, vmax, "final model")
            else:
                at = mine[mine["epoch"] == e]
                image = heat_map(ax, at["gram"].to_numpy().reshape(n, n), vmin, vmax, f"epoch {e}")
            if c == 0:
                ax.set_ylabel(reference_label(run) if run.row == plan.REFERENCE else run.row, fontsize=9)
    fig.colorbar(image, ax=axes.ravel().tolist(), shrink=0.6, label="cosine similarity")
    return fig, data


class GramMatrices(RunFigure):
    name = "gram_matrices"
    label = "Gram matrices"
    caption = ("Gram matrices of a fixed old-class sample at the start, middle and end of the incremental task, "
               "and the reference's final model")
    options = REFERENCE_OPTION
    monitors_training = True

    def paths(self, config, figure):  # the rows' Gram snapshots; the reference's final features
        return [plan.trained_model(config, run) if run.row != plan.REFERENCE else plan.features_dir(config, run)
                for run in self.runs(config, figure)]

    def draw(self, config, spec, runs):
        return _draw(config, spec, runs)


KIND = GramMatrices()
