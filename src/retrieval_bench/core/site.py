"""The report as a small site (reports/<scale>/): index.html says per chapter how
many claims hold and lists every claim with a picture of its margins; a page per
chapter shows its tables beside the thesis, a chart per table and its figures;
run.html names the run.  Pages link to each other and to the figures and CSVs
beside them by relative paths: they open from the file system, with no server
and no network, and stay small (figures are files, not inlined).
"""

from __future__ import annotations

import html
import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from retrieval_bench.core import registry
from retrieval_bench.core.claims import chapter_of, load_claims, verdict_counts
from retrieval_bench.core.config import study_of
from retrieval_bench.core.io import write_text
from retrieval_bench.core.tables import display_name, table_kind_of

VERDICTS = ("holds", "fails", "inconclusive", "n/a")
LOWER_IS_BETTER = ("forgetting", "inference_ms", "flops", "params", "seconds", "time", "fid", "distance", "_std",
                   "loss")
SHORT = {"recall@1": "R@1", "recall@2": "R@2", "recall@4": "R@4", "recall@5": "R@5", "recall@10": "R@10",
         "map": "mAP", "map_cmpm_code": "mAP (CMPM code)", "configuration": "method", "class_group": "classes"}

STYLE = """
*{box-sizing:border-box}body{font-family:system-ui,sans-serif;margin:0;color:#222;display:flex}
nav{width:16rem;flex:none;height:100vh;position:sticky;top:0;overflow-y:auto;background:#f6f6f6;
 border-right:1px solid #ddd;padding:1rem;font-size:.85rem}
nav a{color:#124;text-decoration:none}nav a:hover{text-decoration:underline}nav ul{padding-left:1rem;margin:.2rem 0}
nav details{margin:.3rem 0}nav summary{cursor:pointer;font-weight:600}nav .study{margin-top:.8rem;color:#555}
main{flex:1;min-width:0;padding:1rem 2rem;max-width:1300px}
.scroll{overflow-x:auto}table{border-collapse:collapse;margin:.6rem 0;font-size:.82rem}
th,td{border:1px solid #d4d4d4;padding:.25rem .45rem;vertical-align:top}
thead th{background:#eee;text-align:center}tbody th{text-align:left;font-weight:normal;background:#fafafa}
td.v{text-align:right;white-space:nowrap}td.v small{display:block;color:#777}
td.best b{font-weight:700}td.best::after{content:" \\2605";color:#b58b00;font-size:.7rem}
td.up{background:#e5f5e8}td.down{background:#fbe6e3}td.hl{outline:3px solid #e07b00;background:#fff3d6}
.note{background:#fff8e0;border-left:4px solid #e0b000;padding:.5rem 1rem}
.bar{display:flex;height:1.1rem;width:24rem;border:1px solid #ccc;border-radius:3px;overflow:hidden}
.bar span{display:block;height:100%}.holds{background:#3a9b55}.fails{background:#d1493f}
.inconclusive{background:#e0b000}.na{background:#b9b9b9}
.badge{padding:.05rem .4rem;border-radius:3px;color:#fff;font-size:.75rem;white-space:nowrap}
table.claims td{font-size:.8rem}table.claims td.text{max-width:34rem}
.filters{margin:.6rem 0}.filters label{margin-right:.8rem}
figure{margin:1rem 0}figure img{max-width:100%;border:1px solid #eee}figcaption{font-size:.8rem;color:#555}
.legend span{display:inline-block;width:.8rem;height:.8rem;margin:0 .2rem 0 .8rem;vertical-align:middle}
"""

SCRIPT = """
function filterClaims(){const ch=document.getElementById('chapter').value;
 const on=[...document.querySelectorAll('.filters input:checked')].map(e=>e.value);
 document.querySelectorAll('tr[data-verdict]').forEach(r=>{
  r.hidden=!((ch==='all'||r.dataset.chapter===ch)&&on.includes(r.dataset.verdict));});}
function highlight(){const id=new URLSearchParams(location.search).get('claim');if(!id)return;
 const cells=[...document.querySelectorAll('td[data-claims]')].filter(c=>c.dataset.claims.split(' ').includes(id));
 cells.forEach(c=>c.classList.add('hl'));const note=document.getElementById('claim-note');
 if(note){note.hidden=false;note.textContent='Cells claim '+id+' is judged on are outlined ('+cells.length+').';}}
window.addEventListener('DOMContentLoaded',()=>{if(document.getElementById('chapter'))filterClaims();highlight();});
"""


@dataclass
class Chapter:
    key: str                 # "5", "ldph": what chapter_of gives its tables
    study: str
    tables: list[Path] = field(default_factory=list)
    figures: list[Path] = field(default_factory=list)

    @property
    def page(self) -> str:
        return f"chapter-{self.key}.html"

    @property
    def title(self) -> str:
        return f"Chapter {self.key}" if self.key.isdigit() else f"Slides: {self.key.upper()}"


def chapters_of(config: dict, table_csvs: list[Path], figures: list[Path]) -> list[Chapter]:
    """The chapters the report shows, in the order of the studies and of the thesis."""
    found: dict[str, Chapter] = {}
    for section, paths in (("tables", table_csvs), ("figures", figures)):
        for path in paths:
            key = chapter_of(path.stem)
            study = study_of(config, section, path.stem) if path.stem in config.get(section, {}) else ""
            chapter = found.setdefault(key, Chapter(key, study))
            (chapter.tables if section == "tables" else chapter.figures).append(path)
    order = {s.name: i for i, s in enumerate(registry.studies())}
    return sorted(found.values(), key=lambda c: (order.get(c.study, 99), not c.key.isdigit(), c.key))


# ---------------------------------------------------------------- pieces

def verdict_word(verdict: str) -> str:
    return verdict.replace(" (1 seed)", "")


def badge(verdict: str) -> str:
    word = verdict_word(verdict)
    css = "na" if word == "n/a" else word
    return f"<span class='badge {css}'>{html.escape(verdict)}</span>"


def verdict_bar(counts: dict[str, int]) -> str:
    total = sum(counts.values()) or 1
    parts = "".join(f"<span class='{'na' if v == 'n/a' else v}' style='width:{100 * counts.get(v, 0) / total:.2f}%'"
                    f" title='{v}: {counts.get(v, 0)}'></span>" for v in VERDICTS if counts.get(v))
    return f"<div class='bar' role='img' aria-label='{html.escape(_counts_text(counts))}'>{parts}</div>"


def _counts_text(counts: dict[str, int]) -> str:
    return ", ".join(f"{counts.get(v, 0)} {v}" for v in VERDICTS)


def margin_chart(row: dict) -> str:
    """Each seed's margin as a dot around the zero line (green above 0, red below), the 95 % bound as a
    grey band: an inconclusive claim shows which seed sits on the wrong side."""
    seeds = [float(v) for k, v in row.items() if k.startswith("margin_seed_") and str(v) not in ("", "nan")]
    if not seeds:
        return ""
    bounds = [float(row[k]) for k in ("bound_low", "bound_high") if str(row.get(k, "")) not in ("", "nan")]
    reach = max(abs(x) for x in seeds + bounds) or 1.0
    width, middle = 150, 75

    def x(value: float) -> float:
        return middle + (width / 2 - 6) * value / reach

    band = (f"<rect x='{x(bounds[0]):.1f}' y='6' width='{max(x(bounds[1]) - x(bounds[0]), 1):.1f}' height='10' "
            f"fill='#ddd'/>" if len(bounds) == 2 else "")
    dots = "".join(f"<circle cx='{x(v):.1f}' cy='11' r='3.2' fill='{'#3a9b55' if v > 0 else '#d1493f'}'>"
                   f"<title>seed {i}: {v:+.3g}</title></circle>" for i, v in enumerate(seeds))
    return (f"<svg width='{width}' height='22' role='img' aria-label='margins per seed'>{band}"
            f"<line x1='{middle}' x2='{middle}' y1='2' y2='20' stroke='#333'/>{dots}</svg>")


def claim_cells(claim: dict) -> list[dict]:
    """The table cells a claim reads (its own table's): every cell dict in it, `among` expanded."""
    cells = []

    def walk(value):
        if isinstance(value, dict):
            if "table" not in value and value and not any(isinstance(v, (dict, list)) for v in value.values()):
                cells.append(value)
            for v in value.values():
                if isinstance(v, (dict, list)):
                    walk(v)
        elif isinstance(value, list):
            for v in value:
                walk(v)

    for key in ("cell", "sequence", "left", "right", "pairs", "x", "y", "cells", "of", "than"):
        if key in claim:
            walk(claim[key])
    if "among" in claim and "cell" in claim:
        cells += [{**claim["cell"], "configuration": c} for c in claim["among"]]
    return cells


def claims_by_table(claims: list[dict]) -> dict[str, list[tuple[str, dict]]]:
    out: dict[str, list[tuple[str, dict]]] = {}
    for claim in claims:
        for cell in claim_cells(claim):
            out.setdefault(claim["table"], []).append((claim["id"], cell))
    return out


def _matches(record: dict, cell: dict) -> bool:
    shared = [k for k in cell if k in record]
    return bool(shared) and all(str(record[k]) == str(cell[k]) for k in shared)


def readable(name) -> str:
    text = str(name)
    return SHORT.get(text, text.replace("_", " "))


def _lower_is_better(column) -> bool:
    return any(word in str(column).lower() for word in LOWER_IS_BETTER)


# ---------------------------------------------------------------- a table

def long_table(config: dict, path: Path) -> pd.DataFrame:
    """A table's CSV in its kind's long form (what the page's table and chart are drawn from)."""
    return table_kind_of(config, path.stem).long_form(pd.read_csv(path))


def table_html(config: dict, path: Path, long: pd.DataFrame, cell_claims: list[tuple[str, dict]]) -> str:
    """A table as people read it: a row per key, a column per measure, each cell the reproduced value
    (± std over seeds) with the thesis's below; the best reproduced value of a column starred; the
    difference shaded only at thesis scale (at mini the thesis is context, not a target)."""
    kind = table_kind_of(config, path.stem)
    layout = kind.layout()
    records = {(tuple(r[k] for k in layout.rows), r[layout.column]): r for r in long.to_dict("records")}
    rows = list(dict.fromkeys(key for key, _ in records))
    columns = list(dict.fromkeys(column for _, column in records))
    # the best value is marked among the rows that differ only in method (and backbone): per class group,
    # task or direction, as the thesis bolds its columns
    def group(key: tuple) -> tuple:
        return tuple(v for k, v in zip(layout.rows, key) if k not in ("configuration", "backbone"))

    best = {}
    for column in columns if kind.marks_best else []:
        for g in dict.fromkeys(map(group, rows)):
            values = [records[(k, column)]["reproduced"] for k in rows if group(k) == g and (k, column) in records
                      and pd.notna(records[(k, column)]["reproduced"])]
            if len(values) > 1 and len(set(values)) > 1:
                best[(g, column)] = min(values) if _lower_is_better(column) else max(values)
    shade = config["scale"] != "mini"
    head = "".join(f"<th>{html.escape(readable(k))}</th>" for k in layout.rows)
    head += "".join(f"<th>{html.escape(readable(c) if layout.column != 'task' else f'after task {c}')}</th>"
                    for c in columns)
    body = []
    for key in rows:
        cells = "".join(f"<th>{html.escape(str(v))}</th>" for v in key)
        for column in columns:
            record = records.get((key, column))
            cells += _value_cell(record, kind.report_decimals(column), best.get((group(key), column)), shade,
                                 cell_claims)
        body.append(f"<tr>{cells}</tr>")
    return (f"<div class='scroll'><table class='results'><thead><tr>{head}</tr></thead><tbody>{''.join(body)}"
            f"</tbody></table></div>")


def _value_cell(record: dict | None, decimals: int, best, shade: bool, cell_claims) -> str:
    if record is None:
        return "<td class='v'>-</td>"
    value, thesis = record.get("reproduced"), record.get("thesis")
    text = "-" if pd.isna(value) else f"{value:.{decimals}f}"
    if pd.notna(value) and record.get("seeds", 1) > 1 and pd.notna(record.get("reproduced_std")):
        text += f" ± {record['reproduced_std']:.{decimals}f}"
    classes = ["v"]
    if best is not None and pd.notna(value) and value == best:
        classes.append("best")
        text = f"<b>{text}</b>"
    if shade and pd.notna(value) and pd.notna(thesis) and round(value - thesis, decimals) != 0:
        classes.append("up" if value > thesis else "down")
    thesis_text = f"<small>thesis {float(thesis):.{decimals}f}</small>" if pd.notna(thesis) else ""
    ids = sorted({claim for claim, cell in cell_claims if _matches(record, cell)})
    data = f" data-claims='{html.escape(' '.join(ids))}'" if ids else ""
    return f"<td class='{' '.join(classes)}'{data}>{text}{thesis_text}</td>"


def table_chart(config: dict, path: Path, long: pd.DataFrame) -> str:
    """The table's first column as horizontal bars (reproduced; the thesis's value a tick), drawn from the
    same numbers: the shape of a table at a glance."""
    layout = table_kind_of(config, path.stem).layout()
    if long.empty or "reproduced" not in long:
        return ""
    first = long[layout.column].iloc[0]
    part = long[(long[layout.column] == first) & long["reproduced"].notna()]
    if len(part) < 2 or len(part) > 24:
        return ""
    labels = [" / ".join(str(r[k]) for k in layout.rows) for r in part.to_dict("records")]
    values = part["reproduced"].astype(float).tolist()
    thesis = part["thesis"].astype(float).tolist() if "thesis" in part else [math.nan] * len(values)
    top = max([v for v in values + thesis if pd.notna(v)] + [1e-9])
    if top <= 0:
        return ""
    height, label_width, width = 16, 190, 300
    bars = []
    for i, (label, value, ref) in enumerate(zip(labels, values, thesis)):
        y = i * height + 4
        bars.append(f"<text x='{label_width - 6}' y='{y + 11}' text-anchor='end' font-size='11'>"
                    f"{html.escape(label[:32])}</text>"
                    f"<rect x='{label_width}' y='{y}' width='{max(width * value / top, 0):.1f}' height='{height - 5}' "
                    f"fill='#5b8bd0'><title>{html.escape(label)}: {value:g}</title></rect>")
        if pd.notna(ref):
            bars.append(f"<line x1='{label_width + width * ref / top:.1f}' x2='{label_width + width * ref / top:.1f}'"
                        f" y1='{y - 1}' y2='{y + height - 4}' stroke='#222' stroke-width='2'>"
                        f"<title>thesis {ref:g}</title></line>")
    total = len(labels) * height + 8
    return (f"<figure><svg width='{label_width + width + 20}' height='{total}' role='img' "
            f"aria-label='{html.escape(readable(first))} per row'>{''.join(bars)}</svg>"
            f"<figcaption>{html.escape(readable(first))}: reproduced (bars), thesis (ticks)</figcaption></figure>")


# ---------------------------------------------------------------- pages

def page(title: str, nav: str, body: str) -> str:
    return (f"<!doctype html><html lang='en'><head><meta charset='utf-8'>"
            f"<meta name='viewport' content='width=device-width, initial-scale=1'><title>{html.escape(title)}</title>"
            f"<style>{STYLE}</style><script>{SCRIPT}</script></head><body>{nav}<main>{body}</main></body></html>\n")


def navigation(config: dict, chapters: list[Chapter], current: str) -> str:
    parts = ["<nav><div><a href='index.html'><b>Claims</b></a> · <a href='run.html'>Run</a></div>"]
    study = None
    for chapter in chapters:
        if chapter.study != study:
            study = chapter.study
            title = registry.study(study).title if study else ""
            parts.append(f"<div class='study'>{html.escape(title)}</div>")
        items = "".join(f"<li><a href='{chapter.page}#{p.stem}'>{html.escape(display_name(p.stem))}</a></li>"
                        for p in chapter.tables)
        items += "".join(f"<li><a href='{chapter.page}#{p.stem}'>{html.escape(_figure_name(p.stem))}</a></li>"
                         for p in chapter.figures)
        opened = " open" if chapter.page == current else ""
        parts.append(f"<details{opened}><summary><a href='{chapter.page}'>{html.escape(chapter.title)}</a>"
                     f"</summary><ul>{items}</ul></details>")
    return "".join(parts) + "</nav>"


def _figure_name(name: str) -> str:
    parts = name.removeprefix("figure_").split("_")
    numbers = [p for p in parts[:2] if p.isdigit()]
    return " ".join(["Figure", ".".join(numbers), *[p for p in parts[len(numbers):]]]).strip()


def _link(chapters: list[Chapter], target: str, claim: str) -> str:
    for chapter in chapters:
        if target in {p.stem for p in chapter.tables + chapter.figures}:
            name = display_name(target) if target.startswith("table") else _figure_name(target)
            return f"<a href='{chapter.page}?claim={html.escape(claim)}#{html.escape(target)}'>{html.escape(name)}</a>"
    return html.escape(target)


def _thesis_check(record: dict) -> str:
    """The same check on the thesis's numbers (a check of the encoding), and whether it is what the
    thesis's text leads one to expect."""
    verdict = record.get("thesis", "")
    if record.get("thesis_as_expected", "") == "no":
        return (f"{html.escape(verdict)} <span class='badge fails'>not as the text says "
                f"({html.escape(record.get('thesis_expected', ''))})</span>")
    return html.escape(verdict)


def index_page(config: dict, chapters: list[Chapter], claims: Path | None, nav: str) -> str:
    frame = pd.read_csv(claims, keep_default_na=False, dtype=str) if claims is not None and claims.is_file() \
        else None
    seeds = [c.removeprefix("margin_seed_") for c in (frame.columns if frame is not None else [])
             if c.startswith("margin_seed_") and (frame[c] != "").any()] or list(map(str, config["seeds"]))
    body = ["<h1>Wei Chen's thesis rebuilt: do its claims hold?</h1>",
            f"<p>Scale <b>{html.escape(config['scale'])}</b>, seeds {html.escape(', '.join(seeds))}"
            ". A claim <b>holds</b> when a one-sided 95 % bound on its mean margin over the seeds is above 0, "
            "<b>fails</b> when the other bound is below 0, else it is <b>inconclusive</b>; <b>n/a</b>: not "
            "measured here (another paper's numbers, a table not built). One seed has no spread: its verdict is "
            "the margin's sign. Margins are in the table's unit.</p>"]
    if config["scale"] == "mini":
        body.append("<p class='note'>Scale <b>mini</b>: synthetic data and small networks. The thesis's numbers "
                    "are context, not targets: read the patterns and the verdicts.</p>")
    if frame is None:
        return page("retrieval_bench report", nav, "".join(body) + "<p>No claims were judged.</p>")
    counts = verdict_counts(frame)
    titles = {c.key: c for c in chapters}
    legend = "".join(f"<span class='{'na' if v == 'n/a' else v}'></span>{v}" for v in VERDICTS)
    rows = []
    for key, row in counts.iterrows():
        chapter = titles.get(str(key))
        name = (f"<a href='{chapter.page}'>{html.escape(chapter.title)}</a>" if chapter
                else html.escape(f"Chapter {key}"))
        numbers = {v: int(row.get(v, 0)) for v in VERDICTS}
        rows.append(f"<tr><th>{name}</th><td>{verdict_bar(numbers)}</td><td>{_counts_text(numbers)}</td></tr>")
    body.append(f"<h2>Per chapter</h2><p class='legend'>{legend}</p><table class='plain'><tbody>{''.join(rows)}"
                "</tbody></table>")
    names = {str(k): titles[str(k)].title if str(k) in titles else str(k) for k in counts.index}
    options = "".join(f"<option value='{html.escape(k)}'>{html.escape(v)}</option>" for k, v in names.items())
    boxes = "".join(f"<label><input type='checkbox' value='{v}' checked onchange='filterClaims()'> {v}</label>"
                    for v in VERDICTS)
    body.append(f"<h2 id='claims'>Every claim</h2><div class='filters'><label>Chapter <select id='chapter' "
                f"onchange='filterClaims()'><option value='all'>all</option>{options}</select></label>{boxes}</div>")
    lines = []
    for record in frame.to_dict("records"):
        word = verdict_word(record["verdict"])
        holding = record.get("seeds_holding", "")
        lines.append(f"<tr data-chapter='{html.escape(record['chapter'])}' data-verdict='{html.escape(word)}'>"
                     f"<td class='text'>{html.escape(record['claim'])} <small>({html.escape(record['id'])})</small>"
                     f"</td><td>{badge(record['verdict'])}</td><td>{html.escape(holding)}</td>"
                     f"<td>{margin_chart(record)}</td><td>{_link(chapters, record['table'], record['id'])}</td>"
                     f"<td>{_thesis_check(record)}</td></tr>")
    body.append("<div class='scroll'><table class='claims'><thead><tr><th>claim</th><th>verdict</th>"
                "<th>seeds holding</th><th>margin per seed (dots), 95 % bound (band), 0 (line)</th><th>judged on"
                "</th><th>on the thesis's own numbers</th></tr></thead>"
                f"<tbody>{''.join(lines)}</tbody></table></div>")
    return page(f"retrieval_bench report ({config['scale']})", nav, "".join(body))


def _relative(path: Path, folder: Path) -> str:
    return html.escape(Path(os.path.relpath(path, folder)).as_posix())


def chapter_page(config: dict, chapter: Chapter, by_table: dict, nav: str, folder: Path) -> str:
    body = [f"<h1>{html.escape(chapter.title)}</h1><p id='claim-note' class='note' hidden></p>"]
    if config["scale"] == "mini":
        body.append("<p class='note'>Scale <b>mini</b>: each cell is the reproduced value (± std over seeds) with "
                    "the thesis's below it, as context, not a target; ★ marks the best reproduced value of a "
                    "column among the rows that differ only in method.</p>")
    for path in chapter.tables:
        table = path.stem
        spec = config["tables"].get(table, {})
        kind = table_kind_of(config, table)
        long = long_table(config, path)
        body.append(f"<h2 id='{html.escape(table)}'>{html.escape(display_name(table))}: "
                    f"{html.escape(spec.get('title', ''))}</h2><p>{html.escape(kind.caption)} ({html.escape(kind.unit)}"
                    f"). <a href='{_relative(path, folder)}'>CSV</a></p>"
                    + table_chart(config, path, long)
                    + table_html(config, path, long, by_table.get(table, [])))
    for path in chapter.figures:
        spec = config.get("figures", {}).get(path.stem, {})
        kind = registry.figure_kind(spec["kind"]) if spec else None
        caption = kind.caption if kind else ""
        csv = path.with_suffix(".csv")
        body.append(f"<h2 id='{html.escape(path.stem)}'>{html.escape(_figure_name(path.stem))}</h2><figure>"
                    f"<img src='{_relative(path, folder)}' alt='{html.escape(path.stem)}' loading='lazy'>"
                    f"<figcaption>{html.escape(caption)}"
                    + (f" <a href='{_relative(csv, folder)}'>CSV</a>" if csv.is_file() else "")
                    + "</figcaption></figure>")
    return page(f"{chapter.title} ({config['scale']})", nav, "".join(body))


def run_page(rows: list[tuple[str, str]], nav: str, config: dict) -> str:
    cells = "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>" for k, v in rows)
    return page(f"Run ({config['scale']})", nav, f"<h1 id='run'>Run</h1><table class='plain meta'><tbody>{cells}"
                "</tbody></table>")


def build_site(config: dict, table_csvs: list[Path], figures: list[Path], claims: Path | None, out: Path,
               metadata: list[tuple[str, str]]) -> list[Path]:
    """Write index.html (`out`), a page per chapter and run.html beside it; the pages written."""
    folder = out.parent
    chapters = chapters_of(config, table_csvs, figures)
    by_table = claims_by_table(load_claims())
    written = []
    for chapter in chapters:
        target = folder / chapter.page
        write_text(target, chapter_page(config, chapter, by_table, navigation(config, chapters, chapter.page), folder))
        written.append(target)
    write_text(folder / "run.html", run_page(metadata, navigation(config, chapters, "run.html"), config))
    write_text(out, index_page(config, chapters, claims, navigation(config, chapters, out.name)))
    return [*written, folder / "run.html", out]


def page_links(text: str) -> list[str]:
    """The href and src values of a page (for tests and checks)."""
    return re.findall(r"(?:href|src)='([^']+)'", text)

