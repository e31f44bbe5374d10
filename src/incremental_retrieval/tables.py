"""Reproduced tables next to the thesis's numbers (long-form CSV + Markdown).

Every table is long form: key columns (which depend on the table's kind),
then `reproduced` (mean over seeds, percent), `thesis` (the published value,
empty where the thesis has none), `reproduced_std`, `seeds` (how many) and
`seed_<s>` (each seed's value).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from incremental_retrieval import plan
from incremental_retrieval.config import rows_of, scale_block
from incremental_retrieval.io import read_json, write_text
from incremental_retrieval.reference import thesis_table

RETRIEVAL = ["recall@1", "recall@2", "recall@4", "map"]
KEYS = {
    "one_step": ["configuration", "class_group", "metric"],
    "multi_step": ["configuration", "task", "class_group", "metric"],
    "classification": ["configuration", "task", "metric"],
}


def display_name(table: str) -> str:
    """table_5_2 -> Table 5.2"""
    return "Table " + table.removeprefix("table_").replace("_", ".")


def measured(config: dict, table: str) -> pd.DataFrame:
    """One row per (run, class group, metric, seed), values in percent."""
    kind = config["tables"][table].get("kind", "one_step")
    records = []
    for run in plan.table_runs(config, table):
        result = read_json(plan.metrics_path(config, run))
        base = {"configuration": run.row, "seed": run.seed}
        if kind == "classification":
            rows = [run.row] if run.row != "base" else [r["id"] for r in _method_rows(config, table)]
            records += [{**base, "configuration": r, "task": run.task, "metric": "top1",
                         "value": 100 * result["seen"]["top1"]} for r in rows]
            continue
        if kind == "multi_step":
            wanted = {g: int(g) for g in result["groups"]}
        else:  # one_step: the old classes and the classes of the last task
            # base: old classes only; feature extraction: new only (as the thesis prints them)
            wanted = {"0": "old"} if run.configuration == "base" else \
                {str(run.task): "new"} if run.configuration == "feature_extraction" else \
                {"0": "old", str(run.task): "new"}
        for g, class_group in wanted.items():
            for metric in RETRIEVAL:
                record = {**base, "class_group": class_group, "metric": metric,
                          "value": 100.0 * result["groups"][g][metric]}
                if kind == "multi_step":
                    record["task"] = run.task
                records.append(record)
    return pd.DataFrame(records)


def _method_rows(config, table):
    return [r for r in rows_of(config["tables"][table]) if r["configuration"] != "base"]


def thesis_values(table: str, kind: str) -> pd.DataFrame:
    thesis = thesis_table(table).rename(columns={"value": "thesis"})
    if kind == "classification":  # published per number of classes seen: 20, 40, ... -> task 0, 1, ...
        steps = sorted(thesis["classes_seen"].unique())
        thesis["task"] = thesis["classes_seen"].map({n: i for i, n in enumerate(steps)})
        thesis["metric"] = "top1"
        thesis = thesis.drop(columns="classes_seen")
    return thesis


def build_table(config: dict, table: str, csv_path: Path, md_path: Path) -> pd.DataFrame:
    spec = config["tables"][table]
    kind = spec.get("kind", "one_step")
    if kind == "statistics":
        out = statistics_table(config, table)
    else:
        keys = KEYS[kind]
        values = measured(config, table)
        reproduced = values.groupby(keys, sort=False)["value"].agg(["mean", "std", "count"]).reset_index()
        reproduced = reproduced.rename(columns={"mean": "reproduced", "std": "reproduced_std", "count": "seeds"})
        # each seed's value too: the claims are judged per seed (claims.py)
        per_seed = values.pivot_table(index=keys, columns="seed", values="value", aggfunc="first", sort=False)
        per_seed.columns = [f"seed_{s}" for s in per_seed.columns]
        seed_columns = list(per_seed.columns)
        out = reproduced.merge(per_seed.reset_index(), on=keys, how="left")
        out = out.merge(thesis_values(table, kind), on=keys, how="left")
        rounded = ["reproduced", "reproduced_std", *seed_columns]
        out[rounded] = out[rounded].round(2)
        out = out[keys + ["reproduced", "thesis", "reproduced_std", "seeds", *seed_columns]]
    write_text(csv_path, out.to_csv(index=False))
    write_text(md_path, markdown(config, table, out))
    return out


def statistics_table(config: dict, table: str) -> pd.DataFrame:
    """Table 5.1: images and classes per split and class group (old = group 0)."""
    from incremental_retrieval.data.splits import read_split

    thesis = thesis_table(table)
    records = []
    for protocol in config["tables"][table]["protocols"]:
        frame = read_split(Path(plan.split_manifest(config, protocol)))
        frame["class_group"] = frame["group"].map(lambda g: "old" if g == 0 else "new")
        for (group, split), part in frame.groupby(["class_group", "split"]):
            published = thesis[(thesis.protocol == protocol) & (thesis.class_group == group) & (thesis.split == split)]
            records.append({"protocol": protocol, "class_group": group, "split": split, "images": len(part),
                            "classes": part["class_id"].nunique(),
                            "thesis_images": published["images"].iloc[0] if len(published) else None,
                            "thesis_classes": published["classes"].iloc[0] if len(published) else None})
    return pd.DataFrame(records)


def _cell(row) -> str:
    value = f"{row.reproduced:.2f}"
    if row.seeds > 1 and pd.notna(row.reproduced_std):
        value += f" ± {row.reproduced_std:.2f}"
    return value + (f" ({row.thesis:.2f})" if pd.notna(row.thesis) else "")


def wide(frame: pd.DataFrame) -> pd.DataFrame:
    """The table as the thesis prints it: `reproduced (thesis)` cells."""
    if "images" in frame.columns:
        return frame.set_index(["protocol", "class_group", "split"])
    frame = frame.assign(cell=frame.apply(_cell, axis=1))
    if "class_group" not in frame.columns:  # classification: a column per task
        frame = frame.sort_values("task", kind="stable")
        frame["column"] = "after task " + frame["task"].astype(str)
        index = ["configuration"]
    elif "task" in frame.columns:  # multi-step: a row per (method, task), a column per group and metric
        frame["column"] = "group " + frame["class_group"].astype(str) + " " + frame["metric"]
        index = ["configuration", "task"]
    else:
        frame["column"] = frame["class_group"] + " " + frame["metric"]
        index = ["configuration"]
    columns = list(dict.fromkeys(frame["column"]))
    if "class_group" in frame.columns and "task" not in frame.columns:
        columns = [f"{g} {m}" for g in ("old", "new") for m in RETRIEVAL if f"{g} {m}" in columns]
    order = list(dict.fromkeys(map(tuple, frame[index].to_numpy())))
    table = frame.pivot_table(index=index, columns="column", values="cell", aggfunc="first")
    return table.reindex(pd.MultiIndex.from_tuples(order, names=index) if len(index) > 1 else
                         [o[0] for o in order])[columns].fillna("-")


def markdown(config: dict, table: str, frame: pd.DataFrame) -> str:
    spec = config["tables"][table]
    block = scale_block(config)
    protocols = spec.get("protocols") or [spec["protocol"]]
    lines = [f"# {display_name(table)}: {spec.get('title', '')}", "",
             f"Scale: **{config['scale']}** (protocol {', '.join(f'`{p}`' for p in protocols)}, backbone "
             f"`{block['backbone']}`, seeds {config['seeds']}). Cells: reproduced (thesis), in percent; "
             f"`-`: not reported.", ""]
    if config["scale"] == "mini":
        lines += ["At mini scale the images are synthetic and the network small: the thesis numbers are "
                  "context, not targets. Compare the patterns (who forgets, who keeps the old classes), "
                  "not the absolute values.", ""]
    w = wide(frame).reset_index()
    lines += ["| " + " | ".join(map(str, w.columns)) + " |", "|" + "---|" * len(w.columns)]
    lines += ["| " + " | ".join(map(str, row)) + " |" for row in w.itertuples(index=False)]
    return "\n".join(lines) + "\n"
