"""Spectral hashing (Weiss, Torralba & Fergus 2008): PCA to k = min(bits, D) dimensions, a box
[min - eps, max + eps] per component, the one-dimensional Laplacian eigenfunctions of a uniform density on
each box (mode m of dimension j has eigenvalue (m pi / R_j)^2), the `bits` smallest eigenvalues over every
dimension and mode (several modes per dimension where bits > k); bit = sin(pi/2 + m pi (v_j - min_j) / R_j) > 0.
Mode m = 1 splits a dimension at its box's middle."""

from __future__ import annotations

import numpy as np

from retrieval_bench.studies.hashing.methods.base import HashingMethod, centred_pca


class SH(HashingMethod):
    name = "sh"
    DEFAULTS = {"epsilon": 1.0e-10}

    def fit(self, x, bits, rng, reference_codes=None):
        k = min(bits, x.shape[1])
        self.mean, self.pca, _ = centred_pca(x, k)
        v = (np.asarray(x, dtype=np.float64) - self.mean) @ self.pca
        eps = self.hparams["epsilon"]
        self.low, high = v.min(axis=0) - eps, v.max(axis=0) + eps
        self.range = high - self.low
        # modes 1..bits of every dimension: the widest dimension alone has `bits` eigenvalues no larger
        # than its mode `bits`, so no higher mode of any dimension can be among the smallest
        dims, modes = np.meshgrid(np.arange(k), np.arange(1, bits + 1), indexing="ij")
        eigen = (modes * np.pi / self.range[dims]) ** 2
        order = np.lexsort((modes.ravel(), dims.ravel(), eigen.ravel()))[:bits]  # ties: lower dimension first
        self.dims, self.modes = dims.ravel()[order], modes.ravel()[order]
        self.eigenvalues = eigen.ravel()[order]
        return self

    def encode(self, x):
        v = (np.asarray(x, dtype=np.float64) - self.mean) @ self.pca
        phase = np.pi / 2 + self.modes * np.pi * (v[:, self.dims] - self.low[self.dims]) / self.range[self.dims]
        return (np.sin(phase) > 0).astype(np.uint8)
