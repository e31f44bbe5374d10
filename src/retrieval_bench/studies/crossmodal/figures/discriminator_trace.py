"""Beside Table 4.4: the modality discriminator's accuracy (at its steps, before each update) and the entropy of
its output (nats; log 2 = 0.693 is chance) per epoch, per row, mean over seeds.  In the full method D is the
adversary; in the other rows it is a probe trained on detached features that never feeds back, so the curves
show how separable the modalities are with and without the adversary (spec chapter4.md 3.1)."""

from __future__ import annotations

import math

import pandas as pd

from retrieval_bench.studies.crossmodal.figures import pyplot
from retrieval_bench.studies.crossmodal.figures.base import SentenceFigure

MEASURES = {"d_accuracy": "discriminator accuracy", "d_entropy": "output entropy (nats)"}


class DiscriminatorTrace(SentenceFigure):
    name = "discriminator_trace"
    label = "Discriminator"
    caption = ("The modality discriminator's accuracy and output entropy per epoch (mean over seeds): the adversary "
               "in the full method, a detached probe in the rows without it; chance is 0.5 and log 2")
    reads = "history.csv"

    def draw(self, config, spec, runs):
        plt = pyplot()
        frames = []
        for run in runs:
            history = self.history(config, run)
            missing = [m for m in MEASURES if m not in history]
            if missing:
                raise ValueError(f"{run}: history.csv has no {missing}; the row's method has no discriminator "
                                 f"(set modality_probe: true)")
            frames.append(history[["epoch", *MEASURES]].assign(configuration=run.row, seed=run.seed))
        data = pd.concat(frames, ignore_index=True)
        fig, axes = plt.subplots(1, 2, figsize=(9, 3.6), squeeze=False)
        for ax, (measure, title) in zip(axes[0], MEASURES.items()):
            for row, part in data.groupby("configuration", sort=False):
                mean = part.groupby("epoch")[measure].mean()
                ax.plot(mean.index, mean.to_numpy(), marker=".", label=row)
            ax.axhline(0.5 if measure == "d_accuracy" else math.log(2), color="grey", lw=0.8, ls="--")
            ax.set(xlabel="epoch", title=title)
            ax.grid(alpha=0.3)
            ax.legend(fontsize=7)
        return fig, data[["configuration", "seed", "epoch", *MEASURES]]


KIND = DiscriminatorTrace()
