"""What the schema cannot say about the hashing study's part of the config."""

from __future__ import annotations

from retrieval_bench.core.config import ConfigError


def normalise(config: dict) -> None:
    """Nothing to fill in beyond the schema's defaults."""


def check(config: dict) -> None:
    """An LDPH configuration's reference, at every scale (overrides applied), is a configuration of a
    reference hasher."""
    for cid, entry in config["configurations"].items():
        if entry["method"] != "ldph":
            continue
        for scale_name, scale in config["scales"].items():
            reference = {**entry, **scale.get("overrides", {}).get(cid, {})}.get("reference", "itq")
            target = config["configurations"].get(reference)
            if target is None or target["method"] == "ldph":
                raise ConfigError(f"config key configurations.{cid}.reference (scale {scale_name}): {reference!r} "
                                  f"is not a configuration of a reference hasher (lsh, pcah, itq, sh, ...); name one")
