import argparse
import socket
from pathlib import Path

import pytest
import yaml

from retrieval_bench import cli
from retrieval_bench.core import runtime
from retrieval_bench.vision import datasets
from retrieval_bench.vision.archives import Archive

ROOT = Path(__file__).resolve().parents[2]


def test_offline_download_ends_in_one_line_naming_where_to_put_the_archive(tmp_path, monkeypatch):
    with socket.socket() as s:  # a local port that refuses at once
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setitem(datasets.ARCHIVES, "cub", [Archive("CUB_200_2011.tgz", (f"http://127.0.0.1:{port}/x.tgz",),
                                                           "97eceeb196236b17998738112f37df78")])
    config = yaml.safe_load((ROOT / "config.yaml").read_text())
    config["scale"] = "thesis"
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    out = tmp_path / "data" / "thesis" / "cub" / "manifest.csv"
    with pytest.raises(SystemExit) as stop:
        cli.main(["prepare-data", "--config", str(tmp_path / "config.yaml"), "--dataset", "cub", "--out", str(out)])
    message = str(stop.value)
    assert message.startswith("error: could not download CUB_200_2011.tgz")
    assert f"by hand at {out.parent / 'CUB_200_2011.tgz'}" in message and "\n" not in message
    assert not out.exists()


def test_bad_config_ends_in_one_line(tmp_path):
    config = yaml.safe_load((ROOT / "config.yaml").read_text())
    config["seeds"] = "zero"
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    with pytest.raises(SystemExit, match=r"error: config key seeds: 'zero' is not of type 'array'"):
        cli.main(["split", "--config", str(tmp_path / "config.yaml"), "--protocol", "cub_onestep",
                  "--manifest", "x", "--out", "y"])


def test_log_opens_with_the_job_and_its_slurm_allocation(tmp_path, monkeypatch, caplog):
    monkeypatch.setenv("SLURM_JOB_ID", "42")
    monkeypatch.setenv("SLURMD_NODENAME", "gpu07")
    monkeypatch.setenv("SLURM_GPUS_ON_NODE", "1")
    with caplog.at_level("INFO"), pytest.raises(SystemExit):
        cli.main(["split", "--config", str(tmp_path / "missing.yaml"), "--job", "split (protocol=cub_onestep)",
                  "--protocol", "cub_onestep", "--manifest", "x", "--out", "y"])
    lines = [record.getMessage() for record in caplog.records]
    assert lines[0].startswith("split (protocol=cub_onestep): split --config")
    assert lines[1] == "SLURM job 42 on gpu07, GPUs allocated: 1"
    assert lines[-1].startswith("FAILED split (protocol=cub_onestep): config file")


@pytest.fixture
def restore_determinism(monkeypatch):
    import torch

    monkeypatch.delenv("CUBLAS_WORKSPACE_CONFIG", raising=False)  # monkeypatch restores it afterwards
    flags = (torch.are_deterministic_algorithms_enabled(), torch.backends.cudnn.benchmark,
             torch.backends.cudnn.deterministic)
    yield
    torch.use_deterministic_algorithms(flags[0])
    torch.backends.cudnn.benchmark, torch.backends.cudnn.deterministic = flags[1:]


@pytest.mark.parametrize("deterministic", [False, True])
def test_training_deterministic_option_sets_torch_flags(tmp_path, restore_determinism, deterministic):
    import os

    import torch

    config = yaml.safe_load((ROOT / "config.yaml").read_text())
    config["scales"]["mini"]["training"]["deterministic"] = deterministic
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    args = argparse.Namespace(config=str(tmp_path / "config.yaml"), job=None, command="train", argv=[])
    loaded = runtime.setup(args, torch_threads=True)
    assert loaded["scales"]["mini"]["training"]["deterministic"] is deterministic
    assert torch.are_deterministic_algorithms_enabled() is deterministic
    if deterministic:
        assert torch.backends.cudnn.deterministic and not torch.backends.cudnn.benchmark
        assert os.environ["CUBLAS_WORKSPACE_CONFIG"] == ":4096:8"
    else:
        assert "CUBLAS_WORKSPACE_CONFIG" not in os.environ


def test_training_deterministic_defaults_to_off():
    from retrieval_bench.core import config as cfg

    config = cfg.load(ROOT / "config.yaml")
    assert all(block["training"]["deterministic"] is False for block in config["scales"].values())


def test_ewc_statistics_use_the_scales_base_batch_not_the_protocols():
    # The shared base model's Fisher must not depend on which protocol's
    # incremental batch starts from it: task_spec hands methods the base P x K.
    import pandas as pd

    from retrieval_bench.core import config as cfg
    from retrieval_bench.studies.incremental.tasks import task_spec

    config = cfg.load(ROOT / "config.yaml")
    training = config["scales"]["mini"]["training"]
    split = pd.DataFrame([{"path": f"{g}/{i}.png", "label": g, "group": g, "split": s}
                          for g in range(5) for i, s in enumerate(["train", "train", "test"])])
    spec = task_spec(config, split, "cub_multistep", "ewc", task=1, seed=0)
    assert spec.batch == config["scales"]["mini"]["protocols"]["cub_multistep"]["incremental_batch"]
    assert spec.statistics_batch == training["batch"] != spec.batch


def test_chapter_6_runs_get_their_semantic_terms_and_the_base_models():
    """The base run of a chapter 6 protocol trains with `base_semantic`; a first
    incremental task is told which terms the base was trained with (EWC's Fisher)."""
    import pandas as pd

    from retrieval_bench.core import config as cfg
    from retrieval_bench.studies.incremental.tasks import task_spec

    config = cfg.load(ROOT / "config.yaml")
    split = pd.DataFrame([{"path": f"{g}/{i}.png", "label": g, "group": g, "split": s}
                          for g in range(5) for i, s in enumerate(["train", "train", "test"])])
    base = task_spec(config, split, "ch6_cub_4x25", "base", task=0, seed=0)
    assert base.hparams == {"semantic": ["pair"]}  # mini: the pair loss (README: chapter 6 at mini scale)
    ewc = task_spec(config, split, "ch6_cub_4x25", "ch6_ewc", task=1, seed=0)
    assert ewc.hparams["semantic"] == ["ce", "pair"] and ewc.previous_semantic == ["pair"]
    assert task_spec(config, split, "ch6_cub_4x25", "ch6_ewc", task=2, seed=0).previous_semantic is None
    chapter5 = task_spec(config, split, "cub_multistep", "ewc", task=1, seed=0)
    assert "semantic" not in chapter5.hparams and chapter5.previous_semantic == ["ce", "triplet"]
    assert task_spec(config, split, "cub_multistep", "base", task=0, seed=0).hparams == {}
