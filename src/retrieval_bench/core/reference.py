"""The thesis's published numbers: one CSV per table in a study's reference/
folder, transcribed from the thesis text (values in percent)."""

from __future__ import annotations

import pandas as pd

from retrieval_bench.core import registry


def thesis_table(table: str) -> pd.DataFrame:
    """The published numbers of `table` (e.g. "table_5_2"); empty if the thesis has none."""
    source = registry.reference_file(f"{table}.csv")
    if source is None:
        return pd.DataFrame(columns=["configuration", "class_group", "metric", "value"])
    with source.open() as f:
        return pd.read_csv(f)


def available() -> list[str]:
    """Every table with published numbers, over all studies."""
    from importlib import resources

    names = []
    for s in registry.studies():
        folder = resources.files(s.package).joinpath("reference")
        if folder.is_dir():
            names += [p.name.removesuffix(".csv") for p in folder.iterdir() if p.name.endswith(".csv")]
    return sorted(names)
