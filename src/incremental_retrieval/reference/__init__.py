"""The thesis's published numbers, one CSV per table, transcribed from the
thesis text (values in percent)."""

from __future__ import annotations

from importlib import resources

import pandas as pd


def thesis_table(table: str) -> pd.DataFrame:
    """The published numbers of `table` (e.g. "table_5_2"); empty if the thesis has none."""
    source = resources.files("incremental_retrieval.reference").joinpath(f"{table}.csv")
    if not source.is_file():
        return pd.DataFrame(columns=["configuration", "class_group", "metric", "value"])
    with source.open() as f:
        return pd.read_csv(f)


def available() -> list[str]:
    return sorted(p.name.removesuffix(".csv") for p in resources.files("incremental_retrieval.reference").iterdir()
                  if p.name.endswith(".csv"))
