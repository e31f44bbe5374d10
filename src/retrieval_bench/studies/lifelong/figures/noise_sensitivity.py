"""Retrieval Recall@1 and classification top-1 of the first dataset under
Gaussian noise, and their relative degradation (mean over seeds)."""

from __future__ import annotations

import pandas as pd

from retrieval_bench.core.io import read_json
from retrieval_bench.studies.incremental import plan
from retrieval_bench.studies.incremental.figures.base import RunFigure, pyplot
from retrieval_bench.studies.lifelong.plan import noise_path


def _draw(config, spec, runs):
    """Fig. 7.8(a, b): retrieval Recall@1 and classification top-1 on the
    first dataset's seen test images under Gaussian noise, and their relative
    degradation; mean over seeds (the CSV has every seed)."""
    plt = pyplot()
    data = pd.DataFrame([{**record, "seed": run.seed, "row": run.row}
                         for run in runs for record in read_json(noise_path(config, run))["records"]])
    mean = data.groupby(["measure", "noise_ratio"], as_index=False)[["value", "degradation"]].mean()
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for measure, label in (("retrieval", "retrieval Recall@1"), ("classification", "classification top-1")):
        line = mean[mean["measure"] == measure]
        axes[0].plot(line["noise_ratio"], line["value"], marker="o", label=label)
        axes[1].plot(line["noise_ratio"], 100 * line["degradation"], marker="o", label=label)
    axes[0].set(xlabel="noise ratio r", ylabel="%", title="(a) recall rate / classification accuracy")
    axes[1].set(xlabel="noise ratio r", ylabel="degradation (%)", title="(b) performance degradation ratio")
    for ax in axes:
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    return fig, data


class NoiseSensitivity(RunFigure):
    name = "noise_sensitivity"
    label = "Noise sensitivity"
    caption = ("Retrieval Recall@1 and classification top-1 of the first dataset under Gaussian noise, and their"
               " relative degradation (mean over seeds)")
    claim_data = (["noise_ratio", "measure"], "degradation")

    def runs(self, config, figure):
        return plan.rows_runs(config, config["figures"][figure], "figure")  # every seed

    def paths(self, config, figure):
        return [noise_path(config, run) for run in self.runs(config, figure)]

    def draw(self, config, spec, runs):
        return _draw(config, spec, runs)


KIND = NoiseSensitivity()
