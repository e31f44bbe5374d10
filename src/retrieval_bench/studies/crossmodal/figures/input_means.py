"""Fig. 4.6: the mean of the normalised image inputs and of the word embeddings per epoch (the clean inputs,
before any noise), per row, mean over seeds: the means Table 4.7's noise is centred on (spec chapter4.md 3.4)."""

from __future__ import annotations

import pandas as pd

from retrieval_bench.studies.crossmodal.figures import pyplot
from retrieval_bench.studies.crossmodal.figures.base import SentenceFigure

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
        fig, axes = plt.subplots(1, 2, figsize=(9, 3.5), squeeze=False)
        for ax, (modality, title) in zip(axes[0], MODALITIES.items()):
            for row, part in data[data["modality"] == modality].groupby("configuration", sort=False):
                mean = part.groupby("epoch")["mean"].mean()
                ax.plot(mean.index, mean.to_numpy(), marker=".", label=row)
            ax.set(xlabel="epoch", ylabel="mean", title=title)
            ax.grid(alpha=0.3)
            ax.legend(fontsize=7)
        return fig, data


KIND = InputMeans()
