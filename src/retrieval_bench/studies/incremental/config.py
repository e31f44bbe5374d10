"""What the schema cannot say about the incremental study's part of the config."""

from __future__ import annotations

from retrieval_bench.core.config import ConfigError

PIPELINE_DEFAULTS = {"mini": "memory", "thesis": "decoded"}  # training.pipeline where a scale does not set it


def normalise(config: dict) -> None:
    for name, scale in config["scales"].items():  # a default that depends on the scale
        scale["training"].setdefault("pipeline", PIPELINE_DEFAULTS[name])


def check(config: dict) -> None:
    """Every protocol of the image loop reads known datasets; archives and pretraining are complete."""
    from retrieval_bench.core import registry

    for scale_name, scale in config["scales"].items():
        for name, proto in scale["protocols"].items():
            owner = registry.study_of_protocol(proto)
            if "incremental" not in (owner.name, *owner.builds_on):
                continue
            form = owner.module("protocol").FORM
            for key, dataset in form.dataset_entries(proto):
                if dataset not in scale["datasets"]:
                    raise ConfigError(f"config key scales.{scale_name}.protocols.{name}.{key}: unknown dataset "
                                      f"{dataset!r}; datasets at this scale: {sorted(scale['datasets'])}")
        for name, dataset in scale["datasets"].items():
            if dataset.get("archives"):
                from retrieval_bench.vision.datasets import archives_for

                try:
                    archives_for(dataset["kind"], dataset)
                except ValueError as e:
                    raise ConfigError(f"config key scales.{scale_name}.datasets.{name}.archives: {e}") from None
        pre = scale["pretraining"]
        if "weights" not in pre and "dataset" not in pre:
            raise ConfigError(f"config key scales.{scale_name}.pretraining: give `weights: imagenet` or a "
                              f"synthetic `dataset`")
