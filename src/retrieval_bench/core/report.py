"""The HTML report: every table, reproduced next to the thesis with the difference, and run metadata.

One self-contained page: figures are inlined as base64 PNGs, the style sits in the head.
"""

from __future__ import annotations

import base64
import html
import platform
import subprocess
from importlib import metadata
from pathlib import Path

import pandas as pd

from retrieval_bench.core import registry
from retrieval_bench.core.config import digest
from retrieval_bench.core.io import write_text
from retrieval_bench.core.tables import display_name, table_kind_of

PACKAGES = ["retrieval_bench", "torch", "torchvision", "faiss-cpu", "scikit-learn", "snakemake",
            "pandas", "numpy"]
PARTS = ("reproduced", "thesis", "Δ")

STYLE = """
body{font-family:system-ui,sans-serif;margin:2rem auto;max-width:1200px;color:#222;padding:0 1rem}
.scroll{overflow-x:auto}
table{border-collapse:collapse;margin:1rem 0;font-size:.85rem}
th,td{border:1px solid #ccc;padding:.25rem .45rem;text-align:right;white-space:nowrap}
thead th{background:#f0f0f0;text-align:center}
tbody th{text-align:left;font-weight:normal;background:#fafafa}
td.reproduced{border-left:2px solid #888}
td.thesis{color:#555}
td.delta.up{background:#e5f5e8}
td.delta.down{background:#fbe6e3}
.note{background:#fff8e0;border-left:4px solid #e0b000;padding:.5rem 1rem}
table.plain td,table.plain th{text-align:left;white-space:normal}
table.meta th{white-space:nowrap}
"""


# ---------------------------------------------------------------- tables

def column_label(column: str, value) -> str:
    return f"after task {value}" if column == "task" else str(value)


def number(value: float, decimals: int) -> str:
    return f"{value:.{decimals}f}"


def reproduced_text(record: dict, decimals: int) -> str:
    text = number(record["reproduced"], decimals)
    std = record.get("reproduced_std")
    if record.get("seeds", 1) > 1 and pd.notna(std):
        text += f" ± {number(std, decimals)}"
    return text


def delta(record: dict, decimals: int) -> float | None:
    """reproduced - thesis, rounded as shown; None where the thesis has no value."""
    if pd.isna(record.get("thesis")):
        return None
    return round(float(record["reproduced"]) - float(record["thesis"]), decimals) + 0.0  # no -0.00


def delta_cell(value: float | None, decimals: int) -> str:
    if value is None:
        return "<td class='delta'>-</td>"
    direction = "up" if value > 0 else "down" if value < 0 else "zero"
    return f"<td class='delta {direction}'>{value:+.{decimals}f}</td>"


def comparison_cells(record: dict | None, decimals: int) -> str:
    """The three cells reproduced | thesis | Δ of one value."""
    if record is None:
        return "<td class='reproduced'>-</td><td class='thesis'>-</td><td class='delta'>-</td>"
    thesis = "-" if pd.isna(record.get("thesis")) else number(float(record["thesis"]), decimals)
    return (f"<td class='reproduced'>{html.escape(reproduced_text(record, decimals))}</td>"
            f"<td class='thesis'>{thesis}</td>{delta_cell(delta(record, decimals), decimals)}")


def row_headers(previous: tuple | None, key: tuple) -> str:
    """The key cells of a row; a value repeated from the row above is left blank."""
    cells = []
    for level, value in enumerate(key):
        repeated = previous is not None and previous[:level + 1] == key[:level + 1]
        cells.append(f"<th>{'' if repeated else html.escape(str(value))}</th>")
    return "".join(cells)


def comparison_header(row_keys: list[str], column: str, columns: list) -> str:
    top = "".join(f"<th rowspan='2'>{html.escape(k)}</th>" for k in row_keys)
    top += "".join(f"<th colspan='3'>{html.escape(column_label(column, c))}</th>" for c in columns)
    sub = "".join(f"<th>{p}</th>" for _ in columns for p in PARTS)
    return f"<thead><tr>{top}</tr><tr>{sub}</tr></thead>"


def comparison_table(frame: pd.DataFrame, kind) -> str:
    """A long-form table CSV of a kind (a TableKind) as HTML: reproduced | thesis | Δ for every value."""
    layout = kind.layout()
    long = kind.long_form(frame)
    records = {(tuple(r[k] for k in layout.rows), r[layout.column]): r for r in long.to_dict("records")}
    rows = list(dict.fromkeys(key for key, _ in records))
    columns = list(dict.fromkeys(column for _, column in records))
    body, previous = [], None
    for key in rows:
        cells = "".join(comparison_cells(records.get((key, c)), kind.report_decimals(c)) for c in columns)
        body.append(f"<tr>{row_headers(previous, key)}{cells}</tr>")
        previous = key
    return (f"<div class='scroll'><table class='comparison'>{comparison_header(layout.rows, layout.column, columns)}"
            f"<tbody>{''.join(body)}</tbody></table></div>")


def table_section(config: dict, path: Path) -> str:
    table = path.stem
    title = config["tables"][table].get("title", "")
    kind = table_kind_of(config, table)
    unit = kind.unit
    return (f"<h2 id='{html.escape(table)}'>{html.escape(display_name(table))}: {html.escape(title)}</h2>"
            f"<p>For every value: reproduced (mean over seeds ± std where there are several), thesis "
            f"(<code>-</code>: not reported) and Δ = reproduced − thesis; {unit}.</p>"
            + comparison_table(pd.read_csv(path), kind))


def claims_section(claims: Path) -> str:
    """Verdict counts per chapter, then every claim with its verdict over seeds
    and each seed's margin (how far the relation is from flipping)."""
    from retrieval_bench.core.claims import verdict_counts

    frame = pd.read_csv(claims, keep_default_na=False, dtype=str)
    counts = verdict_counts(frame)
    counts.index = [f"Chapter {c}" for c in counts.index]
    seeds = [c for c in frame.columns if c.startswith("margin_seed_")]
    margins = ", ".join(seeds) or "margin"
    rests_on = f"{len(seeds)} seed{'s' if len(seeds) != 1 else ''}" if seeds else "the mean"
    return ("<h2 id='claims'>Claims</h2><p>The thesis's directional claims, judged on the margins of "
            f"{html.escape(rests_on)} (<code>n_seeds</code> per claim): <b>holds</b> when a one-sided 95 % "
            "Student t bound on the mean margin (<code>bound_low</code>) is above 0, <b>fails</b> when the other "
            "bound (<code>bound_high</code>) is below 0, else <b>inconclusive</b>: a claim whose true mean margin "
            "is 0 is called holds or fails on at most 5 % of draws of seeds. One seed has no spread to bound: its "
            "verdict is the margin's sign and says so. <code>seeds_needed</code>: the seeds at which the bound "
            "would clear 0 for the observed mean and spread. Margins in the table's unit (percentage points; "
            "ratios for α): how far the relation is from "
            f"flipping, positive where it holds ({html.escape(margins)}; <code>margin</code>: on the mean). "
            "<code>thesis</code>: the same check on the thesis's own numbers, a check of the encoding "
            "(<code>n/a</code> where the thesis has none, as for its figures); <code>thesis_expected</code> "
            "is <code>fails</code> where those numbers contradict the thesis's own text, and "
            "<code>thesis_as_expected</code> says whether the check agrees.</p>"
            + counts.to_html(border=0, classes="plain counts")
            + "".join(f"<h3>Chapter {html.escape(chapter)}</h3>"
                      + part.drop(columns=["id", "chapter"]).to_html(escape=True, border=0, index=False,
                                                                      classes="plain")
                      for chapter, part in frame.groupby("chapter", sort=False)))


def figure_html(path: Path) -> str:
    """The figure inlined as base64, so index.html is self-contained."""
    data = base64.b64encode(path.read_bytes()).decode()
    return f"<figure><img alt='{html.escape(path.stem)}' src='data:image/png;base64,{data}' " \
           f"style='max-width:100%'><figcaption>{html.escape(path.stem)}</figcaption></figure>"


# ---------------------------------------------------------------- run metadata

def git_describe(where: Path) -> str | None:
    try:
        return subprocess.run(["git", "-C", str(where), "describe", "--always", "--dirty", "--abbrev=12"],
                              capture_output=True, text=True, check=True).stdout.strip() or None
    except (OSError, subprocess.CalledProcessError):
        return None


def git_commit(root: Path) -> str:
    """The commit of the project directory, else of the installed package's source."""
    return git_describe(root) or git_describe(Path(__file__).parent) or "unknown"


def package_versions() -> dict[str, str]:
    out = {}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return out


def torch_device_name() -> str:
    """What torch computes on here: the CUDA device's name, or cpu."""
    try:
        import torch
    except ImportError:
        return "torch not installed"
    return torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu"


def device_text(config: dict) -> str:
    return f"{config.get('device', 'auto')} (torch sees: {torch_device_name()})"


def metadata_rows(config: dict, root: Path = Path(".")) -> list[tuple[str, str]]:
    return [("scale", config["scale"]),
            ("seeds", ", ".join(map(str, config["seeds"]))),
            ("device", device_text(config)),
            ("config hash", digest(config)),
            ("git commit", git_commit(root)),
            ("python", platform.python_version()),
            ("studies", ", ".join(config["studies"])),
            ("packages", ", ".join(f"{k} {v}" for k, v in package_versions().items())),
            # each study's own: the datasets it read, with their checksums (its report.metadata_rows)
            *[row for s in registry.with_foundations(config["studies"]) for row in _study_rows(s, config, root)]]


def _study_rows(study, config: dict, root: Path) -> list[tuple[str, str]]:
    try:
        module = study.module("report")
    except ModuleNotFoundError:
        return []
    return module.metadata_rows(config, root)


def metadata_section(config: dict, root: Path) -> str:
    rows = "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>"
                   for k, v in metadata_rows(config, root))
    return f"<h2 id='run'>Run</h2><table class='plain meta'><tbody>{rows}</tbody></table>"


# ---------------------------------------------------------------- the page

def header(config: dict) -> str:
    head = (f"<!doctype html><html lang='en'><head><meta charset='utf-8'>"
            f"<title>retrieval_bench report ({html.escape(config['scale'])})</title>"
            f"<style>{STYLE}</style></head><body>"
            "<h1>Deep image retrieval, Wei Chen's thesis rebuilt: reproduced vs thesis</h1>"
            "<p>Studies: " + ", ".join(f"{html.escape(s.title)} (chapter{'s' if len(s.chapters) > 1 else ''} "
                                        f"{', '.join(s.chapters)})" for s in registry.studies()
                                        if s.name in config["studies"]) + "</p>")
    if config["scale"] == "mini":
        head += ("<p class='note'>Scale <b>mini</b>: synthetic images and a small network. The thesis numbers "
                 "are context, not targets, and Δ says how far apart they are; read the patterns.</p>")
    return head


def build_report(config: dict, table_csvs: list[Path], figures: list[Path], claims: Path | None,
                 out: Path, root: Path = Path(".")) -> None:
    """Write the report; `root` is the project directory the dataset manifests are found under."""
    parts = [header(config)]
    if claims is not None:  # the verdicts open the report, before the tables they rest on
        parts.append(claims_section(claims))
    parts += [table_section(config, path) for path in table_csvs]
    if figures:
        parts += ["<h2 id='figures'>Figures</h2>", *[figure_html(path) for path in figures]]
    parts += [metadata_section(config, root), "</body></html>"]
    write_text(out, "\n".join(parts) + "\n")
