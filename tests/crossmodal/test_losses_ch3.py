"""Each loss term of chapter 3 on a hand-computed case, and the gradient signs."""

import math

import pytest
import torch

from retrieval_bench.studies.crossmodal import losses
from retrieval_bench.studies.crossmodal.encoders import MultiScaleFusion

F_ = torch.tensor([[1.0, 0.0, 2.0], [0.0, -1.0, 1.0]])   # 2 anchors
G_ = torch.tensor([[1.0, 1.0, 0.0], [2.0, 0.0, 1.0], [0.0, 1.0, -1.0]])  # 3 partners
LABELS_A = torch.tensor([[1, 0, 1], [0, 1, 0]])
LABELS_P = torch.tensor([[1, 0, 0], [1, 0, 1], [0, 0, 1]])


def test_pair_logits_are_half_inner_products():
    assert losses.pair_logits(F_, G_).tolist() == [[0.5, 2.0, -1.0], [-0.5, 0.5, -1.0]]


def test_similarity_and_its_levels():
    assert losses.similarity(LABELS_A, LABELS_P).tolist() == [[1, 1, 1], [0, 0, 0]]
    assert losses.multilevel_similarity(LABELS_A, LABELS_P).flatten().tolist() == pytest.approx([1 / 3, 2 / 3, 1 / 3,
                                                                                                 0, 0, 0])


def test_pairwise_nll_by_hand():
    logits = torch.tensor([[0.5, 2.0, -1.0], [-0.5, 0.5, -1.0]])
    s = torch.tensor([[1.0, 1.0, 1.0], [0.0, 0.0, 0.0]])
    expected = [math.log(1 + math.exp(x)) - y * x for row, srow in zip(logits.tolist(), s.tolist())
                for x, y in zip(row, srow)]
    assert losses.pairwise_nll(logits, s).item() == pytest.approx(sum(expected) / 6)


def test_the_corrected_eq_3_5_pulls_similar_pairs_together_and_pushes_others_apart():
    logits = torch.zeros(1, 2, requires_grad=True)
    losses.pairwise_nll(logits, torch.tensor([[1.0, 0.0]])).backward()
    assert logits.grad[0, 0] < 0 < logits.grad[0, 1]  # descent raises the similar pair's logit, lowers the other


def test_multilevel_mse_by_hand():
    logits = torch.tensor([[0.5, -1.0]])
    w = torch.tensor([[0.25, 0.0]])
    sig = [1 / (1 + math.exp(-1.0)), 1 / (1 + math.exp(2.0))]
    assert losses.multilevel_mse(logits, w).item() == pytest.approx(((sig[0] - 0.25) ** 2 + sig[1] ** 2) / 2)


def test_label_bce_sums_over_labels():
    logits = torch.tensor([[0.0, 2.0], [1.0, -1.0]])
    labels = torch.tensor([[1, 0], [0, 0]])
    per = [[math.log(2), math.log(1 + math.exp(2.0))], [math.log(1 + math.exp(1.0)), math.log(1 + math.exp(-1.0))]]
    assert losses.label_bce(logits, labels).item() == pytest.approx((sum(per[0]) + sum(per[1])) / 2)


def test_quantisation_by_hand():
    h = torch.tensor([[0.5, -0.5], [1.0, 0.0]])
    b = torch.tensor([[1.0, -1.0], [1.0, 1.0]])
    assert losses.quantisation(h, b).item() == pytest.approx((0.25 + 0.25 + 0 + 1) / 2)


def test_negative_entropy_is_minus_log_2_and_flat_for_a_uniform_predictor():
    logits = torch.zeros(3, 2, requires_grad=True)
    value = losses.negative_entropy(logits)
    value.backward()
    assert value.item() == pytest.approx(losses.UNIFORM_NEGATIVE_ENTROPY)
    assert torch.allclose(logits.grad, torch.zeros(3, 2))
    certain = losses.negative_entropy(torch.tensor([[20.0, -20.0]]))
    assert -1e-6 < certain.item() <= 0


def test_modality_ce_and_dcmh_balance():
    assert losses.modality_ce(torch.zeros(2, 2), torch.tensor([0, 1])).item() == pytest.approx(math.log(2))
    assert losses.dcmh_balance(torch.tensor([[1.0, -1.0], [1.0, 1.0]])).item() == 4.0


def test_binarise_sends_zero_to_plus_one():
    assert losses.binarise(torch.tensor([-0.2, 0.0, 0.3])).tolist() == [-1.0, 1.0, 1.0]


def test_multi_scale_fusion_pools_and_resizes():
    fusion = MultiScaleFusion((2,))
    bow = torch.tensor([[1.0, 3.0, 5.0, 7.0]])
    out = fusion(bow)
    # window 2: pooled (2, 6), resized to 4 values with half-pixel centres: 2, 3, 5, 6
    assert out.shape == (1, 8)
    assert out[0, :4].tolist() == [1.0, 3.0, 5.0, 7.0]
    assert out[0, 4:].tolist() == pytest.approx([2.0, 3.0, 5.0, 6.0])
