"""mAP against code length (the authors' code), a panel per ground truth; first seed."""

from __future__ import annotations

import pandas as pd

from retrieval_bench.core.figures import pyplot
from retrieval_bench.core.io import read_json
from retrieval_bench.studies.hashing import plan
from retrieval_bench.studies.hashing.figures.base import GT_NAMES, VectorHashingFigure, style
from retrieval_bench.studies.hashing.plan import EVERY_PROTOCOL


class MapVsBits(VectorHashingFigure):
    name = "map_vs_bits"
    label = "mAP against code length"
    caption = "mAP of the Hamming ranking at each code length, a panel per ground truth (first seed)"
    options = {"every_protocol": EVERY_PROTOCOL,
               "code_lengths": {"type": "array", "items": {"type": "integer", "minimum": 1},
                                "minItems": 2, "description": "map_vs_bits: the code lengths plotted"}}

    def check(self, config, where, spec):
        if "code_lengths" not in spec:
            raise ValueError(f"{where}.code_lengths: missing; the code lengths plotted")

    def inputs(self, config, figure):
        return sorted({plan.metrics_path(config, r) for r in self.runs(config, figure)})

    def draw(self, config, spec, runs):
        plt = pyplot()
        records = []
        for run in runs:
            metrics = read_json(plan.metrics_path(config, run))
            for bits in spec["code_lengths"]:
                measured = metrics["bits"].get(str(bits))
                for gt in (measured or {}).keys() & set(GT_NAMES):
                    records.append({"row": run.row, "dataset": plan.vectors_block(config, run.protocol)["name"],
                                    "gt": gt, "bits": bits, "seed": run.seed, "map": 100.0 * measured[gt]["map"]})
        data = pd.DataFrame(records).sort_values(["gt", "bits"], kind="stable")
        gts = [g for g in GT_NAMES if g in set(data["gt"])]
        rows = list(dict.fromkeys(data["row"]))
        fig, axes = plt.subplots(1, len(gts), figsize=(4.6 * len(gts), 3.9), squeeze=False)
        for ax, gt in zip(axes[0], gts):
            for row in rows:
                line = data[(data["gt"] == gt) & (data["row"] == row)]
                ax.plot(line["bits"], line["map"], marker="o", label=row, **style(config, row, rows))
            ax.set(xlabel="code length (bits)", ylabel="mAP (%)", xscale="log", xticks=spec["code_lengths"],
                   xticklabels=[str(b) for b in spec["code_lengths"]],
                   title=f"{data['dataset'].iloc[0]}, {GT_NAMES[gt]}")
            ax.grid(alpha=0.3)
            ax.legend(fontsize=7)
        return fig, data


KIND = MapVsBits()
