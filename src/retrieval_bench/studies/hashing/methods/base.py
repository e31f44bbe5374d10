"""What a hashing method is to a run: fit on the training vectors at a code length, then encode any
vectors to {0, 1} bits.  A method that learns from another method's codes (LDPH) says so with
`needs_reference`; the run hands it the reference's codes of the training items.

Every method is seeded through the generator it is given; the same seed gives the same codes.
"""

from __future__ import annotations

import numpy as np

from retrieval_bench.core.registry import KeyedHyperparameters


class HashingMethod(KeyedHyperparameters):
    needs_reference = False

    def __init__(self, hparams: dict | None = None):
        hparams = dict(hparams or {})
        self.check_config(hparams, self.name)
        self.check_values(hparams)
        self.hparams = {**self.DEFAULTS, **hparams}
        self.history: list[dict] = []   # per step of a learning method (LDPH's outer iterations)

    def supports(self, bits: int, dim: int) -> bool:
        """Whether the method defines `bits`-bit codes of `dim`-d vectors (PCA-based ones need bits <= dim)."""
        return True

    def warm_up(self) -> None:
        """Pay a process's first-use costs (library initialisation) before anything is timed."""

    def fit(self, x: np.ndarray, bits: int, rng: np.random.Generator,
            reference_codes: np.ndarray | None = None) -> "HashingMethod":
        raise NotImplementedError

    def encode(self, x: np.ndarray) -> np.ndarray:
        """N x bits uint8 {0, 1}."""
        raise NotImplementedError


def centred_pca(x: np.ndarray, components: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(mean, the top principal directions as D x components columns, their variances), by eigh of the
    training covariance; each direction's sign fixed (largest entry positive) so the codes do not depend
    on the eigensolver's sign choice."""
    x = np.asarray(x, dtype=np.float64)
    mean = x.mean(axis=0)
    centred = x - mean
    values, vectors = np.linalg.eigh(centred.T @ centred / max(len(x) - 1, 1))
    order = np.argsort(values)[::-1][:components]
    vectors = vectors[:, order]
    vectors *= np.where(vectors[np.abs(vectors).argmax(axis=0), np.arange(vectors.shape[1])] < 0, -1.0, 1.0)
    return mean, vectors, values[order]


def bits_of(projection: np.ndarray) -> np.ndarray:
    return (projection > 0).astype(np.uint8)
