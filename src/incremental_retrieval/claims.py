"""Check the thesis's directional claims (reference/claims.yaml) on the tables."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import pandas as pd
import yaml

from incremental_retrieval.io import write_text


def load_claims() -> list[dict]:
    return yaml.safe_load(resources.files("incremental_retrieval.reference").joinpath("claims.yaml").read_text())


def cell_value(table: pd.DataFrame, cell: dict, column: str) -> float:
    mask = pd.Series(True, index=table.index)
    for key, value in cell.items():
        mask &= table[key].astype(str) == str(value)
    found = table.loc[mask, column]
    if len(found) != 1 or pd.isna(found.iloc[0]):
        raise KeyError(f"no value for {cell}")
    return float(found.iloc[0])


def evaluate(claim: dict, table: pd.DataFrame, column: str) -> tuple[bool, str]:
    """(holds, the numbers it rests on) for one claim on one column of a table."""
    kind = claim["type"]
    if kind == "extreme":
        values = {c: cell_value(table, {**claim["cell"], "configuration": c}, column) for c in claim["among"]}
        if "lowest" in claim:
            holds = values[claim["lowest"]] <= min(values.values())
        else:
            holds = values[claim["highest"]] >= max(values.values())
        return holds, "; ".join(f"{c} {v:.2f}" for c, v in values.items())
    if kind == "greater":
        right = cell_value(table, claim["right"], column)
        left = [cell_value(table, cell, column) for cell in claim["left"]]
        names = [cell["configuration"] for cell in claim["left"]]
        return all(v > right for v in left), "; ".join(
            [f"{n} {v:.2f}" for n, v in zip(names, left)] + [f"{claim['right']['configuration']} {right:.2f}"])
    if kind == "monotonic":
        values = [cell_value(table, cell, column) for cell in claim["sequence"]]
        pairs = list(zip(values, values[1:]))
        holds = all(b > a for a, b in pairs) if claim["order"] == "increasing" else all(b < a for a, b in pairs)
        return holds, " -> ".join(f"{v:.2f}" for v in values)
    if kind == "least_degradation":
        base = cell_value(table, {**claim["cell"], "configuration": "base", "task": 0}, column)
        drops = {}
        for c in claim["among"]:
            tasks = table.loc[table["configuration"] == c, "task"]
            if tasks.empty:
                raise KeyError(f"no rows of {c}")
            last = int(tasks.max())
            drops[c] = (base - cell_value(table, {**claim["cell"], "configuration": c, "task": last}, column)) / last
        return drops[claim["expect"]] <= min(drops.values()), "drop per task: " + "; ".join(
            f"{c} {v:.2f}" for c, v in drops.items())
    raise ValueError(f"unknown claim type {kind!r} in claims.yaml")


def check_claims(table_csvs: list[Path], out: Path) -> pd.DataFrame:
    tables = {path.stem: pd.read_csv(path) for path in table_csvs}
    records = []
    for claim in load_claims():
        if claim["table"] not in tables:
            continue
        table = tables[claim["table"]]
        verdicts = {}
        for column in ("reproduced", "thesis"):
            try:
                holds, numbers = evaluate(claim, table, column)
                verdicts[column] = ("holds" if holds else "fails", numbers)
            except KeyError as missing:  # a row the claim needs is not in this table's config
                verdicts[column] = ("n/a", f"not in the table: {missing}")
        records.append({"claim": claim["text"], "table": claim["table"], "holds": verdicts["reproduced"][0],
                        "numbers": verdicts["reproduced"][1], "thesis": verdicts["thesis"][0],
                        "thesis_numbers": verdicts["thesis"][1], "id": claim["id"]})
    frame = pd.DataFrame(records, columns=["claim", "table", "holds", "numbers", "thesis", "thesis_numbers", "id"])
    write_text(out, frame.to_csv(index=False))
    return frame
