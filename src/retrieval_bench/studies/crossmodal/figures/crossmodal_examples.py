"""Fig. 4.9: retrieved examples (first seed): the top 5 captions of 4 query images (the first 4 test images) and
the top 5 images of 4 query captions (the first caption of the next 4), correct ones marked.  An image is
shown in words: a synthetic scene by its slot values (scenes.txt of the prepared set), a real one by its file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from retrieval_bench.studies.crossmodal import plan
from retrieval_bench.studies.crossmodal.data import captions as captioned
from retrieval_bench.studies.crossmodal.figures import pyplot
from retrieval_bench.studies.crossmodal.figures.base import SentenceFigure

QUERIES, TOP = 4, 5


def image_names(folder: Path, data: captioned.CaptionedData) -> list[str]:
    scenes = folder / "scenes.txt"
    if scenes.is_file():
        return scenes.read_text().splitlines()
    return [str(p) for p in data.images] if not data.has_features else [f"image {i}" for i in range(len(data.images))]


class CrossmodalExamples(SentenceFigure):
    name = "crossmodal_examples"
    label = "Examples"
    caption = ("Top-5 captions of 4 query images and top-5 images of 4 query captions (first seed), correct ones "
               "marked [x]; a synthetic image is written as its scene")
    reads = "embeddings.npz"
    first_seed_only = True

    def draw(self, config, spec, runs):
        plt = pyplot()
        records = []
        for run in runs:
            folder = Path(plan.captions_folder(config, run.protocol))
            data = captioned.load(folder)
            names, texts = image_names(folder, data), data.captions.set_index("caption")["text"]
            with np.load(f"{plan.sentence_run_dir(config, run)}/embeddings.npz") as saved:
                e = dict(saved)
            images = e["image_embeddings"] / np.linalg.norm(e["image_embeddings"], axis=1, keepdims=True)
            sentences = e["text_embeddings"] / np.linalg.norm(e["text_embeddings"], axis=1, keepdims=True)
            for q in range(QUERIES):
                order = np.argsort(-(sentences @ images[q]), kind="stable")[:TOP]
                records += [{"configuration": run.row, "direction": "i2t", "query": names[e["image_ids"][q]],
                             "rank": r + 1, "item": texts[e["caption_ids"][c]],
                             "correct": bool(e["caption_instances"][c] == e["image_instances"][q])}
                            for r, c in enumerate(order)]
            first_captions = [int(np.flatnonzero(e["caption_images"] == e["image_ids"][i])[0])
                              for i in range(QUERIES, min(2 * QUERIES, len(e["image_ids"])))]
            for c in first_captions:
                order = np.argsort(-(images @ sentences[c]), kind="stable")[:TOP]
                records += [{"configuration": run.row, "direction": "t2i", "query": texts[e["caption_ids"][c]],
                             "rank": r + 1, "item": names[e["image_ids"][i]],
                             "correct": bool(e["image_instances"][i] == e["caption_instances"][c])}
                            for r, i in enumerate(order)]
        data = pd.DataFrame(records)
        fig, axes = plt.subplots(1, 2, figsize=(13, 7), squeeze=False)
        for ax, direction in zip(axes[0], ("i2t", "t2i")):
            lines = []
            for query, part in data[data["direction"] == direction].groupby("query", sort=False):
                lines.append(f"Q: {query}")
                lines += [f"  {r.rank}. {'[x]' if r.correct else '[ ]'} {r.item}" for r in part.itertuples()]
                lines.append("")
            ax.text(0.0, 1.0, "\n".join(lines), va="top", ha="left", family="monospace", fontsize=7,
                    transform=ax.transAxes)
            ax.set_axis_off()
            ax.set_title("image to text" if direction == "i2t" else "text to image", fontsize=9)
        return fig, data


KIND = CrossmodalExamples()
