"""Embed the test images of each class group with a trained model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from incremental_retrieval.data.loading import ImageSet
from incremental_retrieval.io import atomic_path


@torch.no_grad()
def embed(model, data: ImageSet, batch_size: int = 256, device="cpu", workers: int = 0) -> np.ndarray:
    model.eval().to(device)
    if data.cache is not None:
        batches = (data.batch(range(i, min(i + batch_size, len(data)))) for i in range(0, len(data), batch_size))
    else:
        batches = torch.utils.data.DataLoader(data, batch_size=batch_size, num_workers=workers)
    out = [model(images.to(device))[0].cpu().numpy() for images, _ in batches]
    return np.concatenate(out) if out else np.zeros((0, model.embedding.out_features), np.float32)


def save_features(path: Path, features: np.ndarray, labels: np.ndarray) -> None:
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            np.savez(f, features=features.astype(np.float32), labels=labels.astype(np.int64))


def load_features(path: Path) -> tuple[np.ndarray, np.ndarray]:
    with np.load(path) as data:
        return data["features"], data["labels"]
