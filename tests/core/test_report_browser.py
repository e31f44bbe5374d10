"""The report's site in a real browser: headless Chromium loads every page without a console error, every
link resolves (files and anchors), every image decodes, the navigation reaches every table, a claim's link
outlines the cells it is judged on, and every page stays under 1 MB."""

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
    reports = tmp_path / "reports"
    tables = reports / "tables"
    tables.mkdir(parents=True)
    pd.DataFrame({"configuration": ["mmd", "ewc", "mmd"], "class_group": ["old", "old", "new"],
                  "metric": ["recall@1"] * 3, "reproduced": [80.0, 70.25, 60.0], "thesis": [79.41, 74.41, None],
                  "reproduced_std": [None, None, None], "seeds": [1, 1, 1]}).to_csv(tables / "table_5_2.csv",
                                                                                   index=False)
    pd.DataFrame({"configuration": ["mmd", "mmd"], "task": [0, 1], "metric": ["top1", "top1"],
                  "reproduced": [50.0, 43.3], "thesis": [48.0, 43.3], "reproduced_std": [None, None],
                  "seeds": [1, 1]}).to_csv(tables / "table_5_6.csv", index=False)
    pd.DataFrame({"configuration": ["itmeetsal", "itmeetsal"], "backbone": ["vgg", "mobilenet"],
                  "dataset": ["flickr30k"] * 2, "direction": ["i2t"] * 2, "metric": ["recall@1"] * 2,
                  "reproduced": [44.2, 46.3], "thesis": [38.5, 46.6], "reproduced_std": [4.0, 2.3],
                  "seeds": [3, 3]}).to_csv(tables / "table_4_1.csv", index=False)
    claims = reports / "claims.csv"
    pd.DataFrame({"id": ["ours_keeps_most_cub", "t41_x"], "chapter": [5, 4], "table": ["table_5_2", "table_4_1"],
                  "claim": ["The chapter 5 method keeps the most", "A chapter 4 claim"],
                  "verdict": ["holds (1 seed)", "n/a"], "seeds_holding": ["1/1", ""], "margin": [9.75, ""],
                  "margin_seed_0": [9.75, ""], "numbers": ["mmd 80", ""], "thesis": ["holds", "holds"],
                  "thesis_numbers": ["", ""]}).to_csv(claims, index=False)
    figures = reports / "figures"
    figures.mkdir()
    made = [make_figure(figures / "figure_5_3_pr.png"), make_figure(figures / "figure_5_3_map.png")]
    out = reports / "index.html"
    build_report(cfg.load(ROOT / "config.yaml"), sorted(tables.glob("*.csv")), made, claims, out, root=tmp_path)
    return out


def test_every_page_renders_in_chromium_and_every_link_resolves(tmp_path):
    index = make_report(tmp_path)
    folder = index.parent
    pages = sorted(folder.glob("*.html"))
    assert {p.name for p in pages} == {"index.html", "chapter-4.html", "chapter-5.html", "run.html"}
    assert all(p.stat().st_size < 1_000_000 for p in pages)
    with headless_chromium() as browser:
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        for path in pages:
            check_page(page, path)
        # the navigation reaches every table and figure from the landing page
        page.goto(index.as_uri(), wait_until="load")
        targets = page.eval_on_selector_all("nav a", "links => links.map(a => a.getAttribute('href'))")
        assert {t.split("#")[1] for t in targets if "#" in t} == {"table_5_2", "table_5_6", "table_4_1",
                                                                   "figure_5_3_pr", "figure_5_3_map"}
        # a claim's link opens its table with the cells it reads outlined
        link = page.locator("a[href*='claim=ours_keeps_most_cub']")
        link.click()
        page.wait_for_load_state("load")
        assert page.url.endswith("#table_5_2")
        assert page.locator("td.hl").count() == 2  # mmd and ewc, old classes (the claim's `among` in the table)
        assert "ours_keeps_most_cub" in page.locator("#claim-note").inner_text()
        # the filters hide claims by verdict
        page.goto(index.as_uri(), wait_until="load")
        page.uncheck("input[value='n/a']")
        assert page.locator("tr[data-verdict='n/a']").first.is_hidden()
        page.select_option("#chapter", "5")
        assert page.locator("tr[data-verdict]:visible").count() == 1
        page.screenshot(path=str(tmp_path / "landing.png"), full_page=True)
        assert (tmp_path / "landing.png").read_bytes()[:4] == b"\x89PNG"


def check_page(page, path: Path) -> None:
    console_errors, page_errors, failed = [], [], []
    page.on("console", lambda message: console_errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: page_errors.append(str(error)))
    page.on("requestfailed", lambda request: failed.append(request.url[:80]))
    page.goto(path.as_uri(), wait_until="load")
    page.eval_on_selector_all("img", "imgs => imgs.forEach(i => { i.loading = 'eager'; })")  # lazy ones too
    page.wait_for_function("[...document.images].every(i => i.complete)")
    decoded = page.eval_on_selector_all("img", "imgs => imgs.map(i => [i.alt, i.naturalWidth])")
    assert all(width > 0 for _, width in decoded), decoded
    for href in page.eval_on_selector_all("a[href], img[src]", "els => els.map(e => e.getAttribute('href') || "
                                                               "e.getAttribute('src'))"):
        target, _, anchor = href.partition("#")
        target = target.split("?")[0]
        file = path.parent / target if target else path
        assert file.is_file(), f"{path.name}: {href} does not resolve"
        if anchor and file.suffix == ".html":
            assert f"id='{anchor}'" in file.read_text(), f"{path.name}: no #{anchor} in {file.name}"
    assert console_errors == [] and page_errors == [] and failed == [], (path.name, console_errors, page_errors)
