"""The networks of chapter 3 at the feature level: an image encoder over feature
vectors (the mini scale's stand-in for CNN-F's fc7, and the features mode of
spec 6.3), a bag-of-words encoder with the multi-scale fusion of SSAH that
the thesis adopts (L999), and the hash head: common feature F (N-d, linear)
then code layer (K-d, tanh) (spec 4.2-4.3)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def mlp(sizes: list[int], dropout: float) -> nn.Sequential:
    """Linear layers with ReLU and dropout after every hidden one (spec 3.2: dropout after the ReLU of
    every hidden FC layer), the last one linear."""
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers += [nn.ReLU(), nn.Dropout(dropout)]
    return nn.Sequential(*layers)


class MultiScaleFusion(nn.Module):
    """SSAH's multi-scale text fusion (spec 4.3): for each window w, average-pool the bag of words
    with window = stride = w, scale by one learned weight, ReLU, resize back to V values by linear
    interpolation; the levels and the input concatenated: 1 + len(windows) channels of V."""

    def __init__(self, windows: tuple[int, ...]):
        super().__init__()
        self.windows = tuple(int(w) for w in windows)
        self.weights = nn.Parameter(torch.ones(len(self.windows)))

    def forward(self, bow: torch.Tensor) -> torch.Tensor:
        x = bow.unsqueeze(1)
        levels = [bow]
        for weight, w in zip(self.weights, self.windows):
            pooled = F.avg_pool1d(x, kernel_size=w, stride=w)
            levels.append(F.interpolate(F.relu(weight * pooled), size=bow.shape[1], mode="linear",
                                        align_corners=False).squeeze(1))
        return torch.cat(levels, dim=1)

    def out_features(self, vocabulary: int) -> int:
        return vocabulary * (1 + len(self.windows))


class HashEncoder(nn.Module):
    """input -> (fusion) -> hidden layers -> F (common, linear) -> H (tanh codes).
    With `common_dim: 0` there is no common layer and F is the code layer's pre-activation."""

    def __init__(self, in_dim: int, hidden: list[int], common_dim: int, bits: int, dropout: float,
                 fusion_windows: tuple[int, ...] = (), code_activation: str = "tanh"):
        super().__init__()
        self.fusion = MultiScaleFusion(fusion_windows) if fusion_windows else None
        first = self.fusion.out_features(in_dim) if self.fusion else in_dim
        self.trunk = mlp([first, *hidden], dropout) if hidden else nn.Identity()
        width = hidden[-1] if hidden else first
        if hidden:
            self.trunk.append(nn.ReLU())  # the last hidden layer is hidden too
            self.trunk.append(nn.Dropout(dropout))
        self.common = nn.Linear(width, common_dim) if common_dim else None
        self.code = nn.Linear(common_dim or width, bits)
        self.code_activation = code_activation

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if self.fusion is not None:
            x = self.fusion(x)
        x = self.trunk(x)
        feature = self.common(x) if self.common is not None else None
        pre = self.code(feature if feature is not None else x)
        code = torch.tanh(pre) if self.code_activation == "tanh" else pre
        return (feature if feature is not None else code), code
