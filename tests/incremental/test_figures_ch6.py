"""Chapter 6 figures (Figs. 6.6b-6.16) from fake metrics, features and tiny
images, the CSV of plotted numbers every figure writes, the trainer's Gram
snapshots, and which runs each figure needs."""

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from retrieval_bench.core import config as cfg
from retrieval_bench.core.figures import build_figure, figure_kind_of
from retrieval_bench.core.io import save_torch, write_json
from retrieval_bench.studies.incremental import plan
from retrieval_bench.studies.incremental.figures.retrieval_examples import query_class_at
from retrieval_bench.studies.incremental.measures import gram_matrix, gram_sample
from retrieval_bench.studies.incremental.splits import make_split, write_split
from retrieval_bench.vision.datasets import build_synthetic
from retrieval_bench.vision.extract import save_features

ROOT = Path(__file__).resolve().parents[2]

# mAP in percent, a[t][g]: group g after task t; task 0 is the shared base model.
MAP = {"fig_a": [[60], [50, 70], [40, 65, 80], [45, 60, 70, 75], [30, 55, 72, 70, 90]],
       "fig_b": [[60], [58, 72], [55, 70, 78], [56, 69, 76, 74], [52, 66, 75, 73, 88]]}
REFERENCE_MAP = [70, 75, 80, 78, 85]  # fig_joint after the last task
RECALL_GAP = 10  # Recall@1 = mAP + 10 points everywhere


def tiny_config(figures: dict) -> dict:
    """The shipped config with a tiny synthetic dataset, a one-step and a
    4-task protocol on it, three configurations and just these figures."""
    config = yaml.safe_load((ROOT / "config.yaml").read_text())
    mini = config["scales"]["mini"]
    mini["datasets"]["tiny"] = {"kind": "synthetic", "seed": 1, "image_size": 16, "groups": [
        {"identity": ["shape", "colour"], "classes": 6, "images": 8},
        *[{"identity": ["shape", "texture"], "classes": 2, "images": 8} for _ in range(4)]]}
    split = {"kind": "per_class_fraction", "train_fraction": 0.5, "seed": 0}
    mini["protocols"]["tiny1"] = {"dataset": "tiny", "split": split, "groups": [6, 2]}
    mini["protocols"]["tiny4"] = {"dataset": "tiny", "split": split, "groups": [6, 2, 2, 2, 2]}
    config["configurations"].update(fig_a={"method": "finetune"}, fig_b={"method": "l2"},
                                    fig_joint={"method": "joint"})
    config["figures"] = figures
    return cfg.validate(config)


def fake_metrics(config: dict, figure: str) -> None:
    for run in figure_kind_of(config, figure).runs(config, figure):
        if run.row == plan.REFERENCE:
            maps = REFERENCE_MAP
        else:
            maps = MAP["fig_a" if run.configuration == "base" else run.configuration][run.task]
        groups = {str(g): {"map": m / 100, "recall@1": (m + RECALL_GAP) / 100} for g, m in enumerate(maps)}
        write_json(plan.metrics_path(config, run), {"groups": groups})


def fake_group0_features(folder: Path, seed: int, classes: int = 6, per_class: int = 3) -> np.ndarray:
    """Random unit features of the old classes' test images (in split order: class after class)."""
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(classes), per_class)
    features = rng.normal(size=(len(labels), 8)) + 2 * np.eye(8)[labels]
    features /= np.linalg.norm(features, axis=1, keepdims=True)
    save_features(folder / "group0.npz", features, labels)
    return features


def outputs(config, figure, tmp_path) -> pd.DataFrame:
    out = tmp_path / "reports" / "figures" / f"{figure}.png"
    build_figure(config, figure, out)
    assert out.read_bytes()[:4] == b"\x89PNG"
    assert {f"{figure}.csv", f"{figure}.png"} <= {p.name for p in out.parent.iterdir()}
    assert not [p for p in out.parent.iterdir() if p.name.endswith(".tmp")]
    return pd.read_csv(out.with_suffix(".csv"))


def test_forgetting_figure_plots_eq_6_12_on_map(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    config = tiny_config({"f7": {"kind": "forgetting", "protocol": "tiny4", "rows": ["fig_a", "fig_b"]}})
    fake_metrics(config, "f7")
    data = outputs(config, "f7", tmp_path)
    values = data.set_index(["row", "task"])["value"]
    # by hand: F(t) = 1/t sum_{g<t} (max_{g<=l<t} a[l, g] - a[t, g])
    assert values["fig_a"].tolist() == pytest.approx([10, (20 + 5) / 2, (15 + 10 + 10) / 3, (30 + 15 + 8 + 5) / 4])
    assert values["fig_b"].tolist() == pytest.approx([2, (5 + 2) / 2, (4 + 3 + 2) / 3, (8 + 6 + 3 + 1) / 4])
    assert set(data["metric"]) == {"forgetting_map"} and set(data["configuration"]) == {"fig_a", "fig_b"}


def test_final_groups_and_new_group_curve_plot_recall_at_1_per_group(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    config = tiny_config({
        "f8": {"kind": "final_groups", "protocol": "tiny4", "rows": ["fig_a", "fig_b"], "reference": "fig_joint"},
        "f9": {"kind": "new_group_curve", "protocol": "tiny4", "rows": ["fig_a", "fig_b"]}})
    for figure in ("f8", "f9"):
        fake_metrics(config, figure)
    final = outputs(config, "f8", tmp_path).set_index(["row", "group"])["value"]
    assert final["fig_a"].tolist() == pytest.approx([m + RECALL_GAP for m in MAP["fig_a"][4]])
    assert final["reference"].tolist() == pytest.approx([m + RECALL_GAP for m in REFERENCE_MAP])
    new = outputs(config, "f9", tmp_path)
    assert new["classes"].tolist()[:5] == ["cls (1-6)", "cls (7-8)", "cls (9-10)", "cls (11-12)", "cls (13-14)"]
    assert new[new["row"] == "fig_b"]["value"].tolist() == pytest.approx(
        [MAP["fig_b"][t][t] + RECALL_GAP for t in range(5)])  # group 0: the base model


@pytest.mark.parametrize("panel", [None, "forgetting"])
def test_group_curve_plots_the_original_classes_with_an_upper_bound_and_gram_insets(tmp_path, monkeypatch, panel):
    monkeypatch.chdir(tmp_path)
    spec = {"kind": "group_curve", "protocol": "tiny4", "rows": ["fig_a", "fig_b"], "reference": "fig_joint",
            "insets": "gram", **({"panel": panel} if panel else {})}
    config = tiny_config({"f10": spec})
    fake_metrics(config, "f10")
    finals = [r for r in figure_kind_of(config, "f10").runs(config, "f10") if r.task == 4]
    features = {r.row: fake_group0_features(Path(plan.features_dir(config, r)), seed) for seed, r in enumerate(finals)}
    data = outputs(config, "f10", tmp_path)
    curve = data[(data["row"] == "fig_a") & (data["metric"] == "recall@1")]
    assert curve["task"].tolist() == [0, 1, 2, 3, 4]
    assert curve["value"].tolist() == pytest.approx([MAP["fig_a"][t][0] + RECALL_GAP for t in range(5)])
    bound = data[(data["row"] == "reference") & (data["metric"] == "recall@1")]["value"]
    assert bound.tolist() == pytest.approx([REFERENCE_MAP[0] + RECALL_GAP])
    second = data[data["row"] == "fig_a"]["metric"]
    if panel == "forgetting":  # max over earlier tasks minus now, on group 0's Recall@1
        lost = data[(data["row"] == "fig_a") & (data["metric"] == "forgetting_recall@1")]
        assert lost["task"].tolist() == [1, 2, 3, 4] and lost["value"].tolist() == pytest.approx([10, 20, 15, 30])
        assert "map" not in set(second)
    else:
        assert data[(data["row"] == "fig_b") & (data["metric"] == "map")]["value"].tolist() == pytest.approx(
            [MAP["fig_b"][t][0] for t in range(5)])
    gram = data[(data["row"] == "reference") & (data["metric"] == "gram")]
    sample = gram_sample(np.repeat(np.arange(6), 3))
    expected = gram_matrix(features["reference"][sample])
    assert gram["value"].to_numpy().reshape(len(sample), len(sample)) == pytest.approx(expected, abs=1e-6)


def test_gram_matrices_show_start_middle_end_snapshots_and_the_reference(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    config = tiny_config({"f6b": {"kind": "gram_matrices", "protocol": "tiny1", "rows": ["fig_a", "fig_b"],
                                  "reference": "fig_joint"}})
    runs = figure_kind_of(config, "f6b").runs(config, "f6b")
    labels = np.repeat(np.arange(6), 3)[gram_sample(np.repeat(np.arange(6), 3))]
    rng = np.random.default_rng(0)
    snapshots = {}
    for run in runs[:2]:
        snapshots[run.row] = {e: rng.uniform(-1, 1, size=(18, 18)).round(5).tolist() for e in range(5)}
        save_torch({"history": [], "gram_snapshots": {"sample": {"labels": labels.tolist()},
                                                      "epochs": snapshots[run.row]}}, plan.trained_model(config, run))
    reference = fake_group0_features(Path(plan.features_dir(config, runs[2])), seed=3)
    data = outputs(config, "f6b", tmp_path)
    assert sorted(data.loc[data["row"] == "fig_a", "epoch"].unique()) == [1, 3, 4]  # start, middle, end of 1..4
    at = data[(data["row"] == "fig_b") & (data["epoch"] == 3)]
    assert at["gram"].to_numpy().reshape(18, 18) == pytest.approx(np.asarray(snapshots["fig_b"][3]))
    ref = data[data["row"] == "reference"]
    assert ref["epoch"].isna().all() and set(ref["configuration"]) == {"fig_joint"}
    assert ref["gram"].to_numpy().reshape(18, 18) == pytest.approx(gram_matrix(reference), abs=1e-6)


def test_gram_matrices_name_a_model_trained_without_snapshots(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    config = tiny_config({"f6b": {"kind": "gram_matrices", "protocol": "tiny1", "rows": ["fig_a"]}})
    run = figure_kind_of(config, "f6b").runs(config, "f6b")[0]
    save_torch({"history": []}, plan.trained_model(config, run))
    with pytest.raises(ValueError, match="no Gram snapshots.*--forcerun"):
        build_figure(config, "f6b", tmp_path / "f6b.png")
    assert not (tmp_path / "f6b.png").exists() and not (tmp_path / "f6b.csv").exists()


@pytest.mark.parametrize("group,query_class", [(0, None), (0, 2), (3, None), (0, {"thesis": 51, "mini": 4}),
                                               (0, {"thesis": 51})])
def test_retrieval_examples_rank_the_groups_test_images_for_one_query(tmp_path, monkeypatch, group, query_class):
    monkeypatch.chdir(tmp_path)
    spec = {"kind": "retrieval_examples", "protocol": "tiny4", "rows": ["fig_a", "fig_b"], "group": group,
            **({"query_class": query_class} if query_class is not None else {})}
    config = tiny_config({"f12": spec})
    dataset = cfg.scale_block(config)["datasets"]["tiny"]
    folder = Path(plan.dataset_manifest(config, "tiny")).parent
    manifest = pd.DataFrame(build_synthetic(dataset, folder))  # the images are files, as at mini scale
    split = make_split(manifest, config["scales"]["mini"]["protocols"]["tiny4"]["split"], [6, 2, 2, 2, 2])
    write_split(split, Path(plan.split_manifest(config, "tiny4")))
    test = split[(split["split"] == "test") & (split["group"] == group)].reset_index(drop=True)
    labels = test["label"].to_numpy()
    rng = np.random.default_rng(0)
    for r, run in enumerate(figure_kind_of(config, "f12").runs(config, "f12")):
        # fig_a: features by class (the query's class ranks first); fig_b: random
        centres = np.eye(16)[labels % 16] * (8 if r == 0 else 0)
        save_features(Path(plan.features_dir(config, run)) / f"group{group}.npz",
                      centres + rng.normal(size=(len(labels), 16)), labels)
    data = outputs(config, "f12", tmp_path)
    wanted = query_class_at(spec, "mini")
    wanted = labels.min() if wanted is None else wanted
    query = int(np.flatnonzero(labels == wanted)[0])  # the first test image of that class
    for row in ("fig_a", "fig_b"):
        mine = data[data["row"] == row].sort_values("rank")
        assert mine["rank"].tolist() == list(range(7)) and mine["index"].iloc[0] == query
        assert query not in mine["index"].iloc[1:].tolist() and mine["index"].nunique() == 7
        assert (mine["correct"].iloc[1:] == (mine["label"].iloc[1:] == wanted)).all()
        assert mine["similarity"].iloc[1:].is_monotonic_decreasing
        assert mine["path"].iloc[0] == test["path"][query]
        assert mine["class_name"].iloc[1:].tolist() == test["class_name"][mine["index"].iloc[1:]].tolist()
    same_class = int((labels == wanted).sum()) - 1  # fig_a's features put them all first
    assert data[data["row"] == "fig_a"]["correct"].iloc[1:1 + min(same_class, 6)].all()


def test_retrieval_examples_reject_a_query_class_outside_the_group():
    with pytest.raises(cfg.ConfigError, match="query_class: 9 is not in group 0 at scale mini"):
        tiny_config({"f12": {"kind": "retrieval_examples", "protocol": "tiny4", "rows": ["fig_a"],
                             "query_class": 9}})
    with pytest.raises(cfg.ConfigError, match="query_class: 8 is not in group 1 at scale mini"):
        tiny_config({"f12": {"kind": "retrieval_examples", "protocol": "tiny4", "rows": ["fig_a"], "group": 1,
                             "query_class": {"mini": 8, "thesis": 100}}})
    with pytest.raises(cfg.ConfigError, match="group: 5, but protocol tiny4 has groups 0..4"):
        tiny_config({"f12": {"kind": "retrieval_examples", "protocol": "tiny4", "rows": ["fig_a"], "group": 5}})
    with pytest.raises(cfg.ConfigError, match="reference: unknown configuration"):
        tiny_config({"f8": {"kind": "final_groups", "protocol": "tiny4", "rows": ["fig_a"], "reference": "nope"}})
    with pytest.raises(cfg.ConfigError, match="panel: kind final_groups does not use it"):
        tiny_config({"f8": {"kind": "final_groups", "protocol": "tiny4", "rows": ["fig_a"], "panel": "forgetting"}})


def test_chapter_5_figures_write_their_numbers_too(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    config = tiny_config({"t": {"kind": "epoch_time", "protocol": "tiny1", "rows": ["fig_a", "fig_b"]},
                          "m": {"kind": "map_per_epoch", "protocol": "tiny1", "rows": ["fig_a"]}})
    for run in figure_kind_of(config, "t").runs(config, "t"):
        save_torch({"history": [{"epoch": 0, "old_map": 0.5}, {"epoch": 1, "seconds": 2.0, "old_map": 0.4},
                                {"epoch": 2, "seconds": 4.0, "old_map": 0.45}]}, plan.trained_model(config, run))
    assert outputs(config, "t", tmp_path)["seconds_per_epoch"].tolist() == [3.0, 3.0]
    curve = outputs(config, "m", tmp_path)
    assert curve["epoch"].tolist() == [0, 1, 2] and curve["old_map"].tolist() == pytest.approx([50, 40, 45])
    config["figures"] = {"pr": {"kind": "pr_curves", "protocol": "tiny1", "rows": ["fig_a"]},
                         "ts": {"kind": "tsne", "protocol": "tiny1", "rows": ["fig_a"]}}
    for seed, run in enumerate(figure_kind_of(config, "ts").runs(config, "ts")):
        folder = Path(plan.features_dir(config, run))
        features = fake_group0_features(folder, seed)
        save_features(folder / "group1.npz", features, np.repeat(np.arange(6), 3))  # new classes: the same, here
    pr = outputs(config, "pr", tmp_path)
    assert set(pr["group"]) == {0, 1} and len(pr) == 2 * 21 and pr["precision"].between(0, 1).all()
    points = outputs(config, "ts", tmp_path)
    assert len(points) == 2 * 18 and set(points["model"]) == {"base", "trained"} and set(points["row"]) == {"fig_a"}


def test_a_4_task_figure_needs_every_task_of_its_rows_and_the_base_model():
    rows = ["fig_a", "fig_b"]
    config = tiny_config({
        "f7": {"kind": "forgetting", "protocol": "tiny4", "rows": rows},
        "f11": {"kind": "group_curve", "protocol": "tiny4", "rows": rows, "reference": "fig_joint", "insets": "gram"},
        "f8": {"kind": "final_groups", "protocol": "tiny4", "rows": rows, "reference": "fig_joint"},
        "f13": {"kind": "retrieval_examples", "protocol": "tiny4", "rows": rows, "group": 1},
        "f6b": {"kind": "gram_matrices", "protocol": "tiny1", "rows": rows, "reference": "fig_joint"}})

    def metrics(configuration, task, protocol="tiny4"):
        return plan.metrics_path(config, plan.Run("", protocol, 0, configuration, task))

    def run_dir(configuration, task, protocol="tiny4"):
        return plan.run_dir(config, protocol, 0, configuration, task)

    every_task = {metrics("base", 0)} | {metrics(c, t) for c in rows for t in range(1, 5)}
    assert set(figure_kind_of(config, "f7").inputs(config, "f7")) == every_task
    assert set(figure_kind_of(config, "f11").inputs(config, "f11")) == every_task | {metrics("fig_joint", 4)} | {
        f"{run_dir(c, 4)}/features" for c in [*rows, "fig_joint"]}
    assert set(figure_kind_of(config, "f8").inputs(config, "f8")) == {metrics(c, 4) for c in [*rows, "fig_joint"]}
    assert set(figure_kind_of(config, "f13").inputs(config, "f13")) == {f"{run_dir(c, 4)}/features" for c in rows} | {
        plan.split_manifest(config, "tiny4")}
    models = {f"{run_dir(c, 1, 'tiny1')}/model.pt" for c in rows}
    assert set(figure_kind_of(config, "f6b").inputs(config, "f6b")) == models | {
        f"{run_dir('fig_joint', 1, 'tiny1')}/features"}
    config["seeds"] = [2, 0]  # figures show the first seed
    assert all("seed2" in path for path in figure_kind_of(config, "f7").inputs(config, "f7"))


def test_gram_matrix_rows_are_monitored_and_their_reference_is_not():
    from retrieval_bench.studies.incremental.workflow import fragment

    config = tiny_config({"f6b": {"kind": "gram_matrices", "protocol": "tiny1", "rows": ["fig_a"],
                                  "reference": "fig_joint"}})
    assert plan.monitored(config, "tiny1", 0, "fig_a", 1)
    assert not plan.monitored(config, "tiny1", 0, "fig_joint", 1) and not plan.monitored(config, "tiny4", 0, "fig_a", 1)
    plotted = fragment(config, "train", protocol="tiny1", configuration="fig_a", seed=0, task=1)
    assert json.loads(plotted)["monitored"] is True
    config["figures"] = {}  # no longer a row: the run is retrained without monitoring
    assert "monitored" not in json.loads(fragment(config, "train", protocol="tiny1", configuration="fig_a", seed=0,
                                                  task=1))


def test_a_monitored_training_run_saves_the_gram_matrix_of_the_old_class_sample(tmp_path):
    from test_train import spec_for

    from retrieval_bench.studies.incremental.train import train_task
    from retrieval_bench.vision.extract import embed
    from retrieval_bench.vision.loading import ImageSet
    from retrieval_bench.vision.models import load_checkpoint, model_from_checkpoint

    folder = tmp_path / "synthetic"
    spec = {"seed": 3, "image_size": 16, "groups": [
        {"identity": ["shape", "colour"], "classes": 3, "images": 8},
        {"identity": ["shape", "texture"], "classes": 3, "images": 8}]}
    split = make_split(pd.DataFrame(build_synthetic(spec, folder)),
                       {"kind": "per_class_fraction", "train_fraction": 0.5, "seed": 0}, [3, 3])
    test = split[split.split == "test"]
    train_task(spec_for(folder, split), None, tmp_path / "base.pt", tmp_path / "ck0")
    monitored = spec_for(folder, split, task=1, epochs=2, monitor_rows=test[test.group == 0])
    train_task(monitored, tmp_path / "base.pt", tmp_path / "task1.pt", tmp_path / "ck1")
    saved = load_checkpoint(tmp_path / "task1.pt")
    snapshots = saved["gram_snapshots"]
    old = test[test.group == 0]
    sample = gram_sample(old["label"].to_numpy())
    assert snapshots["sample"]["labels"] == old["label"].to_numpy()[sample].tolist()
    assert sorted(snapshots["epochs"]) == [h["epoch"] for h in saved["history"] if "old_map" in h] == [0, 1, 2]
    model = model_from_checkpoint(saved)
    features, _ = embed(model, ImageSet(old, folder, 16, train=False, in_memory=True))
    assert np.asarray(snapshots["epochs"][2]) == pytest.approx(gram_matrix(features[sample]), abs=1e-4)
    base = model_from_checkpoint(load_checkpoint(tmp_path / "base.pt"))  # epoch 0: the model it started from
    features, _ = embed(base, ImageSet(old, folder, 16, train=False, in_memory=True))
    assert np.asarray(snapshots["epochs"][0]) == pytest.approx(gram_matrix(features[sample]), abs=1e-4)
    unmonitored = spec_for(folder, split, task=1, epochs=1)
    train_task(unmonitored, tmp_path / "base.pt", tmp_path / "plain.pt", tmp_path / "ck2")
    assert "gram_snapshots" not in load_checkpoint(tmp_path / "plain.pt")


def test_a_figure_target_schedules_only_the_runs_it_plots_and_writes_its_csv(tmp_path):
    from tiny_project import project, snakemake

    config = tiny_config({"f8": {"kind": "final_groups", "protocol": "tiny4", "rows": ["fig_a"],
                                 "reference": "fig_joint"}})
    cwd = project(tmp_path, config)
    run = snakemake(cwd, "-n", "reports/mini/figures/f8.png")
    assert run.returncode == 0, (run.stdout + run.stderr)[-2000:]
    out = run.stdout + run.stderr
    trained = set(re.findall(r"results/mini/([^/\s]+/seed\d+/[^/\s]+/task\d+)/model\.pt", out))
    base = plan.run_key(config, "tiny4", 0, "base", 0)
    assert trained == {base, *(f"tiny4/seed0/fig_a/task{t}" for t in range(1, 5)), "tiny4/seed0/fig_joint/task4"}
    assert "reports/mini/figures/f8.csv" in out
