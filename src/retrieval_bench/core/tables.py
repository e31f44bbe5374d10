"""Reproduced tables next to the thesis's numbers (long-form CSV + Markdown).

A table kind is one object (`TableKind`, one file in a study's tables/): its
key columns, unit, caption, options, the runs and files it reads, how it
measures and how it is laid out.  The engine here writes every kind the same
way: key columns, then `reproduced` (mean over seeds), `thesis` (the
published value, empty where the thesis has none), `reproduced_std`, `seeds`
(how many) and `seed_<s>` (each seed's value, which the claims are judged on).
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import takewhile
from pathlib import Path

import numpy as np
import pandas as pd

from retrieval_bench.core import registry
from retrieval_bench.core.config import scale_block
from retrieval_bench.core.io import markdown_table, write_text
from retrieval_bench.core.reference import thesis_table


@dataclass(frozen=True)
class Layout:
    """How a long-form table is shown in the report: a row per `rows` combination, a column group per
    `column` value."""
    rows: list[str]
    column: str
    decimals: int


class TableKind:
    """One kind of table.  Subclasses set the attributes and `values` (or `build`)."""

    name = ""
    study = ""               # set by the registry: the study whose tables/ folder has it
    label = ""               # a short heading (the report's subcategory)
    caption = ""             # what a table of this kind shows, for the report and its captions
    keys: list[str] = []     # the key columns of the long-form CSV; the last is the measure shown as columns
    unit = "in percent"
    options: dict = {}       # table keys this kind reads -> their JSON schema (with a description)
    row_options: dict = {}   # row keys this kind reads -> their JSON schema
    needs_rows = True
    marks_best = True        # the report stars each column's best row (not for counts or diagnostics)
    mini_note = ("At mini scale the images are synthetic and the network small: the thesis numbers are context, "
                 "not targets. Compare the patterns (who forgets, who keeps the old classes), not the absolute "
                 "values.")

    def setting(self, config: dict, spec: dict) -> str:
        """What the table's numbers were measured on, for its heading."""
        protocols = spec.get("protocols") or [spec["protocol"]]
        return (f"protocol {', '.join(f'`{p}`' for p in protocols)}, backbone "
                f"`{scale_block(config)['backbone']}`")

    def check(self, config: dict, where: str, spec: dict) -> None:
        """What the schema cannot say about a table of this kind (raise ValueError naming `where`)."""

    def inputs(self, config: dict, table: str) -> list[str]:
        """The files the table job reads."""
        raise NotImplementedError

    def values(self, config: dict, table: str) -> pd.DataFrame:
        """One row per key combination and seed: the key columns, `seed` and `value`."""
        raise NotImplementedError

    def thesis(self, table: str) -> pd.DataFrame:
        """The published values, keyed like `keys`, in a `thesis` column."""
        thesis = thesis_table(table).rename(columns={"value": "thesis"})
        if thesis.empty:  # no published numbers (and perhaps not this kind's key columns)
            return pd.DataFrame({k: pd.Series(dtype="int64" if k == "task" else "object") for k in self.keys}
                                | {"thesis": pd.Series(dtype="float64")})
        return thesis

    def decimals(self, measure) -> int:
        """Decimals of a value of `measure` (the last key) in the CSV and the Markdown."""
        return 2

    def build(self, config: dict, table: str) -> pd.DataFrame:
        """The long-form table: the mean, std and count over seeds, each seed's value, the thesis's."""
        keys = self.keys
        values = self.values(config, table)
        reproduced = values.groupby(keys, sort=False)["value"].agg(["mean", "std", "count"]).reset_index()
        reproduced = reproduced.rename(columns={"mean": "reproduced", "std": "reproduced_std", "count": "seeds"})
        # each seed's value too: the claims are judged per seed (core/claims.py)
        per_seed = values.pivot_table(index=keys, columns="seed", values="value", aggfunc="first", sort=False)
        per_seed.columns = [f"seed_{s}" for s in per_seed.columns]
        seed_columns = list(per_seed.columns)
        out = reproduced.merge(per_seed.reset_index(), on=keys, how="left")
        out = out.merge(self.thesis(table), on=keys, how="left")
        rounded = ["reproduced", "reproduced_std", *seed_columns]
        four = out[keys[-1]].map(lambda m: self.decimals(m) == 4).to_numpy()[:, None]
        out[rounded] = np.where(four, out[rounded].round(4), out[rounded].round(2))
        return out[keys + ["reproduced", "thesis", "reproduced_std", "seeds", *seed_columns]]

    # ---- layout

    def cell(self, row) -> str:
        """A Markdown cell: reproduced ± std (thesis)."""
        d = self.decimals(getattr(row, self.keys[-1], ""))
        value = f"{row.reproduced:.{d}f}"
        if row.seeds > 1 and pd.notna(row.reproduced_std):
            value += f" ± {row.reproduced_std:.{d}f}"
        return value + (f" ({row.thesis:.{d}f})" if pd.notna(row.thesis) else "")

    def wide_index(self) -> list[str]:
        return self.keys[:-1]

    def wide_column(self, frame: pd.DataFrame) -> pd.Series:
        return frame[self.keys[-1]]

    def wide_columns(self, columns: list[str]) -> list[str]:
        return columns

    def wide(self, frame: pd.DataFrame) -> pd.DataFrame:
        """The table as the thesis prints it: a row per index, `reproduced (thesis)` cells."""
        frame = frame.assign(cell=frame.apply(self.cell, axis=1))
        frame["column"] = self.wide_column(frame)
        index = self.wide_index()
        columns = self.wide_columns(list(dict.fromkeys(frame["column"])))
        order = list(dict.fromkeys(map(tuple, frame[index].to_numpy())))
        table = frame.pivot_table(index=index, columns="column", values="cell", aggfunc="first")
        return table.reindex(pd.MultiIndex.from_tuples(order, names=index) if len(index) > 1 else
                             [o[0] for o in order])[columns].fillna("-")

    def layout(self) -> Layout:
        return Layout(self.keys[:-1], self.keys[-1], 2)

    def long_form(self, frame: pd.DataFrame) -> pd.DataFrame:
        """The CSV as the report reads it: a row per key combination with reproduced, thesis and std."""
        return frame

    def report_decimals(self, column) -> int:
        return self.decimals(column) if self.decimals(column) != 2 else self.layout().decimals


def table_kind_of(config: dict, table: str) -> TableKind:
    return registry.table_kind(config["tables"][table].get("kind", "one_step"))


def table_outputs(config: dict, table: str) -> list[str]:
    return [f"reports/{config['scale']}/tables/{table}.csv", f"reports/{config['scale']}/tables/{table}.md"]


def build_table(config: dict, table: str, csv_path: Path, md_path: Path) -> pd.DataFrame:
    kind = table_kind_of(config, table)
    out = kind.build(config, table)
    write_text(csv_path, out.to_csv(index=False))
    write_text(md_path, markdown(config, table, out))
    return out


WORDS = {"mt": "multi-task", "10task": "10 tasks", "cub": "(CUB)", "dogs": "(Dogs)"}


def display_name(table: str) -> str:
    """table_5_2 -> Table 5.2; table_6_forgetting_cub -> Table 6 forgetting (CUB)"""
    parts = table.removeprefix("table_").split("_")
    numbers = list(takewhile(str.isdigit, parts))
    words = [WORDS.get(p, p) for p in parts[len(numbers):]]
    return " ".join(filter(None, ["Table", ".".join(numbers), *words]))


def markdown(config: dict, table: str, frame: pd.DataFrame) -> str:
    spec = config["tables"][table]
    kind = table_kind_of(config, table)
    lines = [f"# {display_name(table)}: {spec.get('title', '')}", "",
             f"Scale: **{config['scale']}** ({kind.setting(config, spec)}, seeds {config['seeds']}). Cells: "
             f"reproduced (thesis), {kind.unit}; `-`: not reported.", ""]
    if config["scale"] == "mini":
        lines += [kind.mini_note, ""]
    w = kind.wide(frame).reset_index()
    return "\n".join(lines + markdown_table(w)) + "\n"
