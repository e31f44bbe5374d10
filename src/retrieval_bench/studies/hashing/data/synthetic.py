"""The mini vector sets (spec 10.1): scikit-learn's bundled digits (real 8 x 8 images no one here made,
shipped inside scikit-learn: no download) and manifold128, a seeded 128-d clustered manifold with a
decaying spectrum, as SIFT and GIST have."""

from __future__ import annotations

import numpy as np

from retrieval_bench.studies.hashing.data.vector_set import VectorSet

SYNTHETIC = ("manifold128",)   # drawn per protocol and seed
BUNDLED = ("digits",)          # read once from the installed library


def digits() -> VectorSet:
    from sklearn.datasets import load_digits

    bunch = load_digits()
    return VectorSet(bunch.data.astype(np.float32), bunch.target.astype(np.int64),
                     info={"dataset": "digits", "source": "sklearn.datasets.load_digits"})


def manifold128(seed: int, items: int = 11000, latent: int = 8, hidden: int = 32, dim: int = 128,
                components: int = 10, centre_scale: float = 2.0, noise: float = 0.05,
                ramp: tuple[float, float] = (2.0, 0.2)) -> VectorSet:
    """z from a mixture of `components` unit Gaussians (centres N(0, centre_scale^2 I)),
    x = tanh(z A1) A2 + noise * eps, A2's columns scaled by a linear ramp; drawn with seed 1000 + seed."""
    rng = np.random.default_rng(1000 + seed)
    centres = rng.normal(0.0, centre_scale, (components, latent))
    a1 = rng.normal(0.0, 1.0 / np.sqrt(latent), (latent, hidden))
    a2 = rng.normal(0.0, 1.0 / np.sqrt(hidden), (hidden, dim)) * np.linspace(ramp[0], ramp[1], dim)
    labels = rng.integers(0, components, items)
    z = centres[labels] + rng.normal(0.0, 1.0, (items, latent))
    x = np.tanh(z @ a1) @ a2 + noise * rng.normal(0.0, 1.0, (items, dim))
    return VectorSet(x.astype(np.float32), labels.astype(np.int64),
                     info={"dataset": "manifold128", "seed": seed, "generator": {
                         "items": items, "latent": latent, "hidden": hidden, "dim": dim, "components": components,
                         "centre_scale": centre_scale, "noise": noise, "ramp": list(ramp)}})
