"""CNN-F ("fast"; Chatfield et al., BMVC 2014), the image network of chapter 3
and of DCMH, from MatConvNet's `imagenet-vgg-f.mat` (spec chapter3.md 4.1).

Not in torchvision: the network is built from the file itself, layer by
layer (convolutions with their stride and padding, ReLU, local response
normalisation with the file's parameters, max pooling), up to fc7's ReLU:
a 224 x 224 RGB image (0-255, minus the file's mean image) gives 4096
values.  fc6 and fc7 stay the 6 x 6 and 1 x 1 convolutions MatConvNet
stores, so no flatten order has to be guessed.  fc8 (the 1000 ImageNet
classes) is left out: each method puts its own head on fc7.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

WEIGHTS_URL = "https://www.vlfeat.org/matconvnet/models/imagenet-vgg-f.mat"
WEIGHTS_FILE = "imagenet-vgg-f.mat"


def _field(struct, name: str, default=None):
    """A field of a MATLAB struct as scipy reads it with struct_as_record=False, squeeze_me=False."""
    if not hasattr(struct, name):
        return default
    value = getattr(struct, name)
    return value


def _text(value) -> str:
    return str(np.asarray(value).reshape(-1)[0])


def _numbers(value, n: int) -> list[int]:
    """A MATLAB scalar or vector as n integers (a scalar repeated)."""
    flat = [int(v) for v in np.asarray(value, dtype=float).reshape(-1)]
    return flat * n if len(flat) == 1 else flat


class MatConvNetPad(nn.Module):
    """MatConvNet's [top bottom left right] padding, with `value` (-inf before max pooling)."""

    def __init__(self, pad: list[int], value: float = 0.0):
        super().__init__()
        top, bottom, left, right = pad
        self.pad, self.value = (left, right, top, bottom), value

    def forward(self, x):
        return F.pad(x, self.pad, value=self.value) if any(self.pad) else x


class CnnF(nn.Module):
    """The layers up to fc7's ReLU; input: uint8 images N x H x W x 3 (RGB) or float N x 3 x H x W already
    minus the mean; output N x 4096."""

    def __init__(self, layers: nn.Sequential, mean_image: torch.Tensor):
        super().__init__()
        self.layers = layers
        self.register_buffer("mean_image", mean_image)  # 3 x H x W (or 3 x 1 x 1)
        self.out_features = [m for m in layers if isinstance(m, nn.Conv2d)][-1].out_channels  # fc7's 4096

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dtype == torch.uint8:
            x = x.permute(0, 3, 1, 2).float() - self.mean_image
        return self.layers(x).flatten(1)


def load_cnn_f(path: Path) -> CnnF:
    """CNN-F from a MatConvNet simplenn file (`layers`, and `meta.normalization.averageImage` or the older
    `normalization.averageImage`)."""
    from scipy.io import loadmat

    raw = loadmat(path, squeeze_me=False, struct_as_record=False)
    cells = raw["layers"].reshape(-1)
    structs = [cell.reshape(-1)[0] if isinstance(cell, np.ndarray) else cell for cell in cells]
    classifier = max(i for i, s in enumerate(structs) if _text(s.type) == "conv")  # fc8: each method has its head
    modules: list[nn.Module] = []
    for struct in structs[:classifier]:
        modules += _module(struct)
    normalization = raw["meta"].reshape(-1)[0].normalization if "meta" in raw else raw["normalization"]
    mean = np.asarray(normalization.reshape(-1)[0].averageImage, dtype=np.float32)
    mean = mean.reshape(1, 1, 3) if mean.size == 3 else mean
    return CnnF(nn.Sequential(*modules), torch.from_numpy(np.ascontiguousarray(mean.transpose(2, 0, 1))))


def _module(struct) -> list[nn.Module]:
    kind = _text(struct.type)
    if kind == "conv":
        weights = _field(struct, "weights")
        if weights is not None:
            filters, biases = (np.asarray(w) for w in weights.reshape(-1))
        else:  # the older files' fields
            filters, biases = np.asarray(struct.filters), np.asarray(struct.biases)
        filters = filters.reshape(*filters.shape, *[1] * (4 - filters.ndim))  # MATLAB drops trailing 1s
        conv = nn.Conv2d(filters.shape[2], filters.shape[3], kernel_size=filters.shape[:2],
                         stride=_numbers(_field(struct, "stride", 1), 2))
        with torch.no_grad():  # H x W x C_in x C_out -> C_out x C_in x H x W
            conv.weight.copy_(torch.from_numpy(np.ascontiguousarray(filters.transpose(3, 2, 0, 1))))
            conv.bias.copy_(torch.from_numpy(biases.reshape(-1).astype(np.float32)))
        return [MatConvNetPad(_numbers(_field(struct, "pad", 0), 4)), conv]
    if kind == "relu":
        return [nn.ReLU()]
    if kind in ("lrn", "normalize"):  # MatConvNet: x / (kappa + alpha sum x^2)^beta, alpha per element
        size, kappa, alpha, beta = np.asarray(struct.param, dtype=float).reshape(-1)
        return [nn.LocalResponseNorm(size=int(size), alpha=float(size * alpha), beta=float(beta), k=float(kappa))]
    if kind == "pool":
        if _text(_field(struct, "method", "max")) != "max":
            raise ValueError(f"CNN-F's pooling is max pooling; this file has {_text(struct.method)}")
        return [MatConvNetPad(_numbers(_field(struct, "pad", 0), 4), value=float("-inf")),
                nn.MaxPool2d(kernel_size=_numbers(struct.pool, 2), stride=_numbers(_field(struct, "stride", 1), 2))]
    raise ValueError(f"a MatConvNet layer of type {kind!r} is not part of CNN-F")
