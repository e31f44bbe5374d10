"""Retrieval by Hamming ranking (the slides' "mAP Comparison" and "Precision(%)@500 Comparison", 002:81):
one metric per table, per method, ground truth, data set and code length."""

from __future__ import annotations

from retrieval_bench.studies.hashing.plan import EVERY_PROTOCOL
from retrieval_bench.studies.hashing.tables.base import BITS_OPTION, VectorHashingTable

METRICS = ["map", "map_tie_mean", "precision@100", "precision@500", "precision@1000", "recall@100",
           "recall@500", "recall@1000"]
GROUND_TRUTHS = ["knn", "label"]


class CodeRetrieval(VectorHashingTable):
    name = "code_retrieval"
    label = "Hamming ranking"
    caption = ("The whole database ranked by Hamming distance to each query (ties in database order, the "
               "database permuted once by the split seed); relevant: the query's Euclidean k nearest "
               "neighbours (knn) or a shared class (label). With a 100-NN ground truth Precision@500 cannot "
               "exceed 20 %.")
    keys = ["configuration", "dataset", "gt", "bits", "metric"]
    options = {"bits": BITS_OPTION, "every_protocol": EVERY_PROTOCOL,
               "metric": {"enum": METRICS, "description": "the table's one metric (map_tie_mean: the expected "
                          "mAP under a random order inside ties)"},
               "gts": {"type": "array", "items": {"enum": GROUND_TRUTHS}, "minItems": 1,
                       "description": "the ground truths shown (default: both, where the data set has labels)"}}

    def check(self, config, where, spec):
        super().check(config, where, spec)
        if "metric" not in spec:
            raise ValueError(f"{where}.metric: missing; name the table's metric ({', '.join(METRICS)})")

    def records(self, spec, measured):
        metric = spec["metric"]
        return [{"gt": gt, "metric": metric, "value": 100.0 * measured[gt][metric]}
                for gt in spec.get("gts", GROUND_TRUTHS) if gt in measured and metric in measured[gt]]

    def wide_index(self):
        return ["configuration", "gt"]


KIND = CodeRetrieval()
