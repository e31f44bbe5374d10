"""One hashing job: (protocol, seed, configuration) at each of its code lengths -> the codes of every query
and database item with the ground truth (codes.npz: any number can be recomputed from it), the metrics of
both ground truths and the linearity (metrics.json), the ranking and lookup curves (curves.csv) and a
learning method's per-iteration history (history.csv).

A method that learns from a reference (LDPH) reads the reference run's codes.npz: the reference's codes of
the training items are its pseudo-labels, so one reference run serves its table row and its LDPH run.
A code length the method does not define (PCA-based methods past the dimension) is listed as unsupported.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from retrieval_bench.core import registry
from retrieval_bench.core.errors import UserError
from retrieval_bench.core.io import atomic_path, read_json, write_json
from retrieval_bench.retrieval.hamming import code_statistics, collapse_warning
from retrieval_bench.studies.hashing import evaluate
from retrieval_bench.studies.hashing.data import vector_set
from retrieval_bench.studies.hashing.data.splits import query_vectors, read_split

log = logging.getLogger(__name__)
ENCODE_ROWS = 100_000  # a memory-mapped base (GIST-1M: 3.8 GB) is encoded a chunk at a time


@dataclass
class RunSpec:
    data: Path
    split: Path
    method: str
    hparams: dict
    bits: list[int]
    seed: int
    reference_codes: Path | None = None   # the reference run's codes.npz (a method with needs_reference)
    extra: dict = field(default_factory=dict)


def encode_rows(method, features: np.ndarray, rows: np.ndarray) -> np.ndarray:
    return np.concatenate([method.encode(np.asarray(features[rows[s:s + ENCODE_ROWS]]))
                           for s in range(0, len(rows), ENCODE_ROWS)]) if len(rows) else np.zeros((0, 0), np.uint8)


def read_codes(path: Path, bits: int, role: str) -> np.ndarray | None:
    """A run's {0, 1} codes of `role` (query or database) at `bits`, or None where it has none."""
    with np.load(path) as z:
        key = f"{role}_b{bits}"
        return np.unpackbits(z[key], axis=1)[:, :bits] if key in z.files else None


def check_reference(codes: Path, split) -> None:
    """The reference run's codes are of this split (same database order, same training items)."""
    with np.load(codes) as z:
        same = (np.array_equal(z["database_ids"], split.database) and np.array_equal(z["train_positions"], split.train))
    if not same:
        raise UserError(f"{codes} was computed on another split than this run's: rerun the reference's job")


def reference_unsupported(codes: Path) -> list[int]:
    return read_json(Path(codes).with_name("metrics.json"))["unsupported"]


def run(spec: RunSpec, out: Path) -> dict:
    data = vector_set.load(spec.data)
    split = read_split(spec.split)
    cls = registry.method_class(spec.method)
    if cls.needs_reference and spec.reference_codes is None:
        raise UserError(f"method {spec.method} learns from a reference's codes; its run needs the reference "
                        f"run's codes.npz")
    queries = query_vectors(data, split)
    train_rows = split.database[split.train]
    train = np.asarray(data.features[np.sort(train_rows)], dtype=np.float64)[np.argsort(np.argsort(train_rows))]
    query_labels = data.labels[split.queries] if data.labels is not None and not split.fixed_queries else None
    database_labels = data.labels[split.database] if query_labels is not None else None
    truths = evaluate.ground_truths(split.neighbours, len(split.database), query_labels, database_labels)
    dim = data.features.shape[1]

    metrics = {"method": spec.method, "hparams": spec.hparams, "seed": spec.seed, **spec.extra,
               "items": {"queries": len(split.queries), "database": len(split.database), "train": len(train)},
               "ground_truths": list(truths), "bits": {}, "unsupported": []}
    arrays = {"query_ids": split.queries, "database_ids": split.database, "train_positions": split.train,
              "neighbours": split.neighbours}
    if query_labels is not None:
        arrays |= {"query_labels": query_labels, "database_labels": database_labels}
    curves, history = [], []
    if cls.needs_reference:
        check_reference(spec.reference_codes, split)
    cls(spec.hparams).warm_up()
    for bits in spec.bits:
        method = cls(spec.hparams)
        reference = None
        if cls.needs_reference:
            reference = read_codes(spec.reference_codes, bits, "database")
            if reference is None:
                if bits not in reference_unsupported(spec.reference_codes):
                    raise UserError(f"{spec.reference_codes} has no {bits}-bit codes, and its run does not list "
                                    f"{bits} bits as undefined: rerun the reference (snakemake --forcerun "
                                    f"hash_train on its configuration)")
                metrics["unsupported"].append(bits)
                log.info("%d bits: the reference has no codes at this length (undefined there)", bits)
                continue
            reference = reference[split.train]
        if not method.supports(bits, dim):
            metrics["unsupported"].append(bits)
            log.info("%d bits: %s is not defined for %d-d vectors", bits, spec.method, dim)
            continue
        rng = np.random.default_rng([spec.seed, bits])  # one stream per (seed, code length)
        started = time.perf_counter()
        method.fit(train, bits, rng, reference)
        trained = time.perf_counter()
        query_codes = method.encode(queries)
        database_codes = encode_rows(method, data.features, split.database)
        encoded = time.perf_counter()
        scores, bit_curves = evaluate.score(query_codes, database_codes, truths)
        statistics = code_statistics(database_codes)
        if warning := collapse_warning(statistics, f"{bits}-bit database codes"):
            log.warning(warning)
        metrics["bits"][str(bits)] = {
            **scores, "linearity": evaluate.linearity(queries, data.features, split.database, query_codes,
                                                      database_codes, spec.seed),
            "train_seconds": trained - started, "encode_seconds": encoded - trained, "codes": statistics}
        arrays |= {f"query_b{bits}": np.packbits(query_codes, axis=1),
                   f"database_b{bits}": np.packbits(database_codes, axis=1)}
        curves.append(bit_curves)
        history += [{"bits": bits, **step} for step in method.history]
        log.info("%d bits: %s; trained in %.2f s", bits,
                 ", ".join(f"{gt} mAP {s['map']:.4f}" for gt, s in scores.items()), trained - started)

    out.mkdir(parents=True, exist_ok=True)
    with atomic_path(out / "codes.npz") as tmp, open(tmp, "wb") as f:
        np.savez_compressed(f, **arrays)
    tables = {"curves.csv": pd.concat(curves, ignore_index=True) if curves else pd.DataFrame(),
              "history.csv": pd.DataFrame(history)}
    for name, table in tables.items():
        with atomic_path(out / name) as tmp:
            table.to_csv(tmp, index=False, float_format="%.10g")
    write_json(out / "metrics.json", metrics)  # last: its presence says the run is complete
    return metrics
