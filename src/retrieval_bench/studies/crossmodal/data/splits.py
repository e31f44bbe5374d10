"""The hashing split of DCMH's protocol: a seeded permutation of the pairs, the
first `queries` of it the query set, the rest the retrieval database, and the
first `train` pairs of the database the training set (train ⊂ database)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from retrieval_bench.core.errors import UserError
from retrieval_bench.core.io import atomic_path


def hashing_split(n_pairs: int, queries: int, train: int, seed: int) -> pd.DataFrame:
    """One row per pair (pair_id, role: query | database, train: 0 | 1), in pair order."""
    if not 0 < queries < n_pairs or not 0 < train <= n_pairs - queries:
        raise UserError(f"a split of {n_pairs} pairs into {queries} queries and {train} training pairs: "
                        f"need 0 < queries < pairs and 0 < train <= pairs - queries; fix the protocol's "
                        f"queries / train")
    order = np.random.default_rng(seed).permutation(n_pairs)
    role = np.full(n_pairs, "database", dtype=object)
    role[order[:queries]] = "query"
    in_train = np.zeros(n_pairs, dtype=int)
    in_train[order[queries:queries + train]] = 1
    return pd.DataFrame({"pair_id": np.arange(n_pairs), "role": role, "train": in_train})


def write_split(frame: pd.DataFrame, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        frame.to_csv(tmp, index=False)


def read_split(path: Path) -> dict[str, np.ndarray]:
    """Pair indices of the query set, the database (in database order) and the training set."""
    frame = pd.read_csv(path)
    return {"query": frame.pair_id[frame.role == "query"].to_numpy(),
            "database": frame.pair_id[frame.role == "database"].to_numpy(),
            "train": frame.pair_id[frame.train == 1].to_numpy()}
