"""What the incremental study's table kinds share: tables of runs, read from
each run's metrics JSON (the rows' runs as plan.rows_runs lists them)."""

from __future__ import annotations

from retrieval_bench.core.config import rows_of
from retrieval_bench.core.tables import TableKind
from retrieval_bench.studies.incremental import plan

RETRIEVAL = ["recall@1", "recall@2", "recall@4", "map"]
METRICS_OPTION = {"type": "array", "items": {"enum": RETRIEVAL}, "minItems": 1, "uniqueItems": True}
TASK_ROW_OPTION = {
    "task": {"type": "integer", "minimum": 1,
             "description": "the task the row's chain ends at (default: the protocol's last); one_step: new = "
                            "that task's group"}}


class RunTable(TableKind):
    """A table of the rows' runs; `runs_kind` is how plan.rows_runs picks their tasks."""

    runs_kind = ""
    row_options = TASK_ROW_OPTION

    def runs(self, config: dict, table: str, seeds=None) -> list[plan.Run]:
        return plan.rows_runs(config, config["tables"][table], self.runs_kind or self.name, seeds)

    def inputs(self, config, table):
        return sorted({plan.metrics_path(config, run) for run in self.runs(config, table)})

    def check(self, config, where, spec):
        protocols = config["scales"][config["scale"]]["protocols"]
        for row in rows_of(spec):
            last = len(protocols[row["protocol"]]["groups"]) - 1
            if row.get("task", 0) > last:
                raise ValueError(f"{where}.rows: row {row['id']!r} task {row['task']}, but protocol "
                                 f"{row['protocol']!r} has tasks 1..{last}")
