"""The deck's works (1) and (2) as cheap feature-level rows on two views of the same items (spec 4).

(1) Collaborative Index Embedding, "CIE-lite" (TPAMI 2017; 002:29-45): each view's reciprocal k-NN graph
lends the other view's index its neighbours' entries where it has none -- B_j <- B_j + beta sum over the
neighbours l of j in A's graph of B_l, only where B_j is 0 -- alternately for B (with A's graph) and A
(with B's graph recomputed), `rounds` times; then only B is kept and queried with the queries' plain B.
(2) Complementary supervision, "CSM-lite" (Lv et al., TIP 2018; 002:46-53): reciprocal k-NN pairs of view A
are positives for a linear head g on view B, initialised to the identity, trained with a contrastive loss
(positives pulled together, random pairs pushed beyond `margin`) plus weight * ||g(b) - b||^2 (the feature
before fine-tuning as an anchor).

Rows: view A, view B (sparsified as CIE stores it), late fusion of A and B (the sum of both cosines),
CIE's B, CSM's g(B); mAP over the database ranked by cosine (relevant: the same class) and the bytes each
row stores per database item (dense float32, or value + index per non-zero).
"""

from __future__ import annotations

import time

import numpy as np

from retrieval_bench.retrieval.metrics import mean_average_precision, ranked_neighbours, same_label


def l2_normalise(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def sparsify(x: np.ndarray, nnz: int) -> np.ndarray:
    """Each row's `nnz` largest entries by magnitude, the rest 0 (an inverted-index row)."""
    x = np.asarray(x, dtype=np.float64)
    if nnz >= x.shape[1]:
        return x.copy()
    keep = np.argpartition(-np.abs(x), nnz - 1, axis=1)[:, :nnz]
    out = np.zeros_like(x)
    np.put_along_axis(out, keep, np.take_along_axis(x, keep, axis=1), axis=1)
    return out


def reciprocal_neighbours(x: np.ndarray, k: int) -> list[np.ndarray]:
    """Per item, the items among its k nearest by cosine that have it among theirs too."""
    top = ranked_neighbours(l2_normalise(x).astype(np.float32), k=k)
    mutual = (top[top] == np.arange(len(x))[:, None, None]).any(axis=2)  # j in top[i] and i in top[j]
    return [row[keep] for row, keep in zip(top, mutual)]


def fill_from_neighbours(x: np.ndarray, graph: list[np.ndarray], beta: float) -> np.ndarray:
    """x_j + beta * (sum of the neighbours' rows) where x_j is 0; the neighbours' rows as they were."""
    lent = np.stack([x[n].sum(axis=0) if len(n) else np.zeros(x.shape[1]) for n in graph])
    return l2_normalise(x + beta * lent * (x == 0))


def cie(a: np.ndarray, b: np.ndarray, k: int, beta: float, rounds: int) -> np.ndarray:
    """CIE-lite's embedded B of the database (a and b: the database's normalised views, b sparse)."""
    for _ in range(rounds):
        b = fill_from_neighbours(b, reciprocal_neighbours(a, k), beta)
        a = fill_from_neighbours(a, reciprocal_neighbours(b, k), beta)
    return b


def csm(a: np.ndarray, b: np.ndarray, k: int, margin: float, weight: float, epochs: int, lr: float,
        batch: int, seed: int):
    """CSM-lite's head g trained on the database (a, b normalised); returns g as a function of B rows."""
    import torch

    generator = torch.Generator().manual_seed(seed)
    graph = reciprocal_neighbours(a, k)
    positives = torch.tensor([(i, j) for i, n in enumerate(graph) for j in n if i < j], dtype=torch.long)
    x = torch.from_numpy(b.astype(np.float32))
    head = torch.nn.Linear(x.shape[1], x.shape[1])
    with torch.no_grad():
        head.weight.copy_(torch.eye(x.shape[1]))
        head.bias.zero_()
    optimizer = torch.optim.Adam(head.parameters(), lr=lr)
    for _ in range(epochs):
        order = torch.randperm(len(positives), generator=generator)
        for start in range(0, len(order), batch):
            pos = positives[order[start:start + batch]]
            neg = torch.randint(0, len(x), pos.shape, generator=generator)
            gp, gn = head(x[pos]), head(x[neg])
            pulled = ((gp[:, 0] - gp[:, 1]) ** 2).sum(dim=1)
            pushed = torch.relu(margin - (gn[:, 0] - gn[:, 1]).norm(dim=1)) ** 2
            anchor = ((head(x[pos[:, 0]]) - x[pos[:, 0]]) ** 2).sum(dim=1)
            loss = (pulled + pushed + weight * anchor).mean()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()

    def g(rows: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return head(torch.from_numpy(np.asarray(rows, dtype=np.float32))).numpy()

    return g


def stored_bytes(x: np.ndarray, sparse: bool) -> float:
    """Bytes per item: float32 per dimension, or float32 value + int32 index per non-zero."""
    return float((x != 0).sum(axis=1).mean() * 8) if sparse else float(x.shape[1] * 4)


def rows(query_a, query_b, database_a, database_b, query_labels, database_labels, params: dict,
         seed: int) -> dict[str, dict[str, float]]:
    """Every row's mAP (%), stored bytes per item and seconds."""
    relevant = same_label(query_labels, database_labels)
    nnz = max(1, int(round(params["nnz_fraction"] * np.asarray(database_b).shape[1])))
    qa, da = l2_normalise(query_a), l2_normalise(database_a)
    qb_dense, db_dense = l2_normalise(query_b), l2_normalise(database_b)
    qb, db = l2_normalise(sparsify(query_b, nnz)), l2_normalise(sparsify(database_b, nnz))

    def score(q, d):
        return 100.0 * mean_average_precision(q.astype(np.float32), d.astype(np.float32), relevant,
                                              similarity="inner")

    out = {"view_a": {"map": score(qa, da), "bytes": stored_bytes(da, False), "seconds": 0.0},
           "view_b": {"map": score(qb, db), "bytes": stored_bytes(db, True), "seconds": 0.0},
           "view_b_dense": {"map": score(qb_dense, db_dense), "bytes": stored_bytes(db_dense, False), "seconds": 0.0},
           "late_fusion": {"map": score(np.hstack([qa, qb]), np.hstack([da, db])),
                           "bytes": stored_bytes(da, False) + stored_bytes(db, True), "seconds": 0.0}}
    started = time.perf_counter()
    embedded = cie(da, db, params["k"], params["beta"], params["rounds"])
    out["cie_b"] = {"map": score(qb, embedded), "bytes": stored_bytes(embedded, True),
                    "seconds": time.perf_counter() - started}
    started = time.perf_counter()
    g = csm(da, db_dense, params["k"], params["margin"], params["anchor_weight"], params["epochs"], params["lr"],
            params["batch"], seed)
    out["csm_b"] = {"map": score(l2_normalise(g(qb_dense)), l2_normalise(g(db_dense))),
                    "bytes": stored_bytes(db_dense, False), "seconds": time.perf_counter() - started}
    return out
