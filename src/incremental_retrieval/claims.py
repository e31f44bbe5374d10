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
        raise KeyError(f"no {column} value for {cell}")
    return float(found.iloc[0])


STRICT = {"extreme": False, "greater": True, "monotonic": True, "least_degradation": False}


def evaluate(claim: dict, table: pd.DataFrame, column: str) -> tuple[bool, float, str]:
    """(holds, margin, the numbers it rests on) for one claim on one column of
    a table.  The margin is how far the relation is from flipping, in the
    table's unit (percentage points; per task for least_degradation):
    positive where it holds with room to spare, negative where it fails."""
    kind = claim["type"]
    if kind == "extreme":
        values = {c: cell_value(table, {**claim["cell"], "configuration": c}, column) for c in claim["among"]}
        expect = claim.get("lowest", claim.get("highest"))
        others = [v for c, v in values.items() if c != expect] or [values[expect]]
        margin = min(others) - values[expect] if "lowest" in claim else values[expect] - max(others)
        numbers = "; ".join(f"{c} {v:.2f}" for c, v in values.items())
    elif kind == "greater":
        right = cell_value(table, claim["right"], column)
        left = [cell_value(table, cell, column) for cell in claim["left"]]
        names = [cell["configuration"] for cell in claim["left"]]
        margin = min(left) - right
        numbers = "; ".join([f"{n} {v:.2f}" for n, v in zip(names, left)] +
                            [f"{claim['right']['configuration']} {right:.2f}"])
    elif kind == "monotonic":
        values = [cell_value(table, cell, column) for cell in claim["sequence"]]
        sign = 1 if claim["order"] == "increasing" else -1
        margin = min(sign * (b - a) for a, b in zip(values, values[1:]))
        numbers = " -> ".join(f"{v:.2f}" for v in values)
    elif kind == "least_degradation":
        base = cell_value(table, {**claim["cell"], "configuration": "base", "task": 0}, column)
        drops = {}
        for c in claim["among"]:
            tasks = table.loc[table["configuration"] == c, "task"]
            if tasks.empty:
                raise KeyError(f"no rows of {c}")
            last = int(tasks.max())
            drops[c] = (base - cell_value(table, {**claim["cell"], "configuration": c, "task": last}, column)) / last
        margin = min([v for c, v in drops.items() if c != claim["expect"]] or [drops[claim["expect"]]]) \
            - drops[claim["expect"]]
        numbers = "drop per task: " + "; ".join(f"{c} {v:.2f}" for c, v in drops.items())
    else:
        raise ValueError(f"unknown claim type {kind!r} in claims.yaml")
    margin = round(margin, 6) + 0.0  # the table's rounding, not float noise, decides a tie
    return (margin > 0 if STRICT[kind] else margin >= 0), margin, numbers


def seed_columns(table: pd.DataFrame) -> list[str]:
    """The per-seed value columns of a table (`seed_<s>`); a table without
    them (an older CSV) counts its mean as one seed."""
    return [c for c in table.columns if c.startswith("seed_")] or ["reproduced"]


def verdict(holds: list[bool]) -> str:
    """`holds` / `fails` only when every seed agrees, else `inconclusive`;
    with one seed the verdict says so."""
    if all(holds) or not any(holds):
        word = "holds" if all(holds) else "fails"
        return word if len(holds) > 1 else f"{word} (1 seed)"
    return "inconclusive"


def chapter_of(table: str) -> str:
    """table_5_2 -> 5"""
    return table.removeprefix("table_").split("_")[0]


def check_claim(claim: dict, table: pd.DataFrame) -> dict:
    """One claim on one table: the verdict over seeds, each seed's margin, the
    numbers of the mean, and the check on the thesis's own numbers."""
    record = {"id": claim["id"], "chapter": chapter_of(claim["table"]), "table": claim["table"],
              "claim": claim["text"]}
    try:
        per_seed = {c: evaluate(claim, table, c) for c in seed_columns(table)}
        _, mean_margin, numbers = evaluate(claim, table, "reproduced")
        record.update(verdict=verdict([holds for holds, _, _ in per_seed.values()]),
                      seeds_holding=f"{sum(h for h, _, _ in per_seed.values())}/{len(per_seed)}",
                      margin=mean_margin, numbers=numbers,
                      **{f"margin_{c}": margin for c, (_, margin, _) in per_seed.items() if c != "reproduced"})
    except KeyError as missing:  # a row the claim needs is not in this table's config
        record.update(verdict="n/a", seeds_holding="", margin=None, numbers=f"not in the table: {missing}")
    try:
        holds, _, thesis_numbers = evaluate(claim, table, "thesis")
        record.update(thesis="holds" if holds else "fails", thesis_numbers=thesis_numbers)
    except KeyError as missing:
        record.update(thesis="n/a", thesis_numbers=f"not in the table: {missing}")
    return record


COLUMNS = ["id", "chapter", "table", "claim", "verdict", "seeds_holding", "margin", "numbers", "thesis",
           "thesis_numbers"]


def check_claims(table_csvs: list[Path], out: Path) -> pd.DataFrame:
    """reports/claims.csv: a row per claim whose table was built; `margin` is
    on the mean over seeds, `margin_seed_<s>` per seed (percentage points)."""
    tables = {path.stem: pd.read_csv(path) for path in table_csvs}
    records = [check_claim(claim, tables[claim["table"]]) for claim in load_claims() if claim["table"] in tables]
    frame = pd.DataFrame(records)
    seeds = sorted((c for c in frame.columns if c.startswith("margin_seed_")), key=lambda c: int(c.split("_")[-1]))
    frame = frame.reindex(columns=COLUMNS[:7] + seeds + COLUMNS[7:])
    write_text(out, frame.to_csv(index=False))
    return frame


def verdict_counts(frame: pd.DataFrame) -> pd.DataFrame:
    """Claims per chapter and verdict (holds / fails / inconclusive / n/a, the
    one-seed verdicts counted with their word)."""
    word = frame["verdict"].str.replace(" (1 seed)", "", regex=False)
    counts = pd.crosstab(frame["chapter"].astype(str), word)
    return counts.reindex(columns=[c for c in ("holds", "fails", "inconclusive", "n/a") if c in counts.columns])
