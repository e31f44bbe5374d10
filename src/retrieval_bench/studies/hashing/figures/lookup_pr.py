"""Hash-lookup precision-recall curves (the authors' demo.m, first figure): precision and recall of the
items within Hamming radius 0..bits, pooled over queries; a panel per ground truth; first seed."""

from __future__ import annotations

from retrieval_bench.core.figures import pyplot
from retrieval_bench.studies.hashing.figures.base import GT_NAMES, VectorHashingFigure, style
from retrieval_bench.studies.hashing.plan import EVERY_PROTOCOL


class LookupPr(VectorHashingFigure):
    name = "lookup_pr"
    label = "Hash-lookup PR"
    caption = ("Precision against recall of hash lookup within Hamming radius 0 to K, pooled over queries, a "
               "panel per ground truth (first seed); references dashed, their LDPH solid in the same colour")
    options = {"every_protocol": EVERY_PROTOCOL,
               "bits": {"type": "integer", "minimum": 1, "description": "lookup_pr, ranking_curve: the code "
                        "length of the runs plotted"}}

    def check(self, config, where, spec):
        if "bits" not in spec:
            raise ValueError(f"{where}.bits: missing; the code length of the runs plotted")

    def draw(self, config, spec, runs):
        plt = pyplot()
        data = self.curves(config, runs, spec["bits"], "lookup")
        gts = list(dict.fromkeys(data["gt"]))
        rows = list(dict.fromkeys(data["row"]))
        fig, axes = plt.subplots(1, len(gts), figsize=(4.6 * len(gts), 3.9), squeeze=False)
        for ax, gt in zip(axes[0], gts):
            for row, line in data[data["gt"] == gt].groupby("row", sort=False):
                ax.plot(line["recall"], line["precision"], label=row, **style(config, row, rows))
            ax.set(xlabel="recall", ylabel="precision", title=f"{data['dataset'].iloc[0]}, {spec['bits']} bits, "
                   f"{GT_NAMES[gt]}", xlim=(0, 1.02))
            ax.grid(alpha=0.3)
            ax.legend(fontsize=7)
        return fig, data[["row", "dataset", "gt", "bits", "seed", "at", "precision", "recall"]].rename(
            columns={"at": "radius"})


KIND = LookupPr()
