"""The alternating loop of DCMH that chapter 3 adopts (L999; spec 3.1).

Every epoch trains the image encoder for a pass over the training pairs with
the text side read from the memory, then the text encoder with the image side
read from it, then refreshes the shared targets B.  The learning rate of every
optimiser is log-spaced per epoch from `lr_start` to `lr_end`.  Texts enter
zero-mean (each word's mean over all pairs subtracted; DCMH).

A resume point (every module and optimiser, the memory, the random streams,
the history) is written atomically after an epoch, at most every
`checkpoint_seconds`; a job started again continues from it and ends with
the same codes as one that was never stopped.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from pathlib import Path

import numpy as np
import torch

from retrieval_bench.core.io import save_torch
from retrieval_bench.studies.crossmodal.methods.base import MODALITIES, CrossModalMethod, Memory

log = logging.getLogger(__name__)


def learning_rates(schedule: dict) -> np.ndarray:
    return np.logspace(np.log10(schedule["lr_start"]), np.log10(schedule["lr_end"]), schedule["epochs"])


def zero_mean_texts(texts: np.ndarray) -> np.ndarray:
    return (texts - texts.mean(axis=0, keepdims=True)).astype(np.float32)


@torch.no_grad()
def encode_all(method: CrossModalMethod, modality: str, x: torch.Tensor, batch: int = 1024,
               device: torch.device | str = "cpu"):
    """(features, relaxed codes) of every row, in eval mode, on `device` (the rows move there a batch at a
    time: the inputs stay where they are)."""
    method.train(False)
    if isinstance(x, torch.Tensor) is False and getattr(x, "dtype", None) == np.uint8:
        batch = min(batch, 256)  # images through CNN-F: activations, not the codes, set the batch
    parts = [method.encode(modality, x[i:i + batch].to(device)) for i in range(0, len(x), batch)]
    return torch.cat([p[0] for p in parts]), torch.cat([p[1] for p in parts])


def resume_point(checkpoint_dir: Path, fingerprint: dict) -> tuple[Path, str, dict | None]:
    """(the resume file, the run's key, its checkpoint if there is one of this very run): a checkpoint of
    another run (other settings, other data) is ignored, not resumed from."""
    resume = checkpoint_dir / "last.pt"
    key = hashlib.sha256(json.dumps(fingerprint, sort_keys=True, default=str).encode()).hexdigest()
    ckpt = torch.load(resume, map_location="cpu", weights_only=False) if resume.exists() else None
    if ckpt is not None and ckpt.get("fingerprint") != key:
        log.info("ignoring %s: it belongs to a different run", resume)
        ckpt = None
    return resume, key, ckpt


def train(method: CrossModalMethod, inputs: dict[str, torch.Tensor], labels: torch.Tensor, schedule: dict,
          seed: int, checkpoint_dir: Path, fingerprint: dict,
          order: tuple[str, ...] = MODALITIES, device: torch.device | str = "cpu") -> list[dict]:
    """Train on the training pairs (`inputs[modality]` rows, `labels` rows, in the same order) with the
    method's modules and the memory on `device`; returns the history, one record per epoch and phase."""
    device = torch.device(device)
    labels = labels.to(device)
    resume, key, ckpt = resume_point(checkpoint_dir, fingerprint)
    generator = torch.Generator().manual_seed(seed)
    history, start = [], 0
    if ckpt is None:
        memory = _initial_memory(method, inputs, labels, device)
    else:
        method.load_state(ckpt["method"])
        memory = Memory(**{k: _to(v, device) for k, v in ckpt["memory"].items()}, labels=labels)
        generator.set_state(ckpt["generator"])
        torch.set_rng_state(ckpt["torch_rng"])
        if device.type == "cuda" and ckpt.get("cuda_rng") is not None:  # dropout and the predictor's draws
            torch.cuda.set_rng_state(ckpt["cuda_rng"], device)
        history, start = ckpt["history"], ckpt["epoch"]
        log.info("resuming at epoch %d from %s", start, resume)
    rates, n, batch = learning_rates(schedule), len(labels), schedule["batch"]
    saved_at = time.monotonic()
    for epoch in range(start, schedule["epochs"]):
        method.set_learning_rate(float(rates[epoch]))
        for modality in order:
            method.train(True)
            sums, steps, tic = {}, 0, time.perf_counter()
            permutation = torch.randperm(n, generator=generator)
            for begin in range(0, n, batch):
                rows = permutation[begin:begin + batch]
                x = inputs[modality][rows].to(device, non_blocking=True)
                for name, value in method.step(modality, rows.to(device), x, memory).items():
                    sums[name] = sums.get(name, 0.0) + value
                steps += 1
            history.append({"epoch": epoch + 1, "phase": modality, "lr": float(rates[epoch]),
                            "seconds": round(time.perf_counter() - tic, 3),
                            **{name: round(total / steps, 6) for name, total in sums.items()}})
        memory.refresh_targets()
        log.info("epoch %d/%d  %s", epoch + 1, schedule["epochs"],
                 "  ".join(f"{r['phase']}: " + " ".join(f"{k}={v:.4g}" for k, v in r.items()
                                                      if k not in ("epoch", "phase", "lr"))
                           for r in history[-len(order):]))
        last = epoch + 1 == schedule["epochs"]
        if not last and time.monotonic() - saved_at >= schedule.get("checkpoint_seconds", 0):
            save_torch({"method": method.state(), "memory": memory.state(), "generator": generator.get_state(),
                        "torch_rng": torch.get_rng_state(), "history": history, "epoch": epoch + 1,
                        "cuda_rng": torch.cuda.get_rng_state(device) if device.type == "cuda" else None,
                        "fingerprint": key}, resume)
            saved_at = time.monotonic()
    method.train(False)
    resume.unlink(missing_ok=True)
    return history


def _to(value, device):
    return {k: v.to(device) for k, v in value.items()} if isinstance(value, dict) else value.to(device)


def _initial_memory(method: CrossModalMethod, inputs: dict[str, torch.Tensor], labels: torch.Tensor,
                    device: torch.device) -> Memory:
    """One no-grad forward pass fills the memory (spec 3.1 [default]; DCMH starts from zeros)."""
    features, codes = {}, {}
    for modality in MODALITIES:
        features[modality], codes[modality] = encode_all(method, modality, inputs[modality], device=device)
    memory = Memory(features=features, codes=codes, targets=torch.zeros_like(codes["image"]), labels=labels)
    memory.refresh_targets()
    return memory
