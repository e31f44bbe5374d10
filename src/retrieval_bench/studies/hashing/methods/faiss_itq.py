"""faiss's "ITQ{bits},LSH" as a cross-check row of `itq`: faiss's ITQTransform also L2-normalises the centred
vectors and trains on at most max(10 D, 32768) of them (spec 3), so its codes differ from `itq`'s."""

from __future__ import annotations

from retrieval_bench.studies.hashing.methods.base import HashingMethod
from retrieval_bench.studies.hashing.methods.faiss_lsh import factory_codes


class FaissITQ(HashingMethod):
    name = "faiss_itq"

    def supports(self, bits, dim):
        return bits <= dim

    def fit(self, x, bits, rng, reference_codes=None):
        self.index = factory_codes(x, f"ITQ{bits},LSH")
        return self

    def encode(self, x):
        return self.index(x)
