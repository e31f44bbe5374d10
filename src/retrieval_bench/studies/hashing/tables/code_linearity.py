"""The mechanism LDPH is named for (002:63): Hamming against Euclidean distance on 10,000 held-out
(query, database) pairs -- the least-squares slope a and intercept b, and Pearson r."""

from __future__ import annotations

from retrieval_bench.studies.hashing.tables.base import VectorHashingTable

MEASURES = ("pearson_r", "slope", "intercept")


class CodeLinearity(VectorHashingTable):
    name = "code_linearity"
    label = "Distance linearity"
    caption = ("Hamming distance against Euclidean distance on 10,000 random (query, database) pairs: Pearson r "
               "(x 100), and the fitted line's slope (bits per unit of distance) and intercept (bits)")
    keys = ["configuration", "dataset", "bits", "metric"]
    unit = "Pearson r x 100; slope and intercept as fitted"

    def records(self, spec, measured):
        line = measured["linearity"]
        return [{"metric": m, "value": 100.0 * line[m] if m == "pearson_r" else line[m]} for m in MEASURES]

    def decimals(self, measure):
        return 4 if measure in ("slope", "intercept") else 2

    def wide_index(self):
        return ["configuration", "metric"]


KIND = CodeLinearity()
