"""Fig. 4.5: t-SNE of 40 test pairs per row (the first 40 test images as triangles, each one's first caption as
a circle, a colour per pair), fitted per panel on the 80 points (perplexity 15, the run's seed); first seed
drawn.  The claims read the mean cosine distance of the 40 pairs in the embedding space itself, per seed,
which does not depend on t-SNE (spec chapter4.md 8)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from retrieval_bench.studies.crossmodal import plan
from retrieval_bench.studies.crossmodal.figures import pyplot
from retrieval_bench.studies.crossmodal.figures.base import SentenceFigure

PAIRS, PERPLEXITY = 40, 15.0


def first_pairs(embeddings: dict, n: int = PAIRS) -> tuple[np.ndarray, np.ndarray]:
    """(image embeddings, the embedding of each image's first caption) of the first n test images (the
    embeddings file keeps the test images in test order)."""
    first_caption = {}
    for position, image in enumerate(embeddings["caption_images"]):
        first_caption.setdefault(int(image), position)
    images = embeddings["image_ids"][:n]
    return embeddings["image_embeddings"][:n], embeddings["text_embeddings"][[first_caption[int(i)] for i in images]]


def mean_pair_distance(images: np.ndarray, texts: np.ndarray) -> float:
    """Mean cosine distance (1 - cosine) between each image and its caption."""
    a = images / np.linalg.norm(images, axis=1, keepdims=True)
    b = texts / np.linalg.norm(texts, axis=1, keepdims=True)
    return float(np.mean(1.0 - (a * b).sum(axis=1)))


class PairTsne(SentenceFigure):
    name = "pair_tsne"
    label = "Paired features"
    caption = ("t-SNE of the first 40 test images (triangles) and their first captions (circles), a colour per "
               "pair (first seed); each panel gives the pairs' mean cosine distance in the embedding space")
    reads = "embeddings.npz"
    claim_data = (["configuration"], "mean_pair_distance")

    def draw(self, config, spec, runs):
        from sklearn.manifold import TSNE

        plt = pyplot()
        first = config["seeds"][0] if spec.get("seeds") is None else spec["seeds"][0]
        records = []
        for run in runs:
            with np.load(f"{plan.sentence_run_dir(config, run)}/embeddings.npz") as saved:
                images, texts = first_pairs(dict(saved))
            distance = mean_pair_distance(images, texts)
            points = np.concatenate([images, texts])
            n = len(images)
            xy = (TSNE(perplexity=min(PERPLEXITY, (2 * n - 1) / 3), random_state=run.seed, init="pca")
                  .fit_transform(points / np.linalg.norm(points, axis=1, keepdims=True))
                  if run.seed == first else np.full((2 * n, 2), np.nan))
            records.append(pd.DataFrame({"configuration": run.row, "seed": run.seed, "pair": np.tile(np.arange(n), 2),
                                         "modality": ["image"] * n + ["text"] * n, "x": xy[:, 0], "y": xy[:, 1],
                                         "mean_pair_distance": distance}))
        data = pd.concat(records, ignore_index=True)
        shown = data[data["seed"] == first]
        rows = list(dict.fromkeys(shown["configuration"]))
        fig, axes = plt.subplots(1, len(rows), figsize=(3.4 * len(rows), 3.5), squeeze=False)
        colours = plt.get_cmap("tab20")
        for ax, row in zip(axes[0], rows):
            mine = shown[shown["configuration"] == row]
            for modality, marker in (("image", "^"), ("text", "o")):
                part = mine[mine["modality"] == modality]
                ax.scatter(part["x"], part["y"], c=[colours(p % 20) for p in part["pair"]], marker=marker, s=22)
            ax.set(title=f"{row}\nmean pair distance {mine['mean_pair_distance'].iloc[0]:.3f}", xticks=[], yticks=[])
        return fig, data


KIND = PairTsne()
