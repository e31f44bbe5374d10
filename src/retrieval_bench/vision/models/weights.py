"""Pretrained trunk weights: downloaded ImageNet weights (thesis scale) or a
trunk "pretrained" here on a disjoint synthetic domain (mini scale)."""

from __future__ import annotations

import logging
import re
import shutil
import urllib.error
from pathlib import Path

import torch

from retrieval_bench.core.errors import UserError
from retrieval_bench.core.io import atomic_path
from retrieval_bench.vision.models import EmbeddingNet, get_backbone

log = logging.getLogger(__name__)


class WeightsError(UserError, RuntimeError):
    pass


def weights_filename(backbone: str) -> str:
    url = get_backbone(backbone).weights_url
    if url is None:
        raise WeightsError(f"backbone {backbone!r} has no downloadable weights; it is pretrained by "
                           f"`python -m retrieval_bench pretrain`")
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
            from retrieval_bench.vision.archives import file_digest

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
