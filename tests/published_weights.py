"""Randomly initialised backbone weights saved in each backbone's real published
format, for tests that load "ImageNet weights" without downloading them."""

from __future__ import annotations

import hashlib
from pathlib import Path

import torch
from torch import nn
from torchvision.models import googlenet

from retrieval_bench.vision.models.bn_inception import BNInception
from retrieval_bench.vision.models.mobilenet_v1 import MobileNetV1


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


def timm_names() -> list[str]:
    """timm's `mobilenetv1_100` state-dict names (EfficientNet builder), in forward order, classifier last."""
    bn = ["weight", "bias", "running_mean", "running_var", "num_batches_tracked"]
    names = ["conv_stem.weight"] + [f"bn1.{t}" for t in bn]
    for stage, blocks in enumerate([1, 2, 2, 6, 2]):
        for block in range(blocks):
            prefix = f"blocks.{stage}.{block}"
            names += [f"{prefix}.conv_dw.weight"] + [f"{prefix}.bn1.{t}" for t in bn]
            names += [f"{prefix}.conv_pw.weight"] + [f"{prefix}.bn2.{t}" for t in bn]
    return names + ["classifier.weight", "classifier.bias"]


def fake_timm_state_dict(module: MobileNetV1) -> dict[str, torch.Tensor]:
    """Random tensors of the module's shapes under timm's names, listed alphabetically as a safetensors
    file lists them (so the loader cannot rely on the file's order)."""
    shapes = [v.shape for v in module.state_dict().values()] + [(1000, 1024), (1000,)]
    names = timm_names()
    assert len(names) == len(shapes)
    generator = torch.Generator().manual_seed(0)
    state = {n: (torch.tensor(7) if n.endswith("num_batches_tracked") else torch.randn(s, generator=generator))
             for n, s in zip(names, shapes)}
    return dict(sorted(state.items()))
