"""Beside Table 4.4: the modality discriminator's accuracy (at its steps, before each update) and the entropy of
its output (nats; log 2 = 0.693 is chance) per epoch, per row, mean over seeds.  In the full method D is the
adversary; in the other rows it is a probe trained on detached features that never feeds back, so the curves
show how separable the modalities are with and without the adversary (spec chapter4.md 3.1)."""

from __future__ import annotations

import math

import pandas as pd

from retrieval_bench.studies.crossmodal.figures import pyplot
from retrieval_bench.studies.crossmodal.figures.base import SentenceFigure, epoch_curves

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
        fig = epoch_curves(plt, data, MEASURES, {"d_accuracy": 0.5, "d_entropy": math.log(2)})
        return fig, data[["configuration", "seed", "epoch", *MEASURES]]


KIND = DiscriminatorTrace()
