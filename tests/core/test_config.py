from pathlib import Path

import pytest
import yaml

from retrieval_bench.core import config as cfg

ROOT = Path(__file__).resolve().parents[2]


def shipped():
    return yaml.safe_load((ROOT / "config.yaml").read_text())


def test_shipped_config_is_valid_and_defaults_are_filled():
    config = cfg.load(ROOT / "config.yaml")
    assert config["scale"] == "mini"
    assert config["scales"]["mini"]["training"]["metric_loss"] == "triplet"


def test_misspelt_key_is_named():
    config = shipped()
    config["scales"]["mini"]["training"]["epoch"] = 3
    with pytest.raises(cfg.ConfigError, match=r"scales\.mini\.training.*'epoch'.*allowed keys"):
        cfg.validate(config)


def test_wrong_type_is_named_with_the_schema():
    config = shipped()
    config["scales"]["mini"]["training"]["batch"]["p"] = "eight"
    with pytest.raises(cfg.ConfigError, match=r"scales\.mini\.training\.batch\.p.*integer"):
        cfg.validate(config)


def test_bad_scale_value():
    config = shipped()
    config["scale"] = "huge"
    with pytest.raises(cfg.ConfigError, match=r"config key scale: 'huge' is not one of"):
        cfg.validate(config)


def test_unknown_method_lists_known_methods():
    config = shipped()
    config["configurations"]["mine"] = {"method": "my_method"}
    with pytest.raises(cfg.ConfigError, match=r"configurations\.mine\.method.*known methods: \[.*'mmd'"):
        cfg.validate(config)


def test_unknown_hyperparameter_and_unknown_table_row():
    config = shipped()
    config["configurations"]["lwf"]["temprature"] = 2
    with pytest.raises(cfg.ConfigError, match="temprature"):
        cfg.validate(config)
    config = shipped()
    config["tables"]["table_5_2"]["rows"].append("nope")
    with pytest.raises(cfg.ConfigError, match=r"tables\.table_5_2\.rows: unknown configuration 'nope'"):
        cfg.validate(config)


def test_missing_file_says_where():
    with pytest.raises(cfg.ConfigError, match="not found"):
        cfg.load("/nonexistent/config.yaml")


def test_overrides_replace_thesis_values_at_their_scale_only():
    config = cfg.validate(shipped())
    config["scales"]["mini"]["overrides"] = {"l2": {"weight": 3.0}}
    assert cfg.method_of(config, "l2") == ("l2", {"weight": 3.0})
    config["scale"] = "thesis"
    assert cfg.method_of(config, "l2") == ("l2", {"weight": 0.1})


def test_row_on_an_unknown_protocol_is_named():
    config = shipped()
    config["tables"]["table_5_4"]["rows"][1]["protocol"] = "cub_26"
    with pytest.raises(cfg.ConfigError, match=r"tables\.table_5_4: unknown protocol 'cub_26'"):
        cfg.validate(config)


def test_overrides_are_checked_like_configurations():
    config = shipped()
    config["scales"]["mini"]["overrides"] = {"l2": {"wieght": 1.0}}
    with pytest.raises(cfg.ConfigError, match=r"scales\.mini\.overrides\.l2: l2 has no hyper-parameter.*wieght"):
        cfg.validate(config)
    config["scales"]["mini"]["overrides"] = {"l2": {"method": "ewc"}}
    with pytest.raises(cfg.ConfigError, match=r"overrides\.l2\.method"):
        cfg.validate(config)


@pytest.mark.parametrize("where", ["configurations", "override"])
def test_hyperparameter_of_the_wrong_type_is_named(where):
    config = shipped()
    if where == "configurations":
        config["configurations"]["mmd"]["alpha"] = "high"
        key = "configurations.mmd.alpha"
    else:
        config["scales"]["mini"]["overrides"]["l2"] = {"weight": "strong"}
        key = "scales.mini.overrides.l2.weight"
    with pytest.raises(cfg.ConfigError, match=rf"{key}: '(high|strong)' is not a number"):
        cfg.validate(config)


def test_integer_and_number_hyperparameters():
    config = shipped()
    config["configurations"]["mmd"].update(alpha=1, n_kernels=3)  # an integer is a number
    cfg.validate(config)
    config["configurations"]["mmd"]["n_kernels"] = 2.5
    with pytest.raises(cfg.ConfigError, match="n_kernels: 2.5 is not an integer"):
        cfg.validate(config)


def test_seeds_from_the_command_line_are_integers():
    config = shipped()
    # snakemake --config seeds=[0,1,2] passes the items as strings
    config["seeds"] = ["0", "1", "2"]
    assert cfg.validate(config)["seeds"] == [0, 1, 2]
    config["seeds"] = "3"
    assert cfg.validate(config)["seeds"] == [3]
    config["seeds"] = ["one"]
    with pytest.raises(cfg.ConfigError, match="seeds"):
        cfg.validate(config)


def test_image_pipeline_defaults_by_scale_and_is_checked():
    config = shipped()
    assert cfg.validate(config)["scales"]["thesis"]["training"]["pipeline"] == "decoded"  # as shipped
    for scale in ("mini", "thesis"):
        del config["scales"][scale]["training"]["pipeline"]
    checked = cfg.validate(config)
    assert checked["scales"]["mini"]["training"]["pipeline"] == "memory"
    assert checked["scales"]["thesis"]["training"]["pipeline"] == "decoded"
    config["scales"]["thesis"]["training"]["pipeline"] = "jpeg"
    with pytest.raises(cfg.ConfigError, match=r"scales\.thesis\.training\.pipeline: 'jpeg' is not one of"):
        cfg.validate(config)


def test_the_workflows_stamped_config_is_not_validated_again_unless_edited(tmp_path, monkeypatch):
    from retrieval_bench.core.workflow import effective_config_file

    config = cfg.validate(shipped())
    monkeypatch.chdir(tmp_path)
    path = Path(effective_config_file(config))
    calls = []
    validate = cfg.validate
    monkeypatch.setattr(cfg, "validate", lambda c: calls.append(1) or validate(c))
    assert cfg.load(path) == config and calls == []  # the stamp matches: used as written
    edited = yaml.safe_load(path.read_text())
    edited["scales"]["mini"]["training"]["threads"] = "two"  # a hand edit after the workflow wrote it
    path.write_text(yaml.safe_dump(edited, sort_keys=False))
    with pytest.raises(cfg.ConfigError, match="threads"):
        cfg.load(path)
    assert calls == [1]


def test_a_config_stamped_under_another_schema_is_validated_again(tmp_path, monkeypatch):
    from retrieval_bench.core.workflow import effective_config_file

    config = cfg.validate(shipped())
    monkeypatch.chdir(tmp_path)
    path = Path(effective_config_file(config))
    calls = []
    validate, digest = cfg.validate, cfg.schema_digest()
    monkeypatch.setattr(cfg, "validate", lambda c: calls.append(1) or validate(c))
    monkeypatch.setattr(cfg, "schema_digest", lambda: digest + " of a newer release")
    assert cfg.load(path) == config and calls == [1]


def test_the_stamp_follows_every_file_the_schema_is_made_of(tmp_path, monkeypatch):
    """A job checks the stamp without importing the kinds (pandas, torch), but an edit of a kind's file or
    of a study's fragment still changes the digest."""
    import shutil
    import sys

    from retrieval_bench.core import registry

    before = cfg.schema_digest()
    copy = tmp_path / "retrieval_bench"
    shutil.copytree(Path(cfg.__file__).parents[1], copy)
    kind = copy / "studies" / "incremental" / "tables" / "gram.py"
    kind.write_text(kind.read_text() + "\n# an edit\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    for name in [m for m in sys.modules if m.startswith("retrieval_bench")]:
        monkeypatch.delitem(sys.modules, name)
    import retrieval_bench.core.config as edited

    assert edited.schema_digest() != before
    assert registry is not edited.registry  # the copy was the one read


def test_loading_a_stamped_config_imports_neither_torch_nor_pandas(tmp_path):
    import os
    import subprocess
    import sys

    from retrieval_bench.core.workflow import effective_config_file

    config = cfg.validate(shipped())
    cwd = Path.cwd()
    os.chdir(tmp_path)
    try:
        path = tmp_path / effective_config_file(config)
    finally:
        os.chdir(cwd)
    probe = ("import sys; from retrieval_bench.core import config; config.load(sys.argv[1]); "
             "print(sorted(m for m in ('torch', 'pandas', 'matplotlib') if m in sys.modules))")
    run = subprocess.run([sys.executable, "-c", probe, str(path)], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "[]"


def test_semantic_is_every_methods_setting_and_a_wrong_one_is_named():
    config = shipped()
    config["configurations"]["l2"]["semantic"] = ["triplet"]
    config["scales"]["mini"]["overrides"] = {"l2": {"semantic": ["pair"]}}
    assert cfg.method_of(cfg.validate(config), "l2")[1]["semantic"] == ["pair"]
    config["scales"]["mini"]["overrides"] = {"l2": {"semantic": ["pairs"]}}
    with pytest.raises(cfg.ConfigError, match=r"overrides\.l2\.semantic: \[.pairs.\] is not a list of distinct"):
        cfg.validate(config)
    config["scales"]["mini"]["overrides"] = {}
    config["scales"]["mini"]["protocols"]["cub_25"]["base_semantic"] = ["ce", "ce"]
    with pytest.raises(cfg.ConfigError, match=r"protocols\.cub_25\.base_semantic"):
        cfg.validate(config)


def test_a_methods_own_check_of_a_value_runs_when_the_config_is_validated():
    config = shipped()
    config["configurations"]["corr_2model"]["teachers"] = "al"
    with pytest.raises(cfg.ConfigError, match=r"configurations\.corr_2model with scales\.mini\.overrides\."
                                              r"corr_2model: correlation teachers 'al': use one of "
                                              r"\['penultimate', 'all'\]"):
        cfg.validate(config)


def test_rows_that_would_be_silently_misread_are_rejected():
    config = shipped()
    config["tables"]["table_6_1"]["rows"] = [{"id": "initial", "configuration": "base", "show": ["old", "new"]}]
    with pytest.raises(cfg.ConfigError, match=r"tables\.table_6_1\.rows: row 'initial' has `show`.*old classes only"):
        cfg.validate(config)
    config = shipped()
    config["figures"]["figure_6_7_cub"]["rows"] = [{"id": "corr_t2", "configuration": "corr", "task": 2}]
    with pytest.raises(cfg.ConfigError, match=r"figures\.figure_6_7_cub\.rows: row 'corr_t2' has `task`, which kind "
                                              r"forgetting does not read"):
        cfg.validate(config)


@pytest.mark.parametrize("owner", ["nowhere", "ch6_l2", "corr_fe"])
def test_task_1_of_names_a_configuration_of_the_same_method_that_trains_its_own(owner):
    config = shipped()
    config["configurations"]["corr_x2"]["task_1_of"] = owner  # unknown; another method; itself shared
    with pytest.raises(cfg.ConfigError, match=rf"configurations\.corr_x2\.task_1_of: '{owner}' is not a configuration"):
        cfg.validate(config)


def test_task_1_of_needs_the_same_task_1_hyperparameters_at_every_scale():
    config = shipped()
    # what acts only from task 2 on (estimation, case b's scale, case d's teachers) may differ: the shipped cases
    cfg.validate(config)
    config["configurations"]["corr_x2"]["weight"] = 5.0  # L_corr acts in task 1 (f_0 teaches f_1)
    with pytest.raises(cfg.ConfigError, match=r"configurations\.corr_x2\.task_1_of: 'corr' trains task 1 "
                                              r"differently at scale mini \(\['weight'\] differ\)"):
        cfg.validate(config)
    config = shipped()
    config["scales"]["thesis"].setdefault("overrides", {})["corr"] = {"temperature": 2.0}  # one scale only
    with pytest.raises(cfg.ConfigError, match=r"differently at scale thesis \(\['temperature'\] differ\)"):
        cfg.validate(config)
    config = shipped()
    config["configurations"]["corr_fe"]["accuracy_metric"] = "recall@1"  # task 1 records alpha^(1) with it
    with pytest.raises(cfg.ConfigError, match=r"corr_fe\.task_1_of: 'corr' trains task 1 differently"):
        cfg.validate(config)
