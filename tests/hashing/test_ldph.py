"""LDPH's pieces: the affine fit, the surrogate's straight-through gradient, the orthogonality gradient, and
the method's determinism."""

import numpy as np
import torch

from retrieval_bench.core.registry import method_class
from retrieval_bench.studies.hashing.losses import fit_affine, ldp_surrogate, orthogonality_penalty


def test_fit_affine_is_numpy_least_squares():
    rng = np.random.default_rng(0)
    d = rng.uniform(0, 5, 200)
    h = 3.0 * d + 1.0 + rng.normal(0, 0.3, 200)
    expected, *_ = np.linalg.lstsq(np.stack([d, np.ones_like(d)], axis=1), h, rcond=None)
    assert np.allclose(fit_affine(h, d), expected)


def test_surrogate_gradient_is_the_authors_straight_through_error():
    # two pairs (4 rows), 3 bits: rows 0/2 and 1/3 are partners
    out = torch.tensor([[0.9, 0.2, 0.6], [0.3, 0.7, 0.1], [0.1, 0.4, 0.8], [0.6, 0.6, 0.4]], requires_grad=True)
    partner = torch.cat([out[2:], out[:2]])
    target = torch.tensor([[1.0, 0.0, 1.0], [0.0, 1.0, 0.0], [0.0, 1.0, 1.0], [1.0, 0.0, 0.0]])
    distance = torch.tensor([2.0, 1.0, 2.0, 1.0])
    a, b, mu, beta = 0.5, 0.25, 0.5, 0.1
    loss, _ = ldp_surrogate(out, target, partner, distance, a, b, mu, beta)
    loss.backward()
    o = out.detach().numpy()
    z = np.round(o)
    zp = np.concatenate([z[2:], z[:2]])
    r = (z != zp).sum(axis=1) - (a * distance.numpy() + b)
    expected = beta * (o - target.numpy()) + (mu / 3) * r[:, None] * (1 - 2 * zp)
    assert np.allclose(out.grad.numpy(), expected / 4, atol=1e-6)  # mean over the 4 rows


def test_orthogonality_gradient_is_w_plus_wwt_minus_i_w():
    w = torch.randn(5, 3, dtype=torch.float64, requires_grad=True)
    orthogonality_penalty(w).backward()
    wd = w.detach()
    assert torch.allclose(w.grad, wd + (wd @ wd.T - torch.eye(5, dtype=torch.float64)) @ wd)


def test_orthogonal_rows_cost_only_their_norm():
    w = torch.eye(4, dtype=torch.float64)
    assert float(orthogonality_penalty(w)) == 2.0  # 1/2 ||I||^2; W W^T - I = 0


def small_run(seed, **hparams):
    from sklearn.datasets import load_digits

    x = load_digits().data[:300].astype(np.float64)
    rng = np.random.default_rng(seed)
    reference = method_class("itq")().fit(x, 16, rng)
    codes = reference.encode(x)
    model = method_class("ldph")({"pre_epochs": 2, "outer": 2, "epochs": 1, "pairs_per_sample": 2, **hparams})
    model.fit(x, 16, np.random.default_rng(seed), codes)
    return model, model.encode(x), codes


def test_same_seed_same_codes_and_the_history_records_every_outer_iteration():
    model, codes, _ = small_run(0)
    _, again, _ = small_run(0)
    _, other, _ = small_run(1)
    assert (codes == again).all() and (codes != other).any()
    assert [h["iteration"] for h in model.history] == [1, 2]
    assert {"slope", "intercept", "pearson_r_before", "pearson_r_after", "code_term", "orthogonality"} <= set(
        model.history[0])


def test_pretraining_alone_reproduces_most_reference_bits():
    _, codes, reference = small_run(0, pre_epochs=30, outer=0)
    assert (codes == reference).mean() > 0.8


def test_options_are_checked():
    import pytest

    with pytest.raises(ValueError, match="input_scale"):
        method_class("ldph")({"input_scale": "whiten"})
    with pytest.raises(ValueError, match="has no hyper-parameter"):
        method_class("ldph")({"learning_rate": 1.0})
