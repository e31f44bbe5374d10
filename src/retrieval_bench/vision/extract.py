"""Embed the test images of each class group with a trained model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from retrieval_bench.core.io import atomic_path
from retrieval_bench.vision.loading import ImageSet


@torch.no_grad()
def embed(model, data: ImageSet, batch_size: int = 256, device="cpu", workers: int = 0):
    """(L2-normalised embeddings, classifier logits) of every image, in order."""
    model.eval().to(device)
    if data.in_process:  # in memory, or centre crops of the decoded-image cache
        batches = (data.batch(range(i, min(i + batch_size, len(data)))) for i in range(0, len(data), batch_size))
    else:
        batches = torch.utils.data.DataLoader(data, batch_size=batch_size, num_workers=workers)
    features, logits = [], []
    for images, _ in batches:
        embedding, logit = model(images.to(device))
        features.append(embedding.cpu().numpy())
        logits.append(logit.cpu().numpy())
    if not features:
        return np.zeros((0, model.embedding.out_features), np.float32), np.zeros((0, model.n_classes), np.float32)
    return np.concatenate(features), np.concatenate(logits)


def save_features(path: Path, features: np.ndarray, labels: np.ndarray, logits: np.ndarray | None = None) -> None:
    arrays = {"features": features.astype(np.float32), "labels": labels.astype(np.int64)}
    if logits is not None:
        arrays["logits"] = logits.astype(np.float32)
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            np.savez(f, **arrays)


def load_features(path: Path) -> dict[str, np.ndarray]:
    with np.load(path) as data:
        return {key: data[key] for key in data.files}
