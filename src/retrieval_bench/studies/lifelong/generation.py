"""Chapter 7's representative images: inverted from a frozen model's BatchNorm
statistics (Eq. 7.4) and clustered in its embedding (Eq. 7.5).

The thesis fixes the two loss terms, their weights (0.01, 0.1), the margin
(1.0), Adam with lr 0.5 and 2000 iterations from Gaussian noise; everything
else follows DeepInversion (spec chapter7.md 3.2): noise drawn in the
ImageNet-normalised space, pixels clamped to [0, 1] after each step, random
circular-shift jitter and whole-batch flips, Adam betas (0.5, 0.9), a
100-iteration linear warm-up then cosine decay, float32.  The model stays in
eval mode and is never updated: only the images are optimised.
"""

from __future__ import annotations

import logging
import math

import torch
from torch import nn

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class BatchNormStatistics:
    """Forward hooks on every BatchNorm layer of `model` (1d, 2d, 3d).  After a
    forward pass, `loss()` is Eq. 7.4's sum over layers (without λ_BN) of
    ‖μ_l − μ̂_l‖² + ‖σ²_l − σ̂²_l‖², μ_l and σ²_l the per-channel mean and
    variance of the layer's *input* over the batch (and positions), μ̂_l and
    σ̂²_l its running statistics.  `norm="l2"`: unsquared norms, as
    DeepInversion's code has them.

    σ²_l is the unbiased variance, the estimate PyTorch accumulates in
    running_var, so a batch whose statistics are the stored ones scores
    exactly 0 (DeepInversion's biased variance differs by a factor
    n / (n − 1), n = batch x positions: 1 + 2e-5 for 32 images at 224 px).
    Use as a context manager so the hooks are removed afterwards.
    """

    def __init__(self, model: nn.Module, norm: str = "squared"):
        if norm not in ("squared", "l2"):
            raise ValueError(f"norm must be 'squared' or 'l2', not {norm!r}")
        self.norm = norm
        self.terms: list[torch.Tensor] = []
        self.handles = [module.register_forward_hook(self._hook) for module in model.modules()
                        if isinstance(module, nn.modules.batchnorm._BatchNorm)]
        if not self.handles:
            raise ValueError("the model has no BatchNorm layer to take statistics from")

    def _hook(self, module, inputs, output) -> None:
        x = inputs[0].float()
        dims = [0, *range(2, x.dim())]  # all but the channel axis
        mean, var = x.mean(dims), x.var(dims, correction=1)
        d_mean, d_var = mean - module.running_mean, var - module.running_var
        if self.norm == "squared":
            self.terms.append(d_mean.pow(2).sum() + d_var.pow(2).sum())
        else:
            self.terms.append(torch.linalg.vector_norm(d_mean) + torch.linalg.vector_norm(d_var))

    def loss(self) -> torch.Tensor:
        """The sum over the layers of the last forward pass; clears the record."""
        if not self.terms:
            raise RuntimeError("no forward pass since the last loss()")
        total, self.terms = torch.stack(self.terms).sum(), []
        return total

    def remove(self) -> None:
        for handle in self.handles:
            handle.remove()

    def __enter__(self) -> "BatchNormStatistics":
        return self

    def __exit__(self, *exc) -> None:
        self.remove()


def bn_statistics_loss(model: nn.Module, images: torch.Tensor, norm: str = "squared") -> torch.Tensor:
    """Eq. 7.4 without λ_BN for `images` (what `model` takes as input), in
    whatever mode the model is in (eval: BN normalises with, and keeps, its
    running statistics)."""
    with BatchNormStatistics(model, norm) as stats:
        model(images)
        return stats.loss()


def cluster_loss(features: torch.Tensor, labels: torch.Tensor, margin: float = 1.0) -> torch.Tensor:
    """Eq. 7.5 without λ_cluster: for each cluster k, M_k the mean of its
    features; the farthest of its own samples from M_k and the closest sample
    of any other cluster to M_k (Euclidean distances); the sum over k of
    max(margin + farthest own − closest other, 0).  `features` as given
    (generation passes the L2-normalised embedding, so margin 1.0 has a fixed
    meaning); a cluster with no other cluster in the batch adds nothing."""
    clusters = labels.unique()
    own = labels[:, None] == clusters[None, :]  # N x K
    centres = torch.stack([features[own[:, k]].mean(0) for k in range(len(clusters))])
    dist = torch.linalg.vector_norm(features[:, None, :] - centres[None, :, :], dim=2)  # N x K
    farthest_own = dist.masked_fill(~own, float("-inf")).amax(0)
    closest_other = dist.masked_fill(own, float("inf")).amin(0)
    violation = torch.relu(margin + farthest_own - closest_other)
    return violation[torch.isfinite(closest_other)].sum()


def generation_losses(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, lambda_bn: float = 0.01,
                      lambda_cluster: float = 0.1, margin: float = 1.0, bn_norm: str = "squared"
                      ) -> tuple[torch.Tensor, torch.Tensor]:
    """(L_BN, L_cluster) of Eqs. 7.4-7.5, weights included, for images in
    [0, 1] as they are (no jitter or flip); L_g is their sum.  `model` is an
    EmbeddingNet (or anything returning (L2-normalised embedding, ...))."""
    with BatchNormStatistics(model, bn_norm) as stats:
        embedding = model(images)[0]
        return lambda_bn * stats.loss(), lambda_cluster * cluster_loss(embedding, labels, margin)


def learning_rate(iteration: int, base: float, iterations: int, schedule: str = "cosine", warmup: int = 100) -> float:
    """DeepInversion's `lr_cosine_policy`: linear warm-up over `warmup`
    iterations, then cosine decay to 0 at `iterations`; or constant."""
    if schedule == "constant":
        return base
    if schedule != "cosine":
        raise ValueError(f"lr schedule must be 'cosine' or 'constant', not {schedule!r}")
    if iteration < warmup:
        return base * (iteration + 1) / warmup
    return 0.5 * (1 + math.cos(math.pi * (iteration - warmup) / max(iterations - warmup, 1))) * base


def default_jitter(image_size: int) -> int:
    """DeepInversion's ±30 px at 224, scaled with the resolution (4 at 32)."""
    return round(30 * image_size / 224)


def generate_images(model: nn.Module, n_clusters: int = 8, per_cluster: int = 4, image_size: int = 224,
                    iterations: int = 2000, lr: float = 0.5, lambda_bn: float = 0.01, lambda_cluster: float = 0.1,
                    margin: float = 1.0, bn_norm: str = "squared", jitter: int | None = None, flip: bool = True,
                    lr_schedule: str = "cosine", warmup: int = 100, seed: int = 0, device=None,
                    snapshots=(), log_every: int = 100) -> dict:
    """Optimise K x P images from Gaussian noise against the frozen `model`
    (an EmbeddingNet: RGB in [0, 1], normalised inside, as training feeds it)
    so that L_g = λ_BN L_BN + λ_cluster L_cluster falls.

    Images are parametrised as x = mean_IN + std_IN · z with z ~ N(0, 1),
    clamped to [0, 1] at the start and after every step.  Each iteration the
    whole batch is shifted circularly by up to ±`jitter` px on both axes
    (None: `default_jitter(image_size)`; 0: off) and, with `flip`, mirrored
    with probability 0.5.  All random draws come from one CPU torch.Generator
    seeded with `seed`, so a seed gives the same images on the CPU.  `device`:
    where to run (None: where the model is; otherwise the model moves there).

    Returns {"images": N x 3 x H x W in [0, 1] (CPU float32), "labels": the
    cluster ids 0..K-1, each repeated P times, "log": one entry per iteration
    (iteration i = after i steps: L_BN, L_cluster, total, weights included,
    on that iteration's jittered batch), "snapshots": {i: images after i
    steps} for each i in `snapshots` (0: the initial noise), "settings"}.
    The model's mode, requires_grad flags and mixed-precision setting
    (float32 during generation) are restored afterwards; its
    parameters and running statistics are never changed.
    """
    device = torch.device(device) if device is not None else next(model.parameters()).device
    model.to(device)
    jitter = default_jitter(image_size) if jitter is None else int(jitter)
    settings = dict(n_clusters=n_clusters, per_cluster=per_cluster, image_size=image_size, iterations=iterations,
                    lr=lr, lambda_bn=lambda_bn, lambda_cluster=lambda_cluster, margin=margin, bn_norm=bn_norm,
                    jitter=jitter, flip=flip, lr_schedule=lr_schedule, warmup=warmup, seed=seed)
    generator = torch.Generator().manual_seed(seed)
    n = n_clusters * per_cluster
    labels = torch.arange(n_clusters).repeat_interleave(per_cluster)
    mean = torch.tensor(IMAGENET_MEAN, device=device).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD, device=device).view(1, 3, 1, 1)
    low, high = (0 - mean) / std, (1 - mean) / std  # z's range for pixels in [0, 1]
    z = torch.randn(n, 3, image_size, image_size, generator=generator).to(device)
    z = z.clamp(low, high).requires_grad_()
    optimiser = torch.optim.Adam([z], lr=lr, betas=(0.5, 0.9), eps=1e-8)

    def pixels() -> torch.Tensor:
        return mean + std * z

    wanted = set(int(i) for i in snapshots)
    kept = {0: pixels().detach().cpu()} if 0 in wanted else {}
    log = []
    was_training, autocast = model.training, getattr(model, "autocast_dtype", None)
    grad_flags = [(p, p.requires_grad) for p in model.parameters()]
    model.eval()
    if autocast is not None:
        model.autocast_dtype = None  # float32 throughout
    for p, _ in grad_flags:
        p.requires_grad_(False)
    on_device = labels.to(device)
    try:
        with BatchNormStatistics(model, bn_norm) as stats:
            for iteration in range(iterations):
                for group in optimiser.param_groups:
                    group["lr"] = learning_rate(iteration, lr, iterations, lr_schedule, warmup)
                x = pixels()
                if jitter:
                    dx, dy = torch.randint(-jitter, jitter + 1, (2,), generator=generator).tolist()
                    x = torch.roll(x, shifts=(dy, dx), dims=(2, 3))
                if flip and torch.rand((), generator=generator).item() < 0.5:
                    x = x.flip(3)
                embedding = model(x)[0]
                l_bn = lambda_bn * stats.loss()
                l_cluster = lambda_cluster * cluster_loss(embedding, on_device, margin)
                total = l_bn + l_cluster
                optimiser.zero_grad(set_to_none=True)
                total.backward()
                optimiser.step()
                with torch.no_grad():
                    z.copy_(torch.maximum(torch.minimum(z, high), low))
                log.append({"iteration": iteration, "L_BN": l_bn.item(), "L_cluster": l_cluster.item(),
                            "total": total.item()})
                if log_every and (iteration % log_every == 0 or iteration == iterations - 1):
                    logging.info("generation iteration %d/%d: L_BN %.4g, L_cluster %.4g, L_g %.4g",
                                 iteration, iterations, *(log[-1][k] for k in ("L_BN", "L_cluster", "total")))
                if iteration + 1 in wanted:
                    kept[iteration + 1] = pixels().detach().cpu()
    finally:
        model.train(was_training)
        if autocast is not None:
            model.autocast_dtype = autocast
        for p, flag in grad_flags:
            p.requires_grad_(flag)
    images = pixels().detach().cpu().clamp(0, 1)  # clamp: only float rounding can leave [0, 1] here
    kept = {i: image.clamp(0, 1) for i, image in kept.items()}
    return {"images": images, "labels": labels, "log": log, "snapshots": kept, "settings": settings}


def generation_options(block: dict | None) -> dict:
    """A scale's `generation` block (config.yaml) as generate_batches's keyword
    arguments: `clusters` is generate_images's n_clusters, `batches` generate_batches's own."""
    options = dict(block or {})
    if "clusters" in options:
        options["n_clusters"] = options.pop("clusters")
    return options


def generate_batches(model: nn.Module, batches: int = 1, seed: int = 0, snapshots=None, **settings) -> dict:
    """`batches` independent K x P generations (batch b seeded seed * 1000 + b),
    concatenated; batch b's cluster labels are b * K + cluster, so each
    cluster stays a class of its own.  `batch_size` (K x P) tells training
    where one batch ends.  Snapshots (Fig. 7.7) are kept of the first batch:
    by default at 0, 5, 10, 25, 50 and 100 % of the iterations (the thesis's
    0, 100, 200, 500, 1000, 2000 of 2000)."""
    iterations = settings.get("iterations", 2000)
    if snapshots is None:
        snapshots = sorted({round(iterations * f) for f in (0, 0.05, 0.1, 0.25, 0.5, 1.0)})
    results = [generate_images(model, seed=seed * 1000 + b, snapshots=snapshots if b == 0 else (), **settings)
               for b in range(batches)]
    k = results[0]["settings"]["n_clusters"]
    return {"images": torch.cat([r["images"] for r in results]),
            "labels": torch.cat([r["labels"] + b * k for b, r in enumerate(results)]),
            "batch_size": len(results[0]["images"]), "log": results[0]["log"], "snapshots": results[0]["snapshots"],
            "logs": [r["log"] for r in results], "settings": {**results[0]["settings"], "batches": batches,
                                                              "seed": seed}}


def save_generated(path, result: dict) -> None:
    """The generation result as a torch file, written atomically."""
    from retrieval_bench.core.io import save_torch

    save_torch(result, path)


def save_grid_png(path, images: torch.Tensor, nrow: int = 8) -> None:
    """Images (N x 3 x H x W in [0, 1]) as one PNG grid, written atomically."""
    from torchvision.utils import save_image

    from retrieval_bench.core.io import atomic_path

    with atomic_path(path) as tmp:
        save_image(images, tmp, nrow=nrow, padding=2, format="PNG")
