"""What the cross-modal study's table kinds share: rows the thesis prints but the project does not run
(other papers' methods: their thesis values, no reproduced cell), and chapter 4's row key (configuration,
backbone)."""

from __future__ import annotations

import pandas as pd

from retrieval_bench.core.tables import TableKind
from retrieval_bench.studies.crossmodal import plan


class PublishedOnlyRows:
    """A kind whose table may carry published-only rows (put before the TableKind in the bases)."""

    @staticmethod
    def with_published(out: pd.DataFrame, thesis_rows: pd.DataFrame) -> pd.DataFrame:
        """`out` with the thesis rows appended: their thesis values, no reproduced value, 0 seeds."""
        if thesis_rows.empty:
            return out
        extra = thesis_rows.assign(reproduced=float("nan"), reproduced_std=float("nan"), seeds=0)
        return pd.concat([out, extra[[c for c in out.columns if c in extra.columns]]], ignore_index=True)

    def cell(self, row) -> str:
        if pd.isna(row.reproduced):  # a published-only row
            return f"- ({row.thesis:.2f})" if pd.notna(row.thesis) else "-"
        return super().cell(row)


class SentenceTable(TableKind):
    """A chapter 4 table: a row is (configuration, backbone), the backbone one the scale maps to a model."""

    row_options = plan.BACKBONE_ROW_OPTION

    def check(self, config, where, spec):
        plan.check_backbones(config, where, spec)

    def wide_index(self):
        return ["configuration", "backbone"]
