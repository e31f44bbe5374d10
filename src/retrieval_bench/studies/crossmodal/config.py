"""What the schema cannot say about the cross-modal study's part of the config."""

from __future__ import annotations

from retrieval_bench.core.config import ConfigError
from retrieval_bench.studies.crossmodal.plan import SYNTHETIC


def normalise(config: dict) -> None:
    """Nothing to fill in beyond the schema's defaults."""


def check(config: dict) -> None:
    """A synthetic data set takes generator parameters, a thesis data set none; every scale with a paired
    protocol has the alternating schedule."""
    for scale_name, scale in config["scales"].items():
        for name, proto in scale["protocols"].items():
            _check_captions(scale_name, scale, name, proto)
            paired = proto.get("paired")
            if paired is None:
                continue
            where = f"scales.{scale_name}.protocols.{name}.paired"
            if paired.get("generator") and paired["dataset"] not in SYNTHETIC:
                raise ConfigError(f"config key {where}.generator: {paired['dataset']} is read from its files; "
                                  f"generator parameters belong to {' or '.join(SYNTHETIC)}")
            if "crossmodal_training" not in scale:
                raise ConfigError(f"config key scales.{scale_name}.crossmodal_training: missing; protocol {name} "
                                  f"trains on the alternating schedule it sets")


def schedule_for(config: dict, method: str) -> dict:
    """The active scale's alternating schedule for `method` (its per_method keys applied)."""
    from retrieval_bench.core.config import scale_block

    block = dict(scale_block(config)["crossmodal_training"])
    block.update(block.pop("per_method", {}).get(method, {}))
    return block


def _check_captions(scale_name: str, scale: dict, name: str, proto: dict) -> None:
    """A captioned protocol needs the scale's embedding block; its per_protocol keys name protocols."""
    if "captions" not in proto:
        return
    if "crossmodal_embedding" not in scale:
        raise ConfigError(f"config key scales.{scale_name}.crossmodal_embedding: missing; protocol {name} trains "
                          f"on the embedding schedule it sets")
    for protocol in scale["crossmodal_embedding"].get("per_protocol", {}):
        if protocol not in scale["protocols"]:
            raise ConfigError(f"config key scales.{scale_name}.crossmodal_embedding.per_protocol.{protocol}: not a "
                              f"protocol of scale {scale_name}")


def embedding_schedule(config: dict, protocol: str) -> dict:
    """The active scale's embedding block for `protocol`'s runs (its per_protocol keys applied)."""
    from retrieval_bench.core.config import scale_block

    block = dict(scale_block(config)["crossmodal_embedding"])
    for key, value in block.pop("per_protocol", {}).get(protocol, {}).items():  # one level deep: text, lr, ...
        block[key] = {**block[key], **value} if isinstance(value, dict) and isinstance(block.get(key), dict) \
            else value
    return block
