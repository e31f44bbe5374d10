"""Distillation terms between a frozen teacher and the student being trained."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def knowledge_distillation(student_logits: torch.Tensor, teacher_logits: torch.Tensor,
                           temperature: float = 2.0) -> torch.Tensor:
    """Eq. 5.3 (LwF): cross-entropy between the teacher's and the student's
    temperature-softened distributions over the n old classes, averaged over
    the batch.  `student_logits` may have more columns: only the first n
    (the teacher's classes) are used."""
    n = teacher_logits.shape[1]
    p_teacher = F.softmax(teacher_logits / temperature, dim=1)
    log_p_student = F.log_softmax(student_logits[:, :n] / temperature, dim=1)
    return -(p_teacher * log_p_student).sum(dim=1).mean()


def feature_l2(student: torch.Tensor, teacher: torch.Tensor) -> torch.Tensor:
    """The "L2 loss" baseline [219]: squared Euclidean distance between the
    student's and the teacher's embeddings of the same image, batch mean."""
    return (student - teacher).pow(2).sum(dim=1).mean()


def feature_l1(student: torch.Tensor, teacher: torch.Tensor) -> torch.Tensor:
    """The "L1 loss" distance of chapter 7 ([216], Lifelong GAN): the sum of
    absolute differences between the embeddings of the same image, batch mean."""
    return (student - teacher).abs().sum(dim=1).mean()


def _squared_distances(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    # Expanded form rather than cdist: differentiable where x_i == y_j, which is
    # every diagonal pair at the start of a task (student == teacher).
    d2 = x.pow(2).sum(1)[:, None] + y.pow(2).sum(1)[None, :] - 2 * x @ y.t()
    return d2.clamp(min=0.0)


def gaussian_kernel_sum(x: torch.Tensor, y: torch.Tensor, bandwidth: torch.Tensor,
                        n_kernels: int = 5, factor: float = 2.0) -> torch.Tensor:
    """Sum of Gaussian kernels exp(-||x - y||^2 / (2 sigma_m^2)) with
    2 sigma_m^2 = bandwidth * factor^(m - n_kernels // 2), m = 0..n_kernels-1."""
    d2 = _squared_distances(x, y)
    scales = [bandwidth * factor ** (m - n_kernels // 2) for m in range(n_kernels)]
    return sum(torch.exp(-d2 / s) for s in scales)


def mmd(teacher: torch.Tensor, student: torch.Tensor, n_kernels: int = 5, factor: float = 2.0,
        eps: float = 1e-8) -> torch.Tensor:
    """Eq. 5.5: L_mmd = (1/N) [sum k(R,R) - 2 sum k(R,R') + sum k(R',R')]^(1/2).

    The kernel is a sum of `n_kernels` Gaussians; the base bandwidth is the mean
    pairwise squared distance of the pooled features (detached, so it is not
    itself optimised).  `eps` keeps the square root differentiable at 0: at the
    start of a task the student equals the teacher and MMD is exactly 0.

    Accumulated in float64: near the teacher (every task's start) the three
    kernel sums are almost equal and cancel, and float32 loses the difference
    (value and gradient wrong by tens of percent, or exactly 0).
    """
    dtype = student.dtype
    teacher, student = teacher.double(), student.double()
    pooled = torch.cat([teacher, student])
    with torch.no_grad():
        d2 = _squared_distances(pooled, pooled)
        n = len(pooled)
        bandwidth = d2.sum() / (n * n - n)
        bandwidth = torch.clamp(bandwidth, min=1e-12)
    k_tt = gaussian_kernel_sum(teacher, teacher, bandwidth, n_kernels, factor).sum()
    k_ss = gaussian_kernel_sum(student, student, bandwidth, n_kernels, factor).sum()
    k_ts = gaussian_kernel_sum(teacher, student, bandwidth, n_kernels, factor).sum()
    total = torch.clamp(k_tt - 2 * k_ts + k_ss, min=0.0)
    return (torch.sqrt(total + eps) / len(teacher)).to(dtype)


def gram_kl(teacher: torch.Tensor, student: torch.Tensor, temperature: float = 4.0,
            direction: str = "teacher_student", t2_scale: bool = True, reduction: str = "mean") -> torch.Tensor:
    """Correlation distillation (Eqs. 6.4-6.5, 7.2-7.3): the KL divergence
    between the row-wise softmaxes of the teacher's and the student's Gram
    matrices G = F F^T (inner-product kernel, diagonal included) of one batch.

    `direction` "teacher_student" is KL(sigma(G_t / T) || sigma(G_s / T)), as
    the thesis writes it; "student_teacher" swaps the arguments, as the
    chapter 6 code's call effectively does.  T = 4 and the T^2 factor are the
    chapter 6 code's (T = 1 without it is the thesis taken literally);
    `reduction` "mean" divides the sum over rows by the batch size (Eq. 6.5's
    1/N), "sum" does not (Eq. 7.3).  Gradients reach both arguments: detach
    the teacher's features where it must not learn.
    """
    if direction not in ("teacher_student", "student_teacher"):
        raise ValueError(f"gram_kl direction {direction!r}: use 'teacher_student' or 'student_teacher'")
    if reduction not in ("mean", "sum"):
        raise ValueError(f"gram_kl reduction {reduction!r}: use 'mean' or 'sum'")
    target, other = (teacher, student) if direction == "teacher_student" else (student, teacher)
    log_p = F.log_softmax(target @ target.t() / temperature, dim=1)
    log_q = F.log_softmax(other @ other.t() / temperature, dim=1)
    kl = (log_p.exp() * (log_p - log_q)).sum()
    if t2_scale:
        kl = kl * temperature**2
    return kl / len(teacher) if reduction == "mean" else kl
