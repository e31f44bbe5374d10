"""Small helpers the Snakefile uses (kept here so they are tested)."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from incremental_retrieval.config import method_of, scale_block
from incremental_retrieval.io import atomic_path

EFFECTIVE_CONFIG = Path(".snakemake/incremental_retrieval/config.yaml")


def effective_config_file(config: dict) -> str:
    """Write the validated config (with --config overrides applied) where the
    jobs read it; only rewritten when it changed, so file times stay quiet."""
    text = yaml.safe_dump(config, sort_keys=True)
    if not EFFECTIVE_CONFIG.exists() or EFFECTIVE_CONFIG.read_text() != text:
        with atomic_path(EFFECTIVE_CONFIG) as tmp:
            tmp.write_text(text)
    return str(EFFECTIVE_CONFIG)


def fragment(config: dict, step: str, **keys) -> str:
    """The part of the config a step's output depends on, as stable JSON.

    Given to a rule as `params`, so Snakemake reruns exactly the jobs whose
    settings changed (and not every job when any setting changes).
    """
    block = scale_block(config)
    if step == "dataset":
        part = block["datasets"][keys["dataset"]]
    elif step == "split":
        part = block["protocols"][keys["protocol"]]
    elif step == "pretrain":
        part = {k: block[k] for k in ("backbone", "image_size", "embedding_dim", "pretraining")}
        part["batch"] = block["training"]["batch"]
    elif step == "train":
        method, hparams = method_of(config, keys["configuration"])
        training = {k: v for k, v in block["training"].items() if k not in ("threads", "workers", "eval_batch")}
        part = {"method": method, "hparams": hparams, "training": training,
                "protocol": block["protocols"][keys["protocol"]],
                "model": {k: block[k] for k in ("backbone", "image_size", "embedding_dim")}}
    elif step == "table":
        part = {"table": config["tables"][keys["table"]], "seeds": config["seeds"]}
    else:
        raise KeyError(f"unknown step {step!r}")
    return json.dumps(part, sort_keys=True)
