"""`python -m retrieval_bench docs`: the result blocks of docs/*.md, written
from a reports folder, never typed.

A docs page marks each block it wants filled:

    <!-- results: table table_5_2 -->       the table as the reports folder has it (reproduced ± std (thesis))
    <!-- results: claims 5 -->              every claim of chapter 5: verdict, seeds holding, bounds, margins
    <!-- results: verdicts -->              holds / fails / inconclusive / n/a per chapter
    <!-- results: file benchmark.md -->     a file of the reports folder, as it is
    <!-- results: configuration -->         the config keys, from the assembled schema
    <!-- results: table t optional -->      a table an ablation builds: left as it is while not built
    <!-- results: file f optional -->       a measurement not every session repeats (verdict stability):
                                            left as it is while the reports folder lacks it

and the command replaces everything up to the next `<!-- /results -->` with
the block, headed by where it came from (commit, seeds, scale, machine).
Text outside the markers is left as it is.
"""

from __future__ import annotations

import platform
import re
from datetime import date
from pathlib import Path

import pandas as pd

from retrieval_bench.core.io import write_text

BLOCK = re.compile(r"(<!-- results: (?P<what>[^>]*?) -->\n)(?P<body>.*?)(<!-- /results -->)", re.S)


def machine_name() -> str:
    """This machine's CPU model and cores (what a reader needs to compare digits)."""
    import os

    cpu = platform.processor() or platform.machine()
    try:
        names = re.findall(r"^model name\s*:\s*(.+)$", Path("/proc/cpuinfo").read_text(), re.M)
        cpu = names[0] if names else cpu
    except OSError:
        pass
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return f"{cpu}, {cores} cores"


def provenance(config: dict, reports: Path, machine: str, what: str, commit: str) -> str:
    # a file states its own seeds (the stability measurement's halves): claims.csv's would mislead
    seeds = "" if what.startswith("file ") else \
        f", seeds {', '.join(map(str, _seeds(reports, what) or config['seeds']))}"
    return (f"*Written by `python -m retrieval_bench docs --reports {reports}` on {date.today().isoformat()} "
            f"from commit `{commit}`, scale {config['scale']}{seeds}, on {machine}.*")


def _seeds(reports: Path, what: str = "") -> list[int]:
    """The seeds a block rests on: a table's own seed columns, the margins a
    chapter's claims have, else every margin column of claims.csv (a report
    may hold chapters built on different seeds)."""
    words = what.split()
    if words[:1] == ["table"] and (reports / "tables" / f"{words[1]}.csv").is_file():
        columns = pd.read_csv(reports / "tables" / f"{words[1]}.csv", nrows=0).columns
        return sorted(int(c.removeprefix("seed_")) for c in columns if c.startswith("seed_"))
    claims = reports / "claims.csv"
    if not claims.is_file():
        return []
    frame = pd.read_csv(claims, keep_default_na=False, dtype=str)
    if words[:1] == ["claims"]:
        frame = frame[frame["chapter"] == words[1]]
    return sorted(int(c.removeprefix("margin_seed_")) for c in frame.columns
                  if c.startswith("margin_seed_") and (frame[c] != "").any())


def table_block(reports: Path, table: str) -> str:
    """The Markdown table the table job wrote (its title line and the table itself)."""
    path = reports / "tables" / f"{table}.md"
    if not path.is_file():
        raise FileNotFoundError(f"{path} is not built; build it first: snakemake --cores 2 {path}")
    lines = path.read_text().splitlines()
    title = lines[0].removeprefix("# ")
    return "\n".join([f"**{title}** (reproduced ± std over seeds, thesis in brackets):", "",
                      *[line for line in lines if line.startswith("|")]])


def _claims(reports: Path) -> pd.DataFrame:
    path = reports / "claims.csv"
    if not path.is_file():
        raise FileNotFoundError(f"{path} is not built; build it first: snakemake --cores 2 {path}")
    return pd.read_csv(path, keep_default_na=False, dtype=str)


def claims_block(reports: Path, chapter: str) -> str:
    frame = _claims(reports)
    frame = frame[frame["chapter"] == chapter]
    seeds = [c for c in frame.columns if c.startswith("margin_seed_")]
    header = ["claim", "table", "verdict", "seeds holding", "95 % bounds", "seeds needed",
              *[f"margin seed {c.rsplit('_', 1)[1]}" for c in seeds]]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in frame.itertuples(index=False):
        text = str(row.claim).replace("|", "/").replace("\n", " ")
        low, high = getattr(row, "bound_low", ""), getattr(row, "bound_high", "")  # "": one seed, or older CSVs
        cells = [f"{text} (`{row.id}`)", row.table, row.verdict, row.seeds_holding or "-",
                 f"{low} to {high}" if low else "-", getattr(row, "seeds_needed", "") or "-",
                 *[getattr(row, c) or "-" for c in seeds]]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def verdicts_block(reports: Path) -> str:
    from retrieval_bench.core.claims import verdict_counts

    counts = verdict_counts(_claims(reports))
    lines = ["| chapter | " + " | ".join(counts.columns) + " |", "|" + "---|" * (len(counts.columns) + 1)]
    lines += [f"| {chapter} | " + " | ".join(str(v) for v in row) + " |" for chapter, row in counts.iterrows()]
    return "\n".join(lines)


def configuration_block() -> str:
    """Every config key the assembled schema knows, with its type and description."""
    from retrieval_bench.core.config import schema

    root = schema()
    defs = root["$defs"]
    lines = ["| key | what |", "|---|---|"]

    def kind(node: dict) -> str:
        if "$ref" in node:
            return node["$ref"].rsplit("/", 1)[-1]
        if "enum" in node:
            return " / ".join(map(str, node["enum"]))
        return str(node.get("type", "object" if "properties" in node else "-"))

    def walk(prefix: str, node: dict, depth: int = 0) -> None:
        for key, sub in node.get("properties", {}).items():
            path = f"{prefix}.{key}" if prefix else key
            what = " ".join(str(sub.get("description", "")).split()).replace("|", "/")
            default = f" (default `{sub['default']}`)" if "default" in sub else ""
            lines.append(f"| `{path}` | {kind(sub)}{default}{': ' + what if what else ''} |")
            if depth < 4 and sub.get("properties"):
                walk(path, sub, depth + 1)

    walk("", root)
    for name in ("scale", "protocol", "table", "figure", "row"):
        lines.append(f"| **{name}** | the keys of a {name} ({'scales.<scale>' if name == 'scale' else name}) |")
        walk(f"<{name}>", defs[name])
    return "\n".join(lines)


def render(what: str, reports: Path) -> str:
    words = what.split()
    if words[0] == "table":
        return table_block(reports, words[1])
    if words[0] == "claims":
        return claims_block(reports, words[1])
    if words[0] == "verdicts":
        return verdicts_block(reports)
    if words[0] == "file":
        return (reports / words[1]).read_text().strip()
    if words[0] == "configuration":
        return configuration_block()
    raise ValueError(f"unknown results block {what!r}: table <name>, claims <chapter>, verdicts, file <name>, "
                     f"configuration")


def write_results(config: dict, reports: Path, docs: Path, machine: str | None = None,
                  pages: list[Path] | None = None) -> list[Path]:
    """Rewrite every marked block of docs/*.md (or of `pages` only) from `reports`; returns the pages changed."""
    from retrieval_bench.core.report import git_commit

    machine = machine or machine_name()
    commit = git_commit(Path("."))  # read once: the pages this command writes would make later stamps "-dirty"
    changed = []
    every = sorted(docs.glob("*.md"))
    if pages is not None:
        unknown = [str(p) for p in pages if p.resolve() not in {e.resolve() for e in every}]
        if unknown:
            raise FileNotFoundError(f"--pages {' '.join(unknown)}: not a page of {docs}; name files of {docs}/*.md")
        every = [e for e in every if e.resolve() in {p.resolve() for p in pages}]
    for page in every:
        text = page.read_text()

        def fill(match) -> str:
            what = match.group("what").strip()
            if what.endswith(" optional"):  # built by an ablation, not the main job: kept as it is until built
                what = what.removesuffix(" optional")
                kind, name = what.split()[:2]
                source = reports / "tables" / f"{name}.md" if kind == "table" else reports / name
                if not source.is_file():
                    return match.group(0)
            body = render(what, reports)
            head = "" if what == "configuration" else provenance(config, reports, machine, what, commit) + "\n\n"
            return f"{match.group(1)}{head}{body}\n{match.group(4)}"

        new = BLOCK.sub(fill, text)
        if new != text:
            write_text(page, new)
            changed.append(page)
    return changed
