"""faiss's IndexLSH as a cross-check row (spec 3): a random orthonormal projection (rotate_data) and
per-bit median thresholds learnt on the training set (train_thresholds) -- a variant of `lsh`, not the same
codes.  faiss seeds its rotation itself (a fixed seed), so every seed gives the same projection."""

from __future__ import annotations

import numpy as np

from retrieval_bench.studies.hashing.methods.base import HashingMethod


class FaissLSH(HashingMethod):
    name = "faiss_lsh"

    def fit(self, x, bits, rng, reference_codes=None):
        import faiss

        self.index = faiss.IndexLSH(x.shape[1], bits, True, True)
        self.index.train(np.ascontiguousarray(x, dtype=np.float32))
        return self

    def encode(self, x):
        packed = self.index.sa_encode(np.ascontiguousarray(x, dtype=np.float32))
        return np.unpackbits(packed, axis=1, bitorder="little")[:, :self.index.nbits]


def factory_codes(x: np.ndarray, description: str):
    """A trained faiss index_factory(D, description) ending in LSH, as a function vectors -> {0, 1} codes."""
    import faiss

    index = faiss.index_factory(x.shape[1], description)
    index.train(np.ascontiguousarray(x, dtype=np.float32))
    nbits = faiss.downcast_index(faiss.downcast_index(index).index).nbits if hasattr(index, "index") else None

    def codes(v: np.ndarray) -> np.ndarray:
        packed = index.sa_encode(np.ascontiguousarray(v, dtype=np.float32))
        return np.unpackbits(packed, axis=1, bitorder="little")[:, :nbits]

    return codes
