"""Multi-step (Tables 5.9, 5.10; chapter 6's per-task tables): every class group after every task."""

from __future__ import annotations

import pandas as pd

from retrieval_bench.core.io import read_json
from retrieval_bench.studies.incremental import plan
from retrieval_bench.studies.incremental.tables.base import METRICS_OPTION, RETRIEVAL, RunTable


class MultiStep(RunTable):
    name = "multi_step"
    label = "Multi-step"
    caption = "Recall@K and mAP of every class group seen so far, after every task of every row"
    keys = ["configuration", "task", "class_group", "metric"]
    options = {"metrics": {**METRICS_OPTION, "description": "the metrics shown (default all)"}}

    def values(self, config, table):
        metrics = config["tables"][table].get("metrics", RETRIEVAL)
        records = []
        for run in self.runs(config, table):
            result = read_json(plan.metrics_path(config, run))
            records += [{"configuration": run.row, "seed": run.seed, "class_group": int(g), "metric": metric,
                         "value": 100.0 * result["groups"][g][metric], "task": run.task}
                        for g in result["groups"] for metric in metrics]
        return pd.DataFrame(records)

    def wide_index(self):
        return ["configuration", "task"]

    def wide_column(self, frame):
        return "group " + frame["class_group"].astype(str) + " " + frame["metric"]


KIND = MultiStep()
