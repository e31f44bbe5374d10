"""A protocol's split of a vector set (spec 5.3, 10.1): queries, a database in a seeded order, the training
items (a subset of the database) and the Euclidean nearest-neighbour ground truth.

The database is permuted once by the split seed, so ties in a Hamming ranking fall in an order no data set
file chose (D5).  The ground truth is the data set's own where it has one (texmex's groundtruth.ivecs, its
base ids mapped to database positions), else exact k-NN by faiss (IndexFlatL2) over the database.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from retrieval_bench.core.errors import UserError
from retrieval_bench.core.io import atomic_path
from retrieval_bench.studies.hashing.data.vector_set import VectorSet


@dataclass
class Split:
    queries: np.ndarray      # rows of features.npy, or of queries.npy where the data set fixes its queries
    database: np.ndarray     # rows of features.npy in database order
    train: np.ndarray        # database positions of the training items
    neighbours: np.ndarray   # Q x k database positions, nearest first
    fixed_queries: bool = False


def make_split(data: VectorSet, *, queries: int, train: int, knn: int, seed: int,
               query_sampling: str = "random", train_sampling: str = "random") -> Split:
    rng = np.random.default_rng(seed)
    n = len(data.features)
    fixed = data.queries is not None
    if fixed:
        if queries != len(data.queries):
            raise UserError(f"the data set fixes {len(data.queries)} queries; the protocol asks {queries}: set "
                            f"queries: {len(data.queries)}")
        query_ids, rest = np.arange(queries), np.arange(n)
    else:
        query_ids = _sample_queries(data, queries, query_sampling, rng)
        rest = np.setdiff1d(np.arange(n), query_ids)
    database = rng.permutation(rest)
    if train > len(database):
        raise UserError(f"train: {train} is more than the database's {len(database)} items")
    position = np.empty(n, dtype=np.int64)
    position[database] = np.arange(len(database))
    if train_sampling == "first":  # the first items of the file (the authors' code: the first 20,000 base vectors)
        train_positions = np.sort(position[np.sort(database)[:train]])
    else:
        train_positions = np.sort(rng.choice(len(database), train, replace=False))
    if data.groundtruth is not None and fixed:
        if knn > data.groundtruth.shape[1]:
            raise UserError(f"knn: {knn} is more than the {data.groundtruth.shape[1]} neighbours of the data "
                            f"set's ground truth")
        neighbours = position[np.asarray(data.groundtruth[:, :knn])]
    else:
        query_vectors = data.queries if fixed else data.features[query_ids]
        neighbours = exact_neighbours(query_vectors, data.features, database, knn)
    return Split(query_ids.astype(np.int64), database.astype(np.int64), train_positions.astype(np.int64),
                 neighbours.astype(np.int64), fixed)


def _sample_queries(data: VectorSet, queries: int, sampling: str, rng: np.random.Generator) -> np.ndarray:
    if sampling == "random":
        return np.sort(rng.choice(len(data.features), queries, replace=False))
    if data.labels is None:
        raise UserError("query_sampling: per_class needs labels; this data set has none (use random)")
    labels = data.labels if data.labels.ndim == 2 else np.eye(int(data.labels.max()) + 1, dtype=bool)[data.labels]
    classes = labels.shape[1]
    if queries % classes:
        raise UserError(f"query_sampling: per_class draws queries / classes per class: {queries} is not a "
                        f"multiple of {classes}")
    taken = np.zeros(len(labels), dtype=bool)
    for c in range(classes):  # per concept, without replacement across concepts (NUS-WIDE's 100 per concept)
        pool = np.flatnonzero(labels[:, c].astype(bool) & ~taken)
        if len(pool) < queries // classes:
            raise UserError(f"class {c} has {len(pool)} items left for {queries // classes} queries")
        taken[rng.choice(pool, queries // classes, replace=False)] = True
    return np.flatnonzero(taken)


def exact_neighbours(query_vectors: np.ndarray, features: np.ndarray, database: np.ndarray, k: int,
                     chunk: int = 200_000) -> np.ndarray:
    """The k nearest database positions of every query (Euclidean, exact), the database read a chunk at a time."""
    import faiss

    q = np.ascontiguousarray(query_vectors, dtype=np.float32)
    best_d = np.full((len(q), k), np.inf, dtype=np.float32)
    best_i = np.zeros((len(q), k), dtype=np.int64)
    for start in range(0, len(database), chunk):
        rows = database[start:start + chunk]
        index = faiss.IndexFlatL2(q.shape[1])
        index.add(np.ascontiguousarray(features[rows], dtype=np.float32))
        d, i = index.search(q, min(k, len(rows)))
        d, i = np.concatenate([best_d, d], axis=1), np.concatenate([best_i, i + start], axis=1)
        order = np.argsort(d, axis=1, kind="stable")[:, :k]
        best_d, best_i = np.take_along_axis(d, order, axis=1), np.take_along_axis(i, order, axis=1)
    return best_i


def query_vectors(data: VectorSet, split: Split) -> np.ndarray:
    return np.asarray(data.queries[split.queries] if split.fixed_queries else data.features[split.queries])


def write_split(split: Split, path: Path) -> None:
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        np.savez(f, queries=split.queries, database=split.database, train=split.train,
                 neighbours=split.neighbours, fixed_queries=split.fixed_queries)


def read_split(path: Path) -> Split:
    with np.load(path) as z:
        return Split(z["queries"], z["database"], z["train"], z["neighbours"], bool(z["fixed_queries"]))
