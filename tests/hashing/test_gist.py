"""The NumPy GIST: shapes and the invariances and selectivities a Gabor-bank GIST must have (not LEAR's values)."""

import numpy as np
import pytest
from scipy.ndimage import gaussian_filter

from retrieval_bench.studies.hashing.data.gist import gist, prefilter

Y, X = np.mgrid[0:32, 0:32]


def smooth_images(n: int, seed: int = 0) -> np.ndarray:
    """Colour images with structure at several scales (white noise would excite every filter alike)."""
    noise = np.random.default_rng(seed).normal(120, 60, (n, 32, 32, 3))
    return np.clip(gaussian_filter(noise, (0, 1.5, 1.5, 0)), 0, 255).astype(np.uint8)


def by_filter(descriptors: np.ndarray) -> np.ndarray:
    """(N, 512) -> (N, scale, orientation, block column, block row): the documented layout."""
    return descriptors.reshape(-1, 4, 8, 4, 4)


def grating(period: float, along_x: bool) -> np.ndarray:
    return 128 + 100 * np.sin(2 * np.pi * (X if along_x else Y) / period)


def test_shape_dtype_finite_and_deterministic():
    images = smooth_images(7)
    g = gist(images)
    assert g.shape == (7, 512) and g.dtype == np.float32
    assert np.isfinite(g).all() and (g >= 0).all() and g.max() > 0  # means of magnitudes
    np.testing.assert_array_equal(gist(images), g)
    np.testing.assert_allclose(gist(images, chunk=3), g, rtol=1e-6, atol=1e-7)  # chunking changes nothing


def test_colour_is_the_channel_mean_and_bad_shapes_are_refused():
    images = smooth_images(3)
    np.testing.assert_allclose(gist(images), gist(images.astype(np.float64).mean(axis=-1)), rtol=1e-5, atol=1e-6)
    for bad in (np.zeros((2, 32, 32, 4)), np.zeros((2, 28, 28)), np.zeros((32, 32))):
        with pytest.raises(ValueError, match="expected"):
            gist(bad)


def test_a_constant_image_gives_zero():
    constant = np.full((2, 32, 32, 3), 77, np.uint8)
    assert np.abs(gist(constant)).max() < 1e-6


def test_a_global_brightness_offset_changes_nothing():
    # LMgist rescales each image to [0, 255] before prefiltering: an offset (unclipped) is removed exactly
    images = smooth_images(4) // 2
    np.testing.assert_allclose(gist(images + 100), gist(images), rtol=1e-4, atol=1e-6)


def test_prefilter_whitening_removes_an_offset_in_the_log_domain():
    # whitening subtracts a low-pass that keeps the mean exactly: log(1 + I) + c gives the same output
    image = smooth_images(1)[..., 0].astype(np.float64)
    brighter = (1 + image) * np.e ** 0.7 - 1
    np.testing.assert_allclose(prefilter(brighter), prefilter(image), atol=1e-8)
    assert np.abs(prefilter(image)).max() > 0.1


def test_gratings_excite_the_matching_orientation_and_scale():
    energy = {}
    for name, period, along_x in (("x", 8, True), ("y", 8, False), ("fine", 3.3, True), ("coarse", 16, True)):
        energy[name] = by_filter(gist(grating(period, along_x)[None]))[0].sum(axis=(2, 3))  # (scale, orientation)
    assert energy["x"].sum(axis=0).argmax() == 0  # intensity varying along x: orientation 0
    assert energy["y"].sum(axis=0).argmax() == 4  # along y: orientation 4 (pi / 2)
    fine, coarse = energy["fine"].sum(axis=1), energy["coarse"].sum(axis=1)
    assert fine.argmax() == 0 and fine[0] > 2 * fine[1]  # a 3.3-pixel period: the finest scale (0.3 c/px)
    assert coarse[3] > 4 * fine[3] and coarse[0] < fine[0] / 2  # coarser gratings move energy to coarser scales


def test_a_horizontal_flip_mirrors_orientations_and_blocks():
    images = smooth_images(6, seed=1)
    g, flipped = by_filter(gist(images)), by_filter(gist(images[:, :, ::-1]))
    # orientation sensitive: the descriptor changes ...
    assert np.linalg.norm(flipped - g) > 0.2 * np.linalg.norm(g)
    # ... as the flip predicts: angle a -> pi - a maps orientation o to -o (mod 8), block column c to 3 - c
    # (exact but for the Nyquist frequency, which has no mirror image on an even grid)
    mirrored = g[:, :, [(-o) % 8 for o in range(8)]][:, :, :, ::-1]
    assert np.linalg.norm(flipped - mirrored) < 0.01 * np.linalg.norm(g)
    # so each scale keeps its total energy
    np.testing.assert_allclose(flipped.sum(axis=(2, 3, 4)), g.sum(axis=(2, 3, 4)), rtol=0.01)
