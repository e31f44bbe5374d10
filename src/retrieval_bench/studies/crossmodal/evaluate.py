"""Codes of a trained method, and what they retrieve (spec chapter3.md 7).

Image-to-text: image query codes ranked against the text codes of the
database; text-to-image the reverse.  Relevant: sharing a label (DCMH).  Per
direction: mAP over the whole Hamming ranking (ties in database order; a
query with no relevant item counts 0), nDCG@100 on shared-label counts, and
the hash-lookup precision and recall within radius 0..min(50, K), pooled over
queries.  Per modality and set: the collapse guard's code statistics.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from retrieval_bench.core.io import atomic_path
from retrieval_bench.retrieval.hamming import code_statistics, collapse_warning, hamming_metrics, shared_labels
from retrieval_bench.studies.crossmodal.losses import binarise
from retrieval_bench.studies.crossmodal.methods.base import CrossModalMethod
from retrieval_bench.studies.crossmodal.train import encode_all

log = logging.getLogger(__name__)

DIRECTIONS = {"image_to_text": ("image", "text"), "text_to_image": ("text", "image")}
LOOKUP_RADIUS = 50  # "we vary the Hamming radius from 0 to 50" (L1056)
NDCG_AT = 100


def codes_of(method: CrossModalMethod, inputs: dict[str, torch.Tensor],
             device: torch.device | str = "cpu") -> dict[str, np.ndarray]:
    """sign(H) of every row, per modality, as int8 ±1."""
    return {m: binarise(encode_all(method, m, x, device=device)[1]).cpu().numpy().astype(np.int8)
            for m, x in inputs.items()}


def score(query_codes: dict[str, np.ndarray], database_codes: dict[str, np.ndarray], query_labels: np.ndarray,
          database_labels: np.ndarray, ties: str = "stable") -> tuple[dict, pd.DataFrame]:
    """metrics.json's content and the lookup PR rows of both directions."""
    bits = query_codes["image"].shape[1]
    truth = shared_labels(query_labels, database_labels)
    metrics, curves = {"bits": bits, "ties": ties}, []
    for direction, (query, database) in DIRECTIONS.items():
        result = hamming_metrics(query_codes[query], database_codes[database], truth,
                                 ndcg_ks=(min(NDCG_AT, len(database_labels)),), lookup=True, ties=ties)
        summary = result.summary()
        metrics[direction] = {"map": summary["map"], "ndcg@100": summary[f"ndcg@{min(NDCG_AT, len(database_labels))}"]}
        lookup = result.lookup(np.arange(min(LOOKUP_RADIUS, bits) + 1))
        curves.append(pd.DataFrame({"direction": direction, **{k: lookup[k] for k in
                                                               ("radius", "precision", "recall", "retrieved")}}))
    metrics["codes"] = {}
    for role, codes in (("query", query_codes), ("database", database_codes)):
        for modality, c in codes.items():
            statistics = code_statistics(c)
            metrics["codes"][f"{role}_{modality}"] = statistics
            if role == "database" and (warning := collapse_warning(statistics, f"{modality} database codes")):
                log.warning(warning)
                metrics.setdefault("warnings", []).append(warning)
    return metrics, pd.concat(curves, ignore_index=True)


def save_codes(path: Path, query_codes: dict, database_codes: dict, query_labels: np.ndarray,
               database_labels: np.ndarray) -> None:
    """Every code and label a metric was computed from: any number can be recomputed from this file."""
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            np.savez_compressed(f, **{f"query_{m}": c for m, c in query_codes.items()},
                                **{f"database_{m}": c for m, c in database_codes.items()},
                                query_labels=np.asarray(query_labels, dtype=np.uint8),
                                database_labels=np.asarray(database_labels, dtype=np.uint8))
