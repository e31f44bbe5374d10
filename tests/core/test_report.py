"""The report's site from small hand-made table CSVs: a chapter page with each value beside the thesis's,
the claims on the landing page, the run's metadata on its own page."""

import hashlib
import re
from pathlib import Path

import pandas as pd
import pytest

from retrieval_bench.core import config as cfg
from retrieval_bench.core import report
from retrieval_bench.vision.datasets import ARCHIVES

ROOT = Path(__file__).resolve().parents[2]

ONE_STEP = pd.DataFrame({
    "configuration": ["base", "mmd", "mmd"],
    "class_group": ["old", "old", "new"],
    "metric": ["recall@1", "recall@1", "recall@1"],
    "reproduced": [80.0, 70.25, 60.0],
    "thesis": [79.41, 74.41, None],
    "reproduced_std": [None, 1.5, None],
    "seeds": [1, 3, 1],
})
CLASSIFICATION = pd.DataFrame({
    "configuration": ["mmd", "mmd"], "task": [0, 1], "metric": ["top1", "top1"],
    "reproduced": [50.0, 43.3], "thesis": [48.0, 43.3], "reproduced_std": [None, None], "seeds": [1, 1],
})
STATISTICS = pd.DataFrame({
    "protocol": ["cub_onestep"], "class_group": ["old"], "split": ["train"], "images": [720], "classes": [20],
    "thesis_images": [3504], "thesis_classes": [100],
})


@pytest.fixture
def config():
    return cfg.load(ROOT / "config.yaml")


def cells(page: str) -> list[str]:
    """Each value cell's text: the reproduced value, then the thesis's where it has one."""
    out = []
    for cell in re.findall(r"<td class='v[^']*'[^>]*>(.*?)</td>", page):
        value = re.sub(r"<small>.*?</small>", "", cell)
        thesis = re.findall(r"<small>thesis ([^<]*)</small>", cell)
        out += [re.sub(r"<[^>]+>", "", value), thesis[0] if thesis else "-"]
    return out


def build(config, tmp_path, frames: dict[str, pd.DataFrame], figures=(), claims=None, page="chapter-5.html") -> str:
    paths = []
    for name, frame in frames.items():
        paths.append(tmp_path / "reports" / "tables" / f"{name}.csv")
        paths[-1].parent.mkdir(parents=True, exist_ok=True)
        frame.to_csv(paths[-1], index=False)
    out = tmp_path / "reports" / "index.html"
    report.build_report(config, paths, list(figures), claims, out, root=tmp_path)
    return (out.parent / page).read_text()


def test_every_value_shows_reproduced_with_the_thesis_beside_it(config, tmp_path):
    page = build(config, tmp_path, {"table_5_2": ONE_STEP})
    assert cells(page)[:6] == ["80.00", "79.41", "70.25 ± 1.50", "74.41", "60.00", "-"]  # 3 seeds: the std
    assert "Table 5.2" in page and "<th>method</th><th>classes</th><th>R@1</th>" in page  # readable headers
    assert "class='v up'" not in page and "class='v down'" not in page  # mini: the thesis is context, no colour


def test_the_difference_is_shaded_at_thesis_scale_and_the_best_value_starred(config, tmp_path):
    config["scale"] = "thesis"
    page = build(config, tmp_path, {"table_5_2": ONE_STEP})
    assert "class='v best up'" in page or "class='v up'" in page  # base 80.00 above 79.41
    assert "class='v down'" in page                              # mmd 70.25 below 74.41
    frame = ONE_STEP.assign(class_group="old")
    page = build(config, tmp_path, {"table_5_2": frame})
    assert page.count("class='v best") == 1 and "<b>80.00</b>" in page  # the best of the old classes


def test_classification_has_a_column_per_task(config, tmp_path):
    page = build(config, tmp_path, {"table_5_6": CLASSIFICATION})
    assert "after task 0" in page and "after task 1" in page
    assert cells(page)[:4] == ["50.00", "48.00", "43.30", "43.30"]


def test_statistics_compare_image_and_class_counts(config, tmp_path):
    page = build(config, tmp_path, {"table_5_1": STATISTICS})
    assert cells(page)[:4] == ["720", "3504", "20", "100"]


def test_a_value_missing_from_one_row_is_a_dash(config, tmp_path):
    frame = ONE_STEP[ONE_STEP.configuration == "mmd"].assign(metric=["recall@1", "map"])
    assert cells(build(config, tmp_path, {"table_5_2": frame}))[:4] == ["70.25 ± 1.50", "74.41", "-", "-"]


def test_metadata_rows_name_the_run(config, tmp_path, monkeypatch):
    monkeypatch.setattr(report, "torch_device_name", lambda: "Fake GPU 9000")
    manifest = tmp_path / "data" / "mini" / "synthetic_cub" / "manifest.csv"
    manifest.parent.mkdir(parents=True)
    manifest.write_text("path,class_id,class_name,split\na.png,1,a,\n")
    page = build(config, tmp_path, {"table_5_2": ONE_STEP}, page="run.html")
    rows = dict(re.findall(r"<tr><th>([^<]*)</th><td>([^<]*)</td></tr>", page))
    assert rows["scale"] == "mini" and rows["seeds"] == "0"
    assert rows["device"] == "auto (torch sees: Fake GPU 9000)"
    assert rows["config hash"] == cfg.digest(config)
    assert rows["git commit"] != ""
    assert "torch " in rows["packages"] and "pandas " in rows["packages"]
    sha = hashlib.sha256(manifest.read_bytes()).hexdigest()
    assert rows["dataset synthetic_cub"] == f"data/mini/synthetic_cub/manifest.csv sha256 {sha}"
    assert rows["dataset synthetic_dogs"] == "data/mini/synthetic_dogs/manifest.csv not built"


def test_thesis_scale_lists_the_archive_md5s(config):
    config["scale"] = "thesis"
    rows = dict(report.metadata_rows(config, root=Path("/nonexistent")))
    assert rows["scale"] == "thesis"
    assert f"CUB_200_2011.tgz md5 {ARCHIVES['cub'][0].md5}" in rows["dataset cub"]
    assert rows["dataset cub"].endswith("data/thesis/cub/manifest.csv not built")
    assert {a.md5 for a in ARCHIVES["dogs"]} <= set(rows["dataset dogs"].replace(";", " ").split())
    assert "Stanford" not in rows.get("dataset cars", "") and "cars_train.tgz" in rows["dataset cars"]  # chapter 7
    config["scales"]["thesis"]["datasets"]["unused"] = {"kind": "cars"}
    assert "dataset unused" not in dict(report.metadata_rows(config, root=Path("/nonexistent")))  # no protocol reads it
    config["scales"]["thesis"]["datasets"]["cub"]["archives"] = {
        "CUB_200_2011.tgz": {"url": "/mirror/CUB_200_2011.tgz", "md5": "0123456789abcdef0123456789abcdef"}}
    rows = dict(report.metadata_rows(config, root=Path("/nonexistent")))
    assert "CUB_200_2011.tgz md5 0123456789abcdef0123456789abcdef" in rows["dataset cub"]  # the re-packed one


def test_torch_device_name_is_cpu_or_a_cuda_device():
    import torch

    expected = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu"
    assert report.torch_device_name() == expected


def test_the_landing_page_shows_the_verdicts_and_links_each_claim_to_its_table(config, tmp_path):
    claims = tmp_path / "claims.csv"
    pd.DataFrame({"id": ["joint"], "chapter": [5], "table": ["table_5_2"], "claim": ["Joint is an upper bound"],
                  "verdict": ["inconclusive"], "seeds_holding": ["1/2"], "margin": [0.5], "bound_low": [-3.0],
                  "bound_high": [4.0], "margin_seed_0": [2.0], "margin_seed_1": [-1.0], "numbers": ["joint 60"],
                  "thesis": ["holds"], "thesis_numbers": ["joint 77"]}).to_csv(claims, index=False)
    figure = tmp_path / "reports" / "figures" / "figure_5_3_pr.png"
    figure.parent.mkdir(parents=True)
    figure.write_bytes(b"\x89PNG fake")
    index = build(config, tmp_path, {"table_5_2": ONE_STEP}, figures=[figure], claims=claims, page="index.html")
    assert "Joint is an upper bound" in index and "class='badge inconclusive'" in index
    assert "0 holds, 0 fails, 1 inconclusive, 0 n/a" in index                 # the chapter's bar
    assert index.count("<circle") == 2 and "seed 1: -1" in index              # a dot per seed's margin
    assert "href='chapter-5.html?claim=joint#table_5_2'" in index
    assert "seeds 0, 1" in index                                              # the seeds the claims rest on
    assert "not as the text says" not in index
    chapter = (tmp_path / "reports" / "chapter-5.html").read_text()
    assert "src='figures/figure_5_3_pr.png'" in chapter and "base64" not in chapter  # a file, not inlined
    assert "href='tables/table_5_2.csv'" in chapter
    frame = pd.read_csv(claims).assign(thesis="fails", thesis_expected="holds", thesis_as_expected="no")
    frame.to_csv(claims, index=False)
    index = build(config, tmp_path, {"table_5_2": ONE_STEP}, claims=claims, page="index.html")
    assert "fails <span class='badge fails'>not as the text says (holds)</span>" in index  # an encoding error


def test_a_claims_cells_carry_its_id():
    from retrieval_bench.core.site import _matches, claim_cells

    claim = {"id": "c", "table": "t", "type": "extreme", "cell": {"class_group": "old", "metric": "recall@1"},
             "among": ["base", "mmd"]}
    cells = claim_cells(claim)
    assert {"class_group": "old", "metric": "recall@1", "configuration": "mmd"} in cells
    assert _matches({"configuration": "mmd", "class_group": "old", "metric": "recall@1"}, cells[-1])
    assert not _matches({"configuration": "mmd", "class_group": "new", "metric": "recall@1"}, cells[-1])
    other = {"id": "d", "table": "t", "type": "greater", "left": [{"configuration": "a", "table": "table_9"}],
             "right": {"configuration": "b"}}
    assert claim_cells(other) == [{"configuration": "b"}]  # a cell of another table is not this table's
