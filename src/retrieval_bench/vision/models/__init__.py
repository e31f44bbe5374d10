"""Backbone registry, embedding head and the expandable classifier."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn


@dataclass(frozen=True)
class Backbone:
    """How to build a trunk and how its pretrained weights expect input."""

    build: Callable[[], nn.Module]
    out_channels: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    bgr: bool = False  # Caffe-converted weights expect BGR ...
    value_range: float = 1.0  # ... in 0-255
    # Where pretrained weights come from: "synthetic" (trained by a rule of
    # this package on a disjoint synthetic domain) or a download URL.
    weights_url: str | None = None


def _small_convnet():
    from retrieval_bench.vision.models.small_convnet import SmallConvNet

    return SmallConvNet()


def _small_convnet_half():
    from retrieval_bench.vision.models.small_convnet import SmallConvNet

    return SmallConvNet(widths=(16, 32, 64, 128))


def _googlenet():
    from retrieval_bench.vision.models.googlenet import GoogLeNetTrunk

    return GoogLeNetTrunk()


def _bn_inception():
    from retrieval_bench.vision.models.bn_inception import BNInception

    return BNInception()


BACKBONES: dict[str, Backbone] = {
    "small_convnet": Backbone(_small_convnet, 256, (0.5, 0.5, 0.5), (0.25, 0.25, 0.25)),
    # half the channels: a quarter of the FLOPs (8 vs 30 MFLOP per 32 x 32 image)
    "small_convnet_half": Backbone(_small_convnet_half, 128, (0.5, 0.5, 0.5), (0.25, 0.25, 0.25)),
    "googlenet": Backbone(
        _googlenet, 1024, (0.485, 0.456, 0.406), (0.229, 0.224, 0.225),
        weights_url="https://download.pytorch.org/models/googlenet-1378be20.pth",
    ),
    "bn_inception": Backbone(
        _bn_inception, 1024, (104.0, 117.0, 128.0), (1.0, 1.0, 1.0), bgr=True, value_range=255.0,
        weights_url="http://data.lip6.fr/cadene/pretrainedmodels/bn_inception-52deb4733.pth",
    ),
}


def get_backbone(name: str) -> Backbone:
    if name not in BACKBONES:
        raise KeyError(f"unknown backbone {name!r}; known backbones: {sorted(BACKBONES)}")
    return BACKBONES[name]


class EmbeddingNet(nn.Module):
    """Backbone -> global max pooling -> linear embedding; plus a classifier.

    `forward` returns the L2-normalised embedding used for retrieval and the
    classifier logits (computed on the un-normalised embedding).
    """

    def __init__(self, backbone: str, embedding_dim: int, n_classes: int):
        super().__init__()
        spec = get_backbone(backbone)
        self.backbone_name = backbone
        self.trunk = spec.build()
        self.embedding = nn.Linear(spec.out_channels, embedding_dim)
        self.classifier = nn.Linear(embedding_dim, n_classes)
        self.register_buffer("mean", torch.tensor(spec.mean).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(spec.std).view(1, 3, 1, 1))
        self.bgr, self.value_range = spec.bgr, spec.value_range
        self.memory_format = torch.contiguous_format
        self.autocast_dtype: torch.dtype | None = None  # mixed precision of the forward pass (`mixed_precision`)

    def channels_last(self) -> "EmbeddingNet":
        """Store conv weights and feed inputs channels-last (NHWC): oneDNN's
        and cuDNN's faster convolution paths (measured on a 2-core AMD EPYC:
        the mini net trains 1.6x faster on one thread).  Outputs differ from
        the default layout only by floating-point summation order."""
        self.memory_format = torch.channels_last
        return self.to(memory_format=torch.channels_last)

    @property
    def n_classes(self) -> int:
        return self.classifier.out_features

    def normalise_input(self, images: torch.Tensor) -> torch.Tensor:
        """Images arrive as RGB floats in [0, 1]; convert to what the trunk expects."""
        if self.bgr:
            images = images.flip(1)
        return (images * self.value_range - self.mean) / self.std

    def mixed_precision(self, dtype: torch.dtype | None) -> "EmbeddingNet":
        """Run trunk and embedding layer under torch.autocast with `dtype`
        (None: float32).  Outputs come back in float32 and everything after
        them (normalisation, classifier, every loss) stays float32: batch-hard
        mining on bfloat16 similarities (steps of 0.004 near 1) would tie."""
        self.autocast_dtype = dtype
        return self

    def features(self, images: torch.Tensor) -> torch.Tensor:
        with torch.autocast(images.device.type, dtype=self.autocast_dtype or torch.bfloat16,
                            enabled=self.autocast_dtype is not None):
            fmap = self.trunk(self.normalise_input(images).contiguous(memory_format=self.memory_format))
            raw = self.embedding(torch.amax(fmap, dim=(2, 3)))
        return raw.float()

    def forward(self, images: torch.Tensor):
        raw = self.features(images)
        return F.normalize(raw, dim=1), self.classifier(raw)

    @torch.no_grad()
    def expand_classifier(self, n_new: int) -> None:
        """Grow the classifier from n to n + n_new outputs, old rows copied."""
        old = self.classifier
        new = nn.Linear(old.in_features, old.out_features + n_new).to(old.weight.device)
        new.weight[: old.out_features] = old.weight
        new.bias[: old.out_features] = old.bias
        self.classifier = new


def freeze_batchnorm(model: nn.Module) -> None:
    """Keep BatchNorm layers in eval mode (running statistics fixed), as the
    original chapter 6 code does during every training stage."""
    for module in model.modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            module.eval()


def load_checkpoint(path, device="cpu") -> dict:
    return torch.load(path, map_location=device, weights_only=False)


def model_from_checkpoint(checkpoint: dict) -> EmbeddingNet:
    """The trained model stored in a task's model.pt."""
    model = EmbeddingNet(checkpoint["backbone"], checkpoint["embedding_dim"], checkpoint["n_classes"])
    model.load_state_dict(checkpoint["model"])
    return model
