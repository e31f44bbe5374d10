"""The images generated from a model's BatchNorm statistics, one row per cluster."""

from __future__ import annotations

import numpy as np
import pandas as pd

from retrieval_bench.core.config import rows_of
from retrieval_bench.studies.incremental import plan
from retrieval_bench.studies.incremental.figures.base import RunFigure, pyplot, run_columns
from retrieval_bench.studies.lifelong.plan import generated_images


def _generated(config, run) -> dict:
    import torch

    return torch.load(generated_images(config, run.protocol, run.seed, run.configuration, run.task),
                      map_location="cpu", weights_only=False)


def _image_grid(images, nrow: int) -> np.ndarray:
    from torchvision.utils import make_grid

    return make_grid(images, nrow=nrow, padding=2, pad_value=1.0).permute(1, 2, 0).numpy()


def _draw(config, spec, runs):
    """Figs. 7.4-7.6: the images generated from a model's BatchNorm statistics,
    one row per cluster; the CSV has each image's cluster and mean colour."""
    plt = pyplot()
    fig, axes = plt.subplots(1, len(runs), figsize=(4.5 * len(runs), 5), squeeze=False)
    records = []
    for ax, run in zip(axes[0], runs):
        result = _generated(config, run)
        images, labels = result["images"], result["labels"]
        ax.imshow(_image_grid(images, result["settings"]["per_cluster"]))
        ax.set(title=f"{run.row}: from the model after task {run.task}", xticks=[], yticks=[])
        means = images.mean(dim=(2, 3)).numpy()
        records += [{**run_columns(run), "image": i, "cluster": int(y), "red": m[0], "green": m[1], "blue": m[2],
                     "final_L_BN": result["log"][-1]["L_BN"], "final_L_cluster": result["log"][-1]["L_cluster"]}
                    for i, (y, m) in enumerate(zip(labels.tolist(), means))]
    return fig, pd.DataFrame(records)


class GeneratedGrid(RunFigure):
    name = "generated_grid"
    label = "Generated images"
    caption = "The images generated from a model's BatchNorm statistics, one row per cluster"
    options = {"teacher_task": {"type": "integer", "minimum": 0,
                                "description": "the images generated from the row's model after this task (0: the "
                                               "base model; task t's set is what task t + 1 distils with)"}}

    def runs(self, config, figure):
        """The model the images were generated from (first seed)."""
        spec = config["figures"][figure]
        task = spec.get("teacher_task", 0)
        return [plan.Run(row["id"], row["protocol"], config["seeds"][0], "base" if task == 0 else row["configuration"],
                         task) for row in rows_of(spec)]

    def paths(self, config, figure):
        return [generated_images(config, run.protocol, run.seed, run.configuration, run.task)
                for run in self.runs(config, figure)]

    def draw(self, config, spec, runs):
        return _draw(config, spec, runs)


KIND = GeneratedGrid()
