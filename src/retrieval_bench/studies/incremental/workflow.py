"""Helpers the incremental study's rules file uses (kept here so they are tested)."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from retrieval_bench.core.config import method_of, scale_block
from retrieval_bench.core.workflow import as_params
from retrieval_bench.studies.incremental import plan


def fragment(config: dict, step: str, **keys) -> str:
    """The part of the config a step's output depends on, as stable JSON.

    The incremental loop's steps: dataset, split, decode, pretrain, train.
    """
    block = scale_block(config)
    if step == "dataset":
        part = dict(block["datasets"][keys["dataset"]])
        # an archive's md5 fixes what is extracted; where it is fetched from (or a
        # mirror of the official file, its md5 given or not) changes nothing
        from retrieval_bench.vision.datasets import ARCHIVES

        official = {a.filename: a.md5 for a in ARCHIVES.get(part["kind"], [])}
        md5s = {name: source["md5"] for name, source in part.pop("archives", {}).items()
                if source.get("md5", official.get(name)) != official.get(name)}
        if md5s:
            part["archives"] = md5s
        if part["kind"] == "synthetic":  # regenerate the images when the generator's code changes
            from retrieval_bench.vision import synthetic

            part["generator"] = hashlib.sha256(Path(synthetic.__file__).read_bytes()).hexdigest()[:12]
    elif step == "split":
        part = block["protocols"][keys["protocol"]]
    elif step == "decode":  # the images themselves arrive through the manifest (the rule's input)
        from retrieval_bench.vision import decoded

        part = {"shorter_side": decoded.shorter_side(block["image_size"]), "format": decoded.FORMAT}
    elif step == "pretrain":
        part = {k: block[k] for k in ("backbone", "image_size", "embedding_dim", "pretraining")}
        part["batch"] = block["training"]["batch"]
        part["channels_last"] = block["training"]["channels_last"]  # synthetic pretraining runs in that layout
    elif step == "train":
        method, hparams = method_of(config, keys["configuration"])
        # How a run executes, not what it computes: no rerun when these change
        # (`deterministic` only fixes which of the equally valid GPU float
        # roundings a run gets; on a CPU it changes nothing).
        training = {k: v for k, v in block["training"].items() if k not in ("threads", "workers", "eval_batch",
                                                                              "checkpoint_seconds", "deterministic")}
        part = {"method": method, "hparams": hparams, "training": training,
                "protocol": block["protocols"][keys["protocol"]],
                "model": {k: block[k] for k in ("backbone", "image_size", "embedding_dim")}}
        if "task" in keys:  # a run that becomes (or stops being) a row of a map_per_epoch figure reruns
            if plan.monitored(config, keys["protocol"], keys["seed"], keys["configuration"], keys["task"]):
                part["monitored"] = True
    else:
        raise KeyError(f"unknown step {step!r}")
    return as_params(part)


def configuration_pattern(config: dict, trained: bool) -> str:
    """A wildcard regex matching exactly the image-loop configurations that train (or not); another
    study's configurations (the cross-modal methods) are not this loop's."""
    from retrieval_bench.core import registry

    ours = [c for c, entry in config["configurations"].items()
            if "incremental" in (owner := registry.method_names()[entry["method"]]).builds_on + (owner.name,)]
    names = [c for c in ["base", *ours] if plan.trains(config, c) == trained]
    return "|".join(re.escape(n) for n in sorted(names, key=len, reverse=True)) or "(?!)"
