"""The semantic preserving loss of chapter 5: cross-entropy (Eq. 5.1) and a
triplet loss with hard mining on cosine similarity (Eq. 5.2)."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def classification(logits: torch.Tensor, labels: torch.Tensor, first_class: int = 0) -> torch.Tensor:
    """Eq. 5.1: softmax cross-entropy restricted to the outputs of the classes
    being trained (`first_class` onwards), so new-class images do not push the
    old classes' logits down."""
    return F.cross_entropy(logits[:, first_class:], labels - first_class)


def pair_masks(labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(positive, negative): which pairs (i, j) of a batch share a class (i != j) and which do not."""
    same = labels[:, None] == labels[None, :]
    eye = torch.eye(len(labels), dtype=torch.bool, device=labels.device)
    return same & ~eye, ~same


def triplet(embeddings: torch.Tensor, labels: torch.Tensor, margin: float = 0.5,
            distance: str = "cosine") -> torch.Tensor:
    """Eq. 5.2: mean over anchors of max(0, margin + S_neg - S_pos), S the dot
    product of L2-normalised embeddings, with the hardest positive and the
    hardest negative of each anchor in the batch (batch-hard mining); anchors
    without a positive or a negative in the batch are left out.
    `distance="squared_euclidean"`: Eq. 7.1's max(0, margin + D(a,p) - D(a,n))
    with D = ||a - b||^2 of the unit vectors = 2 - 2S (same hardest pairs).

    Written out rather than taken from pytorch-metric-learning: importing that
    library costs about 0.7 s per training job (it pulls in scipy.stats), a
    tenth of a mini job; tests/test_losses.py checks this equals its
    TripletMarginLoss + BatchHardMiner on cosine similarity, value and gradient.
    """
    unit = F.normalize(embeddings, dim=1)
    sim = unit @ unit.t()
    positive, negative = pair_masks(labels)
    anchors = positive.any(1) & negative.any(1)
    if not anchors.any():
        return embeddings.sum() * 0.0
    # the first index of the extreme value, as pytorch-metric-learning's miner picks it
    hardest_positive = sim.masked_fill(~positive, float("inf")).argmin(1)
    hardest_negative = sim.masked_fill(~negative, float("-inf")).argmax(1)
    rows = torch.arange(len(labels), device=labels.device)
    scale = {"cosine": 1.0, "squared_euclidean": 2.0}[distance]
    violation = scale * (sim[rows, hardest_negative] - sim[rows, hardest_positive]) + margin
    return F.relu(violation[anchors]).mean()


def pair_loss(embeddings: torch.Tensor, labels: torch.Tensor, margin: float = 0.1) -> torch.Tensor:
    """The original code's metric loss (REFERENCE_NOTES): hard-mined pairs,
    mean(1 - s_pos) + mean(s_neg) over positives less similar than the
    hardest negative + margin and negatives more similar than the hardest
    positive - margin, summed over anchors and divided by the batch size (an
    anchor with no hard pair adds 0, as in the original code; averaging over
    the anchors kept instead would scale the gradient up as mining finds
    fewer of them).  Offered as an option; the thesis text uses `triplet`."""
    sim = embeddings @ embeddings.t()
    pos_mask, neg_mask = pair_masks(labels)
    terms = []
    for i in range(len(labels)):
        pos, neg = sim[i][pos_mask[i]], sim[i][neg_mask[i]]
        if len(pos) == 0 or len(neg) == 0:
            continue
        hard_pos = pos[pos - margin < neg.max()]
        hard_neg = neg[neg + margin > pos.min()]
        if len(hard_pos) and len(hard_neg):
            terms.append((1 - hard_pos).mean() + hard_neg.mean())
    if not terms:
        return embeddings.sum() * 0.0
    return torch.stack(terms).sum() / len(labels)


def nce(embeddings: torch.Tensor, labels: torch.Tensor, n_negatives: int = 9, temperature: float = 1.0) -> torch.Tensor:
    """NCE_EWC's normalised cross-entropy [233] (thesis L2085): per anchor, a
    softmax over the similarities to its hardest positive (the least similar
    image of its class) and its `n_negatives` hardest negatives (the most
    similar images of other classes; all of them where there are fewer), the
    positive being the target.  Anchors without a positive or a negative are
    left out."""
    sim = embeddings @ embeddings.t()
    positive, negative = pair_masks(labels)
    anchors = positive.any(1) & negative.any(1)
    if not anchors.any():
        return embeddings.sum() * 0.0
    hardest_positive = sim.masked_fill(~positive, float("inf")).min(1).values
    k = min(n_negatives, int(negative.sum(1).max()))
    # a missing negative is -inf: it adds exp(-inf) = 0 to the softmax
    hardest_negatives = sim.masked_fill(~negative, float("-inf")).topk(k, dim=1).values
    logits = torch.cat([hardest_positive[:, None], hardest_negatives], 1)[anchors] / temperature
    return F.cross_entropy(logits, torch.zeros(len(logits), dtype=torch.long, device=logits.device))
