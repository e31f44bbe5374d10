"""Measures of the incremental loop beyond retrieval: classification top-1,
forgetting (Eq. 6.12) from an accuracy matrix, and the Gram matrices of a
fixed old-class sample (Figs. 6.6b, 6.11)."""

from __future__ import annotations

import numpy as np


def top1_accuracy(logits, labels) -> float:
    """Fraction of images whose highest logit is their class (classification)."""
    logits, labels = np.asarray(logits), np.asarray(labels)
    return float((logits.argmax(axis=1) == labels).mean()) if len(labels) else float("nan")


def forgetting(accuracy: np.ndarray) -> np.ndarray:
    """Thesis Eq. 6.12 for an accuracy matrix a[t, g] (after task t, group g):
    for every group g seen before the last task, max over earlier tasks of
    a[t, g] minus its accuracy after the last task."""
    a = np.asarray(accuracy, dtype=float)
    last = a.shape[0] - 1
    return np.array([np.nanmax(a[g:last, g]) - a[last, g] for g in range(last)])


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
