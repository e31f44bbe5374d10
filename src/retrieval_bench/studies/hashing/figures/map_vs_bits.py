"""mAP against code length (the authors' code), a panel per ground truth; first seed."""

from __future__ import annotations

import pandas as pd

from retrieval_bench.core.io import read_json
from retrieval_bench.studies.hashing import plan
from retrieval_bench.studies.hashing.figures.base import GT_NAMES, VectorHashingFigure, panels_per_ground_truth


class MapVsBits(VectorHashingFigure):
    name = "map_vs_bits"
    label = "mAP against code length"
    caption = "mAP of the Hamming ranking at each code length, a panel per ground truth (first seed)"
    options = {"code_lengths": {"type": "array", "items": {"type": "integer", "minimum": 1},
                                "minItems": 2, "description": "map_vs_bits: the code lengths plotted"}}

    def check(self, config, where, spec):
        if "code_lengths" not in spec:
            raise ValueError(f"{where}.code_lengths: missing; the code lengths plotted")

    def inputs(self, config, figure):
        return sorted({plan.metrics_path(config, r) for r in self.runs(config, figure)})

    def draw(self, config, spec, runs):
        records = []
        for run in runs:
            metrics = read_json(plan.metrics_path(config, run))
            for bits in spec["code_lengths"]:
                measured = metrics["bits"].get(str(bits))
                for gt in (measured or {}).keys() & set(GT_NAMES):
                    records.append({"row": run.row, "dataset": plan.vectors_block(config, run.protocol)["name"],
                                    "gt": gt, "bits": bits, "seed": run.seed, "map": 100.0 * measured[gt]["map"]})
        data = pd.DataFrame(records).sort_values(["gt", "bits"], kind="stable")
        fig = panels_per_ground_truth(config, data, "bits", "map", data["dataset"].iloc[0], marker="o",
                                      xlabel="code length (bits)", ylabel="mAP (%)", xscale="log",
                                      xticks=spec["code_lengths"], xticklabels=[str(b) for b in spec["code_lengths"]])
        return fig, data


KIND = MapVsBits()
