"""Precision@N or recall@N against N = 1..1,000 of the Hamming ranking (the authors' code plots both), a
panel per ground truth; first seed."""

from __future__ import annotations

from retrieval_bench.core.figures import pyplot
from retrieval_bench.studies.hashing.figures.base import GT_NAMES, VectorHashingFigure, style
from retrieval_bench.studies.hashing.plan import EVERY_PROTOCOL


class RankingCurve(VectorHashingFigure):
    name = "ranking_curve"
    label = "Precision / recall at N"
    caption = ("Precision@N or recall@N of the Hamming ranking against the number N of items returned, a panel "
               "per ground truth (first seed); references dashed, their LDPH solid in the same colour")
    options = {"every_protocol": EVERY_PROTOCOL,
               "measure": {"enum": ["precision", "recall"], "description": "ranking_curve: the measure plotted"},
               "bits": {"type": "integer", "minimum": 1, "description": "the code length of the runs plotted"}}

    def check(self, config, where, spec):
        for key in ("bits", "measure"):
            if key not in spec:
                raise ValueError(f"{where}.{key}: missing")

    def draw(self, config, spec, runs):
        plt = pyplot()
        data = self.curves(config, runs, spec["bits"], "ranking")
        measure = spec["measure"]
        gts = list(dict.fromkeys(data["gt"]))
        rows = list(dict.fromkeys(data["row"]))
        fig, axes = plt.subplots(1, len(gts), figsize=(4.6 * len(gts), 3.9), squeeze=False)
        for ax, gt in zip(axes[0], gts):
            for row, line in data[data["gt"] == gt].groupby("row", sort=False):
                ax.plot(line["at"], line[measure], label=row, **style(config, row, rows))
            ax.set(xlabel="N (items returned)", ylabel=f"{measure}@N", xscale="log",
                   title=f"{data['dataset'].iloc[0]}, {spec['bits']} bits, {GT_NAMES[gt]}")
            ax.grid(alpha=0.3)
            ax.legend(fontsize=7)
        return fig, data[["row", "dataset", "gt", "bits", "seed", "at", measure]].rename(columns={"at": "n"})


KIND = RankingCurve()
