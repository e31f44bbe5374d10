"""Reproduced tables next to the thesis's numbers (long form CSV + Markdown)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from incremental_retrieval import plan
from incremental_retrieval.config import scale_block
from incremental_retrieval.io import read_json, write_text
from incremental_retrieval.reference import thesis_table

METRICS = ["recall@1", "recall@2", "recall@4", "map"]
COLUMNS = ["configuration", "class_group", "metric", "reproduced", "thesis"]


def one_step_rows(config: dict, table: str) -> pd.DataFrame:
    """Long-form rows of a one-step table: old classes = group 0, new classes =
    every later group pooled per group (the last one).  `base` reports only
    the old classes and `feature_extraction` only the new ones, as in the
    thesis (the other cell would repeat the base model's number)."""
    records = []
    for protocol, seed, configuration, task in plan.table_runs(config, table):
        groups = read_json(plan.metrics_path(config, protocol, seed, configuration, task))["groups"]
        wanted = {"old": "0", "new": str(task)}
        if configuration == "base":
            wanted.pop("new")
        if configuration == "feature_extraction":
            wanted.pop("old")
        for class_group, g in wanted.items():
            for metric in METRICS:
                records.append({"configuration": configuration, "class_group": class_group, "metric": metric,
                                "seed": seed, "value": 100.0 * groups[g][metric]})
    return pd.DataFrame(records)


def build_table(config: dict, table: str, csv_path: Path, md_path: Path) -> pd.DataFrame:
    measured = one_step_rows(config, table)
    reproduced = (measured.groupby(["configuration", "class_group", "metric"], sort=False)["value"]
                  .agg(["mean", "std", "count"]).reset_index())
    thesis = thesis_table(table).rename(columns={"value": "thesis"})
    frame = reproduced.merge(thesis, on=["configuration", "class_group", "metric"], how="left")
    frame = frame.rename(columns={"mean": "reproduced", "std": "reproduced_std", "count": "seeds"})
    frame["reproduced"] = frame["reproduced"].round(2)
    frame["reproduced_std"] = frame["reproduced_std"].round(2)
    out = frame[COLUMNS + ["reproduced_std", "seeds"]]
    csv_path.parent.mkdir(parents=True, exist_ok=True)
    write_text(csv_path, out.to_csv(index=False))
    write_text(md_path, markdown(config, table, out))
    return out


def wide(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per configuration; a column per (class group, metric) with the
    reproduced value and the thesis value as `reproduced (thesis)`."""
    def cell(row):
        value = f"{row.reproduced:.2f}"
        if row.seeds > 1 and pd.notna(row.reproduced_std):
            value += f" ± {row.reproduced_std:.2f}"
        return value + (f" ({row.thesis:.2f})" if pd.notna(row.thesis) else "")

    frame = frame.assign(cell=frame.apply(cell, axis=1), column=frame.class_group + " " + frame.metric)
    order = list(dict.fromkeys(frame.configuration))
    columns = [f"{g} {m}" for g in ("old", "new") for m in METRICS if f"{g} {m}" in set(frame.column)]
    table = frame.pivot(index="configuration", columns="column", values="cell").reindex(order)[columns]
    return table.fillna("-")


def display_name(table: str) -> str:
    """table_5_2 -> Table 5.2"""
    return "Table " + table.removeprefix("table_").replace("_", ".")


def markdown(config: dict, table: str, frame: pd.DataFrame) -> str:
    spec = config["tables"][table]
    scale = config["scale"]
    block = scale_block(config)
    lines = [f"# {display_name(table)}: {spec.get('title', '')}", "",
             f"Scale: **{scale}** (protocol `{spec['protocol']}`, backbone `{block['backbone']}`, "
             f"seeds {config['seeds']}). Cells: reproduced (thesis), in percent; old = the original classes, "
             f"new = the classes added in the last task; `-`: not reported.", ""]
    if scale == "mini":
        lines += ["At mini scale the images are synthetic and the network small: the thesis numbers are "
                  "context, not targets. Compare the patterns (who forgets, who keeps the old classes), "
                  "not the absolute values.", ""]
    w = wide(frame)
    header = "| configuration | " + " | ".join(w.columns) + " |"
    lines += [header, "|" + "---|" * (len(w.columns) + 1)]
    lines += ["| " + name + " | " + " | ".join(row) + " |" for name, row in w.iterrows()]
    return "\n".join(lines) + "\n"
