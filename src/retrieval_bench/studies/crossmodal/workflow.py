"""Helpers the cross-modal study's rules file uses (kept here so they are tested)."""

from __future__ import annotations

from retrieval_bench.core.config import method_of, scale_block
from retrieval_bench.core.workflow import as_params
from retrieval_bench.studies.crossmodal.plan import backbone_weights, captions_block, paired_block

THESIS_DATASETS = ("mirflickr25k", "nuswide21")


def fragment(config: dict, step: str, protocol: str = "", configuration: str = "") -> str:
    """The part of the config a cross-modal step's output depends on, as params."""
    if step == "prepare":  # the generator's parameters; a thesis data set depends on its files only
        part = paired_block(config, protocol)
    elif step == "split":
        block = paired_block(config, protocol)
        part = {k: block[k] for k in ("queries", "train")}
    elif step == "train":
        from retrieval_bench.studies.crossmodal.config import schedule_for

        method, hparams = method_of(config, configuration)
        part = {"method": method, "hparams": hparams, "schedule": schedule_for(config, method)}
    elif step == "captions":
        part = captions_block(config, protocol)
    elif step == "embed":
        from retrieval_bench.studies.crossmodal.config import embedding_schedule

        method, hparams = method_of(config, configuration)
        schedule = embedding_schedule(config, protocol)
        part = {"method": method, "hparams": hparams, "name": captions_block(config, protocol)["name"],
                **{k: v for k, v in schedule.items() if k not in ("complexity", "backbone_weights")}}
    elif step == "complexity":
        from retrieval_bench.studies.crossmodal.config import embedding_schedule

        part = embedding_schedule(config, protocol)["complexity"]
    else:
        raise KeyError(f"unknown step {step!r}")
    return as_params(part)


def thesis_datasets(config: dict) -> list[str]:
    """The thesis data sets the active scale's paired protocols read."""
    return sorted({p["paired"]["dataset"] for p in scale_block(config)["protocols"].values()
                   if "paired" in p and p["paired"]["dataset"] in THESIS_DATASETS})


def weights_files(config: dict) -> list[str]:
    """Every thesis backbone's weights file the active scale's captioned runs may read."""
    if "crossmodal_embedding" not in scale_block(config):
        return []
    return sorted({path for b in scale_block(config)["crossmodal_embedding"]["backbones"]
                   for path in backbone_weights(config, b)})
