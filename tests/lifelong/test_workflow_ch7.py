"""Chapter 7 through the workflow at a tiny setting: sequences sharing their
runs, the generated images cached per teacher, Tables 7.4-7.6, the figures
and the claims that read figure data."""

import json

import pandas as pd
import pytest
import torch
import yaml

from tiny_project import ROOT, project, snakemake, tiny_config


def ch7_config() -> dict:
    config = tiny_config()
    tables = {name: spec for name, spec in shipped()["tables"].items() if name.startswith("table_7")}
    rows = ["sft", "kd_bn_kl", "dkd_bn_kl", {"id": "joint", "configuration": "ch7_joint"}]
    config["tables"] = {"table_7_splits": tables["table_7_splits"], "table_7_5": tables["table_7_5"],
                        "table_7_4": tables["table_7_4"], "table_7_6": {**tables["table_7_6"], "rows": rows},
                        "table_7_3": {**tables["table_7_3"], "rows": rows}}
    config["figures"] = {name: spec for name, spec in ch7_figures().items()}
    return config


def shipped() -> dict:
    return yaml.safe_load((ROOT / "config.yaml").read_text())


def ch7_figures() -> dict:
    return {name: spec for name, spec in shipped()["figures"].items() if name.startswith("figure_7")}


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    cwd = project(tmp_path_factory.mktemp("ch7"), ch7_config())
    run = snakemake(cwd)
    assert run.returncode == 0, run.stderr[-3000:]
    return cwd


def test_tables_show_seen_unseen_and_h_beside_the_thesis(finished):
    frame = pd.read_csv(finished / "reports" / "mini" / "tables" / "table_7_3.csv")
    assert list(frame.columns[:6]) == ["configuration", "dataset", "set", "metric", "reproduced", "thesis"]
    assert set(frame.dataset) == {"cub", "dogs", "cars"} and set(frame.set) == {"s", "u", "H"}
    wide = frame.set_index(["configuration", "dataset", "set"])["reproduced"]
    s, u, h = (wide["sft", "cub", x] for x in ("s", "u", "H"))
    assert h == pytest.approx(2 * s * u / (s + u), abs=0.01)  # one seed: H of the seed's s and u
    assert wide.index.isin([("joint", "cars", "H")]).any()
    assert frame.loc[(frame.configuration == "dkd_bn_kl") & (frame.dataset == "cars") & (frame.set == "H"),
                     "thesis"].tolist() == [78.1]
    # Table 7.4: the on-the-fly teacher's own numbers on the last dataset only
    frame = pd.read_csv(finished / "reports" / "mini" / "tables" / "table_7_4.csv")
    assert set(frame.dataset) == {"dogs"} and "otf_teacher" in set(frame.configuration)
    # Table 7.5: noise, generated, origin and the split-half floor
    frame = pd.read_csv(finished / "reports" / "mini" / "tables" / "table_7_5.csv")
    assert {"noise", "generated", "origin", "real_bootstrap"} <= set(frame.configuration)
    origin = (frame.configuration == "origin") & (frame.metric == "frechet_distance")
    assert frame.loc[origin, "reproduced"].tolist() == [0.0]


def test_sequences_share_their_runs_and_generation_is_cached_per_teacher(finished):
    results = finished / "results" / "mini"
    # CUB -> Dogs -> Cars trained only its Cars task; the base model and its images are shared
    assert not (results / "ch7_cub_dogs_cars" / "seed0" / "sft" / "task1").exists()
    assert (results / "ch7_cub_dogs" / "seed0" / "sft" / "task1" / "model.pt").exists()
    bases = sorted(results.glob("*/seed0/*/task0/generated.pt"))  # one base model, one generated set
    assert len(bases) == 1 and bases[0].parts[-3] == "base"
    generated = torch.load(bases[0], weights_only=False)
    assert generated["images"].min() >= 0 and generated["images"].max() <= 1
    assert len(generated["log"]) == 3 and (finished / "logs" / "mini" / "generate").exists()
    metrics = json.loads((results / "metrics" / "ch7_cub_dogs" / "seed0" / "dkd_bn_kl" / "task1.json").read_text())
    assert {"s0", "u0", "s1", "u1"} <= set(metrics["groups"])
    assert set(metrics["auxiliary"]["on_the_fly_teacher"]["groups"]) == {"s1", "u1"}


def test_figures_write_their_numbers_and_the_report_shows_the_generated_images(finished):
    figures = finished / "reports" / "mini" / "figures"
    for name in ch7_figures():
        assert (figures / f"{name}.png").stat().st_size > 0 and (figures / f"{name}.csv").exists()
    order = pd.read_csv(figures / "figure_7_8_order.csv")
    assert set(order.order) == {"cub_dogs_cars", "cub_cars_dogs"} and sorted(order.task.unique()) == [0, 1, 2]
    claims = pd.read_csv(finished / "reports" / "mini" / "claims.csv")
    assert {"f78_order1_slow_then_fast", "f78_retrieval_more_sensitive_to_noise", "t76_ours_best_balanced"} <= \
        set(claims.id)
    assert "figure_7_4" in (finished / "reports" / "mini" / "chapter-7.html").read_text()


def test_table_7_5_needs_only_the_base_model_its_judge_and_the_generation(tmp_path):
    cwd = project(tmp_path, ch7_config())
    run = snakemake(cwd, "-n", "reports/mini/tables/table_7_5.md")
    assert run.returncode == 0, run.stderr[-2000:]
    counts = dict(line.split() for line in (run.stdout + run.stderr).split("Job stats:")[1].splitlines()[3:]
                  if len(line.split()) == 2 and line.split()[1].isdigit())
    # the shared base model (one training job), its judge and its scores; no other run, no other generation
    assert counts["train"] == "1" and counts["train_judge"] == "1" and counts["generation_quality"] == "1"
    assert not {"generate", "noise_sensitivity", "figure"} & set(counts), counts


def test_a_change_of_table_7_5_scoring_reruns_the_quality_step(monkeypatch):
    # a quality.json scored by an earlier rule (contiguous Inception-score splits, the split-half
    # floor) must not survive beside tables scored by the current one: the rule's version is a param
    from retrieval_bench.core.config import validate
    from retrieval_bench.studies.lifelong import workflow

    config = validate(shipped())
    quality, generate = workflow.fragment(config, "quality"), workflow.fragment(config, "generate")
    assert json.loads(quality)["scoring"] == workflow.SCORING_VERSION
    monkeypatch.setattr(workflow, "SCORING_VERSION", workflow.SCORING_VERSION - 1)
    assert workflow.fragment(config, "quality") != quality
    assert workflow.fragment(config, "generate") == generate  # the generated images stay valid
