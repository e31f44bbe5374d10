"""Chapter 4's loss terms (Eqs. 4.1-4.15) against hand-computed or brute-force values (spec chapter4.md 11.6)."""

import math

import pytest
import torch
import torch.nn.functional as F

from retrieval_bench.studies.crossmodal import losses


def test_projection_matrix_is_signed_scalar_projections_and_not_symmetric():
    zi = torch.tensor([[3.0, 0.0], [0.0, 1.0]])
    zt = torch.tensor([[2.0, 0.0], [1.0, 1.0]])
    a = losses.projection_matrix(zi, zt)
    # A[j, k] = <zi_j, zt_k / |zt_k|>
    assert torch.allclose(a, torch.tensor([[3.0, 3 / math.sqrt(2)], [0.0, 1 / math.sqrt(2)]]))
    assert not torch.allclose(losses.projection_matrix(zt, zi), a.T)  # each row scaled by its own norm
    assert torch.equal(losses.projection_matrix(-zi, zt, absolute=True), a.abs())


def test_matching_target_row_normalised_and_as_printed():
    labels = torch.tensor([0, 0, 1])
    q = losses.matching_target(labels)
    assert torch.allclose(q[0], torch.tensor([0.5, 0.5, 0.0]))
    printed = losses.matching_target(torch.tensor([0, 1]), "softmax_as_printed")
    assert torch.allclose(printed[0], torch.tensor([math.e / (math.e + 1), 1 / (math.e + 1)]))
    with pytest.raises(ValueError, match="kl_target"):
        losses.matching_target(labels, "uniform")


def test_cmpm_kl_equals_a_hand_computed_kl_per_row_both_directions():
    zi = torch.tensor([[1.0, 0.0], [0.0, 2.0]])
    zt = torch.tensor([[1.0, 1.0], [0.0, 1.0]])
    y = torch.tensor([0, 1])
    eps = 1e-8
    total = 0.0
    for a in (losses.projection_matrix(zi, zt), losses.projection_matrix(zt, zi)):
        p = torch.softmax(a, dim=1)
        q = torch.eye(2)  # one positive per row: the row-normalised target is the identity
        total += sum(float(p[j, k] * (math.log(p[j, k]) - math.log(q[j, k] + eps))) for j in range(2)
                     for k in range(2)) / 2
    assert float(losses.cmpm_kl(zi, zt, y)) == pytest.approx(total, rel=1e-5)


def test_cmpm_kl_direction_is_p_given_q():
    zi, zt, y = torch.randn(4, 3), torch.randn(4, 3), torch.tensor([0, 0, 1, 2])
    q = losses.matching_target(y) + 1e-8
    p = torch.softmax(losses.projection_matrix(zi, zt), 1)
    forward = (p * (p.log() - q.log())).sum(1).mean()
    p2 = torch.softmax(losses.projection_matrix(zt, zi), 1)
    assert float(losses.cmpm_kl(zi, zt, y)) == pytest.approx(float(forward + (p2 * (p2.log() - q.log())).sum(1).mean()),
                                                             rel=1e-5)


def test_cmpc_logits_project_onto_the_own_partner_and_normalise_the_classifier():
    zi = torch.tensor([[2.0, 0.0]])
    zt = torch.tensor([[1.0, 1.0]])
    w = torch.tensor([[3.0, 0.0], [0.0, 5.0]])  # columns of norm 3 and 5: normalised in the forward
    it, ti = losses.cmpc_logits(zi, zt, w)
    t_dir = torch.tensor([1.0, 1.0]) / math.sqrt(2)
    proj = (2.0 / math.sqrt(2)) * t_dir  # <zi, t_dir> t_dir
    assert torch.allclose(it[0], proj @ torch.eye(2))
    i_dir = torch.tensor([1.0, 0.0])
    assert torch.allclose(ti[0], (1.0 * i_dir) @ torch.eye(2))
    assert torch.allclose(losses.cmpc(it, ti, torch.tensor([1])),
                          F.cross_entropy(it, torch.tensor([1])) + F.cross_entropy(ti, torch.tensor([1])))


def test_data_imbalance_symmetric_is_zero_on_equal_logits_and_tau_squared_kl_otherwise():
    a = torch.tensor([[1.0, 2.0, 0.5]])
    assert float(losses.data_imbalance(a, a.clone())) == pytest.approx(0.0, abs=1e-7)
    b = torch.tensor([[0.0, 1.0, 3.0]])
    tau = 2.0
    p, q = torch.softmax(a / tau, 1)[0], torch.softmax(b / tau, 1)[0]
    kl = lambda x, z: float((x * (x.log() - z.log())).sum())  # noqa: E731
    expected = tau ** 2 * (kl(p, q) + kl(q, p))
    assert float(losses.data_imbalance(a, b, tau)) == pytest.approx(expected, rel=1e-5)
    assert float(losses.data_imbalance(a, b, tau, "i_to_t")) == pytest.approx(tau ** 2 * kl(p, q), rel=1e-5)


def test_data_imbalance_as_printed_is_a_constant_with_no_gradient():
    """The degeneracy of the printed Eq. 4.11 pinned, so that nobody 'fixes' the option silently."""
    a = torch.randn(8, 20, requires_grad=True)
    b = torch.randn(8, 20, requires_grad=True)
    value = losses.data_imbalance(a, b, 4.0, "as_printed")
    assert abs(float(value.detach())) < 1e-5
    value.backward()
    assert float(a.grad.norm()) < 1e-6 and float(b.grad.norm()) < 1e-6


def test_bidirectional_triplet_takes_the_hardest_positive_and_negative():
    # images along the axes; texts chosen so the cosine similarities are known
    zi = torch.tensor([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    zt = torch.tensor([[1.0, 0.0], [0.6, 0.8], [0.8, 0.6]])
    y = torch.tensor([0, 0, 1])
    s = F.normalize(zi, dim=1) @ F.normalize(zt, dim=1).T
    m = 0.5

    def hard(sim, pos):  # negatives: other instances only (never the anchor itself)
        out = []
        for j in range(len(sim)):
            p = [sim[j, k] for k in range(sim.shape[1]) if pos[j, k]]
            n = [sim[j, k] for k in range(sim.shape[1]) if y[k] != y[j]]
            if p and n:
                out.append(max(0.0, m - min(p) + max(n)))
        return sum(out) / len(out) if out else 0.0

    same = (y[:, None] == y[None, :])
    expected = hard(s, same) + hard(s.T, same)
    assert float(losses.bidirectional_triplet(zi, zt, y, m, intra=False)) == pytest.approx(float(expected), rel=1e-5)
    si = F.normalize(zi, dim=1) @ F.normalize(zi, dim=1).T
    st = F.normalize(zt, dim=1) @ F.normalize(zt, dim=1).T
    others = same & ~torch.eye(3, dtype=torch.bool)
    with_intra = expected + hard(si, others) + hard(st, others)  # anchor 2 has no positive: left out
    assert float(losses.bidirectional_triplet(zi, zt, y, m)) == pytest.approx(float(with_intra), rel=1e-5)


def test_a_perfectly_separated_embedding_has_no_triplet_loss():
    zi = torch.tensor([[1.0, 0.0, 0.0], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    y = torch.tensor([0, 0, 1, 2])
    assert float(losses.bidirectional_triplet(zi, zi.clone(), y, 0.5)) == 0.0


def test_intra_term_is_zero_when_no_instance_has_two_pairs():
    zi, zt = torch.randn(4, 3), torch.randn(4, 3)
    y = torch.arange(4)
    assert float(losses.bidirectional_triplet(zi, zt, y, intra=True)) == pytest.approx(
        float(losses.bidirectional_triplet(zi, zt, y, intra=False)))


def test_negative_entropy_and_modality_classification():
    assert float(losses.negative_entropy(torch.zeros(5, 2))) == pytest.approx(-math.log(2))
    li, lt = torch.tensor([[2.0, 0.0]]), torch.tensor([[0.0, 1.0]])
    expected = F.cross_entropy(li, torch.tensor([0])) + F.cross_entropy(lt, torch.tensor([1]))
    assert float(losses.modality_classification(li, lt)) == pytest.approx(float(expected))


def test_vsepp_hinge_sums_the_hardest_violations_and_never_uses_an_own_instance_negative():
    zi = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    zt = torch.tensor([[1.0, 0.1], [0.1, 1.0], [1.0, 0.9]])
    y = torch.tensor([0, 1, 0])  # pairs 0 and 2 share an instance: never each other's negatives
    s = F.normalize(zi, dim=1) @ F.normalize(zt, dim=1).T
    total = 0.0
    for j in range(3):
        neg_t = max(float(s[j, k]) for k in range(3) if y[k] != y[j])
        neg_i = max(float(s[k, j]) for k in range(3) if y[k] != y[j])
        total += max(0.0, 0.2 - float(s[j, j]) + neg_t) + max(0.0, 0.2 - float(s[j, j]) + neg_i)
    assert float(losses.vsepp_max_violation(zi, zt, y, 0.2)) == pytest.approx(total, rel=1e-5)
