import math

import pytest
import torch
import torch.nn.functional as F

from incremental_retrieval import losses


def normalised(rows):
    return F.normalize(torch.tensor(rows, dtype=torch.float64), dim=1)


def test_triplet_is_eq_5_2_with_batch_hard_mining():
    emb = normalised([[1, 0], [0.8, 0.6], [0, 1], [-0.6, 0.8], [0.6, 0.8], [1, 0.2]])
    labels = torch.tensor([0, 0, 1, 1, 2, 2])
    sim = emb @ emb.t()
    expected = []
    for i in range(6):
        pos = [float(sim[i, j]) for j in range(6) if j != i and labels[j] == labels[i]]
        neg = [float(sim[i, j]) for j in range(6) if labels[j] != labels[i]]
        expected.append(max(0.0, 0.5 + max(neg) - min(pos)))
    got = losses.triplet(emb, labels, margin=0.5)
    assert float(got) == pytest.approx(sum(expected) / 6, abs=1e-6)


def test_classification_uses_only_the_trained_classes_outputs():
    logits = torch.tensor([[5.0, 1.0, 2.0, 0.0]])
    labels = torch.tensor([2])
    got = losses.classification(logits, labels, first_class=2)
    expected = -math.log(math.exp(2.0) / (math.exp(2.0) + math.exp(0.0)))
    assert float(got) == pytest.approx(expected)


def test_knowledge_distillation_is_eq_5_3():
    student = torch.tensor([[1.0, 2.0, 9.0], [0.5, -1.0, 3.0]])  # third column: a new class
    teacher = torch.tensor([[2.0, 1.0], [0.0, 0.0]])
    t = 2.0
    expected = 0.0
    for s_row, t_row in zip(student, teacher):
        p = torch.softmax(t_row / t, 0)
        q = torch.softmax(s_row[:2] / t, 0)
        expected += -(p * q.log()).sum()
    assert float(losses.knowledge_distillation(student, teacher, t)) == pytest.approx(float(expected / 2))


def test_feature_l2_is_mean_squared_distance():
    a, b = torch.tensor([[1.0, 0.0], [0.0, 1.0]]), torch.tensor([[0.0, 0.0], [0.0, 3.0]])
    assert float(losses.feature_l2(a, b)) == pytest.approx((1 + 4) / 2)


def test_mmd_is_eq_5_5_with_a_multi_bandwidth_gaussian_kernel():
    g = torch.Generator().manual_seed(0)
    r, r2 = torch.randn(5, 3, generator=g, dtype=torch.float64), torch.randn(5, 3, generator=g, dtype=torch.float64)
    pooled = torch.cat([r, r2])
    d = ((pooled[:, None] - pooled[None]) ** 2).sum(-1)
    base = d.sum() / (10 * 10 - 10)

    def k(x, y):
        d2 = ((x[:, None] - y[None]) ** 2).sum(-1)
        return sum(torch.exp(-d2 / (base * 2.0 ** (m - 2))) for m in range(5))

    expected = torch.sqrt(k(r, r).sum() - 2 * k(r, r2).sum() + k(r2, r2).sum()) / 5
    assert float(losses.mmd(r, r2, eps=0.0)) == pytest.approx(float(expected), rel=1e-9)


def test_mmd_is_zero_and_differentiable_when_student_equals_teacher():
    teacher = torch.randn(6, 4)
    student = teacher.clone().requires_grad_(True)
    value = losses.mmd(teacher, student)
    value.backward()
    assert value.item() == pytest.approx(0.0, abs=1e-3)
    assert torch.isfinite(student.grad).all()


def test_pair_loss_is_zero_for_well_separated_classes():
    emb = normalised([[1, 0], [1, 0.01], [-1, 0], [-1, 0.01]])
    labels = torch.tensor([0, 0, 1, 1])
    assert float(losses.pair_loss(emb, labels, margin=0.1)) == pytest.approx(0.0, abs=1e-9)
    mixed = normalised([[1, 0], [-1, 0.0], [1, 0.01], [-1, 0.01]])
    assert float(losses.pair_loss(mixed, labels, margin=0.1)) > 1.0
