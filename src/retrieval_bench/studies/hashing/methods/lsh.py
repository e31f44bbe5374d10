"""Random-hyperplane LSH (Charikar 2002), the baseline of the ITQ and SH papers: centre with the training
mean, project on bits i.i.d. N(0, 1) directions (seeded), bit = projection > 0.  Any code length."""

from __future__ import annotations

import numpy as np

from retrieval_bench.studies.hashing.methods.base import HashingMethod, bits_of


class LSH(HashingMethod):
    name = "lsh"

    def fit(self, x, bits, rng, reference_codes=None):
        self.mean = np.asarray(x, dtype=np.float64).mean(axis=0)
        self.projection = rng.standard_normal((x.shape[1], bits))
        return self

    def encode(self, x):
        return bits_of((np.asarray(x, dtype=np.float64) - self.mean) @ self.projection)
