"""Forgetting (chapter 6, Eq. 6.12) after every task of each row's chain."""

from __future__ import annotations

import pandas as pd

from retrieval_bench.core.config import rows_of
from retrieval_bench.core.io import read_json
from retrieval_bench.studies.incremental import measures, plan
from retrieval_bench.studies.incremental.tables.base import METRICS_OPTION, RunTable

FORGETTING_OF = ["map", "recall@1"]  # Acc of Eq. 6.12 (the thesis: mAP) and R@1 (Fig. 6.10b)


class Forgetting(RunTable):
    name = "forgetting"
    label = "Forgetting"
    caption = ("Average forgetting (Eq. 6.12) after every task: the mean over the earlier groups of their best "
               "accuracy after any earlier task minus their accuracy now; `original_`: group 0's term alone")
    keys = ["configuration", "task", "metric"]
    unit = "in percentage points"
    options = {"metrics": {**METRICS_OPTION, "description": "the accuracies Eq. 6.12 is taken of (default map, "
                                                            "recall@1)"}}

    def check(self, config, where, spec):
        super().check(config, where, spec)
        if any(row["configuration"] == "base" for row in rows_of(spec)):
            raise ValueError(f"{where}.rows: kind {self.name} needs tasks after the base model; `base` has none")

    def values(self, config, table):
        """Eq. 6.12 after every task t >= 1 of each row's chain, per seed: the mean over groups 0..t-1 of (best
        accuracy of group g after any task g..t-1) - (its accuracy after task t); `original_` is group 0's term."""
        by_chain: dict[tuple, dict[int, dict]] = {}
        for run in self.runs(config, table):
            by_chain.setdefault((run.row, run.seed), {})[run.task] = read_json(plan.metrics_path(config, run))["groups"]
        metrics = config["tables"][table].get("metrics", FORGETTING_OF)
        records = []
        for (row, seed), by_task in by_chain.items():
            matrices = {m: measures.accuracy_matrix(by_task, m) for m in metrics}
            for t in range(1, max(by_task) + 1):
                for metric, a in matrices.items():
                    base = {"configuration": row, "seed": seed, "task": t}
                    records += [{**base, "metric": f"forgetting_{metric}", "value": measures.average_forgetting(a, t)},
                                {**base, "metric": f"original_forgetting_{metric}",
                                 "value": measures.original_forgetting(a, t)}]
        return pd.DataFrame(records)


KIND = Forgetting()
