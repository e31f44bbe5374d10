"""Metrics of every class group's features, written to one metrics.json."""

from __future__ import annotations

import logging
from pathlib import Path

from incremental_retrieval.extract import load_features
from incremental_retrieval.io import write_json
from incremental_retrieval.metrics import evaluate

log = logging.getLogger(__name__)


def evaluate_groups(feature_files: list[Path], out: Path) -> dict:
    groups = {}
    for path in feature_files:
        features, labels = load_features(path)
        group = path.stem.removeprefix("group")
        groups[group] = evaluate(features, labels)
        log.info("group %s: %s", group, {k: round(v, 4) for k, v in groups[group].items()})
    result = {"groups": groups}
    write_json(out, result)
    return result
