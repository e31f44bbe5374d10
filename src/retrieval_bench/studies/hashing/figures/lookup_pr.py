"""Hash-lookup precision-recall curves (the authors' demo.m, first figure): precision and recall of the
items within Hamming radius 0..bits, pooled over queries; a panel per ground truth; first seed."""

from __future__ import annotations

from retrieval_bench.studies.hashing.figures.base import VectorHashingFigure, panels_per_ground_truth


class LookupPr(VectorHashingFigure):
    name = "lookup_pr"
    label = "Hash-lookup PR"
    caption = ("Precision against recall of hash lookup within Hamming radius 0 to K, pooled over queries, a "
               "panel per ground truth (first seed); references dashed, their LDPH solid in the same colour")
    options = {"bits": {"type": "integer", "minimum": 1, "description": "lookup_pr, ranking_curve: the code "
                        "length of the runs plotted"}}

    def check(self, config, where, spec):
        if "bits" not in spec:
            raise ValueError(f"{where}.bits: missing; the code length of the runs plotted")

    def draw(self, config, spec, runs):
        data = self.curves(config, runs, spec["bits"], "lookup")
        fig = panels_per_ground_truth(config, data, "recall", "precision", f"{data['dataset'].iloc[0]}, "
                                      f"{spec['bits']} bits", xlabel="recall", ylabel="precision", xlim=(0, 1.02))
        return fig, data[["row", "dataset", "gt", "bits", "seed", "at", "precision", "recall"]].rename(
            columns={"at": "radius"})

KIND = LookupPr()
