"""Chapter 7's measures: the harmonic mean of seen and unseen Recall@1
(Eq. 7.10) and Table 7.5's Inception score and Fréchet distance."""

from __future__ import annotations

import numpy as np

# Table 7.5's scoring rule, in the quality step's params: raising it reruns a
# stale quality.json instead of mixing two rules in one table.  1: contiguous
# Inception-score splits and a split-half floor; 2: shuffled splits and the
# bootstrap floor (issue 18).
SCORING_VERSION = 2


def harmonic_mean(old: float, new: float) -> float:
    """Thesis Eq. 7.10: H = 2 s u / (s + u)."""
    return 0.0 if old + new == 0 else 2 * old * new / (old + new)


def inception_score(probabilities, splits: int = 10, seed: int | None = 0) -> tuple[float, float]:
    """The standard Inception score exp(E_x KL(p(y|x) || p(y))), p(y) the mean
    prediction of each of `splits` parts: (mean, std) over the parts.  The
    parts are cut from a permutation of the rows drawn with `seed` (as
    torch-fidelity's shuffle does): a set ordered by class would otherwise
    put a few classes in each part and deflate p(y)'s entropy, hence the
    score; `seed=None` keeps the given order.  At least 1 by construction
    (Table 7.5's 0.93 cannot be this)."""
    from scipy.special import rel_entr

    p = np.asarray(probabilities, dtype=np.float64)
    if p.ndim != 2 or len(p) < splits:
        raise ValueError(f"need an N x C probability matrix with N >= {splits} splits, got shape {p.shape}")
    if seed is not None:
        p = p[np.random.default_rng(seed).permutation(len(p))]
    scores = [np.exp(rel_entr(part, part.mean(axis=0, keepdims=True)).sum(axis=1).mean())
              for part in np.array_split(p, splits)]
    return float(np.mean(scores)), float(np.std(scores))


def frechet_distance(features_a, features_b) -> float:
    """FID's distance between Gaussians fitted to two feature sets:
    ||mu_a - mu_b||^2 + Tr(S_a + S_b - 2 (S_a S_b)^(1/2)), the square root's
    real part (sqrtm of a product of near-singular covariances picks up
    imaginary round-off)."""
    import warnings

    from scipy import linalg

    a, b = (np.asarray(f, dtype=np.float64) for f in (features_a, features_b))
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1] or min(len(a), len(b)) < 2:
        raise ValueError(f"need two N x D feature sets of the same D, N >= 2; got {a.shape} and {b.shape}")
    mu_a, mu_b = a.mean(axis=0), b.mean(axis=0)
    s_a, s_b = np.atleast_2d(np.cov(a, rowvar=False)), np.atleast_2d(np.cov(b, rowvar=False))
    with warnings.catch_warnings():  # singular when D >= N (FID's 2048-d features of fewer images): expected
        warnings.simplefilter("ignore", linalg.LinAlgWarning)
        root = linalg.sqrtm(s_a @ s_b)
    if not np.isfinite(root).all():  # singular product: offset both, as pytorch-fid does
        offset = 1e-6 * np.eye(len(s_a))
        root = linalg.sqrtm((s_a + offset) @ (s_b + offset))
    distance = ((mu_a - mu_b) ** 2).sum() + np.trace(s_a) + np.trace(s_b) - 2 * np.trace(root.real)
    return float(max(distance, 0.0))  # >= 0 in exact arithmetic; identical sets round to about -1e-5


def bootstrap_floor(features, seed: int = 0, repeats: int = 10) -> tuple[float, float]:
    """The Fréchet distance two real sets of the rows' size differ by: between
    two bootstrap resamples (with replacement, each as large as `features`)
    of one real set, (mean, std) over `repeats` pairs drawn with `seed`.  A
    split-half floor compares sets of half the size, and the distance's
    finite-sample bias grows as the sets shrink (about twice as large)."""
    f = np.asarray(features, dtype=np.float64)
    rng = np.random.default_rng(seed)
    n = len(f)
    values = [frechet_distance(f[rng.integers(0, n, n)], f[rng.integers(0, n, n)]) for _ in range(repeats)]
    return float(np.mean(values)), float(np.std(values))
