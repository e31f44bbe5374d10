"""BN-Inception trunk (Inception-v2 with BatchNorm; Ioffe & Szegedy, 2015).

The parameter names match, one for one, the Caffe-converted ImageNet weights
shipped by Cadene's ``pretrainedmodels`` package (``bninception``), so

    model.load_state_dict(torch.load(path), strict=True)

works on that file (``conv1_7x7_s2.weight``, ``conv1_7x7_s2_bn.running_mean``,
``inception_3a_1x1.weight``, ..., ``inception_5b_pool_proj_bn.bias``,
``last_linear.weight``/``bias``).  Those weights come from a pre-0.4 PyTorch
and carry no ``num_batches_tracked`` buffers; BatchNorm's own loading code
fills them in, so strict loading still succeeds.

Input convention of those weights (not applied here; do it in the transform):
    * channel order BGR (not RGB),
    * pixel range 0-255 (not 0-1),
    * mean (104, 117, 128) subtracted per channel (B, G, R), std 1,
    * 224 x 224 crops.

``forward`` returns the last 1024-channel feature map (N, 1024, 7, 7 for a
224 input), before global pooling; ``logits`` maps it to the 1000 ImageNet
classes.
"""
from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["BNInception"]


class _Block(NamedTuple):
    """Channel counts of one inception block (branches in concat order).

    A block with ``n1x1 == 0`` is a grid-reduction block (3c, 4e): no 1x1
    branch, stride-2 convs ending its 3x3 and double-3x3 branches, and a
    stride-2 max pool passed through without projection.
    """

    name: str
    n1x1: int
    n3x3_reduce: int
    n3x3: int
    ndouble_reduce: int
    ndouble: int
    pool: str  # "avg" or "max": pooling of the pool branch
    pool_proj: int  # 0: no projection (reduction blocks)


# Channel counts as in the Caffe model (they differ slightly from Table 1 of
# the paper, e.g. 4a's 1x1 branch has 224 channels).  Input channels are not
# listed: each block takes the previous block's concatenated output.
_BLOCKS = (
    _Block("inception_3a", 64, 64, 64, 64, 96, "avg", 32),
    _Block("inception_3b", 64, 64, 96, 64, 96, "avg", 64),
    _Block("inception_3c", 0, 128, 160, 64, 96, "max", 0),
    _Block("inception_4a", 224, 64, 96, 96, 128, "avg", 128),
    _Block("inception_4b", 192, 96, 128, 96, 128, "avg", 128),
    _Block("inception_4c", 160, 128, 160, 128, 160, "avg", 128),
    _Block("inception_4d", 96, 128, 192, 160, 192, "avg", 128),
    _Block("inception_4e", 0, 128, 192, 192, 256, "max", 0),
    _Block("inception_5a", 352, 192, 320, 160, 224, "avg", 128),
    # 5b is the only non-reducing block whose pool branch uses max pooling.
    _Block("inception_5b", 352, 192, 320, 192, 224, "max", 128),
)


class BNInception(nn.Module):
    """BN-Inception feature extractor with Cadene-compatible state-dict keys.

    Every conv is followed by BatchNorm (eps 1e-5, affine) and ReLU.  Modules
    are registered flat on this module (``<unit>`` and ``<unit>_bn``) rather
    than in nested blocks, because nesting would put dots into the key names
    and break loading of the reference weights.
    """

    out_channels = 1024

    def __init__(self, num_classes: int = 1000) -> None:
        super().__init__()
        # Stem: 224 -> 112 (conv) -> 56 (pool) -> 56 (convs) -> 28 (pool).
        self._unit("conv1_7x7_s2", 3, 64, 7, stride=2)
        self._unit("conv2_3x3_reduce", 64, 64, 1)
        self._unit("conv2_3x3", 64, 192, 3)
        cin = 192
        for b in _BLOCKS:
            cin = self._block(b, cin)
        assert cin == self.out_channels
        # Kept (unused by forward) so the ImageNet state dict loads strictly.
        self.last_linear = nn.Linear(self.out_channels, num_classes)

    # -- construction -------------------------------------------------------
    def _unit(self, name: str, cin: int, cout: int, k: int, stride: int = 1) -> None:
        # "Same" padding; the convs keep their bias, as in the Caffe model.
        self.add_module(name, nn.Conv2d(cin, cout, k, stride=stride, padding=k // 2))
        self.add_module(f"{name}_bn", nn.BatchNorm2d(cout, eps=1e-5, affine=True))

    def _block(self, b: _Block, cin: int) -> int:
        """Registers the units of block ``b``; returns its output channels."""
        p, s = b.name, (2 if b.n1x1 == 0 else 1)
        if b.n1x1:
            self._unit(f"{p}_1x1", cin, b.n1x1, 1)
        self._unit(f"{p}_3x3_reduce", cin, b.n3x3_reduce, 1)
        self._unit(f"{p}_3x3", b.n3x3_reduce, b.n3x3, 3, stride=s)
        self._unit(f"{p}_double_3x3_reduce", cin, b.ndouble_reduce, 1)
        self._unit(f"{p}_double_3x3_1", b.ndouble_reduce, b.ndouble, 3)
        self._unit(f"{p}_double_3x3_2", b.ndouble, b.ndouble, 3, stride=s)
        if b.pool_proj:
            self._unit(f"{p}_pool_proj", cin, b.pool_proj, 1)
        return b.n1x1 + b.n3x3 + b.ndouble + (b.pool_proj or cin)

    # -- forward --------------------------------------------------------------
    def _run(self, name: str, x: torch.Tensor) -> torch.Tensor:
        x = getattr(self, f"{name}_bn")(getattr(self, name)(x))
        return F.relu(x, inplace=True)

    def _run_block(self, b: _Block, x: torch.Tensor) -> torch.Tensor:
        p, outs = b.name, []
        if b.n1x1:
            outs.append(self._run(f"{p}_1x1", x))
        outs.append(self._run(f"{p}_3x3", self._run(f"{p}_3x3_reduce", x)))
        y = self._run(f"{p}_double_3x3_reduce", x)
        y = self._run(f"{p}_double_3x3_1", y)
        outs.append(self._run(f"{p}_double_3x3_2", y))
        if b.pool_proj:
            # Resolution-preserving 3x3 pool, then 1x1 projection.  The avg
            # pool counts padded zeros (Caffe's behaviour for this geometry).
            if b.pool == "avg":
                y = F.avg_pool2d(x, 3, stride=1, padding=1, ceil_mode=True,
                                 count_include_pad=True)
            else:
                y = F.max_pool2d(x, 3, stride=1, padding=1, ceil_mode=True)
            outs.append(self._run(f"{p}_pool_proj", y))
        else:
            # Reduction block: unpadded stride-2 max pool; ceil_mode (Caffe's
            # rounding) is what makes 28 -> 14 and 14 -> 7 match the convs.
            outs.append(F.max_pool2d(x, 3, stride=2, ceil_mode=True))
        return torch.cat(outs, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, 3, H, W) BGR 0-255 mean-subtracted -> (N, 1024, H/32, W/32)."""
        x = self._run("conv1_7x7_s2", x)
        x = F.max_pool2d(x, 3, stride=2, ceil_mode=True)  # pool1_3x3_s2
        x = self._run("conv2_3x3_reduce", x)
        x = self._run("conv2_3x3", x)
        x = F.max_pool2d(x, 3, stride=2, ceil_mode=True)  # pool2_3x3_s2
        for b in _BLOCKS:
            x = self._run_block(b, x)
        return x

    def logits(self, feature_map: torch.Tensor) -> torch.Tensor:
        """ImageNet logits from ``forward``'s output.

        Global average pooling (identical to the reference's 7x7 average pool
        at 224 input, and also valid at other sizes), then ``last_linear``.
        """
        return self.last_linear(torch.flatten(F.adaptive_avg_pool2d(feature_map, 1), 1))
