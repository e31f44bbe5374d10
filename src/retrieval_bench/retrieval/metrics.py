"""Ranking and retrieval metrics on (query, gallery, relevance, similarity, exclude_self).

A query set is ranked against a gallery by `similarity` (cosine: the inner
product of L2-normalised vectors; inner: the raw inner product), searched
with faiss.  `relevance` says which gallery items are relevant to a query
(`same_label`: the same class).  Without a gallery the query set is its own
gallery and each query is left out of its own ranking (`exclude_self`, the
metric-learning protocol of chapters 5-7); a separate gallery (the
cross-modal and hashing studies) keeps every item.

Recall@K is the metric-learning "hit rate" (a relevant item among the top
K), not IR recall; mAP is standard average precision over the full ranking.
`map_original_code` is the chapter 6 code's variant, under its own name.
"""

from __future__ import annotations

from typing import Callable

import faiss
import numpy as np

SIMILARITIES = ("cosine", "inner")

# relevance(query indices, ranked gallery indices [n_queries x k]) -> bool [n_queries x k]
Relevance = Callable[[np.ndarray, np.ndarray], np.ndarray]


def same_label(query_labels, gallery_labels=None) -> Relevance:
    """Relevant: a gallery item of the query's class (without gallery labels, the query set is the gallery)."""
    q = np.asarray(query_labels).reshape(-1)
    g = q if gallery_labels is None else np.asarray(gallery_labels).reshape(-1)

    def relevant(queries: np.ndarray, ranked: np.ndarray) -> np.ndarray:
        return g[ranked] == q[queries, None]

    relevant.sizes = (len(q), len(g))
    return relevant


def _vectors(x, similarity: str) -> np.ndarray:
    x = np.ascontiguousarray(np.asarray(x, dtype=np.float32))
    if x.ndim != 2:
        raise ValueError(f"features must be N x D, got shape {x.shape}")
    if similarity not in SIMILARITIES:
        raise ValueError(f"similarity {similarity!r}: choose one of {list(SIMILARITIES)}")
    if similarity == "cosine":
        x = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
    return x


def _prepare(query, gallery, relevance: Relevance, similarity: str, exclude_self: bool | None):
    """(query vectors, gallery vectors or None, exclude_self), checked."""
    q = _vectors(query, similarity)
    g = None if gallery is None else _vectors(gallery, similarity)
    exclude_self = gallery is None if exclude_self is None else exclude_self
    sizes = getattr(relevance, "sizes", None)
    n_gallery = len(q) if g is None else len(g)
    if sizes is not None and sizes != (len(q), n_gallery):
        raise ValueError(f"{len(q)} queries and {n_gallery} gallery items, but the relevance is for "
                         f"{sizes[0]} and {sizes[1]}")
    if g is not None and g.shape[1] != q.shape[1]:
        raise ValueError(f"queries have {q.shape[1]} dimensions, the gallery {g.shape[1]}")
    if exclude_self and n_gallery != len(q):
        raise ValueError("exclude_self: query i is gallery item i, so both need as many rows")
    if exclude_self and len(q) < 2:
        raise ValueError("leave-one-out retrieval needs at least 2 images")
    return q, g, exclude_self


def rank(query, gallery=None, k: int | None = None, exclude_self: bool | None = None,
         chunk: int = 1024) -> np.ndarray:
    """Indices into the gallery of each query's k most similar items by inner
    product (normalise first for cosine), best first; ties as faiss orders
    them.  No gallery: the query set, each query excluded (k = N - 1, the full
    ranking, by default)."""
    x = np.ascontiguousarray(np.asarray(query, dtype=np.float32))
    g = x if gallery is None else np.ascontiguousarray(np.asarray(gallery, dtype=np.float32))
    exclude_self = gallery is None if exclude_self is None else exclude_self
    n = len(g) - (1 if exclude_self else 0)
    k = n if k is None else min(k, n)
    index = faiss.IndexFlatIP(g.shape[1])
    index.add(g)
    out = np.empty((len(x), k), dtype=np.int64)
    for start in range(0, len(x), chunk):
        _, found = index.search(x[start:start + chunk], k + 1 if exclude_self else k)
        if not exclude_self:
            out[start:start + len(found)] = found
            continue
        for row, ids in enumerate(found, start):
            # Drop the query itself; if ties pushed it out of the list, drop the last.
            hit = np.flatnonzero(ids == row)
            out[row] = np.delete(ids, hit[0] if len(hit) else k)
    return out


def ranked_neighbours(features, k: int | None = None, chunk: int = 1024) -> np.ndarray:
    """`rank` of a set against itself, each query excluded."""
    return rank(features, k=k, chunk=chunk)


def _relevant_ranking(query, gallery, relevance, similarity, exclude_self, k=None) -> np.ndarray:
    q, g, exclude_self = _prepare(query, gallery, relevance, similarity, exclude_self)
    ranked = rank(q, g, k, exclude_self)
    return relevance(np.arange(len(q)), ranked)


def recall_at_k(query, gallery=None, relevance: Relevance | None = None, ks=(1, 2, 4), similarity: str = "cosine",
                exclude_self: bool | None = None) -> dict[int, float]:
    """Fraction of queries with at least one relevant item among their top K."""
    hits = _relevant_ranking(query, gallery, relevance, similarity, exclude_self, max(ks))
    return {k: float(hits[:, :k].any(axis=1).mean()) for k in ks}


def average_precisions(query, gallery=None, relevance: Relevance | None = None, similarity: str = "cosine",
                       exclude_self: bool | None = None, no_relevant: str = "skip") -> np.ndarray:
    """Each query's average precision over the full ranking: the mean of
    precision@rank at each relevant item.  A query with no relevant item is
    left out (`no_relevant: skip`, the metric-learning convention) or scores
    0 (`zero`, the DCMH protocol)."""
    if no_relevant not in ("skip", "zero"):
        raise ValueError(f"no_relevant {no_relevant!r}: choose skip or zero")
    return _average_precisions(_relevant_ranking(query, gallery, relevance, similarity, exclude_self), no_relevant)


def _average_precisions(relevant: np.ndarray, no_relevant: str = "skip") -> np.ndarray:
    aps = []
    for rel in relevant:
        positions = np.flatnonzero(rel)
        if len(positions):
            aps.append(np.mean(np.arange(1, len(positions) + 1) / (positions + 1)))
        elif no_relevant == "zero":
            aps.append(0.0)
    return np.asarray(aps, dtype=float)


def mean_average_precision(query, gallery=None, relevance: Relevance | None = None, similarity: str = "cosine",
                           exclude_self: bool | None = None, no_relevant: str = "skip") -> float:
    """Standard mAP over the full ranking (`average_precisions`); NaN where no query counts."""
    aps = average_precisions(query, gallery, relevance, similarity, exclude_self, no_relevant)
    return float(np.mean(aps)) if len(aps) else float("nan")


def map_original_code(features, labels, chunk: int = 512) -> float:
    """The original chapter 6 code's mAP (evaluations/recall_at_k.py there),
    reported under its own name so numbers can be compared with the thesis.
    A query set ranked against itself, cosine, single labels.

    Its similarity matrix is `sim - I`, so the query stays in its own ranking
    at similarity ~0 (ranked among the gallery by that value) and counts as
    relevant; the j-th hit (0-based) at 0-based rank p_j scores j / (p_j + 1)
    and the sum is divided by the number of relevant images including the
    query.  Ties are broken by index (stable sort; the original's sort is not
    stable).  A query alone in its class scores 0.
    """
    y = np.asarray(labels).reshape(-1)
    x, _, _ = _prepare(features, None, same_label(y), "cosine", True)
    ranks = np.arange(1, len(y) + 1)
    aps = []
    for start in range(0, len(y), chunk):  # chunks of queries: N x N at once is ~1 GB for 4651 images
        rows = np.arange(start, min(start + chunk, len(y)))
        similarity = x[rows] @ x.T
        similarity[np.arange(len(rows)), rows] -= 1.0
        order = np.argsort(-similarity, axis=1, kind="stable")
        relevant = y[order] == y[rows, None]
        hits_before = np.cumsum(relevant, axis=1) - 1
        aps.append(np.where(relevant, hits_before / ranks, 0.0).sum(axis=1) / relevant.sum(axis=1))
    return float(np.mean(np.concatenate(aps)))


def precision_recall_curve(query, gallery=None, relevance: Relevance | None = None, levels: int = 21,
                           similarity: str = "cosine",
                           exclude_self: bool | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Interpolated precision at `levels` recall levels in [0, 1], averaged over
    queries with a relevant item (each query's precision at recall r is the
    best precision at any recall >= r); Figs. 5.3 and 5.4."""
    relevant = _relevant_ranking(query, gallery, relevance, similarity, exclude_self)
    recall_levels = np.linspace(0.0, 1.0, levels)
    return recall_levels, _interpolated_precision(relevant, recall_levels)


def _interpolated_precision(relevant: np.ndarray, recall_levels: np.ndarray) -> np.ndarray:
    """Mean over queries with a relevant item of the best precision at any recall >= each level."""
    curves = []
    for rel in relevant[relevant.any(axis=1)]:
        hits = np.cumsum(rel)
        precision, recall = hits / np.arange(1, len(rel) + 1), hits / hits[-1]
        best_after = np.maximum.accumulate(precision[::-1])[::-1]
        curves.append(best_after[np.searchsorted(recall, recall_levels, side="left").clip(max=len(rel) - 1)])
    return np.mean(curves, axis=0)


def map_cmpm_code(relevant: np.ndarray) -> float:
    """The CMPM code's mAP (its evaluation/retrieval_eval.py), under its own
    name (spec chapter4.md 6.2): from each query's relevance along its
    ranking (bool, n_queries x n_gallery), the j-th hit (0-based) at 0-based
    rank p_j scores j / (p_j + 1), except that a hit at rank 0 scores 1; the
    sum is divided by the number of relevant items.  With one relevant item
    it is 1 at rank 0 and 0 elsewhere: mAP = R@1.  Queries with no relevant
    item are left out."""
    relevant = np.asarray(relevant, dtype=bool)
    counts = relevant.sum(axis=1)
    keep = counts > 0
    relevant, counts = relevant[keep], counts[keep]
    hits_before = np.cumsum(relevant, axis=1) - 1
    scores = np.where(relevant, hits_before / np.arange(1, relevant.shape[1] + 1), 0.0)
    scores[:, 0] = np.where(relevant[:, 0], 1.0, 0.0)
    return float((scores.sum(axis=1) / counts).mean()) if len(counts) else float("nan")


def ranking_summary(query, gallery, relevance: Relevance, ks=(1, 5, 10), pr_levels: int = 11,
                    similarity: str = "cosine") -> dict:
    """Recall@K, standard mAP, the CMPM code's mAP and the interpolated PR curve of a query set against a
    separate gallery, from one full ranking (the cross-modal protocol of chapter 4)."""
    relevant = _relevant_ranking(query, gallery, relevance, similarity, False)
    out = {f"recall@{k}": float(relevant[:, :k].any(axis=1).mean()) for k in ks}
    aps = _average_precisions(relevant)  # queries without a relevant item: left out (R@K counts them 0)
    pr = _interpolated_precision(relevant, np.linspace(0.0, 1.0, pr_levels)).tolist() if len(aps) else []
    return out | {"map": float(np.mean(aps)) if len(aps) else float("nan"), "map_cmpm_code": map_cmpm_code(relevant),
                  "queries": int(len(relevant)), "pr": pr}
