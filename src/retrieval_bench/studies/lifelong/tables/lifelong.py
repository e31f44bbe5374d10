"""Lifelong (Tables 7.1-7.4, 7.6, the base model): s, u and H per dataset after the protocol's last task."""

from __future__ import annotations

import pandas as pd

from retrieval_bench.core.config import rows_of, scale_block
from retrieval_bench.core.io import read_json
from retrieval_bench.studies.incremental import plan
from retrieval_bench.studies.incremental.tables.base import RunTable
from retrieval_bench.studies.lifelong.measures import harmonic_mean


class Lifelong(RunTable):
    name = "lifelong"
    label = "Lifelong (seen / unseen)"
    caption = ("Recall@1 on every dataset's seen test images (s) and unseen images (u) and their harmonic mean "
               "H = 2su / (s + u) (Eq. 7.10, per seed), after the protocol's last task")
    keys = ["configuration", "dataset", "set", "metric"]
    options = {"datasets": {"type": "array", "items": {"type": "string"}, "minItems": 1,
                            "description": "the datasets shown (their `name` in the protocol's sequence; "
                                           "default all)"}}
    row_options = {"model": {"enum": ["on_the_fly_teacher"],
                             "description": "evaluate an auxiliary model the row's run saved instead of the student "
                                            "(Table 7.4's on-the-fly teacher, on the last dataset)"}}

    def values(self, config, table):
        """A row with `model` reads the auxiliary model its run saved (Table 7.4's on-the-fly teacher: the last
        dataset only)."""
        spec = config["tables"][table]
        rows = {r["id"]: r for r in rows_of(spec)}
        records = []
        for run in self.runs(config, table):
            result = read_json(plan.metrics_path(config, run))
            model = rows[run.row].get("model")
            groups = result["auxiliary"][model]["groups"] if model else result["groups"]
            sequence = scale_block(config)["protocols"][run.protocol]["sequence"]
            for d in range(run.task + 1):
                name = sequence[d]["name"]
                if f"s{d}" not in groups or name not in spec.get("datasets", [name]):
                    continue
                s = 100.0 * groups[f"s{d}"]["recall@1"]
                values = {"s": s}
                if f"u{d}" in groups:
                    u = 100.0 * groups[f"u{d}"]["recall@1"]
                    values.update(u=u, H=harmonic_mean(s, u))
                records += [{"configuration": run.row, "seed": run.seed, "dataset": name, "set": part,
                             "metric": "recall@1", "value": v} for part, v in values.items()]
        return pd.DataFrame(records)

    def wide_index(self):
        return ["configuration"]

    def wide_column(self, frame):  # the thesis's layout: per dataset s | u | H
        return frame["dataset"] + " " + frame["set"]


KIND = Lifelong()
