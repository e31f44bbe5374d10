"""Pretraining at mini scale: the trunk trained on a synthetic domain of its
own (disjoint classes), standing in for ImageNet weights."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import torch

from retrieval_bench.core.io import save_torch
from retrieval_bench.studies.incremental import losses
from retrieval_bench.vision.loading import PKSampler
from retrieval_bench.vision.models import EmbeddingNet

log = logging.getLogger(__name__)


def pretrain_synthetic(backbone: str, embedding_dim: int, data, epochs: int, lr: float, batch: dict,
                       seed: int, out: Path, channels_last: bool = False) -> dict:
    """Train the trunk with the semantic loss on the pretraining domain's
    classes; only the trunk is kept, like ImageNet weights."""

    torch.manual_seed(seed)
    n_classes = int(data.labels.max()) + 1
    model = EmbeddingNet(backbone, embedding_dim, n_classes)
    if channels_last:
        model.channels_last()
    optimizer = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=5e-4)
    sampler = PKSampler(data.labels, batch["p"], batch["k"], batch.get("rounds", 1), seed=seed)
    augment = torch.Generator().manual_seed(seed + 1)
    history = []
    for epoch in range(epochs):
        model.train()
        total, correct, seen, tic = 0.0, 0, 0, time.perf_counter()
        for indices in sampler:
            images, labels = data.batch(indices, augment)
            embeddings, logits = model(images)
            loss = losses.classification(logits, labels) + losses.triplet(embeddings, labels)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            total += float(loss) * len(labels)
            correct += int((logits.argmax(1) == labels).sum())
            seen += len(labels)
        history.append({"epoch": epoch + 1, "loss": round(total / seen, 4), "train_accuracy": round(correct / seen, 4)})
        log.info("pretrain %s epoch %d/%d  loss=%.4f  accuracy=%.3f  images_per_second=%.1f", backbone, epoch + 1,
                 epochs, total / seen, correct / seen, seen / (time.perf_counter() - tic))
    save_torch({"trunk": model.trunk.state_dict(), "backbone": backbone, "history": history}, out)
    return {"history": history}
