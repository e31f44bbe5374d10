"""The same generated images from Gaussian noise to the last iteration, and the two loss terms."""

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


def _draw(config, spec, runs, shown: int = 4):
    """Fig. 7.7: the same images from Gaussian noise to the last iteration
    (columns), and the two loss terms over the iterations."""
    plt = pyplot()
    import torch

    run = runs[0]
    result = _generated(config, run)
    snapshots = sorted(result["snapshots"].items())
    per_cluster = result["settings"]["per_cluster"]
    chosen = torch.arange(shown) * per_cluster  # one image of each of the first clusters
    columns = torch.stack([images[chosen] for _, images in snapshots], dim=1).flatten(0, 1)
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.5), gridspec_kw={"width_ratios": [2, 1]})
    left.imshow(_image_grid(columns, len(snapshots)))
    left.set(title="iterations " + ", ".join(str(i) for i, _ in snapshots), xticks=[], yticks=[])
    log = pd.DataFrame(result["log"])
    for term in ("L_BN", "L_cluster"):
        right.plot(log["iteration"], log[term], label=term)
    right.set(yscale="log", xlabel="iteration", ylabel="loss (weights included)")
    right.legend()
    right.grid(alpha=0.3)
    return fig, log.assign(**run_columns(run))


class GenerationProcess(RunFigure):
    name = "generation_process"
    label = "Generated images"
    caption = "The same generated images from Gaussian noise to the last iteration, and the two loss terms"
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


KIND = GenerationProcess()
