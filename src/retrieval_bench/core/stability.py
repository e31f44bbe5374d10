"""How much a claim's verdict moves with the draw of seeds.

`python -m retrieval_bench verdict-stability` judges every claim three times
on tables built with many seeds: on the first half of each table's seeds, on
the second half (disjoint from the first; with an odd number the middle seed
is in neither) and on all of them, under the bound rule (`claims.judge`) and
under the rule it replaced (every seed agrees, `claims.unanimity`).  A rule
whose verdicts a user can quote gives the same verdict on both halves, or
says inconclusive on one of them, rather than holds on one and fails on the
other.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from retrieval_bench.core.claims import judge_tables, read_tables, seed_columns, unanimity
from retrieval_bench.core.io import markdown_table, write_text


def with_seeds(table: pd.DataFrame, seeds: list[str]) -> pd.DataFrame:
    """The table as if only `seeds` (seed_<s> columns) had been run: the
    other seed columns dropped, `reproduced` their mean."""
    dropped = [c for c in table.columns if c.startswith("seed_") and c not in seeds]
    out = table.drop(columns=dropped)
    out["reproduced"] = out[seeds].mean(axis=1)
    if "seeds" in out.columns:
        out["seeds"] = len(seeds)
    return out


def halves(seeds: list[str]) -> tuple[list[str], list[str]]:
    """The first and the last half of a table's seeds, disjoint and of one size."""
    k = len(seeds) // 2
    return seeds[:k], seeds[len(seeds) - k:]


def _old_rule(seeds_holding: str) -> str:
    if not seeds_holding:
        return "n/a"
    held, n = (int(x) for x in seeds_holding.split("/"))
    return unanimity([True] * held + [False] * (n - held))


def stability(tables: dict[str, pd.DataFrame], scale: str) -> pd.DataFrame:
    """A row per claim: its verdicts on the first half, the second half and
    all of its table's seeds, by the bound rule and by unanimity."""
    # a table without seed columns (dataset statistics) has no margins to split: it is kept as it is
    measured = {name for name, t in tables.items() if any(c.startswith("seed_") for c in t.columns)}
    few = sorted(name for name in measured if len(seed_columns(tables[name])) < 2)
    if few or not measured:
        raise ValueError(f"tables with fewer than 2 seeds cannot be split in halves: {', '.join(few) or 'all'}; "
                         f"build them with more seeds: snakemake --cores 2 --config 'seeds=[0,1,2,3,4]' ...")
    parts = {}  # table -> part -> its seed columns
    for name in measured:
        first, second = halves(seed_columns(tables[name]))
        parts[name] = {"first": first, "second": second, "all": seed_columns(tables[name])}
    frames = {part: judge_tables({name: with_seeds(t, parts[name][part]) if name in parts else t
                                  for name, t in tables.items()}, scale).set_index("id")
              for part in ("first", "second", "all")}
    out = frames["all"][["chapter", "claim"]].copy()
    for part, frame in frames.items():
        out[f"seeds_{part}"] = frame["n_seeds"].astype("string").fillna("")
        out[f"bound_{part}"] = frame["verdict"]
        out[f"unanimity_{part}"] = frame["seeds_holding"].fillna("").map(_old_rule)
    out["seeds_needed"] = frames["all"]["seeds_needed"]
    for part in ("first", "second"):
        out[f"{part}_half"] = [", ".join(s.removeprefix("seed_") for s in parts[table][part]) if table in parts
                               else "" for table in frames["all"]["table"]]
    return out[out["bound_all"] != "n/a"].reset_index()


def agree(first: pd.Series, second: pd.Series) -> int:
    return int((first == second).sum())


def contradict(first: pd.Series, second: pd.Series) -> int:
    """Claims called holds on one half and fails on the other."""
    return int(sum({a, b} == {"holds", "fails"} for a, b in zip(first, second)))


def summary(frame: pd.DataFrame) -> pd.DataFrame:
    """Per chapter: claims, the halves' seeds, same verdict on both halves (bound rule and unanimity),
    holds-vs-fails contradictions, and the verdicts on all seeds by the bound rule."""
    rows = []
    for chapter, part in frame.groupby("chapter", sort=False):
        counts = part["bound_all"].value_counts()
        rows.append({"chapter": chapter, "claims": len(part),
                     "halves (seeds)": f"{part['first_half'].iloc[0]} / {part['second_half'].iloc[0]}",
                     "same verdict on both halves, bound rule": agree(part.bound_first, part.bound_second),
                     "same verdict on both halves, unanimity": agree(part.unanimity_first, part.unanimity_second),
                     "holds on one half, fails on the other: bound / unanimity":
                         f"{contradict(part.bound_first, part.bound_second)} / "
                         f"{contradict(part.unanimity_first, part.unanimity_second)}",
                     "all seeds, bound rule: holds / fails / inconclusive":
                         " / ".join(str(int(counts.get(w, 0))) for w in ("holds", "fails", "inconclusive"))})
    return pd.DataFrame(rows)


def markdown(frame: pd.DataFrame, machine: str) -> str:
    per_claim = frame.assign(claim=frame["claim"].str.replace("\n", " ") + " (`" + frame["id"] + "`)")[
        ["chapter", "claim", "bound_first", "bound_second", "bound_all", "seeds_all", "seeds_needed",
         "unanimity_first", "unanimity_second", "unanimity_all"]]
    per_claim.columns = ["chapter", "claim", "bound: first half", "bound: second half", "bound: all seeds", "seeds",
                         "seeds needed", "unanimity: first half", "unanimity: second half", "unanimity: all seeds"]
    return "\n".join([f"Measured on {machine}.", "", *markdown_table(summary(frame)), "", *markdown_table(per_claim)])


def write_stability(table_csvs: list[Path], out: Path | None, scale: str, figures: dict,
                    machine: str) -> pd.DataFrame:
    """`out` (Markdown) and the same rows as CSV beside it; by default
    `reports/<scale>/verdict_stability_<chapters>.md`, one file per chapter set
    measured (each chapter is built on its own number of seeds)."""
    frame = stability(read_tables(table_csvs, figures), scale)
    if out is None:
        chapters = "_".join(dict.fromkeys(frame["chapter"].astype(str)))
        out = Path("reports") / scale / f"verdict_stability_{chapters}.md"
    write_text(out.with_suffix(".csv"), frame.to_csv(index=False))
    write_text(out, markdown(frame, machine) + "\n")
    return frame
