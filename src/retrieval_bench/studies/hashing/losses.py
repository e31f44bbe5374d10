"""LDPH's pieces as pure functions (spec 1.3, 2.1 rows 9-11, 2.3).

The decoded objective (002:71-80): an (a, b)-step, the least-squares line of the pairs' Hamming distances h
on their Euclidean distances d, and a W-step on the network
    mu/N_p ||h - a d - b||^2 + beta/N ||U - C||_F^2 + gamma ||W^T W - I||_F^2.
h is a count of differing rounded bits, so the W-step follows the authors' code: a straight-through
surrogate whose gradient for output a_s of row s with partner t is
    beta (a_s - y_s) + (mu / bits) r_st (1 - 2 z_t),   r_st = Hamming(z_s, z_t) - (a d_st + b),
z = round(output), the partner's bits held fixed (2.1 row 10); the orthogonality term's gradient on each
weight matrix is gamma (W + (W W^T - I) W) (row 11: weight decay and orthogonality together).
"""

from __future__ import annotations

import numpy as np
import torch


def fit_affine(h: np.ndarray, d: np.ndarray) -> tuple[float, float]:
    """(a, b) minimising ||h - a d - b||^2: ordinary least squares of h on [d, 1]."""
    d = np.asarray(d, dtype=np.float64)
    design = np.stack([d, np.ones_like(d)], axis=1)
    (a, b), *_ = np.linalg.lstsq(design, np.asarray(h, dtype=np.float64), rcond=None)
    return float(a), float(b)


def pearson(h: np.ndarray, d: np.ndarray) -> float:
    h, d = np.asarray(h, dtype=np.float64), np.asarray(d, dtype=np.float64)
    if h.std() == 0 or d.std() == 0:
        return 0.0
    return float(np.corrcoef(h, d)[0, 1])


def hamming_of_pairs(codes: np.ndarray, pairs: np.ndarray) -> np.ndarray:
    """Hamming distance of each (i, j) pair of {0, 1} code rows."""
    return (codes[pairs[:, 0]] != codes[pairs[:, 1]]).sum(axis=1).astype(np.float64)


def ldp_surrogate(out: torch.Tensor, target: torch.Tensor, partner: torch.Tensor, distance: torch.Tensor,
                  a: float, b: float, mu: float, beta: float) -> tuple[torch.Tensor, dict[str, float]]:
    """The W-step's loss on rows `out` (sigmoid outputs in (0, 1)), their targets and their partners' outputs
    (the other element of each row's pair), mean over rows; its gradient is the straight-through one of the
    module docstring.  Also the batch's code term and distance term as numbers (for the history)."""
    bits = out.shape[1]
    z_self, z_partner = torch.round(out.detach()), torch.round(partner.detach())
    residual = (z_self != z_partner).sum(dim=1).to(out.dtype) - (a * distance + b)
    code_term = 0.5 * beta * ((out - target) ** 2).sum(dim=1)
    distance_term = (mu / bits) * residual * (out * (1 - 2 * z_partner)).sum(dim=1)
    loss = (code_term + distance_term).mean()
    return loss, {"code_term": float(code_term.detach().mean()),
                  "distance_residual": float((residual.detach() ** 2).mean())}


def orthogonality_penalty(weight: torch.Tensor) -> torch.Tensor:
    """1/2 ||W||^2 + 1/4 ||W W^T - I||_F^2, whose gradient is W + (W W^T - I) W."""
    gram = weight @ weight.T
    return 0.5 * (weight ** 2).sum() + 0.25 * ((gram - torch.eye(len(gram), dtype=weight.dtype)) ** 2).sum()
