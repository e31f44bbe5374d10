"""The loss terms of chapter 3 (and DCMH) as pure functions of tensors.

Pair terms take the logits of every (anchor, partner) pair and return the
mean over pairs; per-sample terms return the mean over anchors of a sum over
bits, labels or classes.  How they are weighted and scaled is the method's
business (spec chapter3.md 2.6).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def pair_logits(anchors: torch.Tensor, partners: torch.Tensor) -> torch.Tensor:
    """Half the inner product of every anchor with every partner: Δ = ½ FᵀG on features, Γ = ½ HᵀH on
    codes (L966, L981), DCMH's θ = ½ FᵀG."""
    return 0.5 * anchors @ partners.T


def similarity(anchor_labels: torch.Tensor, partner_labels: torch.Tensor) -> torch.Tensor:
    """S_ij = 1 when the two share a label (L929; DCMH)."""
    return (anchor_labels.float() @ partner_labels.float().T > 0).float()


def multilevel_similarity(anchor_labels: torch.Tensor, partner_labels: torch.Tensor) -> torch.Tensor:
    """w_ij = (shared labels) / c (L958, L964)."""
    return anchor_labels.float() @ partner_labels.float().T / anchor_labels.shape[1]


def pairwise_nll(logits: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
    """Eq. 3.5 with its sign corrected (spec 2.4): the negative log-likelihood of S under σ(logit),
    log(1 + e^ψ) − S ψ, as DCMH minimises it; mean over pairs."""
    return (F.softplus(logits) - s * logits).mean()


def multilevel_mse(logits: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """Eq. 3.3: (σ(2Δ) − w)², with Δ the half inner product (so σ(2Δ) = σ(FᵀG)); mean over pairs."""
    return (torch.sigmoid(2 * logits) - w).pow(2).mean()


def label_bce(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Eq. 3.6: binary cross-entropy summed over the c labels, mean over anchors."""
    return F.binary_cross_entropy_with_logits(logits, labels.float(), reduction="none").sum(dim=1).mean()


def quantisation(relaxed: torch.Tensor, codes: torch.Tensor) -> torch.Tensor:
    """Eq. 3.1: Σ_k (H_k − B_k)², mean over anchors."""
    return (relaxed - codes).pow(2).sum(dim=1).mean()


def negative_entropy(logits: torch.Tensor) -> torch.Tensor:
    """Eq. 3.2's Σ_m P_m log P_m of a predictor's softmax, mean over rows: between −log M (uniform,
    the most uncertain) and 0 (certain).  Minimising it maximises the predictor's uncertainty."""
    log_p = F.log_softmax(logits, dim=1)
    return (log_p.exp() * log_p).sum(dim=1).mean()


def modality_ce(logits: torch.Tensor, modality: torch.Tensor) -> torch.Tensor:
    """The modality predictor's own objective (spec 2.2, `modality_ce`): cross-entropy of the true
    modality (0 image, 1 text)."""
    return F.cross_entropy(logits, modality)


def dcmh_balance(outputs: torch.Tensor) -> torch.Tensor:
    """DCMH's bit-balance term ‖Σ_j F_j‖² over every training item."""
    return outputs.sum(dim=0).pow(2).sum()


def binarise(relaxed: torch.Tensor) -> torch.Tensor:
    """sign with sign(0) := +1 (spec 2.1): codes in {−1, +1}."""
    return torch.where(relaxed >= 0, 1.0, -1.0).to(relaxed.dtype)


UNIFORM_NEGATIVE_ENTROPY = -math.log(2)  # two modalities, a predictor that cannot tell them apart
