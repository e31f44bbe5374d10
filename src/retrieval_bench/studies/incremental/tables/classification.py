"""Classification (Table 5.6): top-1 accuracy over the classes seen, after every task."""

from __future__ import annotations

import pandas as pd

from retrieval_bench.core.config import rows_of
from retrieval_bench.core.io import read_json
from retrieval_bench.core.tables import Layout, TableKind
from retrieval_bench.studies.incremental import plan
from retrieval_bench.studies.incremental.tables.base import RunTable


class Classification(RunTable):
    name = "classification"
    label = "Classification"
    caption = ("Class-incremental classification: top-1 accuracy of the classifier over every class seen so far, "
               "after every task (the first column: the base model)")
    keys = ["configuration", "task", "metric"]

    def values(self, config, table):
        method_rows = [r["id"] for r in rows_of(config["tables"][table]) if r["configuration"] != "base"]
        records = []
        for run in self.runs(config, table):
            result = read_json(plan.metrics_path(config, run))
            rows = [run.row] if run.row != "base" else method_rows  # the base model: every row's first column
            records += [{"configuration": r, "seed": run.seed, "task": run.task, "metric": "top1",
                         "value": 100 * result["seen"]["top1"]} for r in rows]
        return pd.DataFrame(records)

    def thesis(self, table):
        thesis = TableKind.thesis(self, table)
        if "classes_seen" in thesis:  # published per number of classes seen: 20, 40, ... -> task 0, 1, ...
            steps = sorted(thesis["classes_seen"].unique())
            thesis["task"] = thesis["classes_seen"].map({n: i for i, n in enumerate(steps)})
            thesis["metric"] = "top1"
            thesis = thesis.drop(columns="classes_seen")
        return thesis

    def wide(self, frame):
        return super().wide(frame.sort_values("task", kind="stable"))

    def wide_index(self):
        return ["configuration"]

    def wide_column(self, frame):
        return "after task " + frame["task"].astype(str)

    def layout(self):
        return Layout(["configuration"], "task", 2)  # a column group per task, as the thesis prints it


KIND = Classification()
