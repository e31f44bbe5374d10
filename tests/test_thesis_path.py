"""`scale: thesis` end to end through the real Snakemake workflow, on a CPU.

The shipped thesis block of config.yaml, shrunk by a test-only override (1
epoch, 64 px images, 2 + 2 classes, a few images each, one thread): the
same code path as a real thesis run.  Dataset archives with the real layouts of
CUB-200-2011 and Stanford Dogs are served from local files through
`datasets.<name>.archives` (download, md5 check, extraction in the
`prepare_data` jobs); backbone weights come from a file on disk in each
backbone's published format through `pretraining.weights_file`.  What matters
at thesis scale stays: the real backbones, frozen BatchNorm, file-backed
images with the thesis transforms (not the in-memory mini path): the GoogLeNet
run reads them through the shipped default, the decoded-image cache
(`training.pipeline: decoded`), the BN-Inception run decodes the JPEG files
with PIL every epoch (`pil`).
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import pandas as pd
import pytest
import yaml

from dataset_archives import CUB_CLASSES_4, DOG_CLASSES_4, cub_tgz, dogs_tars
from published_weights import WEIGHTS_FILES
from retrieval_bench.vision.archives import md5sum
from tiny_project import ROOT, project, snakemake

ROWS = ["base", "mmd", "joint"]  # the initial model, the thesis's method (one incremental task), the reference
# Each backbone trains on one dataset (Table 5.2: CUB, per-class 60 % split; Table
# 5.3: Dogs, official split); both runs download both datasets for Table 5.1.
RUNS = {"googlenet": ("table_5_2", "cub_onestep"), "bn_inception": ("table_5_3", "dogs_onestep")}
PIPELINES = {"googlenet": "decoded", "bn_inception": "pil"}  # decoded: the shipped default, not set here


def thesis_test_config(backbone: str, archives: dict[str, list[Path]], weights_file: Path, table: str) -> dict:
    """The shipped config at `scale: thesis`, shrunk to seconds per job."""
    config = yaml.safe_load((ROOT / "config.yaml").read_text())
    config["scale"] = "thesis"
    config["device"] = "cpu"
    thesis = config["scales"]["thesis"]
    thesis["backbone"] = backbone
    thesis["image_size"] = 64  # the smallest both trunks take (a 2 x 2 last feature map)
    thesis["pretraining"]["weights_file"] = str(weights_file)
    training = thesis["training"]
    for stage in ("base", "incremental"):
        training[stage]["epochs"] = 1
    training["batch"] = {"p": 2, "k": 2, "rounds": 1}
    training.update(threads=1, workers=0, monitor_every=1, eval_batch=8)
    if PIPELINES[backbone] != "decoded":
        training["pipeline"] = PIPELINES[backbone]
    thesis["datasets"] = {
        name: {**thesis["datasets"][name],
               "archives": {f.name: {"url": f.as_uri(), "md5": md5sum(f)} for f in files}}
        for name, files in archives.items()}
    thesis["protocols"] = {name: {**thesis["protocols"][name], "groups": [2, 2]}
                           for name in ("cub_onestep", "dogs_onestep")}
    config["tables"] = {"table_5_1": config["tables"]["table_5_1"], table: {**config["tables"][table], "rows": ROWS}}
    # configured (not built) so that mmd's incremental task monitors old-class mAP, as a figure's rows do
    config["figures"] = {"old_map": {"kind": "map_per_epoch", "protocol": config["tables"][table]["protocol"],
                                     "rows": ["mmd"]}}
    return config


@pytest.fixture(scope="module")
def archives(tmp_path_factory) -> dict[str, list[Path]]:
    server = tmp_path_factory.mktemp("mirror")
    cub, _ = cub_tgz(server / "cub", classes=CUB_CLASSES_4, images_per_class=5)
    dogs, _ = dogs_tars(server / "dogs", classes=DOG_CLASSES_4)
    return {"cub": [cub], "dogs": dogs}


@pytest.fixture(scope="module", params=sorted(RUNS))
def thesis_run(request, tmp_path_factory, archives):
    backbone = request.param
    table, protocol = RUNS[backbone]
    weights_file = WEIGHTS_FILES[backbone](tmp_path_factory.mktemp("offline"))
    config = thesis_test_config(backbone, archives, weights_file, table)
    thesis = config["scales"]["thesis"]
    assert thesis["training"]["freeze_bn"] is True  # kept from the shipped thesis block
    cwd = project(tmp_path_factory.mktemp(f"thesis_{backbone}"), config)
    run = snakemake(cwd, *[f"reports/thesis/tables/{t}.csv" for t in config["tables"]], timeout=1800)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-6000:] + _logs(cwd)
    return {"backbone": backbone, "table": table, "protocol": protocol, "cwd": cwd, "config": config, "run": run,
            "weights_file": weights_file, "pipeline": PIPELINES[backbone]}


def _logs(cwd: Path) -> str:
    return "".join(f"\n--- {p}\n{p.read_text()[-3000:]}" for p in sorted((cwd / "logs").rglob("*.log")))


def _job_counts(run) -> dict[str, int]:
    """Snakemake's `Job stats` table: how many jobs of each rule it ran."""
    text = run.stdout + run.stderr
    table = text[text.index("Job stats:"):].split("\n\n", 1)[0]
    return {m.group(1): int(m.group(2)) for m in re.finditer(r"^(\w+)\s+(\d+)\s*$", table, re.M)}


def test_every_job_of_the_thesis_path_ran(thesis_run):
    counts = _job_counts(thesis_run["run"])
    # 2 datasets downloaded, checked and extracted; 2 splits (Table 5.1); the weights
    # placed; the base model, mmd after one task, the joint reference; 2 tables
    # and, with the decoded pipeline, the image cache of the trained dataset
    expected = {"prepare_data": 2, "split": 2, "pretrain": 1, "train": 3, "table": 2, "total": 10}
    if thesis_run["pipeline"] == "decoded":
        expected.update(decode_images=1, total=11)
    assert counts == expected, counts
    assert f"{expected['total']} of {expected['total']} steps (100%) done" in thesis_run["run"].stderr


def test_archives_came_through_download_md5_check_and_extraction(thesis_run, archives):
    data = thesis_run["cwd"] / "data" / "thesis"
    for name, files in archives.items():
        for f in files:
            fetched = data / name / f.name
            assert md5sum(fetched) == md5sum(f)
            assert (data / name / f".{f.name}.extracted").exists() or \
                (data / name / "lists" / f".{f.name}.extracted").exists()
    cub = pd.read_csv(data / "cub" / "manifest.csv")
    assert cub["path"].str.startswith("CUB_200_2011/images/").all() and cub["class_id"].nunique() == 4
    dogs = pd.read_csv(data / "dogs" / "manifest.csv", keep_default_na=False)
    assert dogs["path"].str.startswith("Images/n0208").all() and set(dogs["split"]) == {"train", "test"}


def test_weights_came_from_the_file_on_disk(thesis_run):
    from retrieval_bench.studies.incremental import plan

    placed = thesis_run["cwd"] / plan.pretrained_weights(thesis_run["config"])
    assert placed.read_bytes() == thesis_run["weights_file"].read_bytes()
    assert "copied" in (thesis_run["cwd"] / "logs" / "thesis" / "pretrain.log").read_text()


def test_tables_have_finite_values_for_every_row(thesis_run):
    tables = thesis_run["cwd"] / "reports" / "thesis" / "tables"
    table = thesis_run["table"]
    frame = pd.read_csv(tables / f"{table}.csv")
    assert list(dict.fromkeys(frame.configuration)) == ROWS
    assert set(frame.metric) == {"recall@1", "recall@2", "recall@4", "map"}
    assert frame.reproduced.notna().all() and frame.reproduced.between(0, 100).all(), frame
    assert set(frame[frame.configuration == "base"].class_group) == {"old"}
    assert set(frame[frame.configuration == "mmd"].class_group) == {"old", "new"}
    recall = frame[frame.metric != "map"]
    assert recall.thesis.notna().all()  # the thesis's Recall@K beside each reproduced one (it reports no mAP)
    markdown = (tables / f"{table}.md").read_text()
    assert markdown.startswith(f"# Table 5.{table[-1]}") and f"backbone `{thesis_run['backbone']}`" in markdown
    stats = pd.read_csv(tables / "table_5_1.csv")
    assert set(stats.protocol) == {"cub_onestep", "dogs_onestep"}
    assert (stats.classes == 2).all() and stats.images.gt(0).all()


def test_metrics_are_finite_and_cover_old_and_new_classes(thesis_run):
    metrics = thesis_run["cwd"] / "results" / "thesis" / "metrics" / thesis_run["protocol"] / "seed0"
    base = json.loads((metrics / "base" / "task0.json").read_text())
    assert set(base["groups"]) == {"0"}
    for row in ("mmd", "joint"):
        result = json.loads((metrics / row / "task1.json").read_text())
        assert set(result["groups"]) == {"0", "1"}
        values = [v for group in result["groups"].values() for v in group.values()] + [result["seen"]["top1"]]
        assert all(math.isfinite(v) for v in values), result


def test_training_ran_on_files_with_frozen_batchnorm(thesis_run):
    """The thesis-scale training path: the incremental task's log shows the
    file-backed epoch and the old-class mAP monitor, and the saved model is the
    configured backbone with a classifier grown to 4 classes."""
    import torch

    cwd, run = thesis_run["cwd"], f"{thesis_run['protocol']}/seed0/mmd/task1"
    log = (cwd / "logs" / "thesis" / "train" / f"{run}.log").read_text()
    assert "epoch 1/1" in log and "old_map" in log
    model = torch.load(cwd / "results" / "thesis" / run / "model.pt", map_location="cpu", weights_only=False)
    assert model["backbone"] == thesis_run["backbone"] and model["n_classes"] == 4
    curves = pd.read_csv(cwd / "results" / "thesis" / "curves" / f"{run}.csv")
    assert curves["loss"].dropna().map(math.isfinite).all() and len(curves.dropna(subset=["loss"])) == 1


def test_images_came_through_the_configured_pipeline(thesis_run):
    """decoded: the trained dataset's cache was built once (64 px crops: images
    resized to a shorter side of 73) and the training job read it; pil: no cache."""
    cwd, pipeline = thesis_run["cwd"], thesis_run["pipeline"]
    dataset = thesis_run["config"]["scales"]["thesis"]["protocols"][thesis_run["protocol"]]["dataset"]
    cache = cwd / "data" / "thesis" / dataset / "decoded"
    log = (cwd / "logs" / "thesis" / "train" / f"{thesis_run['protocol']}/seed0/mmd/task1.log").read_text()
    assert f"images of {dataset}: pipeline {pipeline}" in log
    if pipeline == "decoded":
        meta = json.loads((cache / "cache.json").read_text())
        manifest = pd.read_csv(cwd / "data" / "thesis" / dataset / "manifest.csv")
        assert meta["shorter_side"] == 73 and meta["images"] == len(manifest)
        assert f"cache {cache.relative_to(cwd)}" in log
        built = (cwd / "logs" / "thesis" / "decode_images" / f"{dataset}.log").read_text()
        assert f"{meta['bytes']} bytes" in built
    else:
        assert not cache.exists()
