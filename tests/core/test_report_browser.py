"""The report in a real browser: headless Chromium loads it without errors, every image decodes."""

import contextlib
import importlib.util
import os
import shutil
from pathlib import Path

import pandas as pd

from conftest import require
from retrieval_bench.core import config as cfg
from retrieval_bench.core.report import build_report

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("INCREMENTAL_RETRIEVAL_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@contextlib.contextmanager
def headless_chromium():
    found = os.access(CHROMIUM, os.X_OK) or shutil.which(CHROMIUM) is not None
    require("chromium", found, f"no executable at {CHROMIUM} (apt-get install chromium)")
    require("chromium", importlib.util.find_spec("playwright") is not None,
            "the Python package playwright is not installed (pip install playwright)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def make_figure(path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(3, 2))
    ax.plot([0, 1, 2], [1, 0.5, 0.2], label="mmd")
    ax.legend()
    fig.savefig(path, dpi=60)
    plt.close(fig)
    return path


def make_report(tmp_path: Path) -> Path:
    tables = tmp_path / "reports" / "tables"
    tables.mkdir(parents=True)
    pd.DataFrame({"configuration": ["base", "mmd", "mmd"], "class_group": ["old", "old", "new"],
                  "metric": ["recall@1"] * 3, "reproduced": [80.0, 70.25, 60.0], "thesis": [79.41, 74.41, None],
                  "reproduced_std": [None, None, None], "seeds": [1, 1, 1]}).to_csv(tables / "table_5_2.csv",
                                                                                   index=False)
    pd.DataFrame({"configuration": ["mmd", "mmd"], "task": [0, 1], "metric": ["top1", "top1"],
                  "reproduced": [50.0, 43.3], "thesis": [48.0, 43.3], "reproduced_std": [None, None],
                  "seeds": [1, 1]}).to_csv(tables / "table_5_6.csv", index=False)
    claims = tmp_path / "reports" / "claims.csv"
    pd.DataFrame({"id": ["joint"], "chapter": [5], "table": ["table_5_2"], "claim": ["Joint is an upper bound"],
                  "verdict": ["inconclusive"], "seeds_holding": ["1/2"], "margin": [0.5], "margin_seed_0": [2.0],
                  "margin_seed_1": [-1.0], "numbers": ["joint 60"], "thesis": ["holds"],
                  "thesis_numbers": ["joint 77"]}).to_csv(claims, index=False)
    figures = [make_figure(tmp_path / "figure_5_3_pr.png"), make_figure(tmp_path / "figure_5_3_map.png")]
    out = tmp_path / "reports" / "index.html"
    build_report(cfg.load(ROOT / "config.yaml"), sorted(tables.glob("*.csv")), figures, claims, out,
                 root=tmp_path)
    return out


def test_report_renders_in_chromium_without_errors(tmp_path):
    page_file = make_report(tmp_path)
    with headless_chromium() as browser:
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        check_page(page, page_file, tmp_path)


def check_page(page, page_file: Path, tmp_path: Path) -> None:
    console_errors, page_errors, failed = [], [], []
    page.on("console", lambda message: console_errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: page_errors.append(str(error)))
    page.on("requestfailed", lambda request: failed.append(request.url[:80]))
    page.goto(page_file.as_uri(), wait_until="load")

    images = page.eval_on_selector_all("img", "imgs => imgs.map(i => [i.alt, i.complete, i.naturalWidth])")
    assert [alt for alt, *_ in images] == ["figure_5_3_pr", "figure_5_3_map"]
    assert all(complete and width > 0 for _, complete, width in images), images
    assert page.locator("table.comparison").count() == 2
    assert page.locator("h2#table_5_2").inner_text().startswith("Table 5.2")
    assert "+0.59" in page.locator("h2#table_5_2 ~ div table").first.inner_text()
    assert page.locator("h2#claims").count() == 1 and page.locator("table.meta").count() == 1

    screenshot = tmp_path / "report.png"
    page.screenshot(path=str(screenshot), full_page=True)
    assert screenshot.read_bytes()[:4] == b"\x89PNG" and screenshot.stat().st_size > 10_000
    assert console_errors == [] and page_errors == [] and failed == []
