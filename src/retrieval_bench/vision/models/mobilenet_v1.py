"""MobileNet v1 1.0-224 (Howard et al. 2017, thesis reference [187]; spec chapter4.md 11.3, 12.1).

torchvision has no MobileNet v1, so the trunk is written here and ImageNet weights come from timm's
`mobilenetv1_100` checkpoint, whose parameter names (timm's EfficientNet builder) are mapped onto this module
by order, every shape checked.  The activation is ReLU6, as in TF-slim's release (the one the thesis used)
and in timm's model: the weights were trained with it."""

from __future__ import annotations

import torch
from torch import nn

STEM_WIDTH = 32
WIDTHS = (64, 128, 128, 256, 256, 512, 512, 512, 512, 512, 512, 1024, 1024)
STRIDES = (1, 2, 1, 2, 1, 2, 1, 1, 1, 1, 1, 2, 1)


def _conv_bn_relu(c_in: int, c_out: int, kernel: int, stride: int = 1, groups: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(c_in, c_out, kernel, stride, kernel // 2, groups=groups, bias=False),
                         nn.BatchNorm2d(c_out), nn.ReLU6(inplace=True))


class MobileNetV1(nn.Module):
    """3 x 3 stem, 13 depthwise-separable blocks, global average pool: images -> 1024-D features."""

    out_channels = WIDTHS[-1]

    def __init__(self):
        super().__init__()
        layers, width = [_conv_bn_relu(3, STEM_WIDTH, 3, stride=2)], STEM_WIDTH
        for out, stride in zip(WIDTHS, STRIDES):
            depthwise = _conv_bn_relu(width, width, 3, stride, groups=width)
            pointwise = _conv_bn_relu(width, out, 1)
            layers.append(nn.Sequential(depthwise, pointwise))
            width = out
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.pool(self.features(images)).flatten(1)


_LAYER_RANK = {"conv_dw": 0, "bn1": 1, "conv_pw": 2, "bn2": 3}
_TENSOR_RANK = {"weight": 0, "bias": 1, "running_mean": 2, "running_var": 3}


def _timm_order(name: str) -> tuple:
    """Sort key putting timm's names in forward order (a safetensors file lists them alphabetically, which
    puts `bn2` before `conv_dw`): stem conv, stem BN, then blocks.<stage>.<block>.<conv_dw|bn1|conv_pw|bn2>."""
    *path, tensor = name.split(".")
    if path == ["conv_stem"]:
        position = (0,)
    elif path == ["bn1"]:
        position = (1,)
    elif len(path) == 4 and path[0] == "blocks" and path[3] in _LAYER_RANK:
        position = (2, int(path[1]), int(path[2]), _LAYER_RANK[path[3]])
    else:
        position = None
    if position is None or tensor not in _TENSOR_RANK:
        raise ValueError(f"{name!r} is not a timm mobilenetv1_100 trunk tensor")
    return (*position, _TENSOR_RANK[tensor])


def _is_trunk_tensor(name: str) -> bool:
    # the classifier is not part of the trunk; the BN batch counters carry nothing the forward pass uses
    return not name.startswith("classifier.") and not name.endswith("num_batches_tracked")


def load_timm_state_dict(module: MobileNetV1, state_dict: dict[str, torch.Tensor]) -> None:
    """Copy timm's `mobilenetv1_100` weights into `module`, pairing the two state dicts in forward order.

    Raises ValueError when the number of tensors or any pair's shape differs (another variant, e.g. the
    `mobilenetv1_100h` with a head convolution, or another network)."""
    theirs = sorted((k for k in state_dict if _is_trunk_tensor(k)), key=_timm_order)
    current = module.state_dict()
    ours = [k for k in current if _is_trunk_tensor(k)]
    if len(theirs) != len(ours):
        raise ValueError(f"the timm state dict has {len(theirs)} trunk tensors, MobileNet v1 1.0-224 has {len(ours)}: "
                         f"not a mobilenetv1_100 checkpoint")
    mapped = {}
    for mine, timm_name in zip(ours, theirs):
        expected, got = current[mine].shape, state_dict[timm_name].shape
        if expected != got:
            raise ValueError(f"timm's {timm_name} has shape {tuple(got)}, {mine} needs {tuple(expected)}")
        mapped[mine] = state_dict[timm_name]
    module.load_state_dict(mapped, strict=False)  # only the batch counters stay as they were
