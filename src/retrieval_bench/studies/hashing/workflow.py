"""Helpers the hashing study's rules file uses (kept here so they are tested)."""

from __future__ import annotations

from retrieval_bench.core.config import method_of, scale_block
from retrieval_bench.core.workflow import as_params
from retrieval_bench.studies.hashing.plan import bits_for, vectors_block

THESIS_DATASETS = ("sift1m", "gist1m", "cifar10_gist", "nuswide_bow")
SPLIT_KEYS = ("queries", "train", "knn", "query_sampling", "train_sampling")


def fragment(config: dict, step: str, protocol: str = "", configuration: str = "") -> str:
    """The part of the config a hashing step's output depends on, as params."""
    block = vectors_block(config, protocol)
    if step == "prepare":
        part = {"dataset": block["dataset"], "generator": block.get("generator", {})}
    elif step == "split":
        part = {k: block.get(k) for k in SPLIT_KEYS}
    elif step == "views":
        part = {"dataset": block["dataset"], "two_view": scale_block(config)["two_view"]}
    elif step == "train":
        method, hparams = method_of(config, configuration)
        part = {"method": method, "hparams": hparams, "bits": bits_for(config, protocol, configuration)}
    else:
        raise KeyError(f"unknown step {step!r}")
    return as_params(part)


def thesis_datasets(config: dict) -> list[str]:
    return sorted({p["vectors"]["dataset"] for p in scale_block(config)["protocols"].values()
                   if "vectors" in p and p["vectors"]["dataset"] in THESIS_DATASETS})
