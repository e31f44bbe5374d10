"""torchvision's GoogLeNet (Inception v1 with BatchNorm) as a feature-map trunk."""

from __future__ import annotations

from torch import nn
from torchvision.models import googlenet


class GoogLeNetTrunk(nn.Module):
    """GoogLeNet up to inception5b (1024 channels), without pooling or classifier.

    `transform_input=True` reproduces what torchvision does with its ImageNet
    weights: the input is normalised with ImageNet mean/std and converted to the
    original Google normalisation inside the network.
    """

    STAGES = ("conv1", "maxpool1", "conv2", "conv3", "maxpool2", "inception3a", "inception3b", "maxpool3",
              "inception4a", "inception4b", "inception4c", "inception4d", "inception4e", "maxpool4",
              "inception5a", "inception5b")

    def __init__(self):
        super().__init__()
        net = googlenet(weights=None, aux_logits=False, init_weights=True, transform_input=True)
        self.transform = net._transform_input
        for name in self.STAGES:
            setattr(self, name, getattr(net, name))

    def forward(self, x):
        x = self.transform(x)
        for name in self.STAGES:
            x = getattr(self, name)(x)
        return x

    def load_imagenet(self, state_dict: dict) -> None:
        """Load torchvision's ImageNet state dict, dropping the classifier and aux heads."""
        keep = {k: v for k, v in state_dict.items() if k.split(".")[0] in self.STAGES}
        self.load_state_dict(keep, strict=True)
