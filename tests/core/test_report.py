"""The HTML report from small hand-made table CSVs: reproduced | thesis | Δ, and the run's metadata."""

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
    return re.findall(r"<td[^>]*>([^<]*)</td>", page)


def build(config, tmp_path, frames: dict[str, pd.DataFrame], figures=(), claims=None) -> str:
    paths = []
    for name, frame in frames.items():
        paths.append(tmp_path / "reports" / "tables" / f"{name}.csv")
        paths[-1].parent.mkdir(parents=True, exist_ok=True)
        frame.to_csv(paths[-1], index=False)
    out = tmp_path / "reports" / "index.html"
    report.build_report(config, paths, list(figures), claims, out, root=tmp_path)
    return out.read_text()


def test_every_value_shows_reproduced_thesis_and_the_difference(config, tmp_path):
    page = build(config, tmp_path, {"table_5_2": ONE_STEP})
    assert "<th>reproduced</th><th>thesis</th><th>Δ</th>" in page
    row = cells(page)
    assert row[:3] == ["80.00", "79.41", "+0.59"]       # base, old
    assert row[3:6] == ["70.25 ± 1.50", "74.41", "-4.16"]  # mmd, old, 3 seeds: the std is shown
    assert row[6:9] == ["60.00", "-", "-"]              # no thesis value: no difference
    assert "class='delta up'>+0.59" in page and "class='delta down'>-4.16" in page
    assert "Table 5.2" in page


def test_classification_has_a_column_group_per_task_and_a_zero_difference(config, tmp_path):
    page = build(config, tmp_path, {"table_5_6": CLASSIFICATION})
    assert "after task 0" in page and "after task 1" in page
    assert cells(page)[:6] == ["50.00", "48.00", "+2.00", "43.30", "43.30", "+0.00"]
    assert "class='delta zero'>+0.00" in page


def test_statistics_compare_image_and_class_counts(config, tmp_path):
    page = build(config, tmp_path, {"table_5_1": STATISTICS})
    assert cells(page)[:6] == ["720", "3504", "-2784", "20", "100", "-80"]


def test_a_value_missing_from_one_row_is_a_dash(config, tmp_path):
    frame = ONE_STEP[ONE_STEP.configuration == "mmd"].assign(metric=["recall@1", "map"])
    row = cells(build(config, tmp_path, {"table_5_2": frame}))
    assert row[:6] == ["70.25 ± 1.50", "74.41", "-4.16", "-", "-", "-"]  # mmd old: recall@1, no map row


def test_metadata_rows_name_the_run(config, tmp_path, monkeypatch):
    monkeypatch.setattr(report, "torch_device_name", lambda: "Fake GPU 9000")
    manifest = tmp_path / "data" / "mini" / "synthetic_cub" / "manifest.csv"
    manifest.parent.mkdir(parents=True)
    manifest.write_text("path,class_id,class_name,split\na.png,1,a,\n")
    page = build(config, tmp_path, {"table_5_2": ONE_STEP})
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


def test_claims_and_figures_are_inlined(config, tmp_path):
    claims = tmp_path / "claims.csv"
    pd.DataFrame({"id": ["joint"], "chapter": [5], "table": ["table_5_2"], "claim": ["Joint is an upper bound"],
                  "verdict": ["inconclusive"], "seeds_holding": ["1/2"], "margin": [0.5], "margin_seed_0": [2.0],
                  "margin_seed_1": [-1.0], "numbers": ["joint 60"], "thesis": ["holds"],
                  "thesis_numbers": ["joint 77"]}).to_csv(claims, index=False)
    figure = tmp_path / "figure_5_3_pr.png"
    figure.write_bytes(b"\x89PNG fake")
    page = build(config, tmp_path, {"table_5_2": ONE_STEP}, figures=[figure], claims=claims)
    assert "Joint is an upper bound" in page and "<h2 id='claims'>" in page
    # the verdicts open the report: counts per chapter, then the claims, before any table
    assert page.index("<h2 id='claims'>") < page.index("<h2 id='table_5_2'>")
    assert "Chapter 5" in page and "inconclusive" in page and "margin_seed_1" in page
    assert page.count("data:image/png;base64,") == 1
