"""PCA hashing (Gong & Lazebnik 2011): centre, project on the top `bits` principal directions, sign.
Defined for bits <= the dimension."""

from __future__ import annotations

import numpy as np

from retrieval_bench.studies.hashing.methods.base import HashingMethod, bits_of, centred_pca


class PCAH(HashingMethod):
    name = "pcah"

    def supports(self, bits, dim):
        return bits <= dim

    def fit(self, x, bits, rng, reference_codes=None):
        self.mean, self.projection, _ = centred_pca(x, bits)
        return self

    def encode(self, x):
        return bits_of((np.asarray(x, dtype=np.float64) - self.mean) @ self.projection)
