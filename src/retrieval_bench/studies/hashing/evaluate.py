"""What a method's codes retrieve (spec 6): the whole database ranked by Hamming distance for every query
(ties in database order, the database permuted once by the split seed), per ground truth: the Euclidean
k nearest neighbours (`knn`) and, where the data set has labels, a shared class or concept (`label`).

Per ground truth: mAP, the expected mAP under a random order inside ties (`map_tie_mean`), precision and
recall at N on a grid up to 1,000 (Precision@500 is the slides' metric), and the hash-lookup precision and
recall within every radius 0..bits (precision pooled over queries, as DCMH's code; and averaged over the
queries that retrieve anything, with their number, as spec 6 reads it).  Per run, the linearity the
method is named for: the line and Pearson r of Hamming against Euclidean distance on held-out (query,
database) pairs.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from retrieval_bench.retrieval.hamming import hamming_metrics, neighbour_sets, shared_labels
from retrieval_bench.studies.hashing.losses import fit_affine, pearson

PRECISION_AT = (100, 500, 1000)
CURVE_AT = (1, 2, 5, 10, 20, 50, 100, 150, 200, 300, 400, 500, 600, 700, 800, 900, 1000)
HELD_OUT_PAIRS = 10_000


def ground_truths(neighbours: np.ndarray, n_database: int, query_labels, database_labels) -> dict:
    truths = {"knn": neighbour_sets(neighbours, n_database)}
    if query_labels is not None:
        truths["label"] = shared_labels(query_labels, database_labels)
    return truths


def score(query_codes: np.ndarray, database_codes: np.ndarray, truths: dict) -> tuple[dict, pd.DataFrame]:
    """Per ground truth the summary numbers, and the curves (ranking: precision and recall at N; lookup:
    within each radius) as long-form rows."""
    n_db, bits = len(database_codes), query_codes.shape[1]
    ns = tuple(sorted({n for n in (*PRECISION_AT, *CURVE_AT) if n <= n_db}))
    metrics, curves = {}, []
    for gt, grades in truths.items():
        result = hamming_metrics(query_codes, database_codes, grades, ns=ns, lookup=True)
        summary = result.summary()
        metrics[gt] = {"map": summary["map"], "map_tie_mean": summary["map_tie_mean"],
                       **{f"precision@{n}": summary[f"precision@{n}"] for n in PRECISION_AT if n <= n_db},
                       **{f"recall@{n}": summary[f"recall@{n}"] for n in PRECISION_AT if n <= n_db}}
        curves.append(pd.DataFrame({"gt": gt, "curve": "ranking", "at": ns,
                                    "precision": [summary[f"precision@{n}"] for n in ns],
                                    "recall": [summary[f"recall@{n}"] for n in ns]}))
        lookup = result.lookup()
        curves.append(pd.DataFrame({"gt": gt, "curve": "lookup", "at": lookup["radius"],
                                    "precision": lookup["precision"], "recall": lookup["recall"],
                                    # spec 6's reading: queries that retrieve nothing skipped, their count kept
                                    "precision_per_query": lookup["precision_per_query"],
                                    "queries_retrieving": lookup["queries_retrieving"]}))
    return metrics, pd.concat(curves, ignore_index=True).assign(bits=bits)


def linearity(query_vectors: np.ndarray, features: np.ndarray, database: np.ndarray, query_codes: np.ndarray,
              database_codes: np.ndarray, seed: int, pairs: int = HELD_OUT_PAIRS) -> dict[str, float]:
    """Hamming against Euclidean distance on `pairs` random (query, database) pairs (never trained on):
    the least-squares line and Pearson r.  `features[database]` are the database's vectors (only the
    drawn rows are read: a memory-mapped base stays on disk)."""
    rng = np.random.default_rng(seed)
    q = rng.integers(0, len(query_codes), pairs)
    d = rng.integers(0, len(database_codes), pairs)
    rows, where = np.unique(database[d], return_inverse=True)
    database_vectors = np.asarray(features[rows], dtype=np.float64)[where]
    euclid = np.linalg.norm(np.asarray(query_vectors, dtype=np.float64)[q] - database_vectors, axis=1)
    hamming = (query_codes[q] != database_codes[d]).sum(axis=1)
    slope, intercept = fit_affine(hamming, euclid)
    return {"slope": slope, "intercept": intercept, "pearson_r": pearson(hamming, euclid)}
