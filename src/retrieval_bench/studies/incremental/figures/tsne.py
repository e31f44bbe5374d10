"""t-SNE of the old classes' features: the base model and the incremental rows."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from retrieval_bench.studies.incremental import plan
from retrieval_bench.studies.incremental.figures.base import RunFigure, pyplot, run_columns
from retrieval_bench.vision.extract import load_features


def _draw(config, spec, runs, n_classes: int = 6):
    """Fig. 5.5: t-SNE of old-class features of the base model (circles) and
    of each row's model (triangles), e.g. without and with the MMD loss."""
    plt = pyplot()
    from sklearn.manifold import TSNE

    base, *rows = runs
    reference = load_features(Path(plan.features_dir(config, base)) / "group0.npz")
    classes = np.unique(reference["labels"])[:n_classes]
    fig, axes = plt.subplots(1, len(rows), figsize=(5 * len(rows), 4.5), squeeze=False)
    colours = plt.cm.tab10(np.arange(n_classes))
    records = []
    for ax, run in zip(axes[0], rows):
        trained = load_features(Path(plan.features_dir(config, run)) / "group0.npz")
        keep_a, keep_b = np.isin(reference["labels"], classes), np.isin(trained["labels"], classes)
        points = np.concatenate([reference["features"][keep_a], trained["features"][keep_b]])
        embedded = TSNE(n_components=2, perplexity=min(30, len(points) // 4), random_state=0,
                        init="pca").fit_transform(points)
        n_a = int(keep_a.sum())
        for c, colour in zip(classes, colours):
            a = reference["labels"][keep_a] == c
            b = trained["labels"][keep_b] == c
            ax.scatter(*embedded[:n_a][a].T, marker="o", s=14, color=colour, alpha=0.6)
            ax.scatter(*embedded[n_a:][b].T, marker="^", s=14, color=colour, alpha=0.9)
        ax.set(title=f"{run.row}: base (o) vs trained (^)", xticks=[], yticks=[])
        for model, images, labels, xy in (("base", np.flatnonzero(keep_a), reference["labels"][keep_a],
                                           embedded[:n_a]),
                                          ("trained", np.flatnonzero(keep_b), trained["labels"][keep_b],
                                           embedded[n_a:])):
            records += [{**run_columns(run), "model": model, "image": int(i), "label": int(y), "x": p[0], "y": p[1]}
                        for i, y, p in zip(images, labels, xy)]
    return fig, pd.DataFrame(records)


class TSNE(RunFigure):
    name = "tsne"
    label = "t-SNE"
    caption = "t-SNE of the old classes' features: the base model and the incremental rows"

    def runs(self, config, figure):
        spec = config["figures"][figure]
        return [plan.Run("base", spec["protocol"], config["seeds"][0], "base", 0), *super().runs(config, figure)]

    def draw(self, config, spec, runs):
        return _draw(config, spec, runs)


KIND = TSNE()
