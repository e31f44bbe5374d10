"""Chapter 4's part of the config: what the schema and the study's checks refuse, each with the key named."""

from pathlib import Path

import pytest
import yaml

from retrieval_bench.core import config as cfg

ROOT = Path(__file__).resolve().parents[2]


def shipped():
    return yaml.safe_load((ROOT / "config.yaml").read_text())


def test_a_row_with_a_backbone_the_scale_does_not_map_is_named():
    config = shipped()
    config["tables"]["table_4_3"]["rows"][-1]["backbone"] = "alexnet"
    with pytest.raises(cfg.ConfigError, match=r"table_4_3.*alexnet.*crossmodal_embedding\.backbones"):
        cfg.validate(config)


def test_a_captioned_protocol_needs_the_embedding_block():
    config = shipped()
    del config["scales"]["mini"]["crossmodal_embedding"]
    with pytest.raises(cfg.ConfigError, match=r"scales\.mini\.crossmodal_embedding: missing.*xm_"):
        cfg.validate(config)


def test_a_protocol_has_one_form_and_a_backbone_maps_to_a_known_model():
    config = shipped()
    config["scales"]["mini"]["protocols"]["xm_flickr8k"]["paired"] = {"dataset": "synthetic_mir", "name": "m",
                                                                      "queries": 3, "train": 5}
    with pytest.raises(cfg.ConfigError, match="xm_flickr8k"):
        cfg.validate(config)
    config = shipped()
    config["scales"]["mini"]["crossmodal_embedding"]["backbones"]["vgg"] = "vgg19"
    with pytest.raises(cfg.ConfigError, match=r"crossmodal_embedding\.backbones\.vgg"):
        cfg.validate(config)


def test_per_protocol_keys_name_protocols_and_apply_to_their_runs_only():
    from retrieval_bench.studies.crossmodal.config import embedding_schedule

    config = shipped()
    config["scales"]["mini"]["crossmodal_embedding"]["per_protocol"] = {"xm_nope": {"epochs": 1}}
    with pytest.raises(cfg.ConfigError, match=r"per_protocol\.xm_nope: not a protocol"):
        cfg.validate(config)
    config["scales"]["mini"]["crossmodal_embedding"]["per_protocol"] = {"xm_coco": {"epochs": 10}}
    config = cfg.validate(config)
    assert embedding_schedule(config, "xm_coco")["epochs"] == 10
    assert embedding_schedule(config, "xm_flickr30k")["epochs"] == 14
