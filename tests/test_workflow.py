"""The whole Snakemake workflow, end to end, at a tiny setting."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]


def tiny_config() -> dict:
    config = yaml.safe_load((ROOT / "config.yaml").read_text())
    mini = config["scales"]["mini"]
    mini["pretraining"].update(epochs=1)
    mini["training"]["base"]["epochs"] = 2
    mini["training"]["incremental"]["epochs"] = 1
    mini["training"]["batch"] = {"p": 4, "k": 3, "rounds": 2}
    for name, dataset in mini["datasets"].items():
        for group in dataset["groups"]:
            group["classes"] = 4 if name != "synthetic_pretrain" else 8
            group["images"] = 10 if isinstance(group["images"], int) else [10, 12]
        if "official_train_per_class" in dataset:
            dataset["official_train_per_class"] = 6
    for protocol in mini["protocols"].values():
        protocol["groups"] = [4, 4]
    config["tables"]["table_5_3"]["configurations"] = ["base", "feature_extraction", "finetune", "joint"]
    return config


def project(tmp_path: Path, config: dict) -> Path:
    for item in ("Snakefile", "workflow", "envs"):
        (shutil.copytree if (ROOT / item).is_dir() else shutil.copy)(ROOT / item, tmp_path / item)
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    return tmp_path


def snakemake(cwd: Path, *args) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    bin_dir = Path(sys.executable).parent
    env["PATH"] = f"{bin_dir}{os.pathsep}{env['PATH']}"  # the rules' `python` is this interpreter
    return subprocess.run([str(bin_dir / "snakemake"), "--cores", "2", *args], cwd=cwd, env=env,
                          capture_output=True, text=True)


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    cwd = project(tmp_path_factory.mktemp("workflow"), tiny_config())
    run = snakemake(cwd)
    assert run.returncode == 0, run.stderr[-3000:]
    return cwd


def test_main_target_builds_tables_and_report(finished):
    for table in ("table_5_2", "table_5_3"):
        frame = pd.read_csv(finished / "reports" / "tables" / f"{table}.csv")
        assert list(frame.columns[:5]) == ["configuration", "class_group", "metric", "reproduced", "thesis"]
        assert set(frame.metric) == {"recall@1", "recall@2", "recall@4", "map"}
        assert frame.reproduced.between(0, 100).all()
        # thesis numbers sit beside the reproduced ones
        base = frame[(frame.configuration == "base") & (frame.metric == "recall@1")]
        assert base.thesis.tolist() == [79.41] if table == "table_5_2" else [80.67]
        assert set(frame[frame.configuration == "base"].class_group) == {"old"}
        assert set(frame[frame.configuration == "feature_extraction"].class_group) == {"new"}
        assert (finished / "reports" / "tables" / f"{table}.md").read_text().startswith("# Table 5.")
    html = (finished / "reports" / "index.html").read_text()
    assert "Table 5.2" in html and "Table 5.3" in html and "config hash" in html


def test_every_rule_wrote_a_log_and_metrics_are_per_group(finished):
    metrics = json.loads(next(finished.glob("results/mini/cub_onestep/seed0/mmd/task1/metrics.json")).read_text())
    assert set(metrics["groups"]) == {"0", "1"}
    assert {"recall@1", "map", "map_original_code"} <= set(metrics["groups"]["0"])
    assert any((finished / "logs" / "mini" / "train").rglob("*.log"))


def test_second_run_schedules_nothing(finished):
    run = snakemake(finished, "-n")
    assert run.returncode == 0
    assert "Nothing to be done" in run.stdout + run.stderr


def test_changing_one_method_reruns_only_its_branch(finished):
    config = yaml.safe_load((finished / "config.yaml").read_text())
    config["configurations"]["lwf"]["alpha"] = 0.5
    (finished / "config.yaml").write_text(yaml.safe_dump(config))
    try:
        run = snakemake(finished, "-n", "--quiet", "rules")
        out = run.stdout + run.stderr
        counts = {line.split()[0]: int(line.split()[1]) for line in out.splitlines()
                  if len(line.split()) == 2 and line.split()[1].isdigit()}
        assert counts.get("train") == 1, out
    finally:
        config["configurations"]["lwf"]["alpha"] = 1.0
        (finished / "config.yaml").write_text(yaml.safe_dump(config))


def test_one_table_target_needs_only_its_own_runs(tmp_path):
    cwd = project(tmp_path, tiny_config())
    run = snakemake(cwd, "-n", "reports/tables/table_5_3.md")
    assert run.returncode == 0, run.stderr[-2000:]
    out = run.stdout + run.stderr
    assert "dogs_onestep" in out and "cub_onestep" not in out
    assert "results/mini/dogs_onestep/seed0/ewc" not in out  # not a row of this tiny Table 5.3


def test_bad_config_stops_the_workflow_naming_the_key(tmp_path):
    config = tiny_config()
    config["scales"]["mini"]["training"]["epochz"] = 1
    run = snakemake(project(tmp_path, config), "-n")
    assert run.returncode != 0
    out = run.stdout + run.stderr
    assert "invalid configuration" in out and "scales.mini.training" in out and "epochz" in out
