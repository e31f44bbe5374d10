import json
from pathlib import Path

import yaml

from retrieval_bench.core import config as cfg
from retrieval_bench.core.tables import table_kind_of
from retrieval_bench.studies.incremental import plan

ROOT = Path(__file__).resolve().parents[2]


def shipped():
    return cfg.validate(yaml.safe_load((ROOT / "config.yaml").read_text()))


def test_base_model_is_shared_by_protocols_with_the_same_original_classes():
    config = shipped()
    assert plan.run_key(config, "cub_25", 0, "base", 0).split("/")[0] == "cub_onestep"
    # its own data at mini scale
    assert plan.run_key(config, "cub_multistep", 0, "base", 0).split("/")[0] == "cub_multistep"
    assert plan.model_path(config, "cub_25", 0, "base", 0) == plan.model_path(config, "cub_onestep", 0, "base", 0)
    config["scale"] = "thesis"  # at thesis scale every CUB protocol starts from the same A(1-100)
    assert plan.run_key(config, "cub_multistep", 0, "base", 0).split("/")[0] == "cub_onestep"


def test_each_task_starts_from_the_previous_one_of_its_method():
    config = shipped()
    assert plan.init_path(config, "cub_multistep", 0, "mmd", 1).endswith("cub_multistep/seed0/base/task0/model.pt")
    assert plan.init_path(config, "cub_multistep", 0, "mmd", 3).endswith("cub_multistep/seed0/mmd/task2/model.pt")
    assert plan.init_path(config, "cub_multistep", 0, "joint", 4) == plan.pretrained_weights(config)
    assert plan.model_path(config, "cub_onestep", 0, "feature_extraction", 1).endswith("base/task0/model.pt")


def test_table_runs_by_kind():
    config = shipped()
    one_step = table_kind_of(config, "table_5_4").runs(config, "table_5_4")
    assert plan.Run("mmd_25_new", "cub_25", 0, "mmd", 1) in one_step
    assert plan.Run("joint_125", "cub_25", 0, "joint", 1) in one_step
    multi = table_kind_of(config, "table_5_9").runs(config, "table_5_9")
    assert [r.task for r in multi if r.configuration == "lwf"] == [1, 2, 3, 4]
    assert [r.task for r in multi if r.configuration == "joint"] == [4]
    classification = table_kind_of(config, "table_5_6").runs(config, "table_5_6")
    assert plan.Run("base", "cifar100_5tasks", 0, "base", 0) in classification


def test_seeds_multiply_runs():
    config = shipped()
    config["seeds"] = [0, 1, 2]
    assert len(table_kind_of(config, "table_5_2").runs(config, "table_5_2")) == 3 * 9


def test_only_the_runs_a_map_per_epoch_figure_plots_are_monitored():
    config = shipped()
    config["seeds"] = [0, 1]
    assert plan.monitored(config, "cub_onestep", 0, "mmd", 1)      # Fig. 5.3c plots it (first seed)
    assert not plan.monitored(config, "cub_onestep", 1, "mmd", 1)  # the figure shows one seed
    assert not plan.monitored(config, "cub_onestep", 0, "joint", 1)  # not a row of Fig. 5.3c
    assert not plan.monitored(config, "cub_multistep", 0, "mmd", 2)  # no figure of the multi-step runs
    assert plan.monitored(config, "dogs_onestep", 0, "ewc", 1)


def test_decoded_pipeline_makes_the_datasets_image_cache_an_input_of_its_jobs():
    from retrieval_bench.studies.incremental.workflow import fragment

    config = shipped()
    config["scale"] = "thesis"
    assert plan.image_inputs(config, "dogs_5") == ["data/thesis/dogs/decoded"] == [plan.decoded_images(config, "dogs")]
    assert plan.job_threads(config) == 4  # no DataLoader workers to reserve CPUs for
    assert json.loads(fragment(config, "decode", dataset="dogs"))["shorter_side"] == 256
    config["scales"]["thesis"]["training"]["pipeline"] = "pil"
    assert plan.image_inputs(config, "dogs_5") == [] and plan.job_threads(config) == 4 + 8
    config["scale"] = "mini"
    assert plan.image_inputs(config, "cub_onestep") == []


def test_configuration_patterns_split_trained_from_untrained_rows():
    import re

    from retrieval_bench.studies.incremental.workflow import configuration_pattern

    config = shipped()
    trained = re.compile(f"(?:{configuration_pattern(config, True)})$")
    untrained = re.compile(f"(?:{configuration_pattern(config, False)})$")
    for name in ["base", "mmd", "mmd_a0.1_b0.1", "joint", "finetune"]:
        assert trained.match(name) and not untrained.match(name)
    assert untrained.match("feature_extraction") and not trained.match("feature_extraction")
    assert not trained.match("mmd_a0x1_b0.1")  # dots are literal


def test_job_label_names_rule_and_wildcards():
    from snakemake.iocontainers import Wildcards

    from retrieval_bench.core.workflow import job_label

    wildcards = Wildcards(fromdict={"protocol": "cub_onestep", "task": "1"})
    assert job_label("train")(wildcards) == "train (protocol=cub_onestep, task=1)"
    assert job_label("pretrain")(Wildcards()) == "pretrain"


def test_a_run_that_stops_or_starts_being_a_figure_row_gets_another_train_fragment():
    """Monitoring is decided by the figures, so the train job's params must
    change with them: Snakemake then retrains the run instead of leaving a
    model without (or with a needless) old-class mAP curve."""
    from retrieval_bench.studies.incremental.workflow import fragment

    def train_fragment(config, seed=0):
        return fragment(config, "train", protocol="cub_onestep", configuration="mmd", seed=seed, task=1)

    config = shipped()
    plotted = train_fragment(config)
    config["figures"]["figure_5_3_map"]["rows"].remove("mmd")
    assert train_fragment(config) != plotted
    config = shipped()
    config["seeds"] = [1, 0]  # the figure shows the first seed
    assert train_fragment(config, seed=0) != plotted and train_fragment(config, seed=1) == plotted


def test_base_sharing_keys_on_the_base_models_loss():
    """Chapter 6's triplet-only f_0 is never chapter 5's L_ce + L_triplet base, even on the same classes."""
    config = shipped()
    protocols = config["scales"]["mini"]["protocols"]
    protocols["ch6_like"] = {**protocols["cub_onestep"], "base_semantic": ["triplet"]}
    protocols["ch6_like_25"] = {**protocols["cub_25"], "base_semantic": ["triplet"]}
    assert plan.run_key(config, "ch6_like", 0, "base", 0).split("/")[0] == "ch6_like"
    assert plan.run_key(config, "ch6_like_25", 0, "base", 0).split("/")[0] == "ch6_like"
    assert plan.run_key(config, "cub_25", 0, "base", 0).split("/")[0] == "cub_onestep"
