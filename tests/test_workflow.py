"""The whole Snakemake workflow, end to end, at a tiny setting."""

import json
import re

import pandas as pd
import pytest
import yaml

from tiny_project import ROOT, project, snakemake, tiny_config


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    cwd = project(tmp_path_factory.mktemp("workflow"), tiny_config())
    run = snakemake(cwd)
    assert run.returncode == 0, run.stderr[-3000:]
    return cwd


def test_main_target_builds_tables_figures_claims_and_report(finished):
    tables = finished / "reports" / "mini" / "tables"
    frame = pd.read_csv(tables / "table_5_2.csv")
    assert list(frame.columns[:5]) == ["configuration", "class_group", "metric", "reproduced", "thesis"]
    assert set(frame.metric) == {"recall@1", "recall@2", "recall@4", "map"}
    assert frame.reproduced.between(0, 100).all()
    base = frame[(frame.configuration == "base") & (frame.metric == "recall@1")]
    assert base.thesis.tolist() == [79.41]  # the thesis number sits beside the reproduced one
    assert set(frame[frame.configuration == "base"].class_group) == {"old"}
    assert set(frame[frame.configuration == "feature_extraction"].class_group) == {"new"}
    assert (tables / "table_5_2.md").read_text().startswith("# Table 5.2")

    # a row on another protocol (25 new classes) and the joint reference A(1-125)
    frame = pd.read_csv(tables / "table_5_4.csv")
    assert {"mmd_25_new", "joint_125", "mmd", "joint"} <= set(frame.configuration)

    # multi-step: every task of every method, every group seen so far
    frame = pd.read_csv(tables / "table_5_9.csv")
    finetune = frame[(frame.configuration == "finetune") & (frame.metric == "recall@1")]
    assert sorted(finetune.task.unique()) == [1, 2, 3, 4]
    assert sorted(finetune[finetune.task == 4].class_group) == [0, 1, 2, 3, 4]
    assert sorted(finetune[finetune.task == 1].class_group) == [0, 1]
    assert finetune[(finetune.task == 4) & (finetune.class_group == 0)].thesis.tolist() == [35.68]

    # classification: top-1 over the classes seen, after every task
    frame = pd.read_csv(tables / "table_5_6.csv")
    assert sorted(frame[frame.configuration == "mmd"].task) == [0, 1, 2, 3, 4]
    assert frame[(frame.configuration == "mmd") & (frame.task == 4)].thesis.tolist() == [43.3]

    stats = pd.read_csv(tables / "table_5_1.csv")
    assert stats.images.sum() > 0 and set(stats.thesis_images.dropna()) <= {6000, 4651, 3929, 3504, 3544, 2360, 2380}

    claims = pd.read_csv(finished / "reports" / "mini" / "claims.csv", keep_default_na=False)
    assert set(claims.verdict) <= {"holds (1 seed)", "fails (1 seed)", "n/a"}  # one seed: it says so
    assert (claims.margin_seed_0 != "").any()  # read with keep_default_na=False: a missing margin is ""
    assert "ours_keeps_most_cub" in set(claims.id)
    # the claims file encodes the thesis correctly: every claim it can check holds on the thesis's numbers
    assert set(claims[claims.thesis != "n/a"].thesis) == {"holds"}

    for figure in ("figure_5_3_pr", "figure_5_3_map", "figure_5_3_time", "figure_5_5_tsne"):
        assert (finished / "reports" / "mini" / "figures" / f"{figure}.png").read_bytes()[:4] == b"\x89PNG"
    site = finished / "reports" / "mini"
    html = (site / "chapter-5.html").read_text()
    assert "Table 5.2" in html and "Table 5.9" in html and "config hash" in (site / "run.html").read_text()
    assert html.count("<img src='figures/") == 4 and "Claims" in (site / "index.html").read_text()


def test_every_rule_wrote_a_log_and_metrics_are_per_group(finished):
    metrics = json.loads(next(finished.glob("results/mini/metrics/cub_onestep/seed0/mmd/task1.json")).read_text())
    assert set(metrics["groups"]) == {"0", "1"}
    assert {"recall@1", "map", "map_original_code"} <= set(metrics["groups"]["0"])
    assert any((finished / "logs" / "mini" / "train").rglob("*.log"))


def test_snakemake_report_has_captions(finished, tmp_path):
    out = tmp_path / "report.html"
    run = snakemake(finished, "--report", str(out))
    assert run.returncode == 0, run.stderr[-3000:]
    page = out.read_text()
    assert "the thesis" in page and "thesis rebuilt" in page  # workflow/report/workflow.rst
    assert "Thesis table <strong>table_5_2</strong>" in page  # table.rst, its wildcard filled in
    assert "every class group seen so far, after every task of every row" in page  # table_5_9: the multi-step kind's
    assert "Thesis figure <strong>figure_5_5_tsne</strong>" in page and "t-SNE of the old classes" in page
    assert "directional claims" in page  # claims.rst
    assert all(category in page for category in ("Tables", "Figures", "Claims", "Multi-step", "Precision-recall"))


def test_second_run_schedules_nothing(finished):
    run = snakemake(finished, "-n")
    assert run.returncode == 0
    assert "Nothing to be done" in run.stdout + run.stderr


def test_changing_one_method_reruns_only_its_branch(finished):
    config = yaml.safe_load((finished / "config.yaml").read_text())
    config["configurations"]["alasso"]["c"] = 0.5
    (finished / "config.yaml").write_text(yaml.safe_dump(config))
    try:
        run = snakemake(finished, "-n", "--quiet", "rules")
        out = run.stdout + run.stderr
        counts = {line.split()[0]: int(line.split()[1]) for line in out.splitlines()
                  if len(line.split()) == 2 and line.split()[1].isdigit()}
        assert counts.get("train") == 1, out
    finally:
        config["configurations"]["alasso"]["c"] = 0.2
        (finished / "config.yaml").write_text(yaml.safe_dump(config))


def test_one_table_target_needs_only_its_own_runs(tmp_path):
    cwd = project(tmp_path, tiny_config())
    run = snakemake(cwd, "-n", "reports/mini/tables/table_5_4.md")
    assert run.returncode == 0, run.stderr[-2000:]
    out = run.stdout + run.stderr
    assert "cub_onestep" in out and "cub_25" in out
    assert "dogs_onestep" not in out and "cub_multistep" not in out


def test_three_seeds_from_the_command_line_as_the_readme_says(tmp_path):
    cwd = project(tmp_path, tiny_config())
    # --config last: it takes every word after it
    run = snakemake(cwd, "-n", "reports/mini/tables/table_5_2.md", "--config", "seeds=[0,1,2]")
    assert run.returncode == 0, (run.stdout + run.stderr)[-2000:]
    out = run.stdout + run.stderr
    assert all(f"seed{s}/finetune/task1" in out for s in (0, 1, 2))


def test_bad_config_stops_the_workflow_naming_the_key(tmp_path):
    config = tiny_config()
    config["scales"]["mini"]["training"]["epochz"] = 1
    run = snakemake(project(tmp_path, config), "-n")
    assert run.returncode != 0
    out = run.stdout + run.stderr
    assert "invalid configuration" in out and "scales.mini.training" in out and "epochz" in out


def test_a_failing_job_log_names_rule_wildcards_and_error(tmp_path):
    config = tiny_config()
    config["scales"]["mini"]["protocols"]["cub_onestep"]["groups"] = [4, 500]  # more classes than the dataset has
    cwd = project(tmp_path, config)
    run = snakemake(cwd, "data/mini/splits/cub_onestep.csv")
    assert run.returncode != 0
    log = (cwd / "logs" / "mini" / "split" / "cub_onestep.log").read_text()
    assert "FAILED split (protocol=cub_onestep): ValueError: the protocol's groups [4, 500] need 504 classes" in log
    assert "Traceback" in log  # the whole story follows the one-line summary
    assert "FAILED split (protocol=cub_onestep): ValueError" in run.stdout  # and the console says it too
    assert not (cwd / "data" / "mini" / "splits" / "cub_onestep.csv").exists()


@pytest.mark.parametrize("study,absent,present", [("incremental", {"generate", "train_judge"}, {"train", "table"}),
                                                  ("lifelong", set(), {"generate", "train", "table"})])
def test_one_study_alone_includes_only_its_rules_and_tables(tmp_path, study, absent, present):
    config = tiny_config()
    config["tables"]["table_7_1"] = yaml.safe_load((ROOT / "config.yaml").read_text())["tables"]["table_7_1"]
    run = snakemake(project(tmp_path, config), "-n", "--config", f"studies=[{study}]")
    assert run.returncode == 0, (run.stdout + run.stderr)[-2000:]
    out = run.stdout + run.stderr
    # the rules of the scheduled jobs, read from the job headers ("rule x:" / "localrule x:"); the
    # words alone also occur in Snakemake's own prose ("output files have to be generated")
    rules = set(re.findall(r"^(?:local)?rule (\w+):", out, flags=re.MULTILINE))
    assert not rules & absent and present <= rules, sorted(rules)
    assert ("tables/table_5_2.csv" in out) == ("cub_onestep" in out) == (study == "incremental")
    assert ("tables/table_7_1.csv" in out) == (study == "lifelong")
