"""Precision@N or recall@N against N = 1..1,000 of the Hamming ranking (the authors' code plots both), a
panel per ground truth; first seed."""

from __future__ import annotations

from retrieval_bench.studies.hashing.figures.base import VectorHashingFigure, panels_per_ground_truth


class RankingCurve(VectorHashingFigure):
    name = "ranking_curve"
    label = "Precision / recall at N"
    caption = ("Precision@N or recall@N of the Hamming ranking against the number N of items returned, a panel "
               "per ground truth (first seed); references dashed, their LDPH solid in the same colour")
    options = {"measure": {"enum": ["precision", "recall"], "description": "ranking_curve: the measure plotted"},
               "bits": {"type": "integer", "minimum": 1, "description": "the code length of the runs plotted"}}

    def check(self, config, where, spec):
        for key in ("bits", "measure"):
            if key not in spec:
                raise ValueError(f"{where}.{key}: missing")

    def draw(self, config, spec, runs):
        data = self.curves(config, runs, spec["bits"], "ranking")
        measure = spec["measure"]
        fig = panels_per_ground_truth(config, data, "at", measure, f"{data['dataset'].iloc[0]}, {spec['bits']} bits",
                                      xlabel="N (items returned)", ylabel=f"{measure}@N", xscale="log")
        return fig, data[["row", "dataset", "gt", "bits", "seed", "at", measure]].rename(columns={"at": "n"})

KIND = RankingCurve()
