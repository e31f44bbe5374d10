"""Fig. 4.6: the mean of the normalised image inputs and of the word embeddings per epoch (the clean inputs,
before any noise), per row, mean over seeds: the means Table 4.7's noise is centred on (spec chapter4.md 3.4)."""

from __future__ import annotations

import pandas as pd

from retrieval_bench.studies.crossmodal.figures import pyplot
from retrieval_bench.studies.crossmodal.figures.base import SentenceFigure, epoch_curves

MODALITIES = {"image": "image inputs", "text": "word embeddings"}


class InputMeans(SentenceFigure):
    name = "input_means"
    label = "Input means"
    caption = ("The mean of the normalised image inputs and of the word embeddings in each training epoch (mean "
               "over seeds); epoch e's noise in Table 4.7 has epoch e - 1's mean")
    reads = "history.csv"

    def draw(self, config, spec, runs):
        plt = pyplot()
        frames = []
        for run in runs:
            history = self.history(config, run)
            for modality in MODALITIES:
                frames.append(pd.DataFrame({"configuration": run.row, "seed": run.seed, "epoch": history["epoch"],
                                            "modality": modality, "mean": history[f"input_mean_{modality}"]}))
        data = pd.concat(frames, ignore_index=True)
        wide = data.pivot_table(index=["configuration", "seed", "epoch"], columns="modality", values="mean",
                                sort=False).reset_index()
        fig = epoch_curves(plt, wide, MODALITIES)
        return fig, data


KIND = InputMeans()
