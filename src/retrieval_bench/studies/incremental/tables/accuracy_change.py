"""Accuracy changes (chapter 6, Eq. 6.6) as the correlation method recorded them at every task."""

from __future__ import annotations

import pandas as pd

from retrieval_bench.core.config import rows_of
from retrieval_bench.core.io import read_json
from retrieval_bench.studies.incremental import plan
from retrieval_bench.studies.incremental.tables.base import RunTable

QUANTITIES = ["acc_old_before", "acc_old_after", "acc_new_before", "acc_new_after", "alpha_drop", "alpha_gain"]


class AccuracyChange(RunTable):
    name = "accuracy_change"
    marks_best = False
    label = "Accuracy changes"
    caption = ("The accuracy changes feature estimation records at the end of every task (Eq. 6.6): old- and "
               "new-class mAP before and after the task, and the relative changes alpha_drop and alpha_gain")
    keys = ["configuration", "task", "quantity"]
    unit = "mAPs in percent, α_drop and α_gain as ratios"

    def check(self, config, where, spec):
        super().check(config, where, spec)
        if any(row["configuration"] == "base" for row in rows_of(spec)):
            raise ValueError(f"{where}.rows: kind {self.name} needs tasks after the base model; `base` has none")

    def decimals(self, measure):
        return 4 if str(measure).startswith("alpha_") else 2  # ratios: the thesis's -0.0325

    def values(self, config, table):
        """Eq. 6.6 as each task's run recorded it (`accuracy_change` of its metrics): mAPs in percent, alphas
        as ratios."""
        records = []
        for run in self.runs(config, table):
            path = plan.metrics_path(config, run)
            change = read_json(path).get("accuracy_change")
            if change is None:
                raise ValueError(f"{path} has no accuracy_change: {run.configuration} does not record Eq. 6.6 "
                                 f"(a correlation configuration does)")
            values = {q: 100.0 * change[q] for q in QUANTITIES[:4]}
            values.update(alpha_drop=change["drop"], alpha_gain=change["gain"])
            records += [{"configuration": run.row, "seed": run.seed, "task": run.task, "quantity": q, "value": v}
                        for q, v in values.items()]
        return pd.DataFrame(records)


KIND = AccuracyChange()
