"""Helpers the lifelong study's rules file uses (kept here so they are tested)."""

from __future__ import annotations

from retrieval_bench.core.config import scale_block
from retrieval_bench.core.workflow import as_params
from retrieval_bench.studies.lifelong.measures import SCORING_VERSION


def fragment(config: dict, step: str) -> str:
    """The part of the config a lifelong step's output depends on (generate, quality, judge), as params."""
    block = scale_block(config)
    if step in ("generate", "quality"):  # Table 7.5's scores also depend on the judge and the origin set
        part = {"generation": block.get("generation") or {}, "image_size": block["image_size"]}
        if step == "quality":
            part["quality"] = block.get("generation_quality") or {}
            part["scoring"] = SCORING_VERSION
    elif step == "judge":
        quality = block.get("generation_quality") or {}
        part = {"judge": {k: v for k, v in quality.items() if k.startswith("judge")},
                "image_size": block["image_size"]}
    else:
        raise KeyError(f"unknown step {step!r}")
    return as_params(part)
