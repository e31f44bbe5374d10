"""One step (Tables 5.2-5.5, 5.7, 5.8, 6.1-6.3): old and new classes after one task."""

from __future__ import annotations

import pandas as pd

from retrieval_bench.core.config import rows_of
from retrieval_bench.core.io import read_json
from retrieval_bench.studies.incremental import plan
from retrieval_bench.studies.incremental.tables.base import METRICS_OPTION, RETRIEVAL, TASK_ROW_OPTION, RunTable


class OneStep(RunTable):
    name = "one_step"
    label = "One step"
    caption = ("Recall@K and mAP of the old classes (group 0) and of the classes of the row's last task, after "
               "that task; the base model on the old classes only, feature extraction on the new only")
    keys = ["configuration", "class_group", "metric"]
    options = {
        "average": {"type": "boolean",
                    "description": "also an `average` class group, (old + new) / 2 per seed (Tables 6.1, 6.2)"},
        "metrics": {**METRICS_OPTION, "description": "the metrics shown (default all)"},
    }
    row_options = {
        **TASK_ROW_OPTION,
        "show": {"type": "array", "items": {"enum": ["old", "new"]}, "minItems": 1, "uniqueItems": True,
                 "description": "the class groups shown (default: base old, feature_extraction new, others both)"},
    }

    def check(self, config, where, spec):
        super().check(config, where, spec)
        for row in rows_of(spec):
            if "show" in row and row["configuration"] == "base":
                raise ValueError(f"{where}.rows: row {row['id']!r} has `show`, which only one_step reads for rows "
                                 f"after a task (the base model has the old classes only)")

    def values(self, config, table):
        spec = config["tables"][table]
        row_specs = {r["id"]: r for r in rows_of(spec)}
        metrics = spec.get("metrics", RETRIEVAL)
        records = []
        for run in self.runs(config, table):
            result = read_json(plan.metrics_path(config, run))
            base = {"configuration": run.row, "seed": run.seed}
            # base: old classes only; feature extraction: new only (as Tables 5.2/5.3 print them);
            # a row's `show` overrides (Table 6.1's initial model: f_0 on both)
            shown = ["old"] if run.configuration == "base" else \
                ["new"] if run.configuration == "feature_extraction" else ["old", "new"]
            group_of = {"old": "0", "new": str(run.task)}
            wanted = {group_of[c]: c for c in row_specs[run.row].get("show", shown)}
            values = {}
            for g, class_group in wanted.items():
                for metric in metrics:
                    values[class_group, metric] = 100.0 * result["groups"][g][metric]
                    records.append({**base, "class_group": class_group, "metric": metric,
                                    "value": values[class_group, metric]})
            if spec.get("average"):  # (old + new) / 2 of this seed (Tables 6.1, 6.2)
                records += [{**base, "class_group": "average", "metric": m,
                             "value": (values["old", m] + values["new", m]) / 2}
                            for m in metrics if ("old", m) in values and ("new", m) in values]
        return pd.DataFrame(records)

    def wide_index(self):
        return ["configuration"]

    def wide_column(self, frame):
        return frame["class_group"] + " " + frame["metric"]

    def wide_columns(self, columns):
        return [f"{g} {m}" for g in ("old", "new", "average") for m in RETRIEVAL if f"{g} {m}" in columns]


KIND = OneStep()
