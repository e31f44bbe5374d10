"""Pretrained trunk weights: downloaded ImageNet weights (thesis scale) or a
trunk "pretrained" here on a disjoint synthetic domain (mini scale)."""

from __future__ import annotations

import logging
import re
import shutil
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


def _hash_prefix(backbone: str, path: Path) -> str | None:
    """The sha256 prefix a weights file's name carries (`googlenet-1378be20.pth`:
    torchvision's convention, checked by torch.hub too); None where the
    publisher's names carry none we can check (the BN-Inception file)."""
    match = re.fullmatch(r".+-([0-9a-f]{8,64})", path.stem)
    return match.group(1) if backbone == "googlenet" and match else None


def fetch_imagenet_weights(backbone: str, dest: Path, weights_file: str | Path | None = None,
                           key: str = "pretraining.weights_file") -> Path:
    """Put the backbone's ImageNet weights at `dest`: copied from `weights_file`
    (a file already on disk, for machines without network; `key` names the
    config key in errors) or downloaded from the publisher's URL.  Either way
    the file is checked by the sha256 prefix its name carries where the
    publisher uses that convention."""
    if weights_file is not None:
        return place_weights_file(backbone, Path(weights_file).expanduser(), dest, key)
    url = get_backbone(backbone).weights_url
    if dest.exists():
        return dest
    hash_prefix = _hash_prefix(backbone, dest)
    try:
        with atomic_path(dest) as tmp:
            torch.hub.download_url_to_file(url, str(tmp), hash_prefix=hash_prefix, progress=False)
    except (urllib.error.URLError, OSError, RuntimeError) as e:
        raise WeightsError(f"could not download the {backbone} ImageNet weights from {url} ({e}); "
                           f"download the file on a machine with network access and put it at {dest}") from e
    return dest


def place_weights_file(backbone: str, source: Path, dest: Path, key: str) -> Path:
    """Copy a weights file already on disk to `dest` atomically (a killed copy
    leaves nothing at `dest`), after checking the sha256 prefix of its name."""
    if not source.is_file():
        raise WeightsError(f"config key {key}: {source} does not exist or is not a file; give the path of the "
                           f"{backbone} ImageNet weights (published at {get_backbone(backbone).weights_url}) "
                           f"or remove the key to download them")
    prefix = _hash_prefix(backbone, source)
    with atomic_path(dest) as tmp:
        shutil.copyfile(source, tmp)
        if prefix is not None:
            from incremental_retrieval.data.archives import file_digest

            got = file_digest(tmp, "sha256")
            if not got.startswith(prefix):
                raise WeightsError(f"config key {key}: {source} has sha256 {got}, but its name says it starts "
                                   f"with {prefix}; the file is corrupt or not the one its name promises")
    log.info("%s weights: copied %s to %s", backbone, source, dest)
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
                       seed: int, out: Path, channels_last: bool = False) -> dict:
    """Train the trunk with the semantic loss on the pretraining domain's
    classes; only the trunk is kept, like ImageNet weights."""
    from incremental_retrieval import losses
    from incremental_retrieval.data.loading import PKSampler

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
