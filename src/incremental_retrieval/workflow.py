"""Small helpers the Snakefile uses (kept here so they are tested)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import yaml

from incremental_retrieval.config import method_of, scale_block, with_validation_stamp
from incremental_retrieval.io import atomic_path

def effective_config_file(config: dict) -> str:
    """Write the validated config (with --config overrides applied) where the
    jobs read it; one file per scale, so a dry run at the other scale does not
    touch it, and only rewritten when it changed."""
    path = Path(f".snakemake/incremental_retrieval/config-{config['scale']}.yaml")
    # keep the order: base_protocol() depends on it; the stamp spares every job a second validation
    text = yaml.safe_dump(with_validation_stamp(config), sort_keys=False)
    if not path.exists() or path.read_text() != text:
        with atomic_path(path) as tmp:
            tmp.write_text(text)
    return str(path)


def fragment(config: dict, step: str, **keys) -> str:
    """The part of the config a step's output depends on, as stable JSON.

    Given to a rule as `params`, so Snakemake reruns exactly the jobs whose
    settings changed (and not every job when any setting changes).
    """
    block = scale_block(config)
    if step == "dataset":
        part = dict(block["datasets"][keys["dataset"]])
        # an archive's md5 fixes what is extracted; where it is fetched from (or a
        # mirror of the official file, its md5 given or not) changes nothing
        from incremental_retrieval.data.datasets import ARCHIVES

        official = {a.filename: a.md5 for a in ARCHIVES.get(part["kind"], [])}
        md5s = {name: source["md5"] for name, source in part.pop("archives", {}).items()
                if source.get("md5", official.get(name)) != official.get(name)}
        if md5s:
            part["archives"] = md5s
        if part["kind"] == "synthetic":  # regenerate the images when the generator's code changes
            from incremental_retrieval.data import synthetic

            part["generator"] = hashlib.sha256(Path(synthetic.__file__).read_bytes()).hexdigest()[:12]
    elif step == "split":
        part = block["protocols"][keys["protocol"]]
    elif step == "decode":  # the images themselves arrive through the manifest (the rule's input)
        from incremental_retrieval.data import decoded

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
            from incremental_retrieval.plan import monitored

            if monitored(config, keys["protocol"], keys["seed"], keys["configuration"], keys["task"]):
                part["monitored"] = True
    elif step in ("generate", "quality"):  # Table 7.5's scores also depend on the judge and the origin set
        part = {"generation": block.get("generation") or {}, "image_size": block["image_size"]}
        if step == "quality":
            part["quality"] = block.get("generation_quality") or {}
    elif step == "judge":
        quality = block.get("generation_quality") or {}
        part = {"judge": {k: v for k, v in quality.items() if k.startswith("judge")},
                "image_size": block["image_size"]}
    elif step == "table":
        part = {"table": config["tables"][keys["table"]], "seeds": config["seeds"]}
    elif step == "figure":
        part = {"figure": config["figures"][keys["figure"]], "seed": config["seeds"][0]}
    else:
        raise KeyError(f"unknown step {step!r}")
    return json.dumps(part, sort_keys=True)


def configuration_pattern(config: dict, trained: bool) -> str:
    """A wildcard regex matching exactly the configurations that train (or not)."""
    import re

    from incremental_retrieval.plan import trains

    names = [c for c in ["base", *config["configurations"]] if trains(config, c) == trained]
    return "|".join(re.escape(n) for n in sorted(names, key=len, reverse=True)) or "(?!)"


def job_label(rule: str):
    """`rule (name=value, ...)` of a job, for the `--job` line that opens its log
    and the FAILED line that ends it (a params function of the wildcards)."""
    def label(wildcards) -> str:
        values = ", ".join(f"{name}={value}" for name, value in wildcards.items())
        return f"{rule} ({values})" if values else rule

    return label
