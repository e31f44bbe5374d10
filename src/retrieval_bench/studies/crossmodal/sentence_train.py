"""Chapter 4's loop: Algorithm 1 made exact (spec chapter4.md 3.1).

An epoch is one pass over the training pairs in batches of P instances x K
pairs (every pair once, a short chunk filled with another pair of its
instance; spec 3.3).  Each batch is one generator step; after every k-th
step the discriminator takes one step on the last step's detached features
(k consecutive batches per discriminator step).  Every optimiser's learning
rate follows the schedule per epoch (cosine to 0, or x0.94 every 2 epochs).
Table 4.7's noise enters through the encoders' input hooks (spec 3.4): the
mean of the clean inputs is recorded every epoch (Fig. 4.6) and is the next
epoch's noise mean.

A resume point (every module and optimiser, the random streams, the noise
means, the history) is written atomically after an epoch, at most every
`checkpoint_seconds`; a job started again continues from it and ends with
the same embeddings as one that was never stopped.
"""

from __future__ import annotations

import logging
import math
import time
from pathlib import Path

import numpy as np
import torch

from retrieval_bench.core.io import save_torch
from retrieval_bench.studies.crossmodal.embedding_method import Batch, EmbeddingMethod
from retrieval_bench.studies.crossmodal.train import resume_point

log = logging.getLogger(__name__)
NOISE_WARMUP_BATCHES = 50  # epoch 1's noise mean: the clean inputs of this many batches (spec 3.4)


def pair_batches(instances: np.ndarray, p: int, k: int, rng: np.random.Generator) -> list[np.ndarray]:
    """Batches of P chunks of K pairs of one instance each: every pair once per epoch, a short last chunk
    of an instance filled with random other pairs of it; chunks shuffled; an incomplete batch dropped."""
    chunks = []
    for members in _groups(instances):
        members = rng.permutation(members)
        for start in range(0, len(members), k):
            chunk = members[start:start + k]
            if len(chunk) < k:  # filled with other pairs of the instance where it has enough
                others = np.setdiff1d(members, chunk)
                fill = rng.choice(others if len(others) >= k - len(chunk) else members, size=k - len(chunk),
                                  replace=len(others) < k - len(chunk))
                chunk = np.concatenate([chunk, fill])
            chunks.append(chunk)
    order = rng.permutation(len(chunks))
    return [np.concatenate([chunks[c] for c in order[b:b + p]]) for b in range(0, len(order) - p + 1, p)]


def _groups(instances: np.ndarray) -> list[np.ndarray]:
    order = np.argsort(instances, kind="stable")
    bounds = np.flatnonzero(np.diff(instances[order])) + 1
    return np.split(order, bounds)


def learning_rate_factor(schedule: dict, epoch: int) -> float:
    lr = schedule["lr"]
    if lr["schedule"] == "cosine":
        return 0.5 * (1.0 + math.cos(math.pi * epoch / schedule["epochs"]))
    if lr["schedule"] == "step":
        return lr["factor"] ** (epoch // lr["every"])
    return 1.0


class InputNoise:
    """An input hook: adds N(mean, sigma²) per element while training (sigma > 0) and sums the clean
    inputs, so each epoch's mean is recorded (Fig. 4.6) and becomes the next epoch's noise mean."""

    def __init__(self, sigma: float, generator: torch.Generator):
        self.sigma, self.generator, self.mean = sigma, generator, 0.0
        self.total, self.count = 0.0, 0

    def observe(self, x: torch.Tensor, valid: torch.Tensor | None) -> None:
        """Add clean inputs (the valid steps only, for words) to this epoch's mean."""
        clean = x.detach() if valid is None else x.detach()[valid]
        self.total += float(clean.sum())
        self.count += clean.numel()

    def __call__(self, x: torch.Tensor, valid: torch.Tensor | None) -> torch.Tensor:
        self.observe(x, valid)
        if self.sigma == 0:
            return x
        noise = torch.randn(x.shape, generator=self.generator, device=x.device) * self.sigma + self.mean
        return x + (noise if valid is None else noise * valid[..., None])

    def close_epoch(self) -> float:
        """The mean of this epoch's clean inputs, kept as the next noise mean."""
        self.mean = self.total / max(self.count, 1)
        self.total, self.count = 0.0, 0
        return self.mean


class TrainingPairs:
    """The training captions as batches: distinct images once, token ids, instance labels."""

    def __init__(self, images, image_of_pair: np.ndarray, tokens: np.ndarray, lengths: np.ndarray,
                 labels: np.ndarray):
        self.images, self.image_of_pair = images, image_of_pair
        self.tokens, self.lengths, self.labels = tokens, lengths, labels

    def __len__(self) -> int:
        return len(self.labels)

    def batch(self, pairs: np.ndarray, generator: torch.Generator | None, device) -> Batch:
        distinct, position = np.unique(self.image_of_pair[pairs], return_inverse=True)
        if len(distinct) < 2:  # BatchNorm needs two samples: forward the pairs' images, the duplicate too
            distinct, position = self.image_of_pair[pairs], np.arange(len(pairs))
        width = int(self.lengths[pairs].max())
        return Batch(images=self.images.batch(distinct, True, generator).to(device),
                     image_of_pair=torch.from_numpy(position).to(device),
                     tokens=torch.from_numpy(self.tokens[pairs, :width]).to(device),
                     lengths=torch.from_numpy(self.lengths[pairs]).to(device),
                     labels=torch.from_numpy(self.labels[pairs]).to(device))


def train(method: EmbeddingMethod, pairs: TrainingPairs, schedule: dict, seed: int, checkpoint_dir: Path,
          fingerprint: dict, device: torch.device | str = "cpu") -> list[dict]:
    device = torch.device(device)
    method.make_optimizers()
    k, sigma = method.hparams["k_steps"], float(method.hparams.get("noise_sigma", 0.0))
    noise_streams = {m: torch.Generator(device=device).manual_seed(seed * 2 + i) for i, m in
                     enumerate(("image", "text"))}
    hooks = {m: InputNoise(sigma, g) for m, g in noise_streams.items()}
    method.image_encoder.input_hook, method.text_encoder.input_hook = hooks["image"], hooks["text"]
    augment = torch.Generator().manual_seed(seed + 104729)   # the thesis scale's crops and flips
    resume, key, ckpt = resume_point(checkpoint_dir, fingerprint)
    history, start = [], 0
    if ckpt is None:
        if sigma > 0:
            _first_noise_means(method, pairs, schedule, seed, hooks, device)
    else:
        method.load_state(ckpt["method"])
        torch.set_rng_state(ckpt["torch_rng"])
        augment.set_state(ckpt["augment"])
        for m, hook in hooks.items():
            hook.mean = ckpt["noise_means"][m]
            noise_streams[m].set_state(ckpt["noise_streams"][m])
        if device.type == "cuda" and ckpt.get("cuda_rng") is not None:
            torch.cuda.set_rng_state(ckpt["cuda_rng"], device)
        history, start = ckpt["history"], ckpt["epoch"]
        log.info("resuming at epoch %d from %s", start, resume)
    p, kk = schedule["batch"]["p"], schedule["batch"]["k"]
    saved_at = time.monotonic()
    for epoch in range(start, schedule["epochs"]):
        factor = learning_rate_factor(schedule, epoch)
        method.set_learning_rate_factor(factor)
        method.train(True)
        sums, counts, tic = {}, {}, time.perf_counter()
        batches = pair_batches(pairs.labels, p, kk, np.random.default_rng([seed, epoch]))
        for step, chosen in enumerate(batches):
            records = method.generator_step(pairs.batch(chosen, augment, device))
            if (step + 1) % k == 0:
                records |= method.discriminator_step()
            for name, value in records.items():
                sums[name] = sums.get(name, 0.0) + value
                counts[name] = counts.get(name, 0) + 1
        means = {f"input_mean_{m}": round(hook.close_epoch(), 6) for m, hook in hooks.items()}
        history.append({"epoch": epoch + 1, "lr_factor": round(factor, 6), "steps": len(batches),
                        "seconds": round(time.perf_counter() - tic, 3),
                        **{name: round(total / counts[name], 6) for name, total in sums.items()}, **means})
        log.info("epoch %d/%d  %s", epoch + 1, schedule["epochs"],
                 " ".join(f"{k_}={v:.4g}" for k_, v in history[-1].items() if k_ != "epoch"))
        if epoch + 1 < schedule["epochs"] and time.monotonic() - saved_at >= schedule.get("checkpoint_seconds", 0):
            save_torch({"method": method.state(), "torch_rng": torch.get_rng_state(), "augment": augment.get_state(),
                        "noise_means": {m: h.mean for m, h in hooks.items()},
                        "noise_streams": {m: g.get_state() for m, g in noise_streams.items()},
                        "cuda_rng": torch.cuda.get_rng_state(device) if device.type == "cuda" else None,
                        "history": history, "epoch": epoch + 1, "fingerprint": key}, resume)
            saved_at = time.monotonic()
    method.image_encoder.input_hook = method.text_encoder.input_hook = None
    method.train(False)
    resume.unlink(missing_ok=True)
    return history


@torch.no_grad()
def _first_noise_means(method, pairs: TrainingPairs, schedule: dict, seed: int, hooks: dict, device) -> None:
    """Epoch 1's noise means: the clean inputs of the first batches, read without training."""
    batches = pair_batches(pairs.labels, schedule["batch"]["p"], schedule["batch"]["k"],
                           np.random.default_rng([seed, 1 << 20]))[:NOISE_WARMUP_BATCHES]
    for chosen in batches:
        batch = pairs.batch(chosen, None, device)
        hooks["image"].observe(batch.images, None)
        valid = torch.arange(batch.tokens.shape[1], device=device)[None, :] < batch.lengths[:, None]
        hooks["text"].observe(method.text_encoder.embedding(batch.tokens), valid)
    for hook in hooks.values():
        hook.close_epoch()
