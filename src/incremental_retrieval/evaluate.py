"""Metrics of every class group's features, written to one metrics.json."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from incremental_retrieval.extract import load_features
from incremental_retrieval.io import write_json
from incremental_retrieval.metrics import evaluate, top1_accuracy

log = logging.getLogger(__name__)


def evaluate_groups(feature_files: list[Path], out: Path, extra: dict | None = None) -> dict:
    """Retrieval metrics per class group (query = gallery = the group's test
    images) and the classifier's top-1 accuracy over all the classes seen;
    `extra` (what the trained model recorded, e.g. accuracy changes) is
    written beside them."""
    groups, seen = {}, []
    for path in feature_files:
        data = load_features(path)
        group = path.stem.removeprefix("group")
        groups[group] = evaluate(data["features"], data["labels"])
        if "logits" in data:
            groups[group]["top1"] = top1_accuracy(data["logits"], data["labels"])
            seen.append(data)
        log.info("group %s: %s", group, {k: round(v, 4) for k, v in groups[group].items()})
    result = {"groups": groups}
    if seen:
        result["seen"] = {"top1": top1_accuracy(np.concatenate([d["logits"] for d in seen]),
                                                np.concatenate([d["labels"] for d in seen]))}
    result.update(extra or {})
    write_json(out, result)
    return result
