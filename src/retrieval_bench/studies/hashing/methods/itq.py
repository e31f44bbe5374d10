"""Iterative quantisation (Gong & Lazebnik 2011 / TPAMI 2013): PCA to `bits` dimensions V, then a rotation
R from a random orthogonal start, alternating B = sign(V R) and R = the orthogonal Procrustes solution of
min ||B - V R||_F (`iterations` times); bits sign(V R).  Defined for bits <= the dimension."""

from __future__ import annotations

import numpy as np

from retrieval_bench.studies.hashing.methods.base import HashingMethod, bits_of, centred_pca


class ITQ(HashingMethod):
    name = "itq"
    DEFAULTS = {"iterations": 50}

    def supports(self, bits, dim):
        return bits <= dim

    def fit(self, x, bits, rng, reference_codes=None):
        self.mean, pca, _ = centred_pca(x, bits)
        v = (np.asarray(x, dtype=np.float64) - self.mean) @ pca
        rotation, _ = np.linalg.qr(rng.standard_normal((bits, bits)))
        self.quantisation_loss = []
        for _ in range(self.hparams["iterations"]):
            b = np.where(v @ rotation > 0, 1.0, -1.0)
            self.quantisation_loss.append(float(((b - v @ rotation) ** 2).sum()))
            u, _, wt = np.linalg.svd(v.T @ b)   # argmax_R tr(R^T V^T B) over orthogonal R
            rotation = u @ wt
        self.history = [{"iteration": i, "quantisation_loss": q} for i, q in enumerate(self.quantisation_loss)]
        self.projection = pca @ rotation
        return self

    def encode(self, x):
        return bits_of((np.asarray(x, dtype=np.float64) - self.mean) @ self.projection)
