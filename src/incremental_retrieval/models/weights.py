"""Pretrained trunk weights: downloaded ImageNet weights (thesis scale) or a
trunk "pretrained" here on a disjoint synthetic domain (mini scale)."""

from __future__ import annotations

import logging
import time
import urllib.error
from pathlib import Path

import torch

from incremental_retrieval.io import atomic_path, save_torch
from incremental_retrieval.models import EmbeddingNet, get_backbone

log = logging.getLogger(__name__)


class WeightsError(RuntimeError):
    pass


def weights_filename(backbone: str) -> str:
    url = get_backbone(backbone).weights_url
    if url is None:
        raise WeightsError(f"backbone {backbone!r} has no downloadable weights; it is pretrained by "
                           f"`python -m incremental_retrieval pretrain`")
    return url.rsplit("/", 1)[1]


def fetch_imagenet_weights(backbone: str, dest: Path) -> Path:
    """Download the backbone's ImageNet weights to `dest` (checked by the
    sha256 prefix in the file name where the publisher uses that convention)."""
    url = get_backbone(backbone).weights_url
    if dest.exists():
        return dest
    hash_prefix = dest.stem.rsplit("-", 1)[-1] if backbone == "googlenet" else None
    try:
        with atomic_path(dest) as tmp:
            torch.hub.download_url_to_file(url, str(tmp), hash_prefix=hash_prefix, progress=False)
    except (urllib.error.URLError, OSError, RuntimeError) as e:
        raise WeightsError(f"could not download the {backbone} ImageNet weights from {url} ({e}); "
                           f"download the file on a machine with network access and put it at {dest}") from e
    return dest


def load_trunk(model: EmbeddingNet, path: Path) -> None:
    """Load pretrained weights into `model.trunk` (embedding and classifier stay fresh)."""
    weights = torch.load(path, map_location="cpu", weights_only=False)
    if isinstance(weights, dict) and "trunk" in weights:
        if weights.get("backbone") != model.backbone_name:
            raise WeightsError(f"{path} holds a {weights.get('backbone')} trunk, the model is {model.backbone_name}")
        model.trunk.load_state_dict(weights["trunk"])
    elif model.backbone_name == "googlenet":
        model.trunk.load_imagenet(weights)
    else:
        # The Caffe-converted BN-Inception file stores some vectors as 1 x C
        # (its own loader squeezes them too).
        expected = model.trunk.state_dict()
        weights = {k: v.squeeze(0) if k in expected and v.dim() == expected[k].dim() + 1 and v.shape[0] == 1
                   else v for k, v in weights.items()}
        model.trunk.load_state_dict(weights, strict=True)


def pretrain_synthetic(backbone: str, embedding_dim: int, data, epochs: int, lr: float, batch: dict,
                       seed: int, out: Path) -> dict:
    """Train the trunk with the semantic loss on the pretraining domain's
    classes; only the trunk is kept, like ImageNet weights."""
    from incremental_retrieval import losses
    from incremental_retrieval.data.loading import PKSampler

    torch.manual_seed(seed)
    n_classes = int(data.labels.max()) + 1
    model = EmbeddingNet(backbone, embedding_dim, n_classes)
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
