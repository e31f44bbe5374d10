"""Randomly initialised backbone weights saved in each backbone's real published
format, for tests that load "ImageNet weights" without downloading them."""

from __future__ import annotations

import hashlib
from pathlib import Path

import torch
from torch import nn
from torchvision.models import googlenet

from retrieval_bench.vision.models.bn_inception import BNInception


@torch.no_grad()
def _calibrate(net: nn.Module, scale: float, size: int = 64) -> nn.Module:
    """BatchNorm running statistics measured on random inputs (in the trunk's
    input range): a freshly initialised net in eval mode (BatchNorm frozen, as at
    thesis scale) otherwise shrinks every image to the same near-zero features,
    and retrieval on them would be all ties."""
    for module in net.modules():
        if isinstance(module, nn.BatchNorm2d):
            module.reset_running_stats()
            module.momentum = None  # a cumulative average over the calibration batches
    net.train()
    for _ in range(2):
        net(torch.randn(8, 3, size, size) * scale)
    return net.eval()


def googlenet_file(folder: Path, seed: int = 0) -> Path:
    """torchvision's GoogLeNet state dict (aux heads and classifier included, as
    in googlenet-1378be20.pth), named by torchvision's convention
    <name>-<sha256 prefix>.pth, so the prefix check applies."""
    folder.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    tmp = folder / "googlenet.pth"
    net = googlenet(weights=None, aux_logits=True, init_weights=True, transform_input=False)
    net.forward = net._forward  # the trunk only: no aux heads in train mode
    torch.save(_calibrate(net, 1.0).state_dict(), tmp)
    return tmp.rename(folder / f"googlenet-{hashlib.sha256(tmp.read_bytes()).hexdigest()[:8]}.pth")


def bn_inception_file(folder: Path, seed: int = 0) -> Path:
    """The Caffe-converted BN-Inception layout (bn_inception-52deb4733.pth):
    Cadene's key names, BatchNorm vectors stored as 1 x C, no
    num_batches_tracked (the file predates it), the ImageNet classifier kept."""
    folder.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    net = _calibrate(BNInception(), 60.0)  # BGR 0-255 minus the Caffe means
    caffe = {k: v.unsqueeze(0) if "_bn." in k and v.dim() == 1 else v
             for k, v in net.state_dict().items() if not k.endswith("num_batches_tracked")}
    path = folder / "bn_inception-offline.pth"
    torch.save(caffe, path)
    return path


WEIGHTS_FILES = {"googlenet": googlenet_file, "bn_inception": bn_inception_file}
