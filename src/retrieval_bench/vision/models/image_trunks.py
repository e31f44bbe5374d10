"""The thesis-scale image trunks of chapter 4 (spec chapter4.md 1.3, 12.1): each backbone's own pooled feature,
its ImageNet classifier removed.  Weights are a file on disk (no download here): a missing file is one error
saying where to get it and which config key names it."""

from __future__ import annotations

from pathlib import Path

import torch
import torchvision
from torch import nn

from retrieval_bench.vision.models.mobilenet_v1 import MobileNetV1, load_timm_state_dict
from retrieval_bench.vision.models.weights import WeightsError

WEIGHTS_KEY = "scales.thesis.crossmodal_embedding.backbone_weights"

TRUNK_WIDTHS = {"vgg16": 4096, "mobilenet_v1": 1024, "mobilenet_v2": 1280, "resnet50": 2048, "resnet152": 2048}

WEIGHTS_URLS = {
    "vgg16": "https://download.pytorch.org/models/vgg16-397923af.pth",
    "mobilenet_v1": "https://huggingface.co/timm/mobilenetv1_100.ra4_e3600_r224_in1k/resolve/main/model.safetensors",
    "mobilenet_v2": "https://download.pytorch.org/models/mobilenet_v2-b0353104.pth",
    "resnet50": "https://download.pytorch.org/models/resnet50-0676ba61.pth",
    "resnet152": "https://download.pytorch.org/models/resnet152-394f9c45.pth",
}

_IMAGENET = ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))
# (mean, std) of RGB inputs in [0, 1], as each weights file was trained; timm's MobileNet v1 uses 0.5 for both
IMAGENET_MEAN_STD = {name: _IMAGENET for name in TRUNK_WIDTHS} | {"mobilenet_v1": ((0.5,) * 3, (0.5,) * 3)}


def read_state_dict(path: Path) -> dict[str, torch.Tensor]:
    """A state dict from a `.safetensors` file (needs the `safetensors` package) or a torch `.pth`/`.bin` file."""
    if path.suffix == ".safetensors":
        try:
            from safetensors.torch import load_file
        except ImportError as e:
            raise WeightsError(f"{path} is a .safetensors file: reading it needs the `safetensors` package "
                               f"(pip install safetensors), or convert it to a .pth state dict") from e
        return load_file(str(path))
    return torch.load(path, map_location="cpu", weights_only=True)


def _checked_weights_path(name: str, weights: Path) -> Path:
    weights = Path(weights).expanduser()
    if not weights.is_file():
        raise WeightsError(f"the {name} ImageNet weights are not at {weights}: download {WEIGHTS_URLS[name]} on a "
                           f"machine with network access and put it there, or set the config key "
                           f"{WEIGHTS_KEY}.{name} to where the file is")
    return weights


def thesis_image_trunk(name: str, weights: Path | None = None) -> tuple[nn.Module, int]:
    """(trunk, feature width) for `name`; `weights=None` keeps the random initialisation (tests, FLOP counts).

    vgg16 ends at fc7 (the classifier without its last Linear), the ResNets and MobileNets at their global
    average pool; mobilenet_v2 is the documented substitute for v1 with torchvision weights (spec 12.1)."""
    if name not in TRUNK_WIDTHS:
        raise ValueError(f"unknown thesis image trunk {name!r}; choose one of {sorted(TRUNK_WIDTHS)}")
    state = None if weights is None else read_state_dict(_checked_weights_path(name, weights))
    if name == "mobilenet_v1":
        trunk = MobileNetV1()
        if state is not None:
            load_timm_state_dict(trunk, state)
        return trunk, TRUNK_WIDTHS[name]
    net = getattr(torchvision.models, name)(weights=None)
    if state is not None:
        net.load_state_dict(state)  # the whole network, classifier included: strict, so a wrong file fails here
    if name == "vgg16":
        net.classifier = net.classifier[:-1]
    elif name == "mobilenet_v2":
        net.classifier = nn.Identity()
    else:
        net.fc = nn.Identity()
    return net, TRUNK_WIDTHS[name]


def place_backbone_weights(name: str, dest: Path, timeout: float = 60.0) -> Path:
    """Keep `dest` if it is there; else download the publisher's file to it (atomically), or stop with
    one message saying where to get it and where to put it."""
    import urllib.error
    import urllib.request

    from retrieval_bench.core.io import atomic_path

    if name not in WEIGHTS_URLS:
        raise ValueError(f"unknown thesis image trunk {name!r}; choose one of {sorted(WEIGHTS_URLS)}")
    dest = Path(dest)
    if dest.is_file():
        return dest
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(dest) as tmp, urllib.request.urlopen(WEIGHTS_URLS[name], timeout=timeout) as response:
            with open(tmp, "wb") as f:
                while chunk := response.read(1 << 20):
                    f.write(chunk)
    except (urllib.error.URLError, OSError) as e:
        raise WeightsError(f"could not download the {name} ImageNet weights from {WEIGHTS_URLS[name]} ({e}); "
                           f"download the file on a machine with network access and put it at {dest}, or set "
                           f"the config key {WEIGHTS_KEY}.{name} to where it is") from None
    return dest
