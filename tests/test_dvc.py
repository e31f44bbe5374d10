"""DVC round trip: run, record in the DVC cache, push to a local remote, clone,
pull, and the tables rebuild identical without one training job."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tiny_project import ROOT, snakemake, table_5_2_config

DVC = str(Path(sys.executable).parent / "dvc")
ENV = {**os.environ, "DVC_NO_ANALYTICS": "1", "GIT_AUTHOR_NAME": "ci", "GIT_AUTHOR_EMAIL": "ci@example.org",
       "GIT_COMMITTER_NAME": "ci", "GIT_COMMITTER_EMAIL": "ci@example.org",
       "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"}  # the developer's git settings stay out
TRAINING_RULES = {"prepare_data", "split", "pretrain", "train", "evaluate"}


def sh(cwd: Path, *command: str) -> str:
    run = subprocess.run(command, cwd=cwd, env=ENV, capture_output=True, text=True)
    assert run.returncode == 0, f"{' '.join(command)}:\n{run.stdout[-2000:]}{run.stderr[-2000:]}"
    return run.stdout + run.stderr


def rules_run(cwd: Path, *args: str) -> set[str]:
    """The rules in the job stats of a snakemake call (a dry run with -n)."""
    run = snakemake(cwd, "--quiet", "rules", *args)
    assert run.returncode == 0, run.stderr[-3000:]
    lines = [line.split() for line in (run.stdout + run.stderr).splitlines()]
    return {words[0] for words in lines if len(words) == 2 and words[1].isdigit()} - {"total"}


@pytest.fixture(scope="module")
def pushed(tmp_path_factory):
    """A clone of the repository with a tiny config, run once, recorded and pushed."""
    origin = tmp_path_factory.mktemp("origin")
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    for name in tracked.split():
        if not (ROOT / name).exists() and not (ROOT / name).is_symlink():
            continue  # deleted in the working tree, not yet committed
        (origin / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, origin / name, follow_symlinks=False)
    config = table_5_2_config(["base", "feature_extraction", "finetune"])
    (origin / "config.yaml").write_text(yaml.safe_dump(config))
    sh(origin, "git", "init", "-q")
    sh(origin, DVC, "remote", "add", "-d", "store", str(tmp_path_factory.mktemp("remote")))
    sh(origin, "git", "add", "-A")
    sh(origin, "git", "commit", "-qm", "tiny benchmark")

    run = snakemake(origin)
    assert run.returncode == 0, run.stderr[-3000:]
    sh(origin, DVC, "commit", "-f", "benchmark")  # record what Snakemake made
    sh(origin, "git", "add", "dvc.lock")
    sh(origin, "git", "commit", "-qm", "results")
    sh(origin, DVC, "push")
    return origin


def test_pull_restores_every_checkpoint_and_tables_rebuild_without_training(pushed, tmp_path):
    clone = tmp_path / "clone"
    sh(tmp_path, "git", "clone", "-q", str(pushed), str(clone))
    sh(clone, DVC, "pull")
    models = sorted(p.relative_to(pushed) for p in (pushed / "results").rglob("model.pt"))
    assert len(models) == 2  # base and fine-tuning
    for model in models:
        assert (clone / model).read_bytes() == (pushed / model).read_bytes()

    # DVC does not keep file times; this marks the pulled runs up to date, in DAG order
    run = snakemake(clone, "--touch", "--forceall", "runs", cores=False)
    assert run.returncode == 0, run.stderr[-2000:]
    assert rules_run(clone, "-n") == {"table", "claims", "report", "all"}

    assert rules_run(clone) == {"table", "claims", "report", "all"}  # rebuilt, no training job
    table = Path("reports/mini/tables/table_5_2.csv")
    assert (clone / table).read_text() == (pushed / table).read_text()
    for model in models:
        assert (clone / model).read_bytes() == (pushed / model).read_bytes()

    # the touched runs keep provenance: a changed setting still reruns what it affects
    config = yaml.safe_load((clone / "config.yaml").read_text())
    config["scales"]["mini"]["training"]["incremental"]["epochs"] += 1
    (clone / "config.yaml").write_text(yaml.safe_dump(config))
    assert "train" in rules_run(clone, "-n")


def test_metrics_and_curves_are_dvc_metrics_and_plots(pushed, tmp_path):
    metrics = sh(pushed, DVC, "metrics", "show", "--json")
    assert "results/mini/metrics/cub_onestep/seed0/finetune/task1.json" in metrics
    assert "recall@1" in metrics
    sh(pushed, DVC, "plots", "show", "-o", str(tmp_path / "plots"))
    html = (tmp_path / "plots" / "index.html").read_text()
    assert "results/mini/curves/cub_onestep/seed0/finetune/task1.csv" in html


def test_decoded_image_caches_are_not_versioned(pushed):
    """A dataset's decoded-image cache (gigabytes, derived from its archives)
    stays out of DVC: `.dvcignore` covers it inside the data output."""
    cache = pushed / "data" / "thesis" / "cub" / "decoded" / "images.u8"
    run = subprocess.run([DVC, "check-ignore", str(cache.relative_to(pushed))], cwd=pushed, env=ENV,
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr
    manifest = "data/thesis/cub/manifest.csv"
    assert subprocess.run([DVC, "check-ignore", manifest], cwd=pushed, env=ENV).returncode == 1  # only the cache
