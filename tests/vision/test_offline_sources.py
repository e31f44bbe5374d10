"""Thesis-scale inputs from files already on disk: backbone weights
(`pretraining.weights_file`) and dataset archives (`datasets.<name>.archives`),
for clusters without network."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml

from dataset_archives import cub_tgz
from published_weights import bn_inception_file, googlenet_file
from retrieval_bench.cli import main
from retrieval_bench.core import config as cfg
from retrieval_bench.studies.incremental import plan
from retrieval_bench.studies.incremental.workflow import fragment
from retrieval_bench.vision import datasets
from retrieval_bench.vision.archives import extract, md5sum
from retrieval_bench.vision.models import EmbeddingNet, weights
from tiny_project import ROOT


def thesis_config(**pretraining) -> dict:
    config = yaml.safe_load((ROOT / "config.yaml").read_text())
    config["scale"] = "thesis"
    config["scales"]["thesis"]["pretraining"].update(pretraining)
    return config


def write_config(tmp_path: Path, config: dict) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


@pytest.fixture
def no_download(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError(f"a download was attempted: {args}")

    monkeypatch.setattr(torch.hub, "download_url_to_file", refuse)


# --------------------------------------------------------------------------- weights_file


def test_missing_weights_file_is_one_error_naming_key_and_path(tmp_path, no_download, capsys):
    missing = tmp_path / "nowhere" / "googlenet-1378be20.pth"
    config_path = write_config(tmp_path, thesis_config(weights_file=str(missing)))
    out = tmp_path / "data" / "weights" / "googlenet-1378be20.pth"

    with pytest.raises(SystemExit) as err:
        main(["pretrain", "--config", str(config_path), "--out", str(out)])

    message = str(err.value)
    assert "config key scales.thesis.pretraining.weights_file" in message and str(missing) in message
    assert "does not exist" in message
    assert not out.parent.exists()  # nothing written, not even the folder


def test_weights_file_is_copied_where_the_plan_expects_it_without_download(tmp_path, no_download, monkeypatch):
    source = googlenet_file(tmp_path / "offline")
    config = cfg.validate(thesis_config(weights_file=str(source)))
    monkeypatch.chdir(tmp_path)  # plan paths are relative to the project root
    out = Path(plan.pretrained_weights(config))
    assert out == Path("data/weights/googlenet-1378be20.pth")

    main(["pretrain", "--config", str(write_config(tmp_path, config)), "--out", str(out)])

    assert out.read_bytes() == source.read_bytes()
    assert source.exists()  # copied, the user's file stays
    model = EmbeddingNet("googlenet", 8, 2)
    weights.load_trunk(model, out)  # the published format loads (classifier and aux heads dropped)
    assert torch.equal(model.trunk.conv1.conv.weight, torch.load(source)["conv1.conv.weight"])


def test_weights_file_whose_content_contradicts_its_hash_name_is_refused(tmp_path, no_download):
    source = googlenet_file(tmp_path / "offline")
    impostor = source.with_name("googlenet-1378be20.pth")  # the published name, other content
    source.rename(impostor)
    dest = tmp_path / "data" / "weights" / "googlenet-1378be20.pth"

    with pytest.raises(weights.WeightsError, match="1378be20") as err:
        weights.fetch_imagenet_weights("googlenet", dest, impostor, key="scales.thesis.pretraining.weights_file")

    assert "scales.thesis.pretraining.weights_file" in str(err.value)
    assert not dest.exists() and list(dest.parent.iterdir()) == []  # no partial copy left


def test_bn_inception_weights_file_without_hash_in_its_name_is_used(tmp_path, no_download):
    """The Caffe-converted file's name carries no sha256 prefix: the file is used unchecked."""
    source = bn_inception_file(tmp_path / "offline")
    caffe = torch.load(source)
    assert caffe["conv1_7x7_s2_bn.running_var"].shape == (1, 64)
    dest = tmp_path / "data" / "weights" / "bn_inception-52deb4733.pth"

    weights.fetch_imagenet_weights("bn_inception", dest, source)

    model = EmbeddingNet("bn_inception", 8, 2)
    weights.load_trunk(model, dest)
    assert torch.equal(model.trunk.conv1_7x7_s2_bn.running_var, caffe["conv1_7x7_s2_bn.running_var"][0])


def test_weights_file_needs_weights_imagenet():
    config = thesis_config(weights_file="/x/googlenet-1378be20.pth")
    del config["scales"]["thesis"]["pretraining"]["weights"]
    with pytest.raises(cfg.ConfigError, match="scales.thesis.pretraining: 'weights' is a dependency of 'weights_file'"):
        cfg.validate(config)


# --------------------------------------------------------------------------- archives


def with_archives(config: dict, dataset: str, archives: dict) -> dict:
    config["scales"]["thesis"]["datasets"][dataset]["archives"] = archives
    return config


def test_archives_replace_the_official_source_and_default_to_the_official_md5(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    spec = {"kind": "dogs", "archives": {"lists.tar": {"url": "mirror/lists.tar"},
                                         "images.tar": {"url": "https://example.org/i.tar", "md5": "0" * 32}}}
    images, lists = datasets.archives_for("dogs", spec)
    assert images.urls == ("https://example.org/i.tar",) and images.md5 == "0" * 32
    assert lists.urls == ((tmp_path / "mirror" / "lists.tar").as_uri(),)  # a plain path, from the working dir
    assert lists.md5 == datasets.ARCHIVES["dogs"][1].md5
    assert datasets.archives_for("dogs", {"kind": "dogs"}) == datasets.ARCHIVES["dogs"]


@pytest.mark.parametrize("archives,message", [
    ({"CUB_200_2011.tar": {"url": "file:///x"}},
     r"config key scales.thesis.datasets.cub.archives: \['CUB_200_2011.tar'\] not among the archives of a cub "
     r"dataset: \['CUB_200_2011.tgz'\]"),
    ({"CUB_200_2011.tgz": {"url": "file:///x", "md5": "XYZ"}},
     "config key scales.thesis.datasets.cub.archives.CUB_200_2011.tgz.md5: 'XYZ' does not match"),
    ({"CUB_200_2011.tgz": {"md5": "0" * 32}},
     "config key scales.thesis.datasets.cub.archives.CUB_200_2011.tgz: 'url' is a required property"),
])
def test_archives_are_validated(archives, message):
    with pytest.raises(cfg.ConfigError, match=message):
        cfg.validate(with_archives(thesis_config(), "cub", archives))


def test_moving_a_mirror_reruns_nothing_but_another_archive_does():
    def dataset_fragment(archives):
        return fragment(cfg.validate(with_archives(thesis_config(), "cub", archives)), "dataset", dataset="cub")

    official = fragment(cfg.validate(thesis_config()), "dataset", dataset="cub")
    assert dataset_fragment({"CUB_200_2011.tgz": {"url": "file:///mirror/a.tgz"}}) == official
    same_md5 = {"url": "file:///mirror/a.tgz", "md5": datasets.ARCHIVES["cub"][0].md5}  # the official md5, written out
    assert dataset_fragment({"CUB_200_2011.tgz": same_md5}) == official
    repacked = dataset_fragment({"CUB_200_2011.tgz": {"url": "file:///mirror/a.tgz", "md5": "1" * 32}})
    assert repacked != official
    assert dataset_fragment({"CUB_200_2011.tgz": {"url": "https://elsewhere/a.tgz", "md5": "1" * 32}}) == repacked


def test_an_archive_replaced_by_another_of_the_same_name_is_extracted_again(tmp_path):
    first, _ = cub_tgz(tmp_path / "v1")
    second, _ = cub_tgz(tmp_path / "v2", classes=["001.Black_footed_Albatross"], images_per_class=2)
    into = tmp_path / "data"
    extract(first, into, md5sum(first))
    extract(second, into, md5sum(second))
    assert (into / ".CUB_200_2011.tgz.extracted").read_text().strip() == md5sum(second)
    assert "1 001.Black_footed_Albatross" in (into / "CUB_200_2011" / "classes.txt").read_text()
    assert "002." not in (into / "CUB_200_2011" / "classes.txt").read_text()


def test_prepare_data_job_downloads_verifies_and_extracts_a_local_mirror(tmp_path):
    """The `python -m retrieval_bench prepare-data` job Snakemake runs, in a
    subprocess: the config alone points it at the mirror (no in-process patching)."""
    archive, expected = cub_tgz(tmp_path / "mirror")
    config = with_archives(thesis_config(), "cub", {archive.name: {"url": archive.as_uri(), "md5": md5sum(archive)}})
    config_path = write_config(tmp_path, config)
    out = tmp_path / "data" / "thesis" / "cub" / "manifest.csv"

    run = subprocess.run([sys.executable, "-m", "retrieval_bench", "prepare-data", "--config", str(config_path),
                          "--dataset", "cub", "--out", str(out)], capture_output=True, text=True, cwd=tmp_path)

    assert run.returncode == 0, run.stderr[-3000:]
    frame = datasets.read_manifest(out)
    assert frame["path"].tolist() == [r["path"] for r in expected]
    assert md5sum(out.parent / archive.name) == md5sum(archive)  # fetched through the download path
    assert frame["class_id"].unique().tolist() == [1, 2, 3]
