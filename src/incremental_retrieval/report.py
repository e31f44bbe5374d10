"""The HTML report: every table, reproduced next to the thesis, and run metadata."""

from __future__ import annotations

import base64
import html
import platform
import subprocess
from importlib import metadata
from pathlib import Path

import pandas as pd

from incremental_retrieval.config import digest
from incremental_retrieval.io import write_text
from incremental_retrieval.tables import display_name, wide

PACKAGES = ["incremental_retrieval", "torch", "torchvision", "faiss-cpu", "pytorch-metric-learning", "snakemake",
            "pandas", "numpy"]

STYLE = """
body{font-family:system-ui,sans-serif;margin:2rem auto;max-width:1200px;color:#222}
table{border-collapse:collapse;margin:1rem 0;font-size:.9rem}
th,td{border:1px solid #ccc;padding:.3rem .5rem;text-align:right}
th:first-child,td:first-child{text-align:left}
thead th{background:#f0f0f0}
.note{background:#fff8e0;border-left:4px solid #e0b000;padding:.5rem 1rem}
.meta td{text-align:left}
"""


def _git_commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                              check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def _versions() -> dict[str, str]:
    out = {}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return out


def metadata_rows(config: dict) -> list[tuple[str, str]]:
    return [("scale", config["scale"]), ("seeds", str(config["seeds"])), ("config hash", digest(config)),
            ("git commit", _git_commit()), ("python", platform.python_version()),
            ("packages", ", ".join(f"{k} {v}" for k, v in _versions().items()))]


def _image(path: Path) -> str:
    """The figure inlined as base64, so index.html is self-contained."""
    data = base64.b64encode(path.read_bytes()).decode()
    return f"<figure><img alt='{html.escape(path.stem)}' src='data:image/png;base64,{data}' " \
           f"style='max-width:100%'><figcaption>{html.escape(path.stem)}</figcaption></figure>"


def build_report(config: dict, table_csvs: list[Path], figures: list[Path], claims: Path | None,
                 out: Path) -> None:
    parts = [f"<!doctype html><html lang='en'><head><meta charset='utf-8'>"
             f"<title>incremental_retrieval report ({config['scale']})</title><style>{STYLE}</style></head><body>",
             "<h1>Incremental fine-grained image retrieval: reproduced vs thesis</h1>"]
    if config["scale"] == "mini":
        parts.append("<p class='note'>Scale <b>mini</b>: synthetic images and a small network. The thesis numbers "
                     "(in parentheses) are context, not targets; read the patterns.</p>")
    for path in table_csvs:
        table = path.stem
        frame = pd.read_csv(path)
        title = config["tables"].get(table, {}).get("title", "")
        parts.append(f"<h2 id='{table}'>{html.escape(display_name(table))}: {html.escape(title)}</h2>")
        parts.append("<p>Cells: reproduced (thesis), Recall@K and mAP in percent.</p>")
        parts.append(wide(frame).to_html(escape=True, border=0))
    if claims is not None:
        frame = pd.read_csv(claims, keep_default_na=False)
        parts.append("<h2 id='claims'>Claims</h2><p>The thesis's directional claims, checked on the reproduced "
                     "numbers (and, as a check of their encoding, on the thesis's own).</p>")
        parts.append(frame.drop(columns="id").to_html(escape=True, border=0, index=False))
    if figures:
        parts.append("<h2 id='figures'>Figures</h2>")
        parts += [_image(path) for path in figures]
    parts.append("<h2>Run</h2><table class='meta'>")
    parts += [f"<tr><td>{html.escape(k)}</td><td>{html.escape(v)}</td></tr>" for k, v in metadata_rows(config)]
    parts.append("</table></body></html>")
    write_text(out, "\n".join(parts) + "\n")
