"""The loss terms of chapters 3 (and DCMH) and 4 (CMPM/CMPC, ITMeetsAL, VSE++) as pure functions of tensors.

Pair terms take the logits of every (anchor, partner) pair and return the
mean over pairs; per-sample terms return the mean over anchors of a sum over
bits, labels or classes.  How they are weighted and scaled is the method's
business (spec chapter3.md 2.6, chapter4.md 2).
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


# ---------------------------------------------------------------- chapter 4 (Eqs. 4.1-4.15; spec chapter4.md 2)
# Inputs are the un-normalised shared-space features (N x d); every "(1/N) Σ_j" is a batch mean and every
# two-direction sum a sum of the two means.

def projection_matrix(za: torch.Tensor, zb: torch.Tensor, absolute: bool = False) -> torch.Tensor:
    """Eqs. 4.2-4.3 as the N x N matrix A[j, k] = <za_j, zb_k / |zb_k|> (signed, CMPM; the printed double
    sum of absolute values is a scalar).  `absolute`: the thesis-literal |.| element-wise."""
    a = za @ F.normalize(zb, dim=1).T
    return a.abs() if absolute else a


def matching_target(labels: torch.Tensor, form: str = "row_normalised") -> torch.Tensor:
    """Eq. 4.8's target over a batch: row-normalised same-instance mask (CMPM, 1/n+ on the positives;
    L1168) or `softmax_as_printed` (a row softmax of the 0/1 mask, nearly uniform)."""
    same = (labels[:, None] == labels[None, :]).float()
    if form == "row_normalised":
        return same / same.sum(dim=1, keepdim=True)
    if form == "softmax_as_printed":
        return torch.softmax(same, dim=1)
    raise ValueError(f"kl_target {form!r}: choose row_normalised or softmax_as_printed")


def cmpm_kl(zi: torch.Tensor, zt: torch.Tensor, labels: torch.Tensor, target: str = "row_normalised",
            absolute: bool = False, eps: float = 1e-8) -> torch.Tensor:
    """Eqs. 4.6-4.9: KL(P || Q) per row of the row-softmaxed projection matrices, mean over rows,
    i->t plus t->i; eps on Q only."""
    log_q = torch.log(matching_target(labels, target) + eps)
    total = zi.new_zeros(())
    for a in (projection_matrix(zi, zt, absolute), projection_matrix(zt, zi, absolute)):
        log_p = F.log_softmax(a, dim=1)
        total = total + (log_p.exp() * (log_p - log_q)).sum(dim=1).mean()
    return total


def cmpc_logits(zi: torch.Tensor, zt: torch.Tensor, weight: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Eq. 4.10's logits: each feature projected onto its own pair's partner, <z_i, zt_j/|zt_j|> zt_j/|zt_j|,
    scored by the norm-softmax classifier (columns of `weight`, d x C, normalised every forward; no bias)."""
    w = F.normalize(weight, dim=0)
    ti, it = F.normalize(zt, dim=1), F.normalize(zi, dim=1)
    proj_it = (zi * ti).sum(dim=1, keepdim=True) * ti
    proj_ti = (zt * it).sum(dim=1, keepdim=True) * it
    return proj_it @ w, proj_ti @ w


def cmpc(logits_it: torch.Tensor, logits_ti: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """L_ce (Eq. 4.10): the two softmax cross-entropies, each a batch mean, summed."""
    return F.cross_entropy(logits_it, labels) + F.cross_entropy(logits_ti, labels)


DI_FORMS = ("symmetric", "as_printed", "i_to_t", "t_to_i")


def data_imbalance(logits_it: torch.Tensor, logits_ti: torch.Tensor, tau: float = 4.0, form: str = "symmetric",
                   detach: str = "none", eps: float = 1e-8) -> torch.Tensor:
    """L_di (Eq. 4.11) x tau², a batch mean of per-pair sums over the classes.  `symmetric` (default, the
    minimal repair): KL(p_it || p_ti) + KL(p_ti || p_it) of the tempered softmaxes; `as_printed`:
    p log(p / (p + eps)) of each side, a constant ~0 (kept to show it); `i_to_t` / `t_to_i` one KL.
    `detach`: stop the gradient of the text (`text`) or image (`image`) side."""
    if form not in DI_FORMS:
        raise ValueError(f"di_form {form!r}: choose one of {list(DI_FORMS)}")
    if detach not in ("none", "text", "image"):
        raise ValueError(f"di_detach {detach!r}: choose none, text or image")
    log_it, log_ti = F.log_softmax(logits_it / tau, dim=1), F.log_softmax(logits_ti / tau, dim=1)
    if detach == "text":
        log_ti = log_ti.detach()
    elif detach == "image":
        log_it = log_it.detach()
    p_it, p_ti = log_it.exp(), log_ti.exp()

    def kl(log_p, log_q):  # log p from log_softmax (spec 2.5); eps on the other side, as printed
        return (log_p.exp() * (log_p - torch.log(log_q.exp() + eps))).sum(dim=1)

    if form == "as_printed":
        per_pair = (p_it * torch.log(p_it / (p_it + eps))).sum(dim=1) + (p_ti * torch.log(p_ti / (p_ti + eps))).sum(1)
    elif form == "symmetric":
        per_pair = kl(log_it, log_ti) + kl(log_ti, log_it)
    elif form == "i_to_t":
        per_pair = kl(log_it, log_ti)
    else:
        per_pair = kl(log_ti, log_it)
    return tau ** 2 * per_pair.mean()


def _batch_hard(similarity: torch.Tensor, positive: torch.Tensor, negative: torch.Tensor,
                margin: float) -> torch.Tensor:
    """Per anchor (row): max(0, m - hardest positive + hardest negative), mean over anchors with both."""
    hardest_positive = similarity.masked_fill(~positive, float("inf")).min(dim=1).values
    hardest_negative = similarity.masked_fill(~negative, float("-inf")).max(dim=1).values
    usable = torch.isfinite(hardest_positive) & torch.isfinite(hardest_negative)
    if not usable.any():
        return similarity.new_zeros(())
    return F.relu(margin - hardest_positive[usable] + hardest_negative[usable]).mean()


def bidirectional_triplet(zi: torch.Tensor, zt: torch.Tensor, labels: torch.Tensor, margin: float = 0.5,
                          intra: bool = True) -> torch.Tensor:
    """L_tr = L_inter + L_intra (Eqs. 4.12-4.14), batch-hard on cosine similarities: image anchors
    against texts, text anchors against images, and (intra) image-image and text-text, the anchor itself
    neither its own positive nor its own negative.  Positives and negatives by instance label."""
    i, t = F.normalize(zi, dim=1), F.normalize(zt, dim=1)
    same = labels[:, None] == labels[None, :]
    loss = _batch_hard(i @ t.T, same, ~same, margin) + _batch_hard(t @ i.T, same, ~same, margin)
    if intra:
        others = same & ~torch.eye(len(labels), dtype=torch.bool, device=labels.device)
        loss = loss + _batch_hard(i @ i.T, others, ~same, margin) + _batch_hard(t @ t.T, others, ~same, margin)
    return loss


def modality_classification(logits_image: torch.Tensor, logits_text: torch.Tensor) -> torch.Tensor:
    """L_c (Eq. 4.5): the discriminator's cross-entropy, image = class 0, text = class 1, each a batch
    mean, summed."""
    image = torch.zeros(len(logits_image), dtype=torch.long, device=logits_image.device)
    text = torch.ones(len(logits_text), dtype=torch.long, device=logits_text.device)
    return modality_ce(logits_image, image) + modality_ce(logits_text, text)


def vsepp_max_violation(zi: torch.Tensor, zt: torch.Tensor, labels: torch.Tensor, margin: float = 0.2) -> torch.Tensor:
    """VSE++'s hinge with the hardest negative (`--max_violation`), summed over the batch as VSE++ does:
    per pair j, [m - s_jj + max over texts of other instances s_jk]+ + [m - s_jj + max over images of
    other instances s_kj]+ (a pair's other captions of its own instance are never negatives)."""
    s = F.normalize(zi, dim=1) @ F.normalize(zt, dim=1).T
    positive = s.diagonal()
    other = labels[:, None] != labels[None, :]
    hardest_text = s.masked_fill(~other, float("-inf")).max(dim=1).values
    hardest_image = s.masked_fill(~other, float("-inf")).max(dim=0).values
    return (F.relu(margin - positive + hardest_text) + F.relu(margin - positive + hardest_image)).sum()
