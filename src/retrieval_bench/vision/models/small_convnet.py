"""A small BatchNorm conv net: the `mini` scale's stand-in for BN-Inception."""

from __future__ import annotations

from torch import nn


class SmallConvNet(nn.Module):
    """Four conv-BN-ReLU stages, each halving the resolution but the last.

    Returns a feature map like the thesis backbones do; the embedding head
    pools it (global max pooling, as the original code does on BN-Inception).
    """

    def __init__(self, widths=(32, 64, 128, 256)):
        super().__init__()
        layers, c_in = [], 3
        for i, c_out in enumerate(widths):
            layers += [nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True)]
            if i < len(widths) - 1:
                layers.append(nn.MaxPool2d(2))
            c_in = c_out
        self.features = nn.Sequential(*layers)
        self.out_channels = c_in

    def forward(self, x):
        return self.features(x)
