"""The mini vector sets (spec 10.1): scikit-learn's bundled digits (real 8 x 8 images no one here made,
shipped inside scikit-learn: no download) and manifold128, a seeded 128-d clustered manifold with a
decaying spectrum, as SIFT and GIST have."""

from __future__ import annotations

import numpy as np

from retrieval_bench.studies.hashing.data.vector_set import VectorSet

SYNTHETIC = ("manifold128",)   # drawn per protocol and seed
BUNDLED = ("digits",)          # read once from the installed library
WITH_SECOND_VIEW = ("digits", "manifold128")  # the sets the deck's works 1 and 2 run on (two_view.py)


def digits(view_b_dim: int = 256) -> VectorSet:
    """The 8 x 8 digits as 64 pixel values (0-16); the second view a fixed random ReLU map of the centred,
    scaled pixels (the deck's works 1 and 2 need two views of each item)."""
    from sklearn.datasets import load_digits

    bunch = load_digits()
    pixels = bunch.data.astype(np.float64)
    rng = np.random.default_rng(0)
    projection = rng.normal(0.0, 1.0 / np.sqrt(pixels.shape[1]), (pixels.shape[1], view_b_dim))
    view_b = np.maximum((pixels - pixels.mean(axis=0)) / pixels.std() @ projection, 0.0)
    return VectorSet(pixels.astype(np.float32), bunch.target.astype(np.int64),
                     info={"dataset": "digits", "source": "sklearn.datasets.load_digits",
                           "view_b": f"ReLU of {view_b_dim} N(0, 1/64) projections of the centred pixels (seed 0)"},
                     view_b=view_b.astype(np.float32))


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
    # a second view: another noisy non-linear map of the same z (drawn after x, so x is as before)
    b1 = rng.normal(0.0, 1.0 / np.sqrt(latent), (latent, hidden))
    b2 = rng.normal(0.0, 1.0 / np.sqrt(hidden), (hidden, dim))
    view_b = np.tanh(z @ b1) @ b2 + noise * rng.normal(0.0, 1.0, (items, dim))
    return VectorSet(x.astype(np.float32), labels.astype(np.int64), view_b=view_b.astype(np.float32),
                     info={"dataset": "manifold128", "seed": seed, "generator": {
                         "items": items, "latent": latent, "hidden": hidden, "dim": dim, "components": components,
                         "centre_scale": centre_scale, "noise": noise, "ramp": list(ramp)}})
