"""t-SNE of a model's embeddings of every dataset's seen training images, coloured by dataset."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from retrieval_bench.core.config import scale_block
from retrieval_bench.studies.incremental import plan
from retrieval_bench.studies.incremental.figures.base import RunFigure, pyplot, run_columns


def _draw(config, spec, runs, per_dataset: int = 150):
    """Fig. 7.8(c): t-SNE of a model's embeddings of the seen training images
    of every dataset of the sequence (a seeded sample of each), coloured by dataset."""
    plt = pyplot()
    from sklearn.manifold import TSNE

    from retrieval_bench.studies.incremental.splits import read_split
    from retrieval_bench.vision.extract import embed
    from retrieval_bench.vision.loading import ImageSet
    from retrieval_bench.vision.models import load_checkpoint, model_from_checkpoint

    run = runs[0]
    split = read_split(Path(plan.split_manifest(config, spec["protocol"])))
    train = split[(split["part"] == "seen") & (split["split"] == "train")]
    sample = train.groupby("task", group_keys=False).apply(
        lambda rows: rows.sample(min(per_dataset, len(rows)), random_state=0))
    block = scale_block(config)
    in_memory = block["training"]["pipeline"] == "memory"
    images = ImageSet(sample, plan.data_root(config, spec["protocol"]), block["image_size"], train=False,
                      in_memory=in_memory)
    model = model_from_checkpoint(load_checkpoint(plan.trained_model(config, run)))
    features, _ = embed(model, images)
    xy = TSNE(n_components=2, perplexity=30, random_state=0, init="pca").fit_transform(features)
    data = pd.DataFrame({"dataset": sample["name"].to_numpy(), "path": sample["path"].to_numpy(),
                         "x": xy[:, 0], "y": xy[:, 1]}).assign(**run_columns(run))
    fig, ax = plt.subplots(figsize=(6, 5))
    for name, part in data.groupby("dataset", sort=False):
        ax.scatter(part["x"], part["y"], s=8, alpha=0.7, label=name)
    ax.set(title=f"(c) training images of every dataset ({run.row} model)", xticks=[], yticks=[])
    ax.legend()
    return fig, data


class DatasetTSNE(RunFigure):
    name = "dataset_tsne"
    label = "t-SNE"
    caption = "t-SNE of a model's embeddings of every dataset's seen training images, coloured by dataset"

    def paths(self, config, figure):  # the model embeds the seen training images of every dataset of the split
        runs = self.runs(config, figure)
        return [plan.trained_model(config, run) for run in runs] + [
            plan.split_manifest(config, config["figures"][figure]["protocol"])]

    def draw(self, config, spec, runs):
        return _draw(config, spec, runs)


KIND = DatasetTSNE()
