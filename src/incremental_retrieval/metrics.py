"""Retrieval metrics (the thesis's protocol, written out in the README).

Query set = gallery = the test images of one class group; each query is
left out of its own ranking; similarity is the cosine of the embeddings
(inner product of L2-normalised vectors), searched with faiss.
"""

from __future__ import annotations

import faiss
import numpy as np


def _prepare(features, labels):
    x = np.ascontiguousarray(np.asarray(features, dtype=np.float32))
    if x.ndim != 2:
        raise ValueError(f"features must be N x D, got shape {x.shape}")
    y = np.asarray(labels).reshape(-1)
    if len(y) != len(x):
        raise ValueError(f"{len(x)} feature rows but {len(y)} labels")
    if len(x) < 2:
        raise ValueError("leave-one-out retrieval needs at least 2 images")
    x = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
    return x, y


def ranked_neighbours(features, k: int | None = None, chunk: int = 1024) -> np.ndarray:
    """Indices of each query's k most similar gallery images, itself excluded
    (k = N - 1, the full ranking, by default)."""
    x = np.ascontiguousarray(np.asarray(features, dtype=np.float32))
    n = len(x)
    k = n - 1 if k is None else min(k, n - 1)
    index = faiss.IndexFlatIP(x.shape[1])
    index.add(x)
    out = np.empty((n, k), dtype=np.int64)
    for start in range(0, n, chunk):
        _, found = index.search(x[start:start + chunk], k + 1)
        for row, ids in enumerate(found, start):
            # Drop the query itself; if ties pushed it out of the list, drop the last.
            hit = np.flatnonzero(ids == row)
            out[row] = np.delete(ids, hit[0] if len(hit) else k)
    return out


def recall_at_k(features, labels, ks=(1, 2, 4)) -> dict[int, float]:
    """Fraction of queries with at least one same-class image among their top K."""
    x, y = _prepare(features, labels)
    neighbours = ranked_neighbours(x, max(ks))
    hits = y[neighbours] == y[:, None]
    return {k: float(hits[:, :k].any(axis=1).mean()) for k in ks}


def _relevance(features, labels):
    x, y = _prepare(features, labels)
    return y[ranked_neighbours(x)] == y[:, None]


def mean_average_precision(features, labels) -> float:
    """Standard mAP over the full ranking: mean over queries of the mean of
    precision@rank at each relevant image.  Queries with no other image of
    their class are skipped."""
    relevant = _relevance(features, labels)
    aps = []
    for rel in relevant:
        positions = np.flatnonzero(rel)
        if len(positions):
            aps.append(np.mean(np.arange(1, len(positions) + 1) / (positions + 1)))
    return float(np.mean(aps)) if aps else float("nan")


def map_original_code(features, labels, chunk: int = 512) -> float:
    """The original chapter 6 code's mAP (evaluations/recall_at_k.py there),
    reported under its own name so numbers can be compared with the thesis.

    Its similarity matrix is `sim - I`, so the query stays in its own ranking
    at similarity ~0 (ranked among the gallery by that value) and counts as
    relevant; the j-th hit (0-based) at 0-based rank p_j scores j / (p_j + 1)
    and the sum is divided by the number of relevant images including the
    query.  Ties are broken by index (stable sort; the original's sort is not
    stable).  A query alone in its class scores 0.
    """
    x, y = _prepare(features, labels)
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


def forgetting(accuracy: np.ndarray) -> np.ndarray:
    """Thesis Eq. 6.12 for an accuracy matrix a[t, g] (after task t, group g):
    for every group g seen before the last task, max over earlier tasks of
    a[t, g] minus its accuracy after the last task."""
    a = np.asarray(accuracy, dtype=float)
    last = a.shape[0] - 1
    return np.array([np.nanmax(a[g:last, g]) - a[last, g] for g in range(last)])


def harmonic_mean(old: float, new: float) -> float:
    """Thesis Eq. 7.10: H = 2 s u / (s + u)."""
    return 0.0 if old + new == 0 else 2 * old * new / (old + new)


def evaluate(features, labels, ks=(1, 2, 4)) -> dict[str, float]:
    """All retrieval metrics of one class group, as fractions."""
    out = {f"recall@{k}": v for k, v in recall_at_k(features, labels, ks).items()}
    out["map"] = mean_average_precision(features, labels)
    out["map_original_code"] = map_original_code(features, labels)
    out["queries"] = int(len(labels))
    return out


def top1_accuracy(logits, labels) -> float:
    """Fraction of images whose highest logit is their class (classification)."""
    logits, labels = np.asarray(logits), np.asarray(labels)
    return float((logits.argmax(axis=1) == labels).mean()) if len(labels) else float("nan")


def precision_recall_curve(features, labels, levels: int = 21) -> tuple[np.ndarray, np.ndarray]:
    """Interpolated precision at `levels` recall levels in [0, 1], averaged over
    queries (each query's precision at recall r is the best precision at any
    recall >= r), for the PR curves of Figs. 5.3 and 5.4."""
    relevant = _relevance(features, labels)
    recall_levels = np.linspace(0.0, 1.0, levels)
    curves = []
    for rel in relevant:
        n_rel = rel.sum()
        if n_rel == 0:
            continue
        hits = np.cumsum(rel)
        precision = hits / np.arange(1, len(rel) + 1)
        recall = hits / n_rel
        best_after = np.maximum.accumulate(precision[::-1])[::-1]
        index = np.searchsorted(recall, recall_levels, side="left").clip(max=len(rel) - 1)
        curves.append(best_after[index])
    return recall_levels, np.mean(curves, axis=0)


def gram_sample(labels, n_classes: int = 6, per_class: int = 5) -> np.ndarray:
    """Indices of the fixed image sample whose Gram matrix Figs. 6.6b/6.11
    show: the first `per_class` images (in split order) of each of the first
    `n_classes` classes (sorted ids), grouped by class."""
    labels = np.asarray(labels)
    classes = np.unique(labels)[:n_classes]
    return np.concatenate([np.flatnonzero(labels == c)[:per_class] for c in classes])


def gram_matrix(features) -> np.ndarray:
    """G = F F^T of (L2-normalised) embeddings: the correlations Eq. 6.4 distils."""
    f = np.asarray(features, dtype=np.float64)
    return f @ f.T


def gram_measures(gram: np.ndarray, labels, reference: np.ndarray | None = None) -> dict[str, float]:
    """Numbers for what Fig. 6.6b shows by brightness: the mean correlation of
    same-class pairs (i != j), and the distance ||G - G_ref||_F / N to the
    reference (joint) model's Gram of the same sample."""
    labels = np.asarray(labels)
    same = (labels[:, None] == labels[None, :]) & ~np.eye(len(labels), dtype=bool)
    out = {"same_class_similarity": float(gram[same].mean())}
    if reference is not None:
        out["gram_distance_to_reference"] = float(np.linalg.norm(gram - reference) / len(labels))
    return out


def sample_gram(features, labels) -> tuple[np.ndarray, np.ndarray]:
    """(Gram matrix, labels) of the fixed sample (`gram_sample`) of one class group's features."""
    sample = gram_sample(labels)
    return gram_matrix(np.asarray(features)[sample]), np.asarray(labels)[sample]


def accuracy_matrix(groups_by_task: dict, metric: str, last: int | None = None) -> np.ndarray:
    """a[t, g] in percent: `metric` of class group g after task t, from each task's metrics JSON
    `groups` (task 0: the shared base model, group 0 only); NaN where no model was evaluated."""
    size = (max(groups_by_task) if last is None else last) + 1
    a = np.full((size, size), np.nan)
    for t, groups in groups_by_task.items():
        for g, values in groups.items():
            a[t, int(g)] = 100.0 * values[metric]
    return a


def average_forgetting(a: np.ndarray, t: int) -> float:
    """Eq. 6.12 after task t (groups 0..t-1, spec 6.5): the mean over g < t of the best
    accuracy of g after tasks g..t-1 minus its accuracy after task t."""
    return float(np.mean(forgetting(a[: t + 1, : t + 1])))


def original_forgetting(a: np.ndarray, t: int) -> float:
    """The original classes' (group 0's) term of Eq. 6.12 after task t: the
    best accuracy of group 0 after tasks 0..t-1 minus its accuracy after task t
    (Fig. 6.10b)."""
    return float(forgetting(a[: t + 1, : t + 1])[0])


def inception_score(probabilities, splits: int = 10) -> tuple[float, float]:
    """The standard Inception score exp(E_x KL(p(y|x) || p(y))), p(y) the mean
    prediction of each of `splits` contiguous parts: (mean, std) over the
    parts.  At least 1 by construction (Table 7.5's 0.93 cannot be this)."""
    from scipy.special import rel_entr

    p = np.asarray(probabilities, dtype=np.float64)
    if p.ndim != 2 or len(p) < splits:
        raise ValueError(f"need an N x C probability matrix with N >= {splits} splits, got shape {p.shape}")
    scores = [np.exp(rel_entr(part, part.mean(axis=0, keepdims=True)).sum(axis=1).mean())
              for part in np.array_split(p, splits)]
    return float(np.mean(scores)), float(np.std(scores))


def frechet_distance(features_a, features_b) -> float:
    """FID's distance between Gaussians fitted to two feature sets:
    ||mu_a - mu_b||^2 + Tr(S_a + S_b - 2 (S_a S_b)^(1/2)), the square root's
    real part (sqrtm of a product of near-singular covariances picks up
    imaginary round-off)."""
    import warnings

    from scipy import linalg

    a, b = (np.asarray(f, dtype=np.float64) for f in (features_a, features_b))
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1] or min(len(a), len(b)) < 2:
        raise ValueError(f"need two N x D feature sets of the same D, N >= 2; got {a.shape} and {b.shape}")
    mu_a, mu_b = a.mean(axis=0), b.mean(axis=0)
    s_a, s_b = np.atleast_2d(np.cov(a, rowvar=False)), np.atleast_2d(np.cov(b, rowvar=False))
    with warnings.catch_warnings():  # singular when D >= N (FID's 2048-d features of fewer images): expected
        warnings.simplefilter("ignore", linalg.LinAlgWarning)
        root = linalg.sqrtm(s_a @ s_b)
    if not np.isfinite(root).all():  # singular product: offset both, as pytorch-fid does
        offset = 1e-6 * np.eye(len(s_a))
        root = linalg.sqrtm((s_a + offset) @ (s_b + offset))
    distance = ((mu_a - mu_b) ** 2).sum() + np.trace(s_a) + np.trace(s_b) - 2 * np.trace(root.real)
    return float(max(distance, 0.0))  # >= 0 in exact arithmetic; identical sets round to about -1e-5
