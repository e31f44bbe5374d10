"""Hamming-space retrieval: binary codes of a query set ranked against a separate database.

Codes are N x K arrays of {-1, +1} (the sign of a hash layer, DCMH's
convention) or of {0, 1} / bool.  Distances come from faiss (`faiss.hammings`
on codes packed to bytes); the ranking is then sorted by (distance, database
index), so ties are in database order and every number is the same on every
machine (DCMH's MATLAB `sort` is stable; `np.argsort`'s default, used by the
Python ports, is not).  `ties` gives two other orders inside ties for a
sensitivity check: `pessimistic` (relevant items last) and `random` (seeded).

Relevance is graded: `grades(query indices)` returns, per query, an integer
per database item in database order, 0 for irrelevant.  `shared_labels`
counts shared labels (the DCMH protocol's relevance is "at least one",
`map`; the count is the gain of `ndcg`), `neighbour_sets` marks a ground
truth given as index lists (k nearest neighbours), `grade_matrix` takes a
matrix as it is.

One pass over chunks of queries gives every metric of a ranking
(`hamming_metrics`): average precision over the whole ranking (a query with
no relevant item counts 0, as DCMH divides by the number of queries;
`no_relevant: skip` leaves it out), precision and recall at N, nDCG at k
(gain 2^t - 1), and the hash-lookup counts within every radius 0..K, from
which `HammingMetrics.lookup` gives precision and recall both pooled over
queries (DCMH's `calcPreRecRadiusLabel.m`) and averaged over the queries that
retrieve anything.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import faiss
import numpy as np

TIES = ("stable", "pessimistic", "random")

# grades(query indices) -> int [len(queries) x n_database], 0 = not relevant
Grades = Callable[[np.ndarray], np.ndarray]


def as_bits(codes, name: str = "codes") -> np.ndarray:
    """The codes as an N x K bool array (+1 and 1 are set bits; -1 and 0 are not)."""
    x = np.asarray(codes)
    if x.ndim != 2 or x.shape[1] == 0:
        raise ValueError(f"{name} must be N x K binary codes, got shape {x.shape}")
    if x.dtype == bool:
        return x
    values = np.unique(x)
    if np.isin(values, (-1, 1)).all():
        return x > 0
    if np.isin(values, (0, 1)).all():
        return x == 1
    raise ValueError(f"{name} must hold {{-1, +1}} or {{0, 1}}, found {values[:5].tolist()}: "
                     f"binarise first (np.sign of the hash layer, with 0 sent to +1 or -1)")


def pack(codes, name: str = "codes") -> np.ndarray:
    """N x ceil(K / 8) bytes, the layout of faiss's binary indexes (unused bits 0 on both sides)."""
    return np.ascontiguousarray(np.packbits(as_bits(codes, name), axis=1))


def hamming_distances(query_codes, database_codes) -> np.ndarray:
    """Hamming distance of every query code to every database code, int32 [n_query x n_database]."""
    q, d = as_bits(query_codes, "query codes"), as_bits(database_codes, "database codes")
    if q.shape[1] != d.shape[1]:
        raise ValueError(f"query codes have {q.shape[1]} bits, database codes {d.shape[1]}")
    return _distances(np.packbits(q, axis=1), np.packbits(d, axis=1))


def _distances(q_packed: np.ndarray, d_packed: np.ndarray) -> np.ndarray:
    q_packed, d_packed = np.ascontiguousarray(q_packed), np.ascontiguousarray(d_packed)
    out = np.empty((len(q_packed), len(d_packed)), dtype=np.int32)
    faiss.hammings(faiss.swig_ptr(q_packed), faiss.swig_ptr(d_packed), len(q_packed), len(d_packed),
                   q_packed.shape[1], faiss.swig_ptr(out))
    return out


# ---------------------------------------------------------------- relevance

def shared_labels(query_labels, database_labels) -> Grades:
    """Grade = number of labels a query shares with a database item (multi-hot N x L rows);
    with 1-D class labels, 1 for the same class.  Relevant when > 0 (DCMH)."""
    q, d = np.asarray(query_labels), np.asarray(database_labels)
    if q.ndim != d.ndim or q.ndim not in (1, 2) or (q.ndim == 2 and q.shape[1] != d.shape[1]):
        raise ValueError(f"query labels {q.shape} and database labels {d.shape}: give both as class "
                         f"indices (N) or both as multi-hot rows over the same labels (N x L)")
    if q.ndim == 2:
        q, d = q.astype(np.float32), d.astype(np.float32)

    def grades(queries: np.ndarray) -> np.ndarray:
        if q.ndim == 1:
            return (q[queries, None] == d[None, :]).astype(np.int32)
        return np.rint(q[queries] @ d.T).astype(np.int32)

    grades.sizes = (len(q), len(d))
    return grades


def neighbour_sets(neighbours, n_database: int) -> Grades:
    """Grade 1 for the database items listed per query (a k-nearest-neighbour ground truth)."""
    lists = [np.asarray(n, dtype=np.int64).reshape(-1) for n in neighbours]
    for i, ids in enumerate(lists):
        if len(ids) and (ids.min() < 0 or ids.max() >= n_database):
            raise ValueError(f"query {i} lists database items outside 0..{n_database - 1}")

    def grades(queries: np.ndarray) -> np.ndarray:
        out = np.zeros((len(queries), n_database), dtype=np.int32)
        for row, i in enumerate(queries):
            out[row, lists[i]] = 1
        return out

    grades.sizes = (len(lists), n_database)
    return grades


def grade_matrix(matrix) -> Grades:
    """Grades given as an n_query x n_database matrix (bool: relevant or not)."""
    m = np.asarray(matrix)
    if m.ndim != 2:
        raise ValueError(f"a relevance matrix must be n_query x n_database, got shape {m.shape}")

    def grades(queries: np.ndarray) -> np.ndarray:
        return m[queries].astype(np.int32)

    grades.sizes = m.shape
    return grades


# ---------------------------------------------------------------- the ranking and its metrics

@dataclass
class HammingMetrics:
    """Per-query values of one ranking (NaN where a query does not count) and the lookup counts."""

    bits: int
    average_precision: np.ndarray
    precision_at: dict[int, np.ndarray] = field(default_factory=dict)
    recall_at: dict[int, np.ndarray] = field(default_factory=dict)
    ndcg_at: dict[int, np.ndarray] = field(default_factory=dict)
    # per query and radius 0..bits: items within the radius, relevant items within it
    retrieved: np.ndarray | None = None
    retrieved_relevant: np.ndarray | None = None
    relevant: np.ndarray | None = None  # per query: relevant items in the database

    @property
    def map(self) -> float:
        return _mean(self.average_precision)

    def expected_average_precision(self) -> np.ndarray:
        """Per query, the AP expected when the order inside every distance tie is uniformly random
        (McSherry & Najork's closed form, from the lookup counts): the tie-free number behind `map`
        at short codes, where ties dominate.  A query with no relevant item: 0."""
        if self.retrieved is None:
            raise ValueError("the lookup counts were not kept: call hamming_metrics(..., lookup=True)")
        within, hits_within = self.retrieved.astype(np.float64), self.retrieved_relevant.astype(np.float64)
        before = np.concatenate([np.zeros((len(within), 1)), within[:, :-1]], axis=1)     # s: items ranked ahead
        found = np.concatenate([np.zeros((len(within), 1)), hits_within[:, :-1]], axis=1)  # F: relevant ahead
        n, m = within - before, hits_within - found                                        # the tie block
        harmonic = np.concatenate([[0.0], np.cumsum(1.0 / np.arange(1, int(within[:, -1].max()) + 1))])
        s1 = harmonic[within.astype(np.int64)] - harmonic[before.astype(np.int64)]  # sum_i 1 / (s + i)
        s2 = n - (before + 1) * s1                                                   # sum_i (i - 1) / (s + i)
        with np.errstate(invalid="ignore", divide="ignore"):
            # position i of the block is relevant with probability m / n; given that, the relevant items up
            # to it are F + 1 + (i - 1)(m - 1)/(n - 1) on average
            block = np.where(n > 0, m / np.maximum(n, 1) * ((found + 1) * s1 + np.where(
                n > 1, (m - 1) / np.maximum(n - 1, 1), 0.0) * s2), 0.0)
        return np.where(self.relevant > 0, block.sum(axis=1) / np.maximum(self.relevant, 1), 0.0)

    def summary(self) -> dict[str, float]:
        """Flat numbers for a metrics JSON: map, precision@N, recall@N, ndcg@k."""
        out = {"map": self.map}
        out |= {f"precision@{n}": _mean(v) for n, v in self.precision_at.items()}
        out |= {f"recall@{n}": _mean(v) for n, v in self.recall_at.items()}
        out |= {f"ndcg@{k}": _mean(v) for k, v in self.ndcg_at.items()}
        if self.retrieved is not None:  # the queries `map` leaves out (no_relevant: skip) are left out here too
            expected = self.expected_average_precision()
            out["map_tie_mean"] = _mean(np.where(np.isnan(self.average_precision), np.nan, expected))
        return out

    def lookup(self, radii=None) -> dict[str, np.ndarray]:
        """Hash lookup within each radius: precision and recall pooled over queries (DCMH:
        relevant retrieved pairs over retrieved pairs, 0 where nothing is retrieved; over all
        relevant pairs), and precision averaged over the queries that retrieve anything
        (their number beside it)."""
        if self.retrieved is None:
            raise ValueError("the lookup counts were not kept: call hamming_metrics(..., lookup=True)")
        radii = np.arange(self.bits + 1) if radii is None else np.asarray(radii, dtype=int)
        if radii.min() < 0:
            raise ValueError("Hamming radii are 0 or more")
        radii = np.minimum(radii, self.bits)  # a radius past K retrieves everything, as K does
        retrieved, hits = self.retrieved[:, radii], self.retrieved_relevant[:, radii]
        pooled_retrieved = retrieved.sum(axis=0)
        some = retrieved > 0
        with np.errstate(invalid="ignore", divide="ignore"):
            per_query = np.where(some, hits / np.maximum(retrieved, 1), np.nan)
        return {
            "radius": radii,
            "precision": np.where(pooled_retrieved > 0, hits.sum(axis=0) / np.maximum(pooled_retrieved, 1), 0.0),
            "recall": hits.sum(axis=0) / max(int(self.relevant.sum()), 1),
            "retrieved": pooled_retrieved,
            "precision_per_query": np.array([_mean(col) for col in per_query.T]),
            "queries_retrieving": some.sum(axis=0),
        }


def _mean(values: np.ndarray) -> float:
    values = values[~np.isnan(values)]
    return float(values.mean()) if len(values) else float("nan")


def hamming_metrics(query_codes, database_codes, grades: Grades, *, ns=(), ndcg_ks=(), lookup: bool = False,
                    ties: str = "stable", seed: int = 0, no_relevant: str = "zero",
                    chunk_items: int = 1 << 22) -> HammingMetrics:
    """Rank the whole database for every query by Hamming distance and score the ranking.

    `ns`: precision@N and recall@N; `ndcg_ks`: nDCG@k; `lookup`: keep the
    counts within every radius.  `no_relevant`: a query with no relevant item
    scores 0 (`zero`, DCMH) or is left out (`skip`) of AP, recall and nDCG.
    Queries are scored in chunks of about `chunk_items` query-item pairs.
    """
    if ties not in TIES:
        raise ValueError(f"ties {ties!r}: choose one of {list(TIES)}")
    if no_relevant not in ("zero", "skip"):
        raise ValueError(f"no_relevant {no_relevant!r}: choose zero or skip")
    q, d = as_bits(query_codes, "query codes"), as_bits(database_codes, "database codes")
    if q.shape[1] != d.shape[1]:
        raise ValueError(f"query codes have {q.shape[1]} bits, database codes {d.shape[1]}")
    n_query, n_db, bits = len(q), len(d), q.shape[1]
    sizes = getattr(grades, "sizes", None)
    if sizes is not None and tuple(sizes) != (n_query, n_db):
        raise ValueError(f"{n_query} query codes and {n_db} database codes, but the relevance is for "
                         f"{sizes[0]} queries and {sizes[1]} items")
    for n in (*ns, *ndcg_ks):
        if not 1 <= n <= n_db:
            raise ValueError(f"a cut-off of {n} in a database of {n_db} items: choose 1..{n_db}")

    q_packed, d_packed = np.packbits(q, axis=1), np.packbits(d, axis=1)
    rng = np.random.default_rng(seed)
    missing = 0.0 if no_relevant == "zero" else np.nan  # the score of a query with no relevant item
    ranks = np.arange(1, n_db + 1)
    ap, prec, rec, ndcg, counts = [], {n: [] for n in ns}, {n: [] for n in ns}, {k: [] for k in ndcg_ks}, []
    step = max(1, chunk_items // max(n_db, 1))
    for start in range(0, n_query, step):
        queries = np.arange(start, min(start + step, n_query))
        dist = _distances(q_packed[queries], d_packed).astype(np.uint16)  # 16-bit keys: numpy's radix sort
        grade = np.asarray(grades(queries))
        if grade.shape != dist.shape:
            raise ValueError(f"the relevance gave {grade.shape} grades for {dist.shape} query-item pairs")
        relevant = grade > 0
        order = _order(dist, relevant, ties, rng)
        hit = np.take_along_axis(relevant, order, axis=1)
        found = np.cumsum(hit, axis=1)
        n_relevant = found[:, -1].copy()  # a view would keep every chunk's ranking alive
        none = n_relevant == 0
        ap.append(np.where(none, missing, (hit * found / ranks).sum(axis=1) / np.maximum(n_relevant, 1)))
        for n in ns:
            prec[n].append(found[:, n - 1] / n)
            rec[n].append(np.where(none, missing, found[:, n - 1] / np.maximum(n_relevant, 1)))
        if ndcg_ks:
            gain = np.exp2(np.take_along_axis(grade, order, axis=1)[:, :max(ndcg_ks)]) - 1
            ideal = np.exp2(-np.sort(-grade, axis=1)[:, :max(ndcg_ks)]) - 1
            discount = 1 / np.log2(np.arange(2, max(ndcg_ks) + 2))
            for k in ndcg_ks:
                best = (ideal[:, :k] * discount[:k]).sum(axis=1)
                got = (gain[:, :k] * discount[:k]).sum(axis=1)
                ndcg[k].append(np.where(none, missing, got / np.maximum(best, 1e-300)))
        if lookup:
            counts.append(_within_radius(dist, relevant, bits) + (n_relevant,))
    out = HammingMetrics(bits, np.concatenate(ap) if ap else np.zeros(0),
                         {n: np.concatenate(v) for n, v in prec.items()},
                         {n: np.concatenate(v) for n, v in rec.items()},
                         {k: np.concatenate(v) for k, v in ndcg.items()})
    if lookup:
        out.retrieved = np.concatenate([c[0] for c in counts])
        out.retrieved_relevant = np.concatenate([c[1] for c in counts])
        out.relevant = np.concatenate([c[2] for c in counts])
    return out


def _order(dist: np.ndarray, relevant: np.ndarray, ties: str, rng: np.random.Generator) -> np.ndarray:
    """Each row's database indices by distance; inside ties by index (stable), relevant last
    (pessimistic) or in a seeded random order."""
    if ties == "stable":
        return np.argsort(dist, axis=1, kind="stable")
    if ties == "pessimistic":
        return np.argsort(dist.astype(np.int32) * 2 + relevant, axis=1, kind="stable")
    shuffle = rng.permuted(np.broadcast_to(np.arange(dist.shape[1]), dist.shape), axis=1)
    return np.take_along_axis(shuffle, np.argsort(np.take_along_axis(dist, shuffle, axis=1), axis=1,
                                                  kind="stable"), axis=1)


def _within_radius(dist: np.ndarray, relevant: np.ndarray, bits: int) -> tuple[np.ndarray, np.ndarray]:
    """Per query, the items (and relevant items) at distance <= r for r = 0..bits."""
    rows = np.arange(len(dist))[:, None] * (bits + 1)
    flat = (rows + dist).ravel()
    size = len(dist) * (bits + 1)
    at = np.bincount(flat, minlength=size).reshape(len(dist), bits + 1)
    relevant_at = np.bincount(flat, weights=relevant.ravel(), minlength=size).reshape(len(dist), bits + 1)
    return np.cumsum(at, axis=1), np.cumsum(relevant_at, axis=1).astype(np.int64)


# ---------------------------------------------------------------- collapse guard

def code_statistics(codes) -> dict[str, float]:
    """What a collapsed hash layer looks like: few distinct codes, unbalanced or constant bits.
    `bit_imbalance` is the mean over bits of |mean of the ±1 bit| (0: every bit half set)."""
    bits = as_bits(codes)
    distinct = len(np.unique(np.packbits(bits, axis=1), axis=0))
    signed = np.where(bits, 1.0, -1.0)
    balance = np.abs(signed.mean(axis=0))
    return {"codes": len(bits), "distinct_codes": distinct, "distinct_fraction": distinct / max(len(bits), 1),
            "bit_imbalance": float(balance.mean()), "constant_bits": int((balance == 1.0).sum())}


def collapse_warning(statistics: dict[str, float], name: str, min_distinct_fraction: float = 0.01) -> str | None:
    """A line for the run's log when a modality's codes have collapsed (fewer distinct codes than 1 %
    of the items, spec chapter3.md 7.4), else None.  A constant bit alone is reported, not warned of:
    a 32-bit code with one unused bit still ranks."""
    if statistics["distinct_fraction"] < min_distinct_fraction:
        return (f"{name}: {statistics['distinct_codes']} distinct codes for {statistics['codes']} items, "
                f"{statistics['constant_bits']} constant bits (bit imbalance {statistics['bit_imbalance']:.2f}): "
                f"the hash layer has collapsed; lower the loss weights or the learning rate")
    return None
