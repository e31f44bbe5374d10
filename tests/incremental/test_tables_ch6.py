"""Chapter 6 tables from hand-made metrics files and features: the average
columns, `show` and `task` rows, Eq. 6.12 forgetting, the Eq. 6.6 accuracy
changes and the Gram-matrix measures, and which runs each table needs."""

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from retrieval_bench.core import config as cfg
from retrieval_bench.core import report, tables
from retrieval_bench.core.io import write_json
from retrieval_bench.core.tables import table_kind_of
from retrieval_bench.studies.incremental import plan
from retrieval_bench.vision.extract import save_features
from tiny_project import project, snakemake

ROOT = Path(__file__).resolve().parents[2]
METRICS = ["recall@1", "recall@2", "recall@4", "map"]


def config_with(tables_: dict, seeds=(0,)) -> dict:
    """A validated config of chapter 5 methods on two mini protocols (cub_onestep: groups 0-1;
    cub_multistep: groups 0-4) with these tables, independent of config.yaml's chapter 6 entries."""
    mini = yaml.safe_load((ROOT / "config.yaml").read_text())["scales"]["mini"]
    mini["protocols"] = {p: mini["protocols"][p] for p in ("cub_onestep", "cub_multistep")}
    mini["overrides"] = {}
    configurations = {"feature_extraction": {"method": "feature_extraction"}, "finetune": {"method": "finetune"},
                      "l2": {"method": "l2", "weight": 0.1}, "mmd": {"method": "mmd", "alpha": 1.0, "beta": 1.0},
                      "joint": {"method": "joint"}}
    return cfg.validate({"scale": "mini", "seeds": list(seeds), "configurations": configurations,
                         "tables": tables_, "figures": {}, "scales": {"mini": mini}})


def write_metrics(config: dict, run: plan.Run, groups: dict[int, dict], **extra) -> None:
    write_json(Path(plan.metrics_path(config, run)), {"groups": {str(g): m for g, m in groups.items()}, **extra})


def metrics_of(value: float) -> dict:
    """Every retrieval metric of a group (fractions), `value` for R@1 and mAP alike."""
    return {m: value for m in METRICS}


def build(config: dict, table: str, tmp_path: Path) -> pd.DataFrame:
    out = tables.build_table(config, table, tmp_path / "reports" / f"{table}.csv", tmp_path / "reports" / f"{table}.md")
    return out.set_index(tables.table_kind_of(config, table).keys)


def test_display_names_of_chapter_6_tables():
    assert tables.display_name("table_5_2") == "Table 5.2"
    assert tables.display_name("table_6_3") == "Table 6.3"
    assert tables.display_name("table_6_forgetting_cub") == "Table 6 forgetting (CUB)"
    assert tables.display_name("table_6_mt_dogs") == "Table 6 multi-task (Dogs)"
    assert tables.display_name("table_6_10task_forgetting") == "Table 6 10 tasks forgetting"
    assert tables.display_name("table_6_accuracy_change") == "Table 6 accuracy change"


# ------------------------------------------------------------------ Tables 6.1 / 6.2: average and `show`

TABLE_6_1 = {"protocol": "cub_onestep", "average": True, "metrics": ["recall@1", "map"],
             "rows": [{"id": "initial", "configuration": "feature_extraction", "show": ["old", "new"]},
                      {"id": "ch6_finetune", "configuration": "finetune"}, "base", "feature_extraction"]}


def test_average_is_old_plus_new_over_two_per_seed_and_the_initial_row_shows_both(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    config = config_with({"table_6_1": TABLE_6_1}, seeds=(0, 1))
    for seed, shift in ((0, 0.0), (1, 0.02)):
        write_metrics(config, plan.Run("initial", "cub_onestep", seed, "feature_extraction", 1),
                      {0: metrics_of(0.80 + shift), 1: metrics_of(0.46 + shift)})
        write_metrics(config, plan.Run("ch6_finetune", "cub_onestep", seed, "finetune", 1),
                      {0: {**metrics_of(0.70), "map": 0.40 + shift}, 1: {**metrics_of(0.75), "map": 0.50 + 3 * shift}})
        write_metrics(config, plan.Run("base", "cub_onestep", seed, "base", 0), {0: metrics_of(0.79)})
    out = build(config, "table_6_1", tmp_path)
    assert set(out.index.get_level_values("metric")) == {"recall@1", "map"}  # the table's `metrics`
    initial = out.loc["initial"]
    assert initial.loc[("old", "recall@1"), "reproduced"] == 81.0        # (80 + 82) / 2 over the seeds
    assert initial.loc[("new", "recall@1"), "reproduced"] == 47.0
    assert initial.loc[("average", "map"), "seed_0"] == 63.0             # (80 + 46) / 2
    assert initial.loc[("average", "map"), "seed_1"] == 65.0
    assert initial.loc[("average", "map"), "reproduced"] == 64.0
    assert initial.loc[("average", "recall@1"), "thesis"] == 63.09       # reference/table_6_1.csv
    finetune = out.loc["ch6_finetune"]
    assert finetune.loc[("average", "map"), "seed_0"] == 45.0            # (40 + 50) / 2
    assert finetune.loc[("average", "map"), "seed_1"] == 49.0            # (42 + 56) / 2: per seed, then the mean
    assert finetune.loc[("average", "map"), "reproduced"] == 47.0
    assert finetune.loc[("average", "map"), "thesis"] == 45.74
    assert list(out.loc["base"].index) == [("old", "recall@1"), ("old", "map")]  # base: old only, no average
    assert list(out.loc["feature_extraction"].index) == [("new", "recall@1"), ("new", "map")]  # without `show`
    md = (tmp_path / "reports" / "table_6_1.md").read_text()
    header = next(line for line in md.splitlines() if line.startswith("| configuration"))
    assert header.split(" | ")[1:] == ["old recall@1", "old map", "new recall@1", "new map", "average recall@1",
                                       "average map |"]


# ------------------------------------------------------------------ Table 6.3: `task` rows

TABLE_6_3 = {"protocol": "cub_multistep", "metrics": ["recall@1", "map"],
             "rows": [{"id": "case_a", "configuration": "finetune", "task": 2},
                      {"id": "case_b", "configuration": "l2", "task": 2},
                      {"id": "case_c", "configuration": "mmd", "task": 2}]}


def test_a_task_row_is_its_chain_at_that_task_old_group_0_new_group_task(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    config = config_with({"table_6_3": TABLE_6_3})
    runs = table_kind_of(config, "table_6_3").runs(config, "table_6_3")
    assert runs == [plan.Run(c, "cub_multistep", 0, m, 2) for c, m in (("case_a", "finetune"), ("case_b", "l2"),
                                                                          ("case_c", "mmd"))]
    for run in runs:
        write_metrics(config, run, {0: metrics_of(0.70), 1: metrics_of(0.10), 2: metrics_of(0.60)})
    out = build(config, "table_6_3", tmp_path)
    assert out.loc[("case_a", "old", "recall@1"), "reproduced"] == 70.0
    assert out.loc[("case_a", "new", "map"), "reproduced"] == 60.0    # group 2, not group 1 or the last (4)
    assert out.loc[("case_a", "new", "map"), "thesis"] == 52.45
    assert out.loc[("case_c", "old", "recall@1"), "thesis"] == 76.19
    assert len(out) == 3 * 2 * 2


def test_table_6_3_needs_only_its_rows_up_to_task_2_and_the_base(tmp_path):
    """`snakemake reports/mini/tables/table_6_3.md` runs the four chains up to task 2 on one
    protocol and the shared base model, nothing after task 2 and no other protocol."""
    config = config_with({"table_6_3": TABLE_6_3})
    assert table_kind_of(config, "table_6_3").inputs(config, "table_6_3") == sorted(
        f"results/mini/metrics/cub_multistep/seed0/{c}/task2.json" for c in ("finetune", "l2", "mmd"))
    # the chains behind them: task 2 starts from task 1, which starts from the base
    assert plan.init_path(config, "cub_multistep", 0, "l2", 2) == plan.model_path(config, "cub_multistep", 0, "l2", 1)
    assert plan.init_path(config, "cub_multistep", 0, "l2", 1) == plan.model_path(config, "cub_multistep", 0,
                                                                                     "base", 0)
    run = snakemake(project(tmp_path, config), "-n", "reports/mini/tables/table_6_3.md")
    assert run.returncode == 0, (run.stdout + run.stderr)[-3000:]
    jobs = set(re.findall(r"cub_multistep/seed0/(\w+)/task(\d)/model\.pt", run.stdout))
    assert jobs == {("base", "0"), *((c, t) for c in ("finetune", "l2", "mmd") for t in "12")}
    assert "cub_onestep" not in run.stdout


def test_a_task_beyond_the_protocol_is_a_config_error():
    rows = [{"id": "late", "configuration": "l2", "task": 5}]
    with pytest.raises(cfg.ConfigError, match="task 5.*tasks 1..4"):
        config_with({"t": {**TABLE_6_3, "rows": rows}})
    with pytest.raises(cfg.ConfigError, match="reference: unknown configuration"):
        config_with({"t": {"kind": "gram", "protocol": "cub_onestep", "rows": ["l2"], "reference": "nope"}})
    with pytest.raises(cfg.ConfigError, match="average: kind forgetting does not use it"):
        config_with({"t": {"kind": "forgetting", "protocol": "cub_multistep", "rows": ["l2"], "average": True}})
    with pytest.raises(cfg.ConfigError, match="`base` has none"):
        config_with({"t": {"kind": "forgetting", "protocol": "cub_multistep", "rows": ["base", "l2"]}})


# ------------------------------------------------------------------ forgetting (Eq. 6.12)

def forgetting_config():
    return config_with({"table_6_forgetting_cub": {"kind": "forgetting", "protocol": "cub_multistep",
                                                   "rows": [{"id": "l2", "configuration": "l2", "task": 2}]}},
                       seeds=(0, 1))


def test_forgetting_needs_the_base_model_and_every_task_of_each_row():
    config = forgetting_config()
    assert table_kind_of(config, "table_6_forgetting_cub").runs(config, "table_6_forgetting_cub")[:3] == [
        plan.Run("l2", "cub_multistep", 0, "base", 0), plan.Run("l2", "cub_multistep", 0, "l2", 1),
        plan.Run("l2", "cub_multistep", 0, "l2", 2)]
    assert table_kind_of(config, "table_6_forgetting_cub").inputs(config, "table_6_forgetting_cub") == [
        f"results/mini/metrics/cub_multistep/seed{s}/{c}/task{t}.json" for s in (0, 1)
        for c, t in (("base", 0), ("l2", 1), ("l2", 2))]


def test_forgetting_averages_the_drop_of_every_earlier_group_from_its_best(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    config = forgetting_config()
    # mAP a[t][g] after task t on group g (task 0: the base model); R@1 = mAP + 0.1
    accuracy = {0: [0.60], 1: [0.50, 0.40], 2: [0.55, 0.30, 0.45]}
    for seed in (0, 1):
        for task, row in accuracy.items():
            groups = {g: {**metrics_of(a + 0.1 + 0.01 * seed), "map": a} for g, a in enumerate(row)}
            write_metrics(config, plan.Run("l2", "cub_multistep", seed, "base" if task == 0 else "l2", task), groups)
    out = build(config, "table_6_forgetting_cub", tmp_path)
    assert out.loc[("l2", 1, "forgetting_map"), "reproduced"] == 10.0           # 60 - 50, in points
    assert out.loc[("l2", 1, "original_forgetting_map"), "reproduced"] == 10.0
    # t = 2: groups 0 and 1; group 1's best is after task 1 (it was not learnt before)
    assert out.loc[("l2", 2, "forgetting_map"), "reproduced"] == pytest.approx(7.5)   # ((60 - 55) + (40 - 30)) / 2
    assert out.loc[("l2", 2, "original_forgetting_map"), "reproduced"] == pytest.approx(5.0)
    assert out.loc[("l2", 2, "forgetting_recall@1"), "seed_1"] == pytest.approx(7.5)  # a shift leaves differences
    assert out.loc[("l2", 2, "forgetting_map"), "seeds"] == 2
    assert out["thesis"].isna().all()                                            # no published table
    assert list(out.index.get_level_values("metric")[:4]) == [
        "forgetting_map", "original_forgetting_map", "forgetting_recall@1", "original_forgetting_recall@1"]


# ------------------------------------------------------------------ accuracy changes (Eq. 6.6)

def accuracy_change_config():
    return config_with({"table_6_accuracy_change": {
        "kind": "accuracy_change", "protocol": "cub_multistep",
        "rows": [{"id": "corr_fe", "configuration": "mmd", "task": 2}]}})


def change(task, old_before, old_after, new_before, new_after) -> dict:
    return {"task": task, "acc_old_before": old_before, "acc_old_after": old_after, "acc_new_before": new_before,
            "acc_new_after": new_after, "drop": (old_after - old_before) / old_before,
            "gain": (new_after - new_before) / new_before}


def test_accuracy_change_reproduces_the_thesis_example_at_task_1(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    config = accuracy_change_config()
    runs = table_kind_of(config, "table_6_accuracy_change").runs(config, "table_6_accuracy_change")
    assert [r.task for r in runs] == [1, 2]
    for task, values in ((1, (0.5420, 0.5244, 0.2982, 0.5227)), (2, (0.5, 0.45, 0.2, 0.5))):
        write_metrics(config, plan.Run("corr_fe", "cub_multistep", 0, "mmd", task), {0: metrics_of(0.5)},
                      accuracy_change=change(task, *values))
    out = build(config, "table_6_accuracy_change", tmp_path)
    task1 = out.loc[("corr_fe", 1)]
    # L2110: 54.20, 52.44, 29.82, 52.27 -> (-0.0325, 0.7528); from the printed mAPs alpha_gain is 0.75285
    assert np.allclose(task1["reproduced"], task1["thesis"], rtol=0, atol=1e-4), task1
    assert task1.loc["alpha_drop", "reproduced"] == -0.0325 and task1.loc["acc_new_after", "reproduced"] == 52.27
    assert out.loc[("corr_fe", 2, "alpha_drop"), "reproduced"] == -0.1
    assert pd.isna(out.loc[("corr_fe", 2, "alpha_drop"), "thesis"])
    md = (tmp_path / "reports" / "table_6_accuracy_change.md").read_text()
    assert "-0.0325 (-0.0325)" in md and "54.20 (54.20)" in md


def test_accuracy_change_of_a_run_that_records_none_names_the_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    config = accuracy_change_config()
    for task in (1, 2):
        write_metrics(config, plan.Run("corr_fe", "cub_multistep", 0, "mmd", task), {0: metrics_of(0.5)})
    with pytest.raises(ValueError, match=r"mmd/task1\.json has no accuracy_change"):
        build(config, "table_6_accuracy_change", tmp_path)


# ------------------------------------------------------------------ Gram-matrix measures

def gram_config():
    return config_with({"table_6_gram": {"kind": "gram", "protocol": "cub_onestep", "rows": ["l2", "mmd"],
                                          "reference": "joint"}})


def test_gram_measures_of_the_final_models_against_the_reference(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    config = gram_config()
    runs = table_kind_of(config, "table_6_gram").runs(config, "table_6_gram")
    assert runs[-1] == plan.Run("joint", "cub_onestep", 0, "joint", 1)
    assert table_kind_of(config, "table_6_gram").inputs(config, "table_6_gram") == [
        f"results/mini/cub_onestep/seed0/{c}/task1/features" for c in ("joint", "l2", "mmd")]
    labels = np.repeat(np.arange(7), 6)       # 7 classes x 6 images; the sample is the first 6 x 5
    one_hot = np.eye(8)[labels]               # the reference: orthogonal classes, G = block diagonal
    collapsed = np.tile(np.eye(8)[:1], (len(labels), 1))  # every image the same embedding: G = all ones
    for configuration, features in (("joint", one_hot), ("l2", one_hot), ("mmd", collapsed)):
        save_features(Path(plan.features_dir(config, plan.Run(configuration, "cub_onestep", 0, configuration, 1)))
                      / "group0.npz", features, labels)
    out = build(config, "table_6_gram", tmp_path)
    assert out.loc[("l2", "gram_distance_to_reference"), "reproduced"] == 0.0
    assert out.loc[("l2", "same_class_similarity"), "reproduced"] == 100.0
    # ||ones - blockdiag(6 blocks of 5 x 5 ones)||_F / 30 = sqrt(900 - 150) / 30
    assert out.loc[("mmd", "gram_distance_to_reference"), "reproduced"] == round(100 * np.sqrt(750) / 30, 2)
    assert out.loc[("joint", "gram_distance_to_reference"), "reproduced"] == 0.0
    assert list(dict.fromkeys(out.index.get_level_values("configuration"))) == ["l2", "mmd", "joint"]


# ------------------------------------------------------------------ the HTML report

def test_report_shows_the_derived_kinds_a_row_per_task_and_a_column_per_metric(tmp_path):
    config = config_with({"table_6_forgetting_cub": forgetting_config()["tables"]["table_6_forgetting_cub"],
                          "table_6_accuracy_change": accuracy_change_config()["tables"]["table_6_accuracy_change"],
                          "table_6_gram": gram_config()["tables"]["table_6_gram"]})
    forgetting = pd.DataFrame({"configuration": ["l2"] * 2, "task": [1, 2], "metric": ["forgetting_map"] * 2,
                               "reproduced": [10.0, 7.5], "thesis": [None, None], "reproduced_std": [None] * 2,
                               "seeds": [1, 1]})
    changes = pd.DataFrame({"configuration": ["corr_fe"] * 2, "task": [1, 1], "quantity": ["acc_old_before",
                            "alpha_drop"], "reproduced": [54.2, -0.0325], "thesis": [54.2, -0.0325],
                            "reproduced_std": [None] * 2, "seeds": [1, 1]})
    gram = pd.DataFrame({"configuration": ["l2", "l2"], "metric": ["gram_distance_to_reference",
                         "same_class_similarity"], "reproduced": [3.0, 90.0], "thesis": [None, None],
                         "reproduced_std": [None] * 2, "seeds": [1, 1]})
    paths = []
    for name, frame in (("table_6_forgetting_cub", forgetting), ("table_6_accuracy_change", changes),
                        ("table_6_gram", gram)):
        paths.append(tmp_path / f"{name}.csv")
        frame.to_csv(paths[-1], index=False)
    out = tmp_path / "index.html"
    report.build_report(config, paths, [], None, out, root=tmp_path)
    page = (tmp_path / "chapter-6.html").read_text()
    assert "Table 6 forgetting (CUB)" in page and "in percentage points" in page
    cells = [re.sub(r"<[^>]+>", " ", c).split() for c in re.findall(r"<td class='v[^']*'[^>]*>(.*?)</td>", page)]
    assert cells[:2] == [["10.00"], ["7.50"]]                                  # one row per task
    assert cells[2:4] == [["54.20", "thesis", "54.20"], ["-0.0325", "thesis", "-0.0325"]]  # ratios: 4 decimals
    assert cells[4:6] == [["3.00"], ["90.00"]]                                 # gram: a column per measure
