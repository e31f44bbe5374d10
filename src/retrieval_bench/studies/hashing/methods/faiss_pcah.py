"""faiss's "PCA{bits},LSH" as a cross-check row of `pcah` (spec 3: the same codes up to the signs of the
principal directions, which faiss chooses as its eigensolver gives them)."""

from __future__ import annotations

from retrieval_bench.studies.hashing.methods.base import HashingMethod
from retrieval_bench.studies.hashing.methods.faiss_lsh import factory_codes


class FaissPCAH(HashingMethod):
    name = "faiss_pcah"

    def supports(self, bits, dim):
        return bits <= dim

    def fit(self, x, bits, rng, reference_codes=None):
        self.index = factory_codes(x, f"PCA{bits},LSH")
        return self

    def encode(self, x):
        return self.index(x)
