import math

import pytest
import torch
import torch.nn.functional as F

from retrieval_bench.studies.incremental import losses


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


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_triplet_equals_pytorch_metric_learnings_batch_hard_triplet(seed):
    """The hand-written loss is the library's TripletMarginLoss + BatchHardMiner
    on cosine similarity, in value and gradient, including a batch where one
    class has a single image (that anchor has no positive and is left out)."""
    from pytorch_metric_learning import distances, miners, reducers
    from pytorch_metric_learning import losses as pml_losses

    g = torch.Generator().manual_seed(seed)
    labels = torch.tensor([0, 0, 0, 1, 1, 1, 2, 2, 3, 3, 3, 4])
    raw = torch.randn(len(labels), 16, generator=g, dtype=torch.float64)
    mine = F.normalize(raw, dim=1).requires_grad_()
    theirs = mine.detach().clone().requires_grad_()
    similarity = distances.CosineSimilarity()
    reference = pml_losses.TripletMarginLoss(margin=0.5, distance=similarity, reducer=reducers.MeanReducer())
    expected = reference(theirs, labels, miners.BatchHardMiner(distance=similarity)(theirs, labels))
    got = losses.triplet(mine, labels, margin=0.5)
    got.backward()
    expected.backward()
    assert got.item() == pytest.approx(expected.item(), abs=1e-9)
    assert got.item() > 0  # random embeddings violate the margin: the comparison is not 0 == 0
    torch.testing.assert_close(mine.grad, theirs.grad, atol=1e-9, rtol=1e-7)


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


def test_mmd_near_the_teacher_matches_float64_value_and_gradient():
    # Student = teacher + 1e-4 noise, as at the start of a task with frozen
    # BatchNorm: in float32 the kernel sums cancel.
    g = torch.Generator().manual_seed(0)
    teacher = torch.nn.functional.normalize(torch.randn(80, 512, generator=g), dim=1)
    noise = 1e-4 * torch.randn(80, 512, generator=g)
    student = (teacher + noise).requires_grad_(True)
    value = losses.mmd(teacher, student)
    value.backward()
    student64 = (teacher.double() + noise.double()).requires_grad_(True)
    reference = losses.mmd(teacher.double(), student64)
    reference.backward()
    assert value.dtype == torch.float32
    assert value.item() == pytest.approx(reference.item(), rel=1e-4)
    assert float(student.grad.norm()) == pytest.approx(float(student64.grad.norm()), rel=1e-3)


def test_pair_loss_divides_by_the_batch_size():
    # One class-1 image lies among class 0: 4 of the 6 anchors find a hard
    # pair; their (1 - s_pos) + s_neg is summed and divided by all 6.
    emb = normalised([[1, 0], [0.95, 0.3], [0.9, -0.4], [-1, 0.05], [-0.95, 0.3], [-0.9, -0.3]])
    labels = torch.tensor([0, 0, 1, 1, 1, 1])
    sim = emb @ emb.t()
    total, kept = 0.0, 0
    for i in range(6):
        same = (labels == labels[i]) & (torch.arange(6) != i)
        pos, neg = sim[i][same], sim[i][labels != labels[i]]
        hard_pos, hard_neg = pos[pos - 0.1 < neg.max()], neg[neg + 0.1 > pos.min()]
        if len(hard_pos) and len(hard_neg):
            total, kept = total + float((1 - hard_pos).mean() + hard_neg.mean()), kept + 1
    assert kept == 4
    assert float(losses.pair_loss(emb, labels, margin=0.1)) == pytest.approx(total / 6)


@pytest.mark.parametrize("temperature", [1.0, 4.0])
def test_gram_kl_is_the_kl_of_row_softmaxes_of_the_gram_matrices(temperature):
    """A hand-computed case: teacher rows (1) and (0) give G_t = [[1, 0], [0, 0]];
    a zero student gives uniform rows.  Row 0 contributes
    p0 log(2 p0) + p1 log(2 p1) with p = softmax([1/T, 0]); row 1 is uniform in
    both (0).  Times T^2, divided by N = 2."""
    teacher = torch.tensor([[1.0], [0.0]])
    student = torch.zeros(2, 1)
    p0 = math.exp(1 / temperature) / (math.exp(1 / temperature) + 1)
    p1 = 1 - p0
    expected = temperature**2 * (p0 * math.log(2 * p0) + p1 * math.log(2 * p1)) / 2
    got = losses.gram_kl(teacher, student, temperature=temperature)
    assert got.item() == pytest.approx(expected, rel=1e-6)
    assert losses.gram_kl(teacher, student, temperature=temperature, reduction="sum").item() == \
        pytest.approx(2 * expected, rel=1e-6)
    assert losses.gram_kl(teacher, student, temperature=temperature, t2_scale=False).item() == \
        pytest.approx(expected / temperature**2, rel=1e-6)


def test_gram_kl_on_3_rows_matches_a_transcription_of_eq_6_5():
    g = torch.Generator().manual_seed(0)
    teacher = F.normalize(torch.randn(3, 4, generator=g, dtype=torch.float64), dim=1)
    student = F.normalize(torch.randn(3, 4, generator=g, dtype=torch.float64), dim=1)

    def row_softmax(features, i, t):
        logits = [sum(a * b for a, b in zip(features[i].tolist(), features[j].tolist())) / t for j in range(3)]
        z = sum(math.exp(v) for v in logits)
        return [math.exp(v) / z for v in logits]

    t = 4.0
    expected = 0.0
    for i in range(3):
        p, q = row_softmax(teacher, i, t), row_softmax(student, i, t)
        expected += sum(pi * math.log(pi / qi) for pi, qi in zip(p, q))
    expected *= t**2 / 3
    assert losses.gram_kl(teacher, student).item() == pytest.approx(expected, rel=1e-9)
    assert expected > 0


def test_gram_kl_is_zero_for_equal_inputs_and_its_direction_swaps_the_arguments():
    g = torch.Generator().manual_seed(1)
    a = F.normalize(torch.randn(5, 8, generator=g), dim=1)
    b = F.normalize(torch.randn(5, 8, generator=g), dim=1)
    assert losses.gram_kl(a, a.clone()).item() == pytest.approx(0.0, abs=1e-7)
    swapped = losses.gram_kl(a, b, direction="student_teacher")
    assert swapped.item() == pytest.approx(losses.gram_kl(b, a).item(), rel=1e-6)
    assert swapped.item() != pytest.approx(losses.gram_kl(a, b).item(), rel=1e-3)  # KL is not symmetric here
    with pytest.raises(ValueError, match="direction"):
        losses.gram_kl(a, b, direction="both")


def test_gram_kl_gradient_reaches_only_what_is_not_detached():
    g = torch.Generator().manual_seed(2)
    teacher = F.normalize(torch.randn(4, 6, generator=g), dim=1).requires_grad_()
    student = F.normalize(torch.randn(4, 6, generator=g), dim=1).requires_grad_()
    losses.gram_kl(teacher.detach(), student).backward()
    assert teacher.grad is None and student.grad.abs().sum() > 0
    losses.gram_kl(teacher, student).backward()  # not detached: both sides learn (the chapter 6 code's case)
    assert teacher.grad.abs().sum() > 0


def _nce_by_hand(embeddings, labels, n_negatives, temperature):
    sim, losses_ = embeddings @ embeddings.t(), []
    for a in range(len(labels)):
        positives = [sim[a, j].item() for j in range(len(labels)) if labels[j] == labels[a] and j != a]
        negatives = sorted((sim[a, j].item() for j in range(len(labels)) if labels[j] != labels[a]), reverse=True)
        logits = torch.tensor([min(positives)] + negatives[:n_negatives]) / temperature
        losses_.append(-torch.log_softmax(logits, 0)[0])
    return torch.stack(losses_).mean().item()


def test_nce_is_cross_entropy_over_hardest_positive_and_hardest_negatives():
    torch.manual_seed(0)
    embeddings = F.normalize(torch.randn(12, 6), dim=1)
    labels = torch.tensor([0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3])
    got = losses.nce(embeddings, labels, n_negatives=4, temperature=0.5)
    assert got.item() == pytest.approx(_nce_by_hand(embeddings, labels, 4, 0.5), rel=1e-5)
    # fewer negatives (3) than asked for (9): all of them, none invented
    few = losses.nce(embeddings[:6], labels[:6], n_negatives=9)
    assert few.item() == pytest.approx(_nce_by_hand(embeddings[:6], labels[:6], 9, 1.0), rel=1e-5)
