"""Check the thesis's directional claims on the tables.

The claims are data: each study's reference/claims.yaml (its opening comment
describes the format), read in study order.  A claim names the table (or the
figure data CSV) it is judged on; it is checked on every seed's values and,
as a check of its encoding, on the thesis's own numbers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path

import pandas as pd
import yaml

from retrieval_bench.core import registry
from retrieval_bench.core.io import write_text


def load_claims() -> list[dict]:
    """Every study's claims, in study order: its reference/claims.yaml, then its claims_<part>.yaml files
    in name order (a study of two chapters keeps one file per chapter)."""
    claims = []
    for s in registry.studies():
        folder = resources.files(s.package).joinpath("reference")
        names = sorted(f.name for f in folder.iterdir() if f.name.startswith("claims_") and f.name.endswith(".yaml"))
        for name in ["claims.yaml", *names]:
            source = folder.joinpath(name)
            if source.is_file():
                claims += yaml.safe_load(source.read_text()) or []
    return claims


def cell_value(table: pd.DataFrame, cell: dict, column: str) -> float:
    mask = pd.Series(True, index=table.index)
    for key, value in cell.items():
        mask &= table[key].astype(str) == str(value)
    found = table.loc[mask, column]
    if len(found) != 1 or pd.isna(found.iloc[0]):
        raise KeyError(f"no {column} value for {cell}")
    return float(found.iloc[0])


def resolve(table: pd.DataFrame, cell: dict, column: str, tables: dict | None = None) -> float:
    """A cell's value: a filter on the table's rows; `{value: v}` a constant
    (a bound the thesis states, e.g. "less than 70%"); `mean_of: [...]` the
    mean of several cells, each completed by the cell's other keys (e.g. one
    method's Recall@1 over class groups 0-3); `table: t` a cell of another
    table of `tables` (CUB after Dogs vs after Cars), missing if t was not built."""
    if "value" in cell:
        return float(cell["value"])
    if "table" in cell:
        if cell["table"] not in (tables or {}):
            raise KeyError(f"{cell['table']} was not built")
        table, cell = tables[cell["table"]], {k: v for k, v in cell.items() if k != "table"}
    if "mean_of" in cell:
        common = {k: v for k, v in cell.items() if k != "mean_of"}
        return sum(resolve(table, {**common, **part}, column, tables) for part in cell["mean_of"]) / \
            len(cell["mean_of"])
    return cell_value(table, cell, column)


def label(cell: dict) -> str:
    """How `numbers` names a cell: its configuration (and task, where cells of
    several tasks meet; its table, T7.1, where it is another table's), a
    constant by its value, a cell without a configuration by its keys."""
    if "value" in cell:
        return f"{cell['value']:g}"
    keys = " ".join(str(v) for k, v in cell.items() if k not in ("table", "mean_of", "task"))
    name = str(cell.get("configuration", keys)) + (f" t{cell['task']}" if "task" in cell else "")
    name += f" ({cell['backbone']})" if "backbone" in cell and "configuration" in cell else ""  # chapter 4's rows
    name += f" (T{cell['table'].removeprefix('table_').replace('_', '.')})" if "table" in cell else ""
    return name + (f" (mean of {len(cell['mean_of'])})" if "mean_of" in cell else "")


def at_scale(value, scale: str) -> float:
    """A claim's tolerance or target, either one number or one per scale
    ({thesis: 5, mini: 10}: mini-scale numbers are noisier)."""
    return float(value[scale] if isinstance(value, dict) else value)


STRICT = {"extreme": False, "greater": True, "monotonic": True, "least_degradation": False,
          "closer": True, "similar": False, "approx": False, "difference": False, "pairs": True, "drops": True,
          "larger_drop": True, "ratio": False}


def clears(margin: float, strict: bool) -> bool:
    """Whether a margin (or a bound on one) is on the holding side of 0: above
    it for a strict relation, at or above it where a tie holds."""
    return margin > 0 if strict else margin >= 0


def evaluate(claim: dict, table: pd.DataFrame, column: str, scale: str = "thesis",
             tables: dict | None = None) -> tuple[bool, float, str]:
    """(holds, margin, the numbers it rests on) for one claim on one column of
    a table.  The margin is how far the relation is from flipping, in the
    table's unit (percentage points; per task for least_degradation; the
    room left within the tolerance for similar, approx and difference):
    positive where it holds with room to spare, negative where it fails.
    `scale` picks a per-scale tolerance or target; `tables` (by name) holds
    the tables that cells with `table:` read."""
    def at(cell):
        return resolve(table, cell, column, tables)

    kind = claim["type"]
    if kind == "extreme_over_rows" or (kind == "pairs_over_rows" and isinstance(claim["over"], list)):
        return _over_cells(claim, table, column, tables)
    if kind == "balanced":  # the best mean over several cells: `extreme` on a mean_of cell
        claim, kind = {**claim, "cell": {"mean_of": claim["cells"]}, "highest": claim["expect"]}, "extreme"
    if kind == "pairs_over_rows":  # `left` > `right` at every value of the `over` column but `skip`
        over = claim["over"]
        points = sorted({v for v in table[over] if float(v) not in claim.get("skip", [])}, key=float)
        if not points:
            raise KeyError(f"no rows of {over}")
        claim, kind = {**claim, "pairs": [[{**claim["left"], over: v}, {**claim["right"], over: v}]
                                          for v in points]}, "pairs"
    if kind in ("extreme", "similar"):
        values = {c: at({**claim["cell"], "configuration": c}) for c in claim["among"]}
        numbers = "; ".join(f"{c} {v:.2f}" for c, v in values.items())
    if kind == "extreme":
        expect = claim.get("lowest", claim.get("highest"))
        others = [v for c, v in values.items() if c != expect] or [values[expect]]
        margin = min(others) - values[expect] if "lowest" in claim else values[expect] - max(others)
    elif kind == "similar":  # max - min over `among` within the tolerance
        spread = max(values.values()) - min(values.values())
        margin = at_scale(claim["tolerance"], scale) - spread
        numbers += f"; spread {spread:.2f}"
    elif kind == "greater":  # every cell of `left` above every cell of `right`
        rights = claim["right"] if isinstance(claim["right"], list) else [claim["right"]]
        left = [at(cell) for cell in claim["left"]]
        right = [at(cell) for cell in rights]
        margin = min(left) - max(right)
        numbers = "; ".join(f"{label(c)} {v:.2f}" for c, v in zip(claim["left"], left)) + " > " + \
            "; ".join(f"{label(c)} {v:.2f}" for c, v in zip(rights, right))
    elif kind == "closer":  # |x - ref| < |y - ref|
        ref, x, y = (at(claim[k]) for k in ("ref", "x", "y"))
        margin = abs(y - ref) - abs(x - ref)
        numbers = (f"{label(claim['ref'])} {ref:.2f}; {label(claim['x'])} {x:.2f} (off {abs(x - ref):.2f}); "
                   f"{label(claim['y'])} {y:.2f} (off {abs(y - ref):.2f})")
    elif kind == "approx":  # |x - value| <= tolerance, or |x - y| between two cells
        x = at(claim["x"])
        if "y" in claim:
            target, name = at(claim["y"]), label(claim["y"])
        else:
            target, name = at_scale(claim["value"], scale), "target"
        margin = at_scale(claim["tolerance"], scale) - abs(x - target)
        numbers = f"{label(claim['x'])} {x:.2f}; {name} {target:.2f}"
    elif kind == "difference":  # x - y = value +- tolerance
        x, y = at(claim["x"]), at(claim["y"])
        target = at_scale(claim["value"], scale)
        margin = at_scale(claim["tolerance"], scale) - abs(x - y - target)
        numbers = f"{label(claim['x'])} {x:.2f} - {label(claim['y'])} {y:.2f} = {x - y:.2f} (claimed {target:g})"
    elif kind == "ratio":  # a relative gain the text states: 100 * (x / y - 1) = value +- tolerance
        x, y = at(claim["x"]), at(claim["y"])
        gain = 100 * (x / y - 1)
        margin = at_scale(claim["tolerance"], scale) - abs(gain - at_scale(claim["value"], scale))
        numbers = (f"{label(claim['x'])} {x:.2f} / {label(claim['y'])} {y:.2f}: {gain:+.2f} % "
                   f"(claimed {at_scale(claim['value'], scale):g} %)")
    elif kind == "monotonic":
        values = [at(cell) for cell in claim["sequence"]]
        sign = 1 if claim["order"] == "increasing" else -1
        margin = min(sign * (b - a) for a, b in zip(values, values[1:]))
        numbers = " -> ".join(f"{v:.2f}" for v in values)
    elif kind == "pairs":  # left > right in every pair
        values = [(at(left), at(right)) for left, right in claim["pairs"]]
        margin = min(left - right for left, right in values)
        numbers = "; ".join(f"{label(cells[0])} {left:.2f} > {label(cells[1])} {right:.2f}"
                            for cells, (left, right) in zip(claim["pairs"], values))
    elif kind == "drops":  # the drops of `cell` from task to task of `tasks` increase / decrease
        values = [at({**claim["cell"], "task": t}) for t in claim["tasks"]]
        drops = [a - b for a, b in zip(values, values[1:])]
        sign = 1 if claim["order"] == "increasing" else -1
        margin = min(sign * (b - a) for a, b in zip(drops, drops[1:]))
        numbers = " -> ".join(f"{v:.2f}" for v in values) + "; drops " + ", ".join(f"{d:.2f}" for d in drops)
    elif kind == "larger_drop":  # `larger`'s drop (from -> to) above `smaller`'s: forgetting, not level
        (high_from, high_to), (low_from, low_to) = ([at(c) for c in claim[k]] for k in ("larger", "smaller"))
        margin = (high_from - high_to) - (low_from - low_to)
        numbers = "; ".join(f"{label(cells[0])} {a:.2f} -> {label(cells[1])} {b:.2f} (drop {a - b:.2f})"
                            for cells, (a, b) in ((claim["larger"], (high_from, high_to)),
                                                  (claim["smaller"], (low_from, low_to))))
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
    return clears(margin, STRICT[kind]), margin, numbers


def _over_cells(claim: dict, table: pd.DataFrame, column: str, tables: dict | None) -> tuple[bool, float, str]:
    """A relation at every combination of the `over` columns found in the table (e.g. data set x code length
    x ground truth), cells a row does not have skipped (a code length a method does not define; a row the
    claim names that the table lacks altogether makes it n/a):
    pairs_over_rows: each pair's left above its right; extreme_over_rows: the best of `highest_in` above
    the best of the other rows of `among`.  The margin is the smallest over the cells; `numbers` says in
    how many cells it holds and where it is smallest."""
    over = claim["over"] if isinstance(claim["over"], list) else [claim["over"]]
    common = claim.get("cell", {})
    named = ({c["configuration"] for pair in claim["pairs"] for c in pair} if claim["type"] == "pairs_over_rows"
             else set(claim["among"]))
    absent = sorted(named - set(table["configuration"].astype(str)))
    if absent:  # a row the claim names is not in this table's config: not judged on the others alone
        raise KeyError(f"no rows of {', '.join(absent)}")
    points = list(dict.fromkeys(tuple(str(v) for v in values) for values in table[over].to_numpy()))
    margins = []  # (margin, where)

    def value(cell, at):
        try:
            return resolve(table, {**at, **cell}, column, tables)
        except KeyError:
            return None

    for point in points:
        at = {**common, **dict(zip(over, point))}
        if claim["type"] == "pairs_over_rows":
            for left, right in claim["pairs"]:
                a, b = value(left, at), value(right, at)
                if a is not None and b is not None:
                    margins.append((a - b, f"{label(left)} {a:.2f} vs {label(right)} {b:.2f} at {' '.join(point)}"))
        else:
            found = {c: value({"configuration": c}, at) for c in claim["among"]}
            found = {c: v for c, v in found.items() if v is not None}
            best = [v for c, v in found.items() if c in claim["highest_in"]]
            others = [v for c, v in found.items() if c not in claim["highest_in"]]
            if best and others:
                winner = max(found, key=found.get)
                margins.append((max(best) - max(others), f"best at {' '.join(point)}: {winner} {found[winner]:.2f}"))
    if not margins:
        raise KeyError(f"no cells of {claim['id']} in the table")
    margin, where = min(margins, key=lambda m: m[0])
    holding = sum(m > 0 for m, _ in margins)
    margin = round(margin, 6) + 0.0
    return clears(margin, True), margin, f"holds in {holding} of {len(margins)} cells; smallest: {where}"


def seed_columns(table: pd.DataFrame) -> list[str]:
    """The per-seed value columns of a table (`seed_<s>`); a table without
    them (an older CSV) counts its mean as one seed."""
    return [c for c in table.columns if c.startswith("seed_")] or ["reproduced"]


CONFIDENCE = 0.95   # the one-sided level of the bound a verdict rests on: a 5 % false-verdict rate per claim
MOST_SEEDS = 1000   # seeds_needed past this is reported as more


@lru_cache(maxsize=None)
def t_quantile(degrees: int) -> float:
    """The one-sided CONFIDENCE quantile of Student's t with `degrees` degrees of freedom."""
    from scipy.stats import t  # imported here: loading the claims module stays light

    return float(t.ppf(CONFIDENCE, degrees))


@dataclass(frozen=True)
class Verdict:
    """A claim's verdict over its seeds' margins and what it rests on."""
    word: str                 # holds / fails / inconclusive; "holds (1 seed)" / "fails (1 seed)": sign only
    n_seeds: int
    bound_low: float | None   # one-sided 95 % t bounds on the mean margin (None with one seed)
    bound_high: float | None
    seeds_needed: str         # seeds at which the bound would clear 0 for the observed mean and spread


def bound_half_width(sd: float, n: int) -> float:
    return t_quantile(n - 1) * sd / math.sqrt(n)


def seeds_needed(mean: float, sd: float, most: int = MOST_SEEDS) -> str:
    """The fewest seeds (2 or more) at which a one-sided bound on a mean
    margin of `mean`, with seed-to-seed standard deviation `sd`, would lie
    on the side of 0 the mean is on: how many seeds the claim needs, if the
    observed mean and spread are its true ones.  "never" for a mean of 0."""
    if mean == 0:
        return "never (mean margin 0)"
    if sd == 0:
        return "2"
    n = 2
    while bound_half_width(sd, n) >= abs(mean):
        if n >= most:
            return f"more than {most}"
        n += 1
    return str(n)


def judge(margins: list[float], strict: bool = True) -> Verdict:
    """The verdict on a claim's per-seed margins (positive where the claim
    holds on that seed).  With n >= 2 seeds: a one-sided 95 % Student t bound
    on the mean margin, mean ± t(0.95, n-1) · sd / √n; **holds** when the
    lower bound is above 0, **fails** when the upper bound is below 0,
    **inconclusive** when 0 lies between them.  A claim whose mean margin is
    0 in truth is called holds (or fails) on at most 5 % of draws of seeds,
    if the margins are independent across seeds and about normal.  `strict`:
    a margin of exactly 0 fails the claim (greater-than relations); else it
    holds (ties, tolerances).  With one seed there is no spread to bound:
    the verdict is the margin's sign and says so."""
    n = len(margins)
    if n == 0:
        raise ValueError("a verdict needs at least one seed's margin")
    if n == 1:
        return Verdict(f"{'holds' if clears(margins[0], strict) else 'fails'} (1 seed)", 1, None, None, "")
    mean = sum(margins) / n
    sd = math.sqrt(sum((m - mean) ** 2 for m in margins) / (n - 1))
    half = bound_half_width(sd, n)
    low, high = round(mean - half, 6) + 0.0, round(mean + half, 6) + 0.0
    word = "holds" if clears(low, strict) else "fails" if not clears(high, strict) else "inconclusive"
    return Verdict(word, n, low, high, seeds_needed(mean, sd))


def unanimity(holds: list[bool]) -> str:
    """The rule before the bound (kept for the stability measurement):
    holds / fails only when every seed agrees, else inconclusive."""
    if all(holds) or not any(holds):
        word = "holds" if all(holds) else "fails"
        return word if len(holds) > 1 else f"{word} (1 seed)"
    return "inconclusive"


def chapter_of(table: str) -> str:
    """table_5_2 -> 5, table_6_mt_cub -> 6, figure_7_8_noise -> 7"""
    return table.split("_")[1]


def claim_strict(claim: dict) -> bool:
    """Whether a margin of exactly 0 fails the claim (see STRICT)."""
    kind = {"balanced": "extreme", "pairs_over_rows": "pairs", "extreme_over_rows": "pairs"}.get(
        claim["type"], claim["type"])
    return STRICT[kind]


def check_claim(claim: dict, table: pd.DataFrame, scale: str = "thesis", tables: dict | None = None) -> dict:
    """One claim on one table: the verdict over seeds (`judge`), each seed's margin, the
    numbers of the mean, and the check on the thesis's own numbers against
    what the claim expects there (`expect_on_thesis`, default holds).  A claim
    with `judged_at` is judged on the reproduction only at those scales (a
    number like "around 73%" means nothing on synthetic images; `[]`: the
    thesis's numbers only).  `tables`: every table by name, for cells of
    another table."""
    record = {"id": claim["id"], "chapter": chapter_of(claim["table"]), "table": claim["table"],
              "claim": claim["text"]}
    judged_at = claim.get("judged_at")
    if judged_at is not None and scale not in judged_at:
        why = "a check of the thesis's own numbers only" if not judged_at else \
            f"a {' / '.join(judged_at)}-scale number, not judged at scale {scale}"
        record.update(verdict="n/a", seeds_holding="", margin=None, numbers=why)
    else:
        try:
            per_seed = {c: evaluate(claim, table, c, scale, tables) for c in seed_columns(table)}
            _, mean_margin, numbers = evaluate(claim, table, "reproduced", scale, tables)
            judged = judge([margin for _, margin, _ in per_seed.values()], strict=claim_strict(claim))
            record.update(verdict=judged.word, n_seeds=judged.n_seeds,
                          seeds_holding=f"{sum(h for h, _, _ in per_seed.values())}/{len(per_seed)}",
                          margin=mean_margin, bound_low=judged.bound_low, bound_high=judged.bound_high,
                          seeds_needed=judged.seeds_needed, numbers=numbers,
                          **{f"margin_{c}": margin for c, (_, margin, _) in per_seed.items() if c != "reproduced"})
        except KeyError as missing:  # a row the claim needs is not in this table's config
            record.update(verdict="n/a", seeds_holding="", margin=None, numbers=f"not in the table: {missing}")
    expected = claim.get("expect_on_thesis", "holds")
    try:
        holds, _, thesis_numbers = evaluate(claim, table, "thesis", "thesis", tables)
        thesis = "holds" if holds else "fails"
        record.update(thesis=thesis, thesis_numbers=thesis_numbers,
                      thesis_as_expected="yes" if thesis == expected else "no")
    except KeyError as missing:  # the thesis has no numbers for this table (a figure's data)
        record.update(thesis="n/a", thesis_numbers=f"not in the table: {missing}", thesis_as_expected="n/a")
    record["thesis_expected"] = expected
    return record


HEAD_COLUMNS = ["id", "chapter", "table", "claim", "verdict", "n_seeds", "seeds_holding", "margin", "bound_low",
                "bound_high", "seeds_needed"]   # then margin_seed_<s> per seed, then TAIL_COLUMNS
TAIL_COLUMNS = ["numbers", "thesis", "thesis_numbers", "thesis_expected", "thesis_as_expected"]


def figure_data(config: dict) -> dict[str, tuple[list[str], str]]:
    """The figures of `config` whose data CSV claims can read (their kind's `claim_data`): name -> (the
    columns that key a point, the value judged)."""
    return {name: registry.figure_kind(spec["kind"]).claim_data for name, spec in config.get("figures", {}).items()
            if registry.figure_kind(spec["kind"]).claim_data}


def figure_table(columns: tuple[list[str], str], data: pd.DataFrame) -> pd.DataFrame:
    """A figure's data CSV (a row per point and seed) in a table's shape: a
    row per point, `seed_<s>` each seed's value, `reproduced` their mean and
    an empty `thesis` (the thesis has the graph only: its check is n/a)."""
    keys, value = columns
    seeds = data.pivot_table(index=keys, columns="seed", values=value, aggfunc="first")
    seeds.columns = [f"seed_{s}" for s in seeds.columns]
    return seeds.assign(reproduced=seeds.mean(axis=1), thesis=float("nan")).reset_index()


def read_tables(table_csvs: list[Path], figures: dict[str, tuple[list[str], str]] | None = None) -> dict:
    """Table CSVs (and figures' data CSVs in a table's shape, `figure_table`) by name."""
    figures = figures or {}
    tables = {path.stem: pd.read_csv(path) for path in table_csvs}
    return {name: figure_table(figures[name], frame) if name in figures else frame for name, frame in tables.items()}


def judge_tables(tables: dict[str, pd.DataFrame], scale: str = "thesis") -> pd.DataFrame:
    """A row per claim whose table is in `tables`, in claims.csv's columns."""
    records = [check_claim(claim, tables[claim["table"]], scale, tables) for claim in load_claims()
               if claim["table"] in tables]
    frame = pd.DataFrame(records)
    seeds = sorted((c for c in frame.columns if c.startswith("margin_seed_")), key=lambda c: int(c.split("_")[-1]))
    frame = frame.reindex(columns=HEAD_COLUMNS + seeds + TAIL_COLUMNS)
    frame["n_seeds"] = frame["n_seeds"].astype("Int64")
    return frame


def check_claims(table_csvs: list[Path], out: Path, scale: str = "thesis",
                 figures: dict[str, tuple[list[str], str]] | None = None) -> pd.DataFrame:
    """reports/<scale>/claims.csv: a row per claim whose table was built;
    `verdict` by `judge` on the seeds' margins (`n_seeds` of them; the bounds
    `bound_low`, `bound_high` and `seeds_needed` with it), `margin` on the
    mean over seeds, `margin_seed_<s>` per seed (percentage points; a ratio
    for figure_7_8_noise's degradation).  `table_csvs` may hold figures' data
    CSVs too (reports/<scale>/figures/<figure>.csv), named like tables by
    their stem, with `figures` saying how to read each (`figure_data`).
    `scale`: the scale the tables were measured at (per-scale tolerances,
    `judged_at`)."""
    frame = judge_tables(read_tables(table_csvs, figures), scale)
    write_text(out, frame.to_csv(index=False))
    return frame


def verdict_counts(frame: pd.DataFrame) -> pd.DataFrame:
    """Claims per chapter and verdict (holds / fails / inconclusive / n/a, the
    one-seed verdicts counted with their word)."""
    word = frame["verdict"].str.replace(" (1 seed)", "", regex=False)
    counts = pd.crosstab(frame["chapter"].astype(str), word)
    return counts.reindex(columns=[c for c in ("holds", "fails", "inconclusive", "n/a") if c in counts.columns])
