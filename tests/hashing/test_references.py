"""The reference hashers against their definitions, and faiss's versions where they exist."""

import numpy as np
import pytest

from retrieval_bench.core.registry import method_class
from retrieval_bench.studies.hashing.methods.base import centred_pca


@pytest.fixture(scope="module")
def digits():
    from sklearn.datasets import load_digits

    return load_digits().data.astype(np.float64)


def fit(name, x, bits, seed=0, **hparams):
    return method_class(name)(hparams).fit(x, bits, np.random.default_rng(seed))


def test_lsh_is_the_sign_of_seeded_gaussian_projections_of_centred_data(digits):
    model = fit("lsh", digits, 32, seed=3)
    projection = np.random.default_rng(3).standard_normal((64, 32))
    expected = ((digits - digits.mean(axis=0)) @ projection > 0).astype(np.uint8)
    assert (model.encode(digits) == expected).all()
    assert (fit("lsh", digits, 32, seed=3).encode(digits) == model.encode(digits)).all()
    assert (fit("lsh", digits, 32, seed=4).encode(digits) != model.encode(digits)).any()


def test_lsh_defines_codes_longer_than_the_dimension():
    x = np.random.default_rng(0).normal(size=(50, 4))
    assert fit("lsh", x, 16).encode(x).shape == (50, 16)


def test_pcah_signs_the_top_principal_components(digits):
    codes = fit("pcah", digits, 16).encode(digits)
    mean, directions, variances = centred_pca(digits, 16)
    assert np.all(np.diff(variances) <= 0)
    assert (codes == ((digits - mean) @ directions > 0)).all()
    assert not method_class("pcah")().supports(128, 64)


def test_pcah_matches_faiss_pca_lsh_up_to_the_sign_of_each_direction(digits):
    ours = fit("pcah", digits, 32).encode(digits)
    theirs = fit("faiss_pcah", digits, 32).encode(digits)
    agreement = (ours == theirs).mean(axis=0)
    # each bit is the same or its complement (faiss's eigensolver picks its own signs)
    assert np.all((agreement > 0.999) | (agreement < 0.001))


def test_itq_rotation_is_orthogonal_and_its_quantisation_loss_never_rises(digits):
    model = fit("itq", digits, 32)
    losses = np.array(model.quantisation_loss)
    assert np.all(np.diff(losses) <= 1e-6 * losses[0])
    _, pca, _ = centred_pca(digits, 32)
    rotation = pca.T @ model.projection
    assert np.allclose(rotation.T @ rotation, np.eye(32), atol=1e-8)


def test_sh_first_bit_splits_uniform_1d_data_at_the_middle_and_uses_the_smallest_modes():
    x = np.linspace(0.0, 1.0, 1001)[:, None]
    model = fit("sh", x, 8)
    codes = model.encode(x)
    assert list(model.modes) == list(range(1, 9))                # one dimension: modes 1..8 in order
    assert codes[:500, 0].sum() == 500 and codes[501:, 0].sum() == 0  # mode 1: cos > 0 on the first half
    assert np.all(np.diff(model.eigenvalues) > 0)


def test_sh_takes_the_smallest_eigenvalues_over_dimensions():
    rng = np.random.default_rng(0)
    x = np.stack([rng.uniform(0, 4, 2000), rng.uniform(0, 1, 2000)], axis=1)
    model = fit("sh", x, 4)
    # ranges ~4 and ~1: eigenvalues (m pi / R)^2 -> modes 1, 2, 3, 4 of the wide dimension come before mode 1
    # of the narrow one except mode 4 (equal to it up to the ranges' sampling)
    assert list(model.dims[:3]) == [0, 0, 0]
    assert sorted(model.eigenvalues) == list(model.eigenvalues)


def test_faiss_lsh_thresholds_each_bit_at_its_median(digits):
    codes = fit("faiss_lsh", digits, 32).encode(digits)
    assert codes.shape == (len(digits), 32)
    assert np.allclose(codes.mean(axis=0), 0.5, atol=0.02)
